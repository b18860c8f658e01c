"""Synthetic lines obey the paper's recipe: positions, widths, SNR labels, redshift and ratio distributions."""
import numpy as np
import pytest
from scipy import stats

from casiglo_gui.core import grid
from casiglo_gui.core import lines as L
from training.synthetic import FlatBackground, SyntheticConfig, generate
from training.synthetic import profiles
from training.synthetic.distributions import draw_intrinsic_sigma, draw_snr, draw_z_ratio
from training.synthetic.generator import draw_z_bg

LENS_ONLY = dict(proportions={"lens": 1.0}, lens_artifact_probability=0.0)


def _isolated_lines(batch, min_sep_px=25):
    """(row, line) pairs of present lines with no other present line within ``min_sep_px`` and fully on good pixels."""
    out = []
    for i in range(len(batch)):
        present = np.flatnonzero(batch.line_present[i])
        pix = grid.pixel_of_wavelength(L.REST_WAVELENGTHS_A[present] * (1 + batch.z_bg[i]))
        for j, p in zip(present, pix):
            if np.sum(np.abs(pix - p) < min_sep_px) > 1 or p < 15 or p > grid.N_PIXELS - 16:
                continue
            window = np.arange(int(round(p)) - 12, int(round(p)) + 13)
            if np.all(batch.ivar[i, window] > 0):
                out.append((i, j))
    return out


@pytest.fixture(scope="module")
def noiseless():
    cfg = SyntheticConfig(tied_ratios=False, **LENS_ONLY)
    return generate(250, seed=21, config=cfg, backgrounds=FlatBackground(ivar=4.0, noise=False))


def test_injected_line_centres_land_at_rest_times_one_plus_z(noiseless):
    pairs = _isolated_lines(noiseless)
    assert len(pairs) > 100
    errors = []
    for i, j in pairs:
        expected = grid.pixel_of_wavelength(L.REST_WAVELENGTHS_A[j] * (1.0 + noiseless.z_bg[i]))
        window = np.arange(int(round(expected)) - 12, int(round(expected)) + 13)
        lo, hi = profiles.pixel_edges_a(window)
        flux = noiseless.residual[i, window].astype(np.float64) * (hi - lo)
        errors.append(np.sum(flux * window) / np.sum(flux) - expected)
    assert np.max(np.abs(errors)) < 0.01


def test_profiles_integrate_over_pixels_not_sample_centres():
    centre, sigma = np.array([5000.37]), np.array([0.5])
    pixels, prof = profiles.stamps(centre, sigma)
    lo, hi = profiles.pixel_edges_a(pixels[0])
    # brute-force integral with 2001 sub-samples per pixel
    sub = lo[:, None] + (hi - lo)[:, None] * (np.arange(2001) + 0.5)[None, :] / 2001
    gauss = np.exp(-0.5 * ((sub - centre[0]) / sigma[0]) ** 2) / (np.sqrt(2 * np.pi) * sigma[0])
    np.testing.assert_allclose(prof[0], gauss.mean(axis=1), atol=1e-6)
    assert abs(np.sum(prof[0] * (hi - lo)) - 1.0) < 1e-9


def test_noise_free_matched_filter_snr_equals_label(noiseless):
    pairs = _isolated_lines(noiseless)
    for i, j in pairs:
        lam = L.REST_WAVELENGTHS_A[j] * (1.0 + noiseless.z_bg[i])
        pixels, g = profiles.stamps(np.array([lam]), np.array([noiseless.line_sigma_a[i, j]]))
        w, r = noiseless.ivar[i, pixels[0]], noiseless.residual[i, pixels[0]]
        measured = np.sum(w * r * g[0]) / np.sqrt(np.sum(w * g[0] ** 2))
        assert measured == pytest.approx(noiseless.line_snr[i, j], rel=2e-3, abs=2e-3)


