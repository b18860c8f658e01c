"""Physics line search: redshift scan, lens score and refinement on small seeded toy spectra."""
import numpy as np
import pytest

from casiglo_gui.core import grid
from casiglo_gui.core.detectors.detection import Detection
from casiglo_gui.core.lines import LINE_INDEX, N_LINES
from casiglo_gui.core.physics import PhysicsDetector, refine_redshift, toy
from casiglo_gui.core.physics.linesearch import REST_PIXEL, shift_of_redshift
from casiglo_gui.core.preprocessing import clean
from casiglo_gui.core.spectrum import GriddedSpectrum


def spectrum_with_lines(seed, lines, z_bg, z_fg=0.05, sigma_px=1.3, peak=6.0):
    """White unit noise plus the named lines (peak heights in noise units) at z_bg, cleaned like real data."""
    rng = np.random.default_rng(seed)
    residual = rng.normal(size=grid.N_PIXELS)
    amp = np.zeros(N_LINES)
    for key, rel in lines.items():
        amp[LINE_INDEX[key]] = peak * rel
    toy.add_lines(residual, z_bg, amp, sigma_px)
    r, w, _ = clean(residual.astype(np.float32), np.ones(grid.N_PIXELS, np.float32),
                    np.zeros(grid.N_PIXELS, bool), highpass=False)
    return GriddedSpectrum(residual=r, ivar=w, mask=w == 0, z_fg=z_fg)


@pytest.fixture(scope="module")
def detector():
    return PhysicsDetector()


@pytest.mark.parametrize("lines, z_bg", [
    # [OII] alone must be bright and resolved: its only partner is the doublet's two-peaked shape.
    ({"oii_3727": 1.6, "oii_3730": 2.0}, 0.6),
    ({"nii_6550": 0.34, "halpha": 1.0, "nii_6585": 1.0}, 0.12),
    ({"oii_3727": 0.8, "oii_3730": 1.0, "hbeta": 0.5, "oiii_4960": 0.33, "oiii_5008": 1.0, "halpha": 1.0},
     0.35),
], ids=["oii-doublet-only", "halpha-nii-only", "five-lines"])
def test_finds_lens_redshift(detector, lines, z_bg):
    g = spectrum_with_lines(1, lines, z_bg, sigma_px=1.1, peak=9.0)
    det = detector.detect(g)
    assert isinstance(det, Detection) and det.detector == "physics"
    assert abs(det.z_bg - z_bg) < 1e-4
    assert det.score > 0.5
    assert np.isfinite(det.z_bg_err) and 0 < det.z_bg_err < 1e-4
    assert det.n_lines >= 2
    assert det.line_probability.shape == (N_LINES,) and np.all((det.line_probability >= 0) & (det.line_probability <= 1))


def test_lines_off_the_spectrum_have_nan_snr(detector):
    g = spectrum_with_lines(2, {"oii_3727": 1.0, "oii_3730": 1.2, "hbeta": 0.8, "oiii_5008": 1.0}, 0.7, peak=9.0)
    det = detector.detect(g)
    assert abs(det.z_bg - 0.7) < 1e-4
    # Halpha at 0.7 is at 11160 A, beyond the grid's 10354 A.
    assert np.isnan(det.line_snr[LINE_INDEX["halpha"]])
    assert det.line_probability[LINE_INDEX["halpha"]] == 0.0
    assert det.line_snr[LINE_INDEX["oiii_5008"]] > 5


@pytest.mark.parametrize("seed", range(4))
def test_single_line_without_partner_scores_low(detector, seed):
    g = spectrum_with_lines(seed, {"hbeta": 1.0}, 0.3 + 0.1 * seed, sigma_px=1.6, peak=12.0)
    det = detector.detect(g)
    assert det.score < 0.2
    # The line itself is found (some interpretation puts a line on it) but nothing else is.
    assert np.nanmax(det.line_snr) > 8


@pytest.mark.parametrize("seed", range(3))
def test_cosmic_ray_scores_low(detector, seed):
    g = spectrum_with_lines(seed, {}, 0.3)
    r = g.residual.copy()
    r[1500 + 300 * seed] += 80.0
    r[1501 + 300 * seed] += 30.0
    det = detector.detect(GriddedSpectrum(residual=r, ivar=g.ivar, mask=g.mask, z_fg=g.z_fg))
    assert det.score < 0.2


def test_foreground_emission_is_not_a_lens(detector):
    every = {key: 1.0 for key in LINE_INDEX}
    for seed, z_fg in enumerate((0.1, 0.25, 0.4)):
        g = spectrum_with_lines(seed, every, z_fg, z_fg=z_fg, sigma_px=2.0, peak=15.0)
        det = detector.detect(g)
        assert det.score < 0.2, (z_fg, det.z_bg, det.line_snr)
        assert det.z_bg > z_fg + 0.01


def test_same_lines_above_z_fg_are_a_lens(detector):
    # Control for the test above: the same spectrum read with a lower z_fg is a lens at 0.25.
    every = {key: 1.0 for key in LINE_INDEX}
    g = spectrum_with_lines(1, every, 0.25, z_fg=0.1, sigma_px=2.0, peak=15.0)
    det = detector.detect(g)
    assert det.score > 0.9 and abs(det.z_bg - 0.25) < 1e-4


