"""benchmarks/compare_two_models.py: the paired test behind "v4 beats v3" in docs/training.md."""
import numpy as np
import pytest

from benchmarks.compare_two_models import discordant, mcnemar_p


def test_discordant_lenses_count_only_the_selection():
    found_a = np.array([1, 1, 0, 0, 1, 0], bool)
    found_b = np.array([1, 0, 1, 0, 0, 1], bool)
    selection = np.array([1, 1, 1, 1, 1, 0], bool)
    assert discordant(found_a, found_b, selection) == (2, 1)


def test_mcnemar_p_is_the_exact_two_sided_binomial():
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(3, 3) == pytest.approx(1.0)
    # 13 vs 2 discordant lenses: 2 * P(X <= 2 | n=15, p=1/2) = 2 * 121 / 32768
    assert mcnemar_p(13, 2) == pytest.approx(2 * 121 / 2 ** 15)
    assert mcnemar_p(2, 13) == mcnemar_p(13, 2)
