"""Synthetic data sources, negatives, multi-process reproducibility and files on disk."""
import json

import numpy as np
import pytest

from casiglo_gui.core import grid, preprocessing, readers
from casiglo_gui.core import lines as L
from casiglo_gui.core.skymask import sky_mask_on_grid
from training import cli
from training.synthetic import (KIND_CODE, FlatBackground, ParametricBackground, PCABackground,
                                RealResidualBackground, SyntheticConfig, generate, generate_parallel,
                                rolling_sigma_clip)
from training.synthetic.writers import load_shards, read_truth


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from pathlib import Path
    return RealResidualBackground.from_files(Path(__file__).parent / "data" / "sdss")


def test_real_backgrounds_read_through_the_app_readers(real):
    assert len(real) >= 5
    # the all-zero-ivar file in tests/data is skipped with a reason, not a crash
    assert any("ivar is zero" in s for s in real.skipped)
    chi = real.residual * np.sqrt(real.ivar)
    good = real.ivar > 0
    assert 0.7 < chi[good].std() < 1.5
    # 3-sigma cleaning left no sky spikes or cosmic rays: nothing stands 7 sigma above its 9-px neighbourhood.
    # (Broad structure, like the telluric band residual near 7200 A of spec-0266-51602-0013, is not a spike.)
    from scipy.ndimage import median_filter
    local = chi - median_filter(chi, size=(1, 9), mode="nearest")
    assert np.abs(local[good]).max() < 7
    raw = (real.residual + real.artifacts) * np.sqrt(real.ivar)
    assert np.abs(raw[good]).max() > 10


def test_keep_real_artifacts_brings_back_what_cleaning_removed(real):
    rng = np.random.default_rng(0)
    cfg_clean = SyntheticConfig(real_z_fg_mode="file", noise_scale_dex=0.0)
    cfg_raw = SyntheticConfig(real_z_fg_mode="file", noise_scale_dex=0.0, keep_real_artifacts=True)
    r0, iv0, z0 = real.draw(np.random.default_rng(1), 20, cfg_clean)
    r1, iv1, z1 = real.draw(np.random.default_rng(1), 20, cfg_raw)
    np.testing.assert_array_equal(iv0, iv1)
    assert np.all(np.isin(z0, real.z_fg))
    assert np.max(np.abs(r1 - r0) * np.sqrt(iv0)) > 5
    del rng


def test_rolling_sigma_clip_removes_spikes_and_keeps_noise():
    rng = np.random.default_rng(2)
    ivar = np.full(grid.N_PIXELS, 4.0, dtype=np.float32)
    residual = (rng.standard_normal(grid.N_PIXELS) / 2).astype(np.float32)
    residual[[500, 2000, 3500]] += 20.0
    cleaned, replaced = rolling_sigma_clip(residual, ivar, rng)
    assert replaced[[500, 2000, 3500]].all()
    assert replaced.mean() < 0.01
    assert np.abs(cleaned * 2).max() < 3.5


def test_pca_background_round_trips_and_draws_realistic_noise(real, tmp_path):
    model = PCABackground.fit(real, n_components=4)
    path = tmp_path / "pca.npz"
    model.save(path)
    loaded = PCABackground.load(path)
    with np.load(path, allow_pickle=False) as data:
        assert "chi_components" in data.files
    a = model.draw(np.random.default_rng(3), 30)
    b = loaded.draw(np.random.default_rng(3), 30)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-6)
    residual, ivar, z_fg = a
    good = ivar > 0
    chi = residual[good] * np.sqrt(ivar[good])
    assert 0.7 < chi.std() < 1.6
    assert np.all(good.sum(axis=1) > 2000)
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(ValueError, match="not a PCA background"):
        PCABackground.load(bad)


def test_mixed_backgrounds_are_all_used(real):
    batch = generate(200, seed=8, backgrounds=[ParametricBackground(), real, PCABackground.fit(real, 4)])
    assert set(np.unique(batch.background)) == {0, 1, 2}
    assert np.all(np.isfinite(batch.x))


