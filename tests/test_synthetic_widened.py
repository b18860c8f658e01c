"""The widened recipe of issue 13 (casiglo-cnn-v4): bright lines, [OII]-only sources, velocity widths,
lone lines at the lens lines' SNR; and the defaults still make v1-v3's data."""
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from casiglo_gui.core import grid
from casiglo_gui.core import lines as L
from casiglo_gui.core.skymask import sky_mask_on_grid
from training.fit import data_variants
from training.synthetic import FlatBackground, SyntheticConfig, generate, generate_chunk
from training.synthetic import profiles
from training.synthetic.config import as_config
from training.synthetic.distributions import SPEED_OF_LIGHT_KMS, draw_line_width, draw_snr
from training.synthetic.generator import Z_BG_MAX, stamp_half_width

ROOT = Path(__file__).resolve().parent.parent
LENS_ONLY = dict(proportions={"lens": 1.0}, lens_artifact_probability=0.0)
OII = [L.LINE_INDEX["oii_3727"], L.LINE_INDEX["oii_3730"]]


def test_default_recipe_still_makes_the_same_data():
    # Figures of main's generator before the widening knobs existed (same seed, same flat noisy
    # background): a knob that draws random numbers while switched off would change every one of them.
    batch = generate(64, seed=31, backgrounds=FlatBackground(ivar=2.0, noise=True))
    assert batch.kind.tolist() == [
        0, 0, 2, 4, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 5, 3, 0, 3, 3, 1, 0, 3, 4, 0, 0, 0, 3, 2, 0, 0, 0, 5,
        0, 3, 5, 0, 1, 2, 0, 2, 0, 0, 0, 0, 1, 3, 3, 0, 1, 3, 1, 0, 0, 0, 0, 0, 0, 2, 4, 0, 0, 1, 2, 0]
    np.testing.assert_allclose(batch.z_bg[np.isfinite(batch.z_bg)][:6],
                               [0.894201877553, 0.66504298629, 0.506972587108, 0.311685174968,
                                0.804204563879, 1.263255698756], rtol=1e-10)
    assert int(batch.line_present.sum()) == 147
    assert float(batch.line_snr.astype(np.float64).sum()) == pytest.approx(855.781353533268, rel=1e-5)
    assert float(np.abs(batch.residual.astype(np.float64)).sum()) == pytest.approx(145966.3945801797, rel=1e-5)


def test_wide_snr_is_log_uniform_up_to_100():
    config = SyntheticConfig(snr_distribution="wide", snr_wide_max=100.0, snr_max=100.0)
    snr = draw_snr(np.random.default_rng(2), 40000, config)
    assert snr.min() >= 1.0 and snr.max() <= 100.0
    assert stats.kstest(np.log(snr), stats.uniform(loc=0.0, scale=np.log(100.0)).cdf).pvalue > 1e-3
    assert np.mean(snr > 50.0) == pytest.approx(np.log(2.0) / np.log(100.0), abs=0.01)


@pytest.fixture(scope="module")
def oii_only_lenses():
    config = SyntheticConfig(oii_only_fraction=1.0, oii_ratio_range=(0.35, 1.5), tied_ratios=True, **LENS_ONLY)
    return generate(400, seed=41, config=config, backgrounds=FlatBackground(ivar=4.0, noise=False))


def test_oii_only_sources_show_the_doublet_alone_across_z_bg_half_to_1_7(oii_only_lenses):
    batch = oii_only_lenses
    assert np.all(batch.is_lens)
    expected = np.zeros(L.N_LINES, dtype=bool)
    expected[OII] = True
    doublet_alone = np.all(batch.line_present == expected[None, :], axis=1)
    # the rare source whose doublet stays on masked sky pixels after the redraws is an ordinary lens
    assert doublet_alone.mean() > 0.98
    assert np.all(batch.line_present[~doublet_alone].sum(axis=1) >= 2)
    z_bg = batch.z_bg[doublet_alone]
    assert z_bg.min() >= 0.5 and z_bg.max() <= min(1.7, Z_BG_MAX)
    # uniform in 0.5-1.7 where the foreground (z_fg <= 0.6) does not push the lower end up
    assert stats.kstest(z_bg[z_bg > 0.7], stats.uniform(loc=0.7, scale=1.0).cdf).pvalue > 1e-3


