"""The combined detector: candidates from the network and the line search, judged by physics evidence."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from casiglo_gui.core import grid, lines
from casiglo_gui.core.detectors import EvidenceDetector, EvidenceFusion
from casiglo_gui.core.detectors.evidence import CNN_LOGIT_MAX, CNN_LOGIT_MIN, N_ALTERNATIVES
from casiglo_gui.core.inference import OnnxLineModel, default_model_path
from casiglo_gui.core.physics.profiles import integrated_gaussian
from casiglo_gui.core.preprocessing import clean, to_model_grid
from casiglo_gui.core.readers import read_spectra

DATA = Path(__file__).parent / "data" / "sdss"
SHIPPED = default_model_path()
# Above the 1%-false-positive threshold of the combined score on both calibration sets
# (benchmarks/fit_evidence_fusion.py), i.e. what a user would call a candidate.
CANDIDATE_SCORE = EvidenceFusion().lens_threshold_1pct


class ScriptedNetwork:
    """Stands in for the CNN with fixed answers: a lens logit and a redshift for every spectrum."""

    version = "scripted-1"
    metadata: dict = {}

    def __init__(self, lens_logit: float, z_bg: float):
        self.lens_logit, self.z_bg = lens_logit, z_bg

    def predict_raw(self, x, z_fg, batch_size=8):
        n = x.shape[0]
        return {"lens_logit": np.full(n, self.lens_logit), "z_bg": np.full(n, self.z_bg),
                "line_prob": np.full((n, lines.N_LINES), 0.01), "lens_prob": np.zeros(n)}


def flat_noise_spectrum(z_bg: float, line_snr: dict[str, float], sigma_px: float = 1.5, seed: int = 1,
                        z_fg: float = 0.2) -> tuple[np.ndarray, np.ndarray, float]:
    """White unit noise with Gaussian lines of the given matched-filter SNRs, cleaned like real data."""
    rng = np.random.default_rng(seed)
    residual = rng.standard_normal(grid.N_PIXELS)
    x = np.arange(grid.N_PIXELS, dtype=np.float64)
    for key, snr in line_snr.items():
        centre = grid.pixel_of_wavelength(lines.REST_WAVELENGTHS_A[lines.LINE_INDEX[key]] * (1 + z_bg))
        residual += snr / np.sqrt(sigma_px * np.sqrt(np.pi)) * integrated_gaussian(x - centre, sigma_px)
    r, w, _ = clean(residual.astype(np.float32), np.ones(grid.N_PIXELS, np.float32), np.zeros(grid.N_PIXELS, bool))
    return r, w, z_fg


def inject_into_real(path: Path, z_bg: float, line_snr: dict[str, float], sigma_px: float = 1.3):
    """A real BOSS spectrum (its own noise, sky and foreground) with background lines added to its flux."""
    spectrum = read_spectra(str(path))[0]
    loglam = np.log10(spectrum.wavelength)
    x = (loglam - loglam[0]) / grid.DLOGLAM
    flux = spectrum.flux.astype(np.float64)
    for key, snr in line_snr.items():
        centre = (np.log10(lines.REST_WAVELENGTHS_A[lines.LINE_INDEX[key]] * (1 + z_bg)) - loglam[0]) / grid.DLOGLAM
        near = slice(max(int(centre) - 20, 0), int(centre) + 20)
        ivar = spectrum.ivar[near]
        sigma_noise = 1.0 / np.sqrt(np.median(ivar[ivar > 0]))
        flux += snr / np.sqrt(sigma_px * np.sqrt(np.pi)) * sigma_noise * integrated_gaussian(x - centre, sigma_px)
    spectrum.flux = flux.astype(np.float32)
    return to_model_grid(spectrum)


SEVEN_LINES = {"oii_3727": 20.0, "oii_3730": 24.0, "hbeta": 12.0, "oiii_5008": 28.0, "oiii_4960": 9.4,
               "halpha": 26.0, "nii_6585": 9.0}


def test_fusion_score_never_falls_as_evidence_grows():
    fusion = EvidenceFusion()
    evidence = np.linspace(-200.0, 400.0, 601)
    for term in (CNN_LOGIT_MIN, 0.0, CNN_LOGIT_MAX):
        score = fusion.score(evidence, np.full_like(evidence, term))
        assert np.all(np.diff(score) >= 0)
    # The network moves the score by a bounded amount; overwhelming evidence wins against its worst.
    assert fusion.score(np.array([300.0]), np.array([CNN_LOGIT_MIN]))[0] > 0.999
    # ... and the network alone, however sure, cannot make a candidate without physics evidence.
    assert fusion.score(np.array([0.0]), np.array([CNN_LOGIT_MAX]))[0] < fusion.lens_threshold_1pct
    with pytest.raises(ValueError):
        EvidenceFusion(w_x=-0.1)


def test_overwhelming_multiline_evidence_scores_near_one_whatever_the_network_says():
    r, w, z_fg = flat_noise_spectrum(0.52, SEVEN_LINES)
    hostile = EvidenceDetector(ScriptedNetwork(lens_logit=-30.0, z_bg=0.9))  # sure there is no lens, elsewhere
    det = hostile.detect_batch(r[None], w[None], np.array([z_fg]))[0]
    assert det.score > 0.99
    assert abs(det.z_bg - 0.52) < 1e-4
    assert det.n_lines >= 5 and det.model_version == "scripted-1"


def test_score_does_not_fall_as_lines_brighten_or_are_added():
    detector = EvidenceDetector(OnnxLineModel(SHIPPED, threads=1))
    scores = []
    for factor in (0.35, 0.5, 0.7, 1.0, 1.4):
        r, w, z_fg = flat_noise_spectrum(0.52, {k: v * factor for k, v in SEVEN_LINES.items()}, seed=4)
        scores.append(detector.detect_batch(r[None], w[None], np.array([z_fg]))[0].score)
    assert all(b >= a - 1e-9 for a, b in zip(scores, scores[1:])), scores
    # Lines are added as physics adds them: a tied pair together, H-beta only with its stronger H-alpha
    # (a lone [OIII] 5008 or H-beta is evidence against a redshift, see test_physics_ratios.py).
    added = []
    groups = (("oii_3727", "oii_3730"), ("halpha", "nii_6585"), ("hbeta",), ("oiii_5008", "oiii_4960"))
    present: list[str] = []
    for group in groups:
        present.extend(group)
        r, w, z_fg = flat_noise_spectrum(0.52, {k: SEVEN_LINES[k] * 0.5 for k in present}, seed=4)
        added.append(detector.detect_batch(r[None], w[None], np.array([z_fg]))[0].score)
    assert all(b >= a - 1e-9 for a, b in zip(added, added[1:])), added
    assert added[-1] > CANDIDATE_SCORE


def test_bright_oii_only_lens_at_z_1_2_found_at_the_right_redshift():
    # [OII] at 8200 A, among listed sky lines: the spectrum's own sky decides what is masked.
    g = inject_into_real(DATA / "spec-3650-55244-0089.fits", 1.18, {"oii_3727": 25.0, "oii_3730": 30.0})
    det = EvidenceDetector(OnnxLineModel(SHIPPED, threads=1)).detect(g)
    assert det.score > CANDIDATE_SCORE
    assert abs(det.z_bg - 1.18) < 2e-4


def test_lone_bright_line_is_not_a_lens():
    detector = EvidenceDetector(OnnxLineModel(SHIPPED, threads=1))
    for key, z in (("halpha", 0.35), ("oiii_5008", 0.5), ("hbeta", 0.6)):
        g = inject_into_real(DATA / "spec-3650-55244-0089.fits", z, {key: 30.0}, sigma_px=2.0)
        det = detector.detect(g)
        assert det.score < CANDIDATE_SCORE, (key, det.score, det.z_bg)


@pytest.mark.parametrize("key, z_bg, snr", [("hgamma", 0.4, 12.0), ("hdelta", 0.35, 12.0), ("oiii_5008", 0.5, 30.0)])
def test_a_sure_network_cannot_make_a_lens_of_a_line_whose_physical_partners_are_missing(key, z_bg, snr):
    # One line on a real spectrum, read by the network as H-gamma (H-beta missing), H-delta (H-beta and
    # H-gamma missing) or [OIII] 5008 (4960 missing): physics says no, however sure the network.
    g = inject_into_real(DATA / "spec-3650-55244-0089.fits", z_bg, {key: snr}, sigma_px=2.0)
    det = EvidenceDetector(ScriptedNetwork(lens_logit=8.0, z_bg=z_bg)).detect(g)
    assert det.score < 0.5, (det.score, det.z_bg)


def test_alternatives_are_distinct_redshifts_best_first():
    r, w, z_fg = flat_noise_spectrum(0.52, {k: v * 0.4 for k, v in SEVEN_LINES.items()}, seed=9)
    det = EvidenceDetector(OnnxLineModel(SHIPPED, threads=1)).detect_batch(r[None], w[None], np.array([z_fg]))[0]
    assert 1 <= len(det.alternatives) <= N_ALTERNATIVES
    zs = [det.z_bg] + [a.z_bg for a in det.alternatives]
    assert all(abs(a - b) > 1e-3 for i, a in enumerate(zs) for b in zs[i + 1:])
    scores = [det.score] + [a.score for a in det.alternatives]
    assert scores == sorted(scores, reverse=True)


def test_the_real_background_emitter_is_found():
    # spec-3650-55244-0007: a multi-line emitter at z = 0.2396 behind its z = 0.180 galaxy.
    g = to_model_grid(read_spectra(str(DATA / "spec-3650-55244-0007.fits"))[0])
    det = EvidenceDetector(OnnxLineModel(SHIPPED, threads=1)).detect(g)
    assert det.score > CANDIDATE_SCORE
    assert abs(det.z_bg - 0.2396) < 5e-4


def test_line_on_a_faint_listed_sky_wavelength_is_still_measured():
    from casiglo_gui.core.physics import refine_redshift
    from casiglo_gui.core.skymask import sky_mask_on_grid

    path = DATA / "spec-3650-55244-0089.fits"
    plain = to_model_grid(read_spectra(str(path))[0])
    listed = sky_mask_on_grid()
    lam = grid.WAVELENGTH_A
    kept = listed & (plain.ivar > 0) & (lam > 7000) & (lam < 9000)   # listed, but this sky is faint there
    masked = listed & (plain.ivar == 0) & (lam > 7000) & (lam < 9000)
    assert kept.sum() > 50 and masked.sum() > 20   # faint lines kept, bright ones still masked
    # A background [OIII] 5008 line centred on a kept listed pixel: measured, at the right redshift.
    pixel = int(np.flatnonzero(kept)[len(np.flatnonzero(kept)) // 2])
    z = lam[pixel] / lines.REST_WAVELENGTHS_A[lines.LINE_INDEX["oiii_5008"]] - 1
    g = inject_into_real(path, z, {"oiii_5008": 15.0})
    assert g.ivar[pixel] > 0
    fit = refine_redshift(g.residual, g.ivar, z, wdisp=g.wdisp)
    assert fit.success and abs(fit.z_bg - z) < 1e-4
    assert fit.snr[lines.LINE_INDEX["oiii_5008"]] > 10


def test_nothing_found_reports_no_redshift_rather_than_the_grid_edge():
    # A network that points at the edge of the searched range on a spectrum holding only noise.
    r, w, z_fg = flat_noise_spectrum(0.5, {}, seed=3)
    det = EvidenceDetector(ScriptedNetwork(lens_logit=-3.0, z_bg=1.7784)).detect_batch(r[None], w[None],
                                                                                         np.array([z_fg]))[0]
    assert det.score < CANDIDATE_SCORE
    assert np.isnan(det.z_bg) and det.n_lines == 0
    assert not np.any(det.line_probability >= 0.5)


def test_foreground_siii_is_not_a_background_oii_however_sure_the_network():
    # A multi-component MaNGA galaxy at z_fg = 0.0314 with strong [SIII] 9533: where [OII] of z = 1.637 falls.
    from casiglo_gui.core.lines import FOREGROUND_EXTRA_LINES_A

    z_fg = 0.0314
    rng = np.random.default_rng(2)
    residual = rng.standard_normal(grid.N_PIXELS)
    x = np.arange(grid.N_PIXELS, dtype=np.float64)
    centre = grid.pixel_of_wavelength(FOREGROUND_EXTRA_LINES_A[-1] * (1 + z_fg))
    residual += 40.0 / np.sqrt(2.0 * np.sqrt(np.pi)) * integrated_gaussian(x - centre, 2.0)
    r, w, _ = clean(residual.astype(np.float32), np.ones(grid.N_PIXELS, np.float32), np.zeros(grid.N_PIXELS, bool))
    z_oii = FOREGROUND_EXTRA_LINES_A[-1] * (1 + z_fg) / 3728.5 - 1
    sure = EvidenceDetector(ScriptedNetwork(lens_logit=10.0, z_bg=z_oii))
    det = sure.detect_batch(r[None], w[None], np.array([z_fg]))[0]
    assert det.score < CANDIDATE_SCORE
