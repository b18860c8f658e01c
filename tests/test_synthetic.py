"""Synthetic spectra: labels, distributions, line placement, SNR, reproducibility."""
import numpy as np
import pytest

from casiglo_gui.core import grid, preprocessing
from casiglo_gui.core import lines as L
from training.synthetic import KINDS, SyntheticConfig, generate, stream
from training.synthetic.generator import LENS


@pytest.fixture(scope="module")
def batch():
    return generate(600, seed=11)


def test_batch_fields_are_model_ready(batch):
    n = len(batch)
    assert batch.x.shape == (n, grid.N_PIXELS) and batch.x.dtype == np.float32
    assert batch.residual.dtype == np.float32 and batch.ivar.dtype == np.float32
    assert batch.line_present.shape == (n, L.N_LINES) and batch.line_snr.dtype == np.float32
    assert batch.z_fg.dtype == np.float64 and batch.z_bg.dtype == np.float64
    assert np.all(np.isfinite(batch.x))
    # x is exactly the app's own preprocessing of the returned residual and ivar
    np.testing.assert_array_equal(batch.x, preprocessing.network_input(batch.residual, batch.ivar))
    # masked pixels carry no weight, and the known sky-line pixels are always masked
    assert np.all(batch.ivar[batch.mask] == 0)
    assert np.all(batch.mask[:, preprocessing.sky_mask_on_grid()])


def test_every_kind_occurs_and_labels_are_consistent(batch):
    assert set(np.unique(batch.kind)) == set(range(len(KINDS)))
    lens = batch.is_lens
    assert np.all(batch.z_bg[lens] > batch.z_fg[lens])
    assert np.all(np.isnan(batch.z_bg[~lens]))
    assert not batch.line_present[~lens].any()
    assert np.all(batch.line_present[lens].sum(axis=1) >= 1)
    assert np.all((batch.line_snr > 0) == batch.line_present)


def test_same_seed_same_data_different_seed_different_data():
    a = generate(40, seed=5)
    b = generate(40, seed=5)
    c = generate(40, seed=6)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.line_snr, b.line_snr)
    assert not np.array_equal(a.x, c.x)


def test_stream_batches_differ_and_repeat_by_seed():
    s1 = stream(16, seed=3)
    first, second = next(s1), next(s1)
    assert len(first) == 16 and not np.array_equal(first.x, second.x)
    np.testing.assert_array_equal(next(stream(16, seed=3)).x, first.x)


def test_lens_only_config():
    b = generate(50, seed=2, config=SyntheticConfig(proportions={"lens": 1.0}))
    assert np.all(b.kind == LENS)


def test_synthetic_package_needs_no_tensorflow():
    import subprocess
    import sys
    code = ("import sys, training.synthetic, training.generate_cli; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_config_as_dict_and_seed_as_sequence_and_sources_from_config(data_dir):
    as_dict = generate(20, seed=[4, 1], config={"proportions": {"lens": 1.0}, "tied_ratios": False})
    as_obj = generate(20, seed=[4, 1], config=SyntheticConfig(proportions={"lens": 1.0}, tied_ratios=False))
    np.testing.assert_array_equal(as_dict.x, as_obj.x)
    assert not np.array_equal(as_dict.x, generate(20, seed=[4, 2], config={"proportions": {"lens": 1.0}}).x)
    with pytest.raises(ValueError, match="unknown synthetic config key"):
        generate(2, seed=1, config={"snr_distrbution": "wide"})
    cfg = {"background_sources": ["parametric", "real", "pca"], "real_dirs": [str(data_dir / "sdss")]}
    mixed = generate(120, seed=1, config=cfg)
    assert set(np.unique(mixed.background)) == {0, 1, 2}


def test_parallel_stream_gives_the_serial_streams_batches_round_robin():
    """Training on a many-core machine reads the same batches as in one process, whatever the workers."""
    from itertools import islice

    from training.synthetic import stream_parallel

    faint, bright = SyntheticConfig(), SyntheticConfig(snr_distribution="wide")
    got = list(islice(stream_parallel(16, [5, 6], [faint, bright], workers=2, ahead=3), 4))
    serial_faint, serial_bright = stream(16, 5, faint), stream(16, 6, bright)
    want = [next(serial_faint), next(serial_bright), next(serial_faint), next(serial_bright)]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.x, w.x)
        np.testing.assert_array_equal(g.line_snr, w.line_snr)
        np.testing.assert_array_equal(g.kind, w.kind)