def test_masked_pixels_are_ignored(detector):
    lines = {"oiii_4960": 0.33, "oiii_5008": 1.0, "hbeta": 0.6}
    g = spectrum_with_lines(3, lines, 0.4, peak=8.0)
    before = detector.detect(g)
    r = g.residual.copy()
    ivar = g.ivar.copy()
    # A huge spike on masked pixels (ivar = 0), placed where a line of a false z would go.
    masked = np.flatnonzero(ivar == 0)
    assert masked.size > 100
    spiked = masked[::7][:40]
    r[spiked] = 1e6
    after = detector.detect(GriddedSpectrum(residual=r, ivar=ivar, mask=g.mask, z_fg=g.z_fg))
    assert after.z_bg == pytest.approx(before.z_bg, abs=1e-9)
    assert after.score == pytest.approx(before.score, abs=1e-6)
    np.testing.assert_allclose(after.line_snr, before.line_snr, atol=1e-4, equal_nan=True)


def test_line_on_masked_pixels_does_not_count(detector):
    # An [OIII] pair whose pixels are all masked: only Hbeta remains, a lone line.
    g = spectrum_with_lines(4, {"hbeta": 0.8, "oiii_4960": 0.33, "oiii_5008": 1.0}, 0.3, peak=12.0)
    ivar = g.ivar.copy()
    r = g.residual.copy()
    for key in ("oiii_4960", "oiii_5008"):
        p = int(round(REST_PIXEL[LINE_INDEX[key]] + float(shift_of_redshift(0.3))))
        ivar[p - 8: p + 9] = 0.0
        r[p - 8: p + 9] = 0.0
    det = detector.detect(GriddedSpectrum(residual=r, ivar=ivar, mask=ivar == 0, z_fg=g.z_fg))
    assert det.score < 0.2


def test_batch_matches_single(detector):
    gs = [spectrum_with_lines(s, {"hbeta": 0.5, "oiii_5008": 1.0, "oiii_4960": 0.33}, 0.2 + 0.1 * s, peak=8.0)
          for s in range(3)]
    batch = detector.detect_batch(np.stack([g.residual for g in gs]), np.stack([g.ivar for g in gs]),
                                  np.array([g.z_fg for g in gs]))
    for g, b in zip(gs, batch):
        one = detector.detect(g)
        assert one.z_bg == pytest.approx(b.z_bg, abs=1e-9)
        assert one.score == pytest.approx(b.score, abs=1e-6)


def test_detect_batch_rejects_wrong_shapes(detector):
    with pytest.raises(ValueError, match="expected residual"):
        detector.detect_batch(np.zeros((2, 100), np.float32), np.zeros((2, 100), np.float32), np.zeros(2))


def test_refinement_is_precise_and_errors_are_honest():
    z_true = 0.45
    lines = {"oii_3727": 1.0, "oii_3730": 1.2, "hbeta": 0.6, "oiii_4960": 0.33, "oiii_5008": 1.0}
    pulls, errors, offsets = [], [], []
    for seed in range(30):
        g = spectrum_with_lines(100 + seed, lines, z_true, sigma_px=1.5, peak=40.0)
        res = refine_redshift(g.residual, g.ivar, z_true + 2.5e-4)
        assert res.success
        errors.append(res.z_bg_err)
        pulls.append((res.z_bg - z_true) / res.z_bg_err)
        offsets.append(abs(res.z_bg - z_true))
    assert np.median(offsets) < 1e-5 and np.max(offsets) < 3e-5
    pulls = np.array(pulls)
    assert 0.6 < np.std(pulls) < 1.5
    assert abs(np.mean(pulls)) < 0.6
    assert np.median(errors) < 1e-5
    assert 1.2 < res.sigma_px < 1.8


def test_refinement_fails_cleanly_without_lines():
    r = np.zeros(grid.N_PIXELS, np.float32)
    res = refine_redshift(r, np.zeros(grid.N_PIXELS, np.float32), 0.3)
    assert not res.success and np.isnan(res.z_bg)
    assert not refine_redshift(r, np.ones(grid.N_PIXELS, np.float32), float("nan")).success


def test_refine_from_a_rough_start(detector):
    lines = {"hbeta": 0.6, "oiii_4960": 0.33, "oiii_5008": 1.0, "halpha": 1.0}
    g = spectrum_with_lines(7, lines, 0.2, peak=10.0)
    det = detector.refine(g, 0.2 + 4e-4)  # ~1.5 px off, as a CNN or a hand-placed marker might be
    assert abs(det.z_bg - 0.2) < 2e-5
    assert det.score > 0.5 and det.n_lines >= 3