def test_noisy_matched_filter_snr_scatters_around_label_by_one_sigma():
    cfg = SyntheticConfig(tied_ratios=False, **LENS_ONLY)
    batch = generate(250, seed=22, config=cfg, backgrounds=FlatBackground(ivar=2.0, noise=True))
    diffs = []
    for i, j in _isolated_lines(batch):
        lam = L.REST_WAVELENGTHS_A[j] * (1.0 + batch.z_bg[i])
        pixels, g = profiles.stamps(np.array([lam]), np.array([batch.line_sigma_a[i, j]]))
        w, r = batch.ivar[i, pixels[0]], batch.residual[i, pixels[0]]
        diffs.append(np.sum(w * r * g[0]) / np.sqrt(np.sum(w * g[0] ** 2)) - batch.line_snr[i, j])
    diffs = np.array(diffs)
    assert abs(diffs.mean()) < 4 * 1.0 / np.sqrt(diffs.size) + 0.05
    assert 0.8 < diffs.std() < 1.2


def test_line_widths_follow_the_six_to_one_mix(noiseless):
    # with the LSF fixed at 1 px, observed sigma separates 0.4 A from 1.7 A lines cleanly
    cfg = SyntheticConfig(tied_ratios=False, instrumental_sigma_px=(1.0, 1.0), **LENS_ONLY)
    batch = generate(700, seed=23, config=cfg, backgrounds=FlatBackground())
    first = np.argmax(batch.line_present, axis=1)
    rows = np.arange(len(batch))
    lam = L.REST_WAVELENGTHS_A[first] * (1 + batch.z_bg)
    lsf = profiles.pixel_width_a(lam)
    intrinsic = np.sqrt(batch.line_sigma_a[rows, first] ** 2 - lsf ** 2)
    assert np.all((np.abs(intrinsic - 0.4) < 1e-3) | (np.abs(intrinsic - 1.7) < 1e-3))
    broad = np.mean(intrinsic > 1.0)
    assert abs(broad - 1 / 7) < 4 * np.sqrt((1 / 7) * (6 / 7) / len(batch))
    draws = draw_intrinsic_sigma(np.random.default_rng(0), 70000, SyntheticConfig())
    assert np.mean(draws == 0.4) == pytest.approx(6 / 7, abs=0.006)


def test_snr_labels_follow_truncated_moyal():
    cfg = SyntheticConfig()
    snr = draw_snr(np.random.default_rng(1), 50000, cfg)
    assert snr.min() >= cfg.snr_min and snr.max() <= cfg.snr_max
    moyal = stats.moyal(loc=4.0, scale=1.5)
    lo, hi = moyal.cdf(cfg.snr_min), moyal.cdf(cfg.snr_max)
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        assert np.quantile(snr, q) == pytest.approx(moyal.ppf(lo + q * (hi - lo)), abs=0.06)
    # a KS test against the truncated distribution
    p = stats.kstest(snr, lambda x: (moyal.cdf(x) - lo) / (hi - lo)).pvalue
    assert p > 1e-3
    wide = draw_snr(np.random.default_rng(1), 50000, SyntheticConfig(snr_distribution="wide"))
    assert np.quantile(wide, 0.9) > 2 * np.quantile(snr, 0.9)


def test_labelled_snr_of_untied_lenses_is_moyal(noiseless):
    snr = noiseless.line_snr[noiseless.line_present]
    moyal = stats.moyal(loc=4.0, scale=1.5)
    assert np.median(snr) == pytest.approx(moyal.ppf((moyal.cdf(1.0) + 0.5 * (1 - moyal.cdf(1.0)))), abs=0.3)


def test_z_ratio_modes():
    rng = np.random.default_rng(3)
    bells = draw_z_ratio(rng, 20000, SyntheticConfig(z_ratio_mode="bells"))
    manga = draw_z_ratio(rng, 20000, SyntheticConfig(z_ratio_mode="manga"))
    assert np.all(bells > 1.0) and abs(np.median(bells) - 2.0) < 0.05
    hist, _ = np.histogram(bells, bins=np.arange(1.0, 3.5, 0.25))
    assert np.argmax(hist) in (3, 4)  # the peak is at 1.75-2.25
    assert manga.min() >= 2.0 and manga.max() <= 10.0
    assert stats.kstest(manga, stats.uniform(loc=2, scale=8).cdf).pvalue > 1e-3