def test_oii_ratio_range_widens_the_doublet_ratio(oii_only_lenses):
    batch = oii_only_lenses
    # noise-free flat ivar: flux = SNR / sqrt(sum ivar g^2), g the line's own pixel-integrated profile
    ratios = []
    for i in np.flatnonzero(np.all(batch.line_present[:, OII], axis=1)):
        flux = []
        for j in OII:
            centre = L.REST_WAVELENGTHS_A[j] * (1.0 + batch.z_bg[i])
            pixels, g = profiles.stamps(np.array([centre]), np.array([batch.line_sigma_a[i, j]]))
            flux.append(batch.line_snr[i, j] / np.sqrt(np.sum(4.0 * g[0] ** 2 * ~sky_mask_on_grid()[pixels[0]])))
        ratios.append(flux[1] / flux[0])
    ratios = np.array(ratios)
    assert ratios.min() >= 0.35 * 0.999 and ratios.max() <= 1.5 * 1.001
    # the product's default range is 0.8-1.4: the widened one fills both ends
    assert np.mean(ratios < 0.8) > 0.2 and np.mean(ratios > 1.4) > 0.03


def test_oii_only_fraction_is_the_share_of_lenses_with_the_doublet_alone():
    config = SyntheticConfig(oii_only_fraction=0.5, line_probability=0.9, **LENS_ONLY)
    batch = generate(512, seed=42, config=config, backgrounds=FlatBackground())
    doublet_alone = np.all(batch.line_present[:, OII], axis=1) & (batch.line_present.sum(axis=1) == 2)
    # ordinary lenses with 90% line probability almost never show the doublet alone
    assert doublet_alone.mean() == pytest.approx(0.5, abs=4 * np.sqrt(0.25 / 512) + 0.02)


def test_velocity_widths_are_log_uniform_and_shared_by_a_galaxys_lines():
    config = SyntheticConfig(width_velocity_kms=(30.0, 300.0), instrumental_sigma_px=(1.0, 1.0),
                             tied_ratios=False, line_probability=0.9, **LENS_ONLY)
    batch = generate(300, seed=43, config=config, backgrounds=FlatBackground())
    rows, cols = np.nonzero(batch.line_present)
    centre = L.REST_WAVELENGTHS_A[cols] * (1.0 + batch.z_bg[rows])
    intrinsic = np.sqrt(batch.line_sigma_a[rows, cols].astype(np.float64) ** 2 - profiles.pixel_width_a(centre) ** 2)
    sigma_v = intrinsic / centre * SPEED_OF_LIGHT_KMS
    assert sigma_v.min() > 30.0 * 0.99 and sigma_v.max() < 300.0 * 1.01
    # one dispersion per galaxy: sigma in Angstrom grows with wavelength, sigma_v does not
    for i in np.unique(rows):
        mine = sigma_v[rows == i]
        assert np.ptp(mine) < 1e-3 * mine.mean() + 0.05
    per_galaxy = draw_line_width(np.random.default_rng(5), 30000, config)
    assert stats.kstest(np.log(per_galaxy), stats.uniform(loc=np.log(30.0), scale=np.log(10.0)).cdf).pvalue > 1e-3


def test_broad_velocity_lines_fit_in_their_stamps_and_keep_their_snr_label():
    config = SyntheticConfig(width_velocity_kms=(250.0, 300.0), tied_ratios=False, **LENS_ONLY)
    batch = generate(120, seed=44, config=config, backgrounds=FlatBackground(ivar=4.0, noise=False))
    checked = 0
    for i, j in zip(*np.nonzero(batch.line_present)):
        centre = np.array([L.REST_WAVELENGTHS_A[j] * (1.0 + batch.z_bg[i])])
        sigma = np.array([batch.line_sigma_a[i, j]], dtype=np.float64)
        assert stamp_half_width(centre, sigma, config) >= 5.0 * sigma[0] / profiles.pixel_width_a(centre[0])
        pixels, g = profiles.stamps(centre, sigma, half_width=40)
        if pixels[0, 0] < 0 or pixels[0, -1] >= grid.N_PIXELS or not np.all(batch.ivar[i, pixels[0]] > 0):
            continue
        others = np.delete(np.flatnonzero(batch.line_present[i]), np.flatnonzero(batch.line_present[i]) == j)
        other_pix = grid.pixel_of_wavelength(L.REST_WAVELENGTHS_A[others] * (1.0 + batch.z_bg[i]))
        if np.any(np.abs(other_pix - grid.pixel_of_wavelength(centre[0])) < 60):
            continue
        w, r = batch.ivar[i, pixels[0]], batch.residual[i, pixels[0]]
        measured = np.sum(w * r * g[0]) / np.sqrt(np.sum(w * g[0] ** 2))
        assert measured == pytest.approx(batch.line_snr[i, j], rel=1e-3)
        checked += 1
    assert checked > 30


def _lone_line_snr(config, n, seed):
    """Matched-filter SNR of each noise-free lone line: with r = F g it is sqrt(sum w r^2)."""
    batch, raw = generate_chunk(n, np.random.SeedSequence(seed), config,
                                {"flat": FlatBackground(ivar=4.0, noise=False)}, raw=True)
    weight = np.where(sky_mask_on_grid()[None, :], 0.0, raw.ivar.astype(np.float64))
    return batch, np.sqrt(np.sum(weight * raw.residual.astype(np.float64) ** 2, axis=1))