def test_instrumental_width_bounds_the_fit():
    g = spectrum_with_lines(8, {"hbeta": 0.6, "oiii_5008": 1.0, "oiii_4960": 0.33}, 0.3, sigma_px=1.4, peak=10.0)
    wdisp = np.full(grid.N_PIXELS, 1.5, np.float32)
    res = refine_redshift(g.residual, g.ivar, 0.3, wdisp=wdisp)
    assert res.success and res.sigma_px >= 0.8 * 1.5 - 1e-9


def test_fully_masked_spectrum_gives_empty_detection(detector):
    zeros = np.zeros(grid.N_PIXELS, np.float32)
    det = detector.detect(GriddedSpectrum(residual=zeros, ivar=zeros, mask=np.ones(grid.N_PIXELS, bool), z_fg=0.2))
    assert np.isnan(det.z_bg) and det.score == 0.0 and det.n_lines == 0
    assert np.all(det.line_probability == 0)


def test_cosmic_rays_at_a_line_pair_spacing_are_not_a_lens(detector):
    # Two spikes exactly where Hbeta and [OIII] 5008 of z = 0.3 would be: spacing alone would make a lens.
    g = spectrum_with_lines(9, {}, 0.3)
    r = g.residual.copy()
    shift = float(shift_of_redshift(0.3))
    for key in ("hbeta", "oiii_5008"):
        p = int(round(REST_PIXEL[LINE_INDEX[key]] + shift))
        r[p] += 60.0
    det = detector.detect(GriddedSpectrum(residual=r, ivar=g.ivar, mask=g.mask, z_fg=g.z_fg))
    assert det.score < 0.3
    # The same pair as resolved lines (sigma 1.3 px) is a lens.
    lens = spectrum_with_lines(9, {"hbeta": 1.0, "oiii_5008": 1.0}, 0.3, peak=12.0)
    assert detector.detect(lens).score > 0.9


@pytest.mark.parametrize("sigma_px, min_gain", [(1.1, 0.05), (1.6, 0.005), (2.4, 0.0)])
def test_doublet_shape_test_separates_doublet_from_one_line(sigma_px, min_gain):
    from casiglo_gui.core.physics.doublet import doublet_gains

    shift = float(shift_of_redshift(0.5))
    a, b = LINE_INDEX["oii_3727"], LINE_INDEX["oii_3730"]
    residual = np.zeros((2, grid.N_PIXELS))
    amp = np.zeros(N_LINES)
    amp[[a, b]] = 10.0
    toy.add_lines(residual[0], 0.5, amp, sigma_px)  # the doublet
    # One broader Gaussian at the doublet's centre: what a lone line read as [OII] looks like.
    centre = (REST_PIXEL[a] + REST_PIXEL[b]) / 2 + shift
    residual[1] = 14.0 * toy.integrated_gaussian(np.arange(grid.N_PIXELS) - centre, sigma_px * 1.4)
    ivar = np.ones((2, grid.N_PIXELS), np.float32)
    two, one = doublet_gains(residual.astype(np.float32), ivar, np.array([0, 1]), np.array([shift, shift]))
    assert two[1] - one[1] < 0.005 * one[1]  # a lone line gains nothing from the doublet model
    assert two[0] - one[0] >= min_gain * one[0]  # a resolved doublet does (blended at sigma >~ 2 px)


def test_bounded_levenberg_marquardt_matches_the_constrained_optimum():
    from scipy.optimize import lsq_linear

    from casiglo_gui.core.physics.refine import bounded_levenberg_marquardt

    # A linear problem whose unconstrained optimum has a negative amplitude: the bounded
    # solution must equal the exact bounded least-squares answer, with the amplitude pinned at 0.
    rng = np.random.default_rng(3)
    design = rng.normal(size=(60, 4))
    truth = np.array([1.0, -0.8, 0.5, 2.0])
    data = design @ truth + 0.01 * rng.normal(size=60)
    lo, hi = np.zeros(4), np.full(4, np.inf)
    sol = bounded_levenberg_marquardt(lambda x: design @ x - data, lambda x: design,
                                      np.full(4, 0.5), lo, hi)
    exact = lsq_linear(design, data, bounds=(lo, hi)).x
    assert sol.success
    assert sol.x[1] == 0.0
    np.testing.assert_allclose(sol.x, exact, atol=1e-6)


def test_bounded_levenberg_marquardt_fits_a_line_centre():
    from casiglo_gui.core.physics.profiles import integrated_gaussian_derivatives
    from casiglo_gui.core.physics.refine import bounded_levenberg_marquardt

    x = np.arange(40.0)
    g, _, _ = integrated_gaussian_derivatives(x - 17.3, 1.4)
    data = 5.0 * g

    def fun(p):
        return p[2] * integrated_gaussian_derivatives(x - p[0], p[1])[0] - data

    def jac(p):
        g, dc, ds = integrated_gaussian_derivatives(x - p[0], p[1])
        return np.stack([p[2] * dc, p[2] * ds, g], axis=1)

    sol = bounded_levenberg_marquardt(fun, jac, np.array([16.0, 2.0, 1.0]),
                                      np.array([14.0, 0.5, 0.0]), np.array([20.0, 8.0, np.inf]))
    np.testing.assert_allclose(sol.x, [17.3, 1.4, 5.0], atol=1e-6)