@pytest.mark.parametrize("mode", ["bells", "manga", "mixed"])
def test_z_bg_always_behind_z_fg(mode):
    cfg = SyntheticConfig(z_ratio_mode=mode, z_fg_range=(0.001, 0.9))
    rng = np.random.default_rng(4)
    z_fg = rng.uniform(0.001, 0.9, 20000)
    z_bg = draw_z_bg(rng, z_fg, cfg)
    offset_px = np.log10((1 + z_bg) / (1 + z_fg)) / grid.DLOGLAM
    assert np.all(z_bg > z_fg) and np.all(offset_px >= cfg.min_offset_px - 1e-9)
    batch = generate(300, seed=5, config=SyntheticConfig(z_ratio_mode=mode, **LENS_ONLY))
    lens = batch.is_lens
    # a lens whose lines all fall off its coverage is relabelled empty; that stays rare
    assert lens.mean() > 0.95
    assert np.all(batch.z_bg[lens] > batch.z_fg[lens])


def test_tied_ratios():
    cfg = SyntheticConfig(tied_ratios=True, line_probability=0.9, **LENS_ONLY)
    batch = generate(300, seed=6, config=cfg, backgrounds=FlatBackground())
    idx = L.LINE_INDEX
    # flux = SNR / sqrt(sum w g^2); with flat ivar and isolated lines, ratio of fluxes from SNR and width
    def flux(i, key):
        j = idx[key]
        lam = L.REST_WAVELENGTHS_A[j] * (1 + batch.z_bg[i])
        pixels, g = profiles.stamps(np.array([lam]), np.array([batch.line_sigma_a[i, j]]))
        return batch.line_snr[i, j] / np.sqrt(np.sum(batch.ivar[i, pixels[0]] * g[0] ** 2))
    checked = {"oiii": 0, "nii": 0, "balmer": 0, "oii": 0}
    for i in range(len(batch)):
        p = batch.line_present[i]
        if p[idx["oiii_5008"]] and p[idx["oiii_4960"]]:
            assert flux(i, "oiii_5008") / flux(i, "oiii_4960") == pytest.approx(L.OIII_5008_TO_4960, rel=1e-3)
            checked["oiii"] += 1
        if p[idx["nii_6585"]] and p[idx["nii_6550"]]:
            assert flux(i, "nii_6585") / flux(i, "nii_6550") == pytest.approx(L.NII_6585_TO_6550, rel=1e-3)
            checked["nii"] += 1
        if p[idx["halpha"]] and p[idx["hbeta"]]:
            assert flux(i, "halpha") / flux(i, "hbeta") >= L.HALPHA_TO_HBETA_MIN * (1 - 1e-3)
            checked["balmer"] += 1
        if p[idx["oii_3727"]] and p[idx["oii_3730"]]:
            ratio = flux(i, "oii_3730") / flux(i, "oii_3727")
            assert L.OII_3730_TO_3727_RANGE[0] * 0.999 <= ratio <= L.OII_3730_TO_3727_RANGE[1] * 1.001
            checked["oii"] += 1
    assert min(checked.values()) >= 5, checked


def test_lines_on_masked_pixels_or_off_grid_are_not_present():
    batch = generate(300, seed=7, config=SyntheticConfig(**LENS_ONLY))
    for i in range(len(batch)):
        for j in np.flatnonzero(batch.line_present[i]):
            p = int(round(grid.pixel_of_wavelength(L.REST_WAVELENGTHS_A[j] * (1 + batch.z_bg[i]))))
            assert 0 <= p < grid.N_PIXELS
            assert np.any(batch.ivar[i, max(p - 2, 0):p + 3] > 0)
        # lines that would fall beyond the grid are never labelled present
        off = (L.REST_WAVELENGTHS_A * (1 + batch.z_bg[i]) > grid.WAVELENGTH_A[-1]) | \
              (L.REST_WAVELENGTHS_A * (1 + batch.z_bg[i]) < grid.WAVELENGTH_A[0])
        assert not np.any(batch.line_present[i] & off)