def test_hard_negatives_leave_their_signature():
    kinds = ("cosmic_ray", "sky_residual", "fg_emission", "single_line", "fg_mismatch", "empty")
    batch = generate(240, seed=9, config=SyntheticConfig(proportions={k: 1.0 for k in kinds}),
                     backgrounds=FlatBackground(ivar=1.0, noise=False))
    peak = np.abs(batch.x).max(axis=1)
    assert np.all(peak[batch.kind == KIND_CODE["empty"]] == 0)
    assert np.all(peak[batch.kind == KIND_CODE["cosmic_ray"]] > 5)
    assert np.all(peak[batch.kind == KIND_CODE["single_line"]] > 0.3)
    # sky residuals reach unmasked pixels next to the sky mask (or, for unlisted sky lines, in the red)
    sky = batch.kind == KIND_CODE["sky_residual"]
    near_sky = np.convolve(sky_mask_on_grid().astype(float), np.ones(9), "same") > 0
    red = grid.WAVELENGTH_A > 6790
    assert np.all(np.abs(batch.x[sky][:, near_sky | red]).max(axis=1) > 1)
    assert np.mean(np.abs(batch.x[sky][:, near_sky]).max(axis=1) > 1) > 0.5
    # foreground emission sits at z_fg: the strongest pixel is within a few pixels of a line at z_fg
    for i in np.flatnonzero(batch.kind == KIND_CODE["fg_emission"]):
        p = np.argmax(batch.x[i])
        line_pix = grid.pixel_of_wavelength(L.REST_WAVELENGTHS_A * (1 + batch.z_fg[i]))
        assert np.min(np.abs(line_pix - p)) < 4
    assert not batch.line_present.any()


def test_same_seed_same_data_whatever_the_worker_count():
    n = 300  # two chunks
    one = generate_parallel(n, seed=12, workers=1)
    two = generate_parallel(n, seed=12, workers=2)
    direct = generate(n, seed=12)
    for batch in (two, direct):
        np.testing.assert_array_equal(one.x, batch.x)
        np.testing.assert_array_equal(one.line_present, batch.line_present)
        np.testing.assert_array_equal(one.z_bg, batch.z_bg)


@pytest.mark.parametrize("fmt", ["npz", "hdf5"])
def test_cli_writes_fixed_size_shards_with_a_card(tmp_path, fmt):
    out = tmp_path / "set"
    rc = cli.main(["generate", "--n", "70", "--seed", "3", "--out", str(out), "--format", fmt,
                   "--shard-size", "32", "--no-progress"])
    assert rc == 0
    card = json.loads((out / "card.json").read_text())
    assert card["seed"] == 3 and card["n"] == 70 and len(card["files"]) == 3
    assert card["config"]["snr_distribution"] == "moyal"
    data = load_shards(out)
    assert len(data) == 70
    np.testing.assert_array_equal(data.x, generate(70, seed=3).x)


def test_cli_fits_files_round_trip_through_the_readers(tmp_path):
    out = tmp_path / "fits"
    rc = cli.main(["generate", "--n", "8", "--seed", "5", "--out", str(out), "--format", "fits", "--no-progress"])
    assert rc == 0
    expected = generate(8, seed=5)
    files = sorted(out.glob("spec-*.fits"))
    assert len(files) == 8
    for path in files:
        truth = read_truth(path)
        i = truth["index"]
        spectrum = readers.read_spectrum(str(path))
        assert spectrum.z_fg == pytest.approx(expected.z_fg[i], abs=1e-12)
        gridded = preprocessing.to_model_grid(spectrum, own_sky=False)  # the generator masks the whole sky list
        np.testing.assert_array_equal(gridded.mask, expected.mask[i])
        # With the file's own sky, only listed sky-line pixels may be unmasked, never others.
        own = preprocessing.to_model_grid(spectrum).mask
        assert not np.any(own & ~gridded.mask)
        assert np.all((own == gridded.mask) | sky_mask_on_grid())
        diff = np.abs(gridded.residual - expected.residual[i]) * np.sqrt(expected.ivar[i])
        assert diff.max() < 1e-3
        np.testing.assert_array_equal(truth["line_present"], expected.line_present[i])
        np.testing.assert_allclose(truth["line_snr"], expected.line_snr[i], atol=1e-4)
        assert truth["kind"] == ("lens" if expected.is_lens[i] else truth["kind"])
        if expected.is_lens[i]:
            assert truth["z_bg"] == pytest.approx(expected.z_bg[i], rel=1e-12)
    # an existing set is not overwritten silently
    assert cli.main(["generate", "--n", "2", "--seed", "5", "--out", str(out), "--format", "fits",
                     "--no-progress"]) == 1


def test_cli_rejects_unknown_kinds(tmp_path, capsys):
    rc = cli.main(["generate", "--n", "2", "--seed", "1", "--out", str(tmp_path), "--proportions", "lens=1,dragon=2"])
    assert rc == 2
    assert "dragon" in capsys.readouterr().err