def test_lone_lines_can_follow_the_lens_lines_snr_distribution():
    wide = dict(snr_distribution="wide", snr_wide_max=100.0, snr_max=100.0, proportions={"single_line": 1.0})
    _, same = _lone_line_snr(SyntheticConfig(single_line_snr_boost=(1.0, 1.0), **wide), 256, 45)
    lens_lines = draw_snr(np.random.default_rng(6), 20000, SyntheticConfig(**wide))
    assert stats.ks_2samp(same, lens_lines).pvalue > 1e-3
    assert same.max() > 40.0
    # the default boost x U(1, 3) makes them brighter than lens lines
    _, boosted = _lone_line_snr(SyntheticConfig(**wide), 256, 45)
    assert np.median(boosted) > 1.5 * np.median(lens_lines)


def test_lone_lines_take_velocity_widths_anywhere_on_the_grid():
    config = SyntheticConfig(proportions={"single_line": 1.0}, width_velocity_kms=(30.0, 300.0),
                             instrumental_sigma_px=(1.0, 1.0))
    batch, raw = generate_chunk(256, np.random.SeedSequence(46), config,
                                {"flat": FlatBackground(ivar=4.0, noise=False)}, raw=True)
    flux_density = raw.residual.astype(np.float64)
    lo, hi = profiles.pixel_edges_a(np.arange(grid.N_PIXELS))
    flux = flux_density * (hi - lo)[None, :]
    centre = np.sum(flux * grid.WAVELENGTH_A[None, :], axis=1) / flux.sum(axis=1)
    spread = np.sqrt(np.sum(flux * (grid.WAVELENGTH_A[None, :] - centre[:, None]) ** 2, axis=1) / flux.sum(axis=1))
    instrumental = profiles.pixel_width_a(centre)
    sigma_v = np.sqrt(np.maximum(spread ** 2 - instrumental ** 2, 0.0)) / centre * SPEED_OF_LIGHT_KMS
    inside = (centre > grid.WAVELENGTH_A[40]) & (centre < grid.WAVELENGTH_A[-40])
    # pixel integration adds ~1/12 px^2 of variance: a tolerance of ~10 km/s at the narrow end
    assert np.all(sigma_v[inside] > 20.0) and np.all(sigma_v[inside] < 310.0)
    assert np.mean(sigma_v[inside] > 150.0) > 0.2
    # any identity: the lone lines spread over the whole grid, blue to red
    assert centre.min() < 4500.0 and centre.max() > 9000.0


def test_v4_config_widens_the_data_and_keeps_v3s_recipe_in_its_cycle():
    v4 = json.loads((ROOT / "training" / "configs" / "casiglo-cnn-v4.json").read_text())
    v3 = json.loads((ROOT / "training" / "configs" / "casiglo-cnn-v3.json").read_text())
    assert v4["model"] == v3["model"]  # v3's weights fit the network
    widened, original = (as_config(v) for v in data_variants(v4["data"]))
    assert widened.snr_distribution == "wide" and widened.snr_wide_max == widened.snr_max == 100.0
    assert widened.oii_only_fraction > 0 and widened.oii_only_z_bg_range == (0.5, 1.7)
    assert widened.oii_ratio_range == (0.35, 1.5) and widened.width_velocity_kms == (30.0, 300.0)
    assert widened.single_line_snr_boost == (1.0, 1.0)
    assert original == as_config(v3["data"])
    assert (ROOT / v4["train"]["init_from"] / "model.keras").is_file()
    assert v4["train"]["learning_rate"] < v3["train"]["learning_rate"]


@pytest.mark.parametrize("bad", [dict(oii_only_fraction=1.5), dict(width_velocity_kms=(300.0, 30.0)),
                                 dict(oii_ratio_range=(0.0, 1.5)), dict(single_line_snr_boost=(2.0, 1.0))])
def test_bad_widening_knobs_are_refused(bad):
    with pytest.raises(ValueError):
        SyntheticConfig(**bad)


def test_v4_full_training_config_trains_the_same_network_on_the_same_data_from_scratch():
    configs = ROOT / "training" / "configs"
    fine_tune = json.loads((configs / "casiglo-cnn-v4.json").read_text())
    full = json.loads((configs / "casiglo-cnn-v4-full.json").read_text())
    assert full["name"] == fine_tune["name"] == "casiglo-cnn-v4"
    assert full["model"] == fine_tune["model"]
    # the fine-tune's data plus physical Balmer series (added after the fine-tune ran), in both variants
    assert full["data"] == {**fine_tune["data"], "balmer_case_b": True}
    assert all(as_config(v).balmer_case_b for v in data_variants(full["data"]))
    assert not full["train"].get("init_from")
    assert "casiglo-cnn-v4-full.json" in (configs / "fit-casiglo-cnn-v4-on-gpu.sh").read_text()


