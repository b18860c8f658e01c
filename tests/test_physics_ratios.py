"""The tied-ratio deficit: evidence against a redshift whose lines break ratios that physics fixes."""
from __future__ import annotations

import numpy as np
import pytest

from casiglo_gui.core.lines import LINE_INDEX, N_LINES, REST_WAVELENGTHS_A
from casiglo_gui.core.physics.ratios import balmer_deficit, pair_deficit, ratio_deficit

CASE_B = {"halpha": 2.86, "hbeta": 1.0, "hgamma": 0.468, "hdelta": 0.259}


def matched_filter_numbers(snr: dict[str, float], masked: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """F and N of a noiseless spectrum with unit noise per line (F = SNR, N = 1), N = 0 where masked."""
    F = np.zeros((1, N_LINES))
    N = np.ones((1, N_LINES))
    for key, value in snr.items():
        F[0, LINE_INDEX[key]] = value
    for key in masked:
        F[0, LINE_INDEX[key]] = N[0, LINE_INDEX[key]] = 0.0
    return F, N


def balmer_series(hbeta_snr: float, decrement: float = 2.86) -> dict[str, float]:
    """Balmer lines of one velocity width: amplitude ~ flux / wavelength; dust steepens the decrement."""
    hbeta_a = REST_WAVELENGTHS_A[LINE_INDEX["hbeta"]]
    # Attenuation with a power law in wavelength, set by the observed Halpha/Hbeta.
    k = np.log(decrement / 2.86) / np.log(REST_WAVELENGTHS_A[LINE_INDEX["halpha"]] / hbeta_a)
    out = {}
    for key, ratio in CASE_B.items():
        lam = REST_WAVELENGTHS_A[LINE_INDEX[key]]
        out[key] = hbeta_snr * ratio * (lam / hbeta_a) ** k * hbeta_a / lam
    return out


def test_physical_line_sets_cost_nothing():
    lines = {"oiii_5008": 30.0, "oiii_4960": 30.0 / 2.98, "nii_6585": 12.0, "nii_6550": 12.0 / 2.95}
    lines.update(balmer_series(10.0, decrement=4.5))
    F, N = matched_filter_numbers(lines)
    assert ratio_deficit(F, N)[0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("strong, weak, ratio", [("oiii_5008", "oiii_4960", 2.98), ("nii_6585", "nii_6550", 2.95)])
def test_a_lone_member_of_an_atomic_pair_costs_its_missing_partner(strong, weak, ratio):
    F, N = matched_filter_numbers({strong: 15.0})
    # The tied fit puts 15 / ratio of signal where there is none: chi^2 cost ~ (15 / ratio)^2 shared.
    expected = 15.0 ** 2 / (1 + 1 / ratio ** 2) - 15.0 ** 2
    assert pair_deficit(F, N)[0] == pytest.approx(expected, rel=1e-6)
    assert pair_deficit(F, N)[0] < -20
    # A partner off the spectrum or masked tells nothing.
    F, N = matched_filter_numbers({strong: 15.0}, masked=(weak,))
    assert pair_deficit(F, N)[0] == 0.0


@pytest.mark.parametrize("lone", ["hgamma", "hdelta", "hbeta"])
def test_a_lone_balmer_line_whose_stronger_partners_are_missing_is_evidence_against(lone):
    F, N = matched_filter_numbers({lone: 10.0})
    assert balmer_deficit(F, N)[0] < -25
    # With every redder Balmer line masked there is nothing to contradict it.
    redder = tuple(k for k in ("halpha", "hbeta", "hgamma") if REST_WAVELENGTHS_A[LINE_INDEX[k]]
                   > REST_WAVELENGTHS_A[LINE_INDEX[lone]])
    F, N = matched_filter_numbers({lone: 10.0}, masked=redder)
    assert balmer_deficit(F, N)[0] == pytest.approx(0.0, abs=1e-9)


def test_a_lone_halpha_is_allowed_dust_can_hide_the_blue_lines():
    F, N = matched_filter_numbers({"halpha": 20.0})
    assert balmer_deficit(F, N)[0] == pytest.approx(0.0, abs=1e-9)


def test_the_deficit_grows_with_the_lone_line_and_shrinks_as_its_partner_appears():
    costs = [pair_deficit(*matched_filter_numbers({"oiii_5008": s}))[0] for s in (5.0, 10.0, 20.0)]
    assert costs[0] > costs[1] > costs[2]
    partner = [pair_deficit(*matched_filter_numbers({"oiii_5008": 20.0, "oiii_4960": p}))[0]
               for p in (0.0, 3.0, 20.0 / 2.98)]
    assert partner[0] < partner[1] < partner[2] == pytest.approx(0.0, abs=1e-9)


def test_batches_of_candidates_are_handled_at_once():
    F = np.zeros((3, 5, N_LINES))
    N = np.ones((3, 5, N_LINES))
    F[1, 2, LINE_INDEX["hgamma"]] = 12.0
    d = ratio_deficit(F, N)
    assert d.shape == (3, 5)
    assert d[1, 2] < -25 and np.count_nonzero(d) == 1