def _fluxes(batch, i, keys):
    """Line fluxes of noise-free row ``i``: SNR / sqrt(sum w g^2) with the line's own profile."""
    out = []
    for key in keys:
        j = L.LINE_INDEX[key]
        centre = L.REST_WAVELENGTHS_A[j] * (1.0 + batch.z_bg[i])
        pixels, g = profiles.stamps(np.array([centre]), np.array([batch.line_sigma_a[i, j]]))
        out.append(batch.line_snr[i, j] / np.sqrt(np.sum(batch.ivar[i, pixels[0]] * g[0] ** 2)))
    return out


@pytest.mark.parametrize("case_b", [True, False])
def test_balmer_case_b_ties_hgamma_and_hdelta_to_hbeta_through_the_dust_of_the_decrement(case_b):
    config = SyntheticConfig(balmer_case_b=case_b, line_probability=0.9, z_ratio_mode="bells", **LENS_ONLY)
    batch = generate(300, seed=47, config=config, backgrounds=FlatBackground(ivar=4.0, noise=False))
    present = batch.line_present
    series = [L.LINE_INDEX[k] for k in ("halpha", "hbeta", "hgamma", "hdelta")]
    rows = np.flatnonzero(present[:, series].all(axis=1))
    assert rows.size > 20
    ratios = np.array([_fluxes(batch, i, ("halpha", "hbeta", "hgamma", "hdelta")) for i in rows])
    to_hbeta = ratios / ratios[:, 1:2]
    decrement = to_hbeta[:, 0] / L.HALPHA_TO_HBETA_MIN
    if not case_b:
        # v1-v3: H-gamma drawn on its own, often brighter than case B allows
        assert np.mean(to_hbeta[:, 2] > 0.468 * 1.25) > 0.3
        return
    np.testing.assert_allclose(to_hbeta[:, 2], 0.468 * decrement ** (-(4.17 - 3.61) / (3.61 - 2.53)), rtol=2e-3)
    np.testing.assert_allclose(to_hbeta[:, 3], 0.259 * decrement ** (-(4.44 - 3.61) / (3.61 - 2.53)), rtol=2e-3)
    # flux / case-B ratio never rises to the blue
    over_case_b = to_hbeta / np.array([L.HALPHA_TO_HBETA_MIN, 1.0, 0.468, 0.259])
    assert np.all(np.diff(over_case_b, axis=1) <= 1e-3)
    # H-gamma and H-delta come with H-beta (unless H-beta itself is masked or off the grid)
    hbeta, hgamma = L.LINE_INDEX["hbeta"], L.LINE_INDEX["hgamma"]
    hbeta_px = np.rint(grid.pixel_of_wavelength(L.rest_wavelength("hbeta") * (1.0 + batch.z_bg))).astype(int)
    inside = hbeta_px < grid.N_PIXELS - 5
    window = np.clip(hbeta_px[:, None] + np.arange(-1, 2)[None, :], 0, grid.N_PIXELS - 1)
    hbeta_seen = inside & np.all(np.take_along_axis(batch.ivar, window, axis=1) > 0, axis=1)
    assert np.sum(present[:, hgamma] & hbeta_seen) > 100
    assert not np.any(present[:, hgamma] & ~present[:, hbeta] & hbeta_seen)


def test_balmer_case_b_never_shows_a_weaker_line_without_its_visible_stronger_partner():
    # line_probability 0.2: most lenses get lines added to reach two, the case where a weak line came alone
    config = SyntheticConfig(balmer_case_b=True, line_probability=0.2, **LENS_ONLY)
    batch = generate(400, seed=48, config=config, backgrounds=FlatBackground())
    present = batch.line_present
    for weaker, stronger in (("oiii_4960", "oiii_5008"), ("hgamma", "hbeta"), ("hbeta", "halpha")):
        centre = L.rest_wavelength(stronger) * (1.0 + batch.z_bg)
        px = np.rint(grid.pixel_of_wavelength(centre)).astype(int)
        window = np.clip(px[:, None] + np.arange(-2, 3)[None, :], 0, grid.N_PIXELS - 1)
        seen = (px < grid.N_PIXELS - 5) & np.all(np.take_along_axis(batch.ivar, window, axis=1) > 0, axis=1)
        alone = present[:, L.LINE_INDEX[weaker]] & ~present[:, L.LINE_INDEX[stronger]] & seen
        assert not np.any(alone), (weaker, np.flatnonzero(alone))
