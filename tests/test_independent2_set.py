"""The second independent set (benchmarks/independent2): files the product reads, a truth table that
matches the files, its own physics (line ratios, vacuum sky lines, the Cramer-Rao bound) and reproducibility."""
from __future__ import annotations

import json
import os

import fitsio
import numpy as np
import pandas as pd
import pytest

from benchmarks.independent2 import nebular
from benchmarks.independent2.build import TRUTH_COLUMNS, build_set, file_rng
from benchmarks.independent2.foreground import EigenBasis
from benchmarks.independent2.instrument import COMBINEREJ, FULLREJECT
from benchmarks.independent2.oracle import fit_line_fluxes, oracle_redshift
from benchmarks.independent2.population import Recipe
from benchmarks.independent2.profiles import LineSet, cramer_rao_sigma_z, shift_to_sigma_z
from benchmarks.independent2.sky import SkyLineList
from benchmarks.independent2.spectral_lines import INDEX, LINE_KEYS, REST_VACUUM_A, air_to_vacuum
from benchmarks.independent2_set import main as set_main
from casiglo_gui.core import lines as core_lines
from casiglo_gui.core.readers import read_spectrum

DATA = os.path.join(os.path.dirname(__file__), "data", "idlspec2d")
EIGEN = os.path.join(DATA, "spEigenGal-56436.fits")
SKYLINES = os.path.join(DATA, "skylines.dat")
N_FILES = 40


@pytest.fixture(scope="module")
def recipe():
    return Recipe(EigenBasis.load(EIGEN), SkyLineList.load(SKYLINES))


@pytest.fixture(scope="module")
def small_set(tmp_path_factory, recipe):
    out = str(tmp_path_factory.mktemp("indep2"))
    counts = build_set(out, N_FILES, seed=7, recipe=recipe)
    truth = pd.read_csv(os.path.join(out, "truth.csv"), keep_default_na=False,
                        na_values={c: [""] for c in ("z_bg", "cr_sigma_z", "sigma_v_kms")})
    return out, truth, counts


def test_line_list_typed_in_matches_the_contract():
    assert LINE_KEYS == tuple(core_lines.LINE_KEYS)
    np.testing.assert_allclose(REST_VACUUM_A, core_lines.REST_WAVELENGTHS_A, atol=1e-6)


def test_sky_lines_are_converted_to_vacuum():
    # O I 5577.339 A in air is 5578.887 A in vacuum (idlutils airtovac).
    assert air_to_vacuum(np.array([5577.339]))[0] == pytest.approx(5578.887, abs=0.01)
    sky = SkyLineList.load(SKYLINES)
    assert np.any(np.abs(sky.vacuum_a - 5578.887) < 0.01)
    assert np.all(np.diff(sky.vacuum_a) > 0) and sky.vacuum_a.size >= 40


def test_foreground_basis_has_no_emission_lines_left():
    basis = EigenBasis.load(EIGEN)
    rest = 10.0 ** (basis.loglam0 + 1e-4 * np.arange(basis.vectors.shape[1]))
    for line in (3729.88, 5008.24, 6564.61):
        window = np.abs(rest / line - 1.0) < 700.0 / 299792.458
        sides = np.abs(rest / line - 1.0) < 1500.0 / 299792.458
        # bridged: nothing in the window rises above the straight line between its edges by > 1% of the level
        level = np.median(np.abs(basis.vectors[0][sides]))
        assert np.max(basis.vectors[0][window]) <= np.max(basis.vectors[0][sides & ~window]) + 0.01 * level


def test_line_ratio_priors():
    rng = np.random.default_rng(3)
    for _ in range(300):
        f, info = nebular.draw_relative_fluxes(rng)
        assert f[INDEX["oiii_5008"]] / f[INDEX["oiii_4960"]] == pytest.approx(2.98, rel=1e-9)
        assert f[INDEX["nii_6585"]] / f[INDEX["nii_6550"]] == pytest.approx(2.95, rel=1e-9)
        assert f[INDEX["halpha"]] / f[INDEX["hbeta"]] >= 2.86 - 1e-9
        assert f[INDEX["halpha"]] / f[INDEX["hbeta"]] == pytest.approx(info["balmer_decrement"], rel=1e-9)
        ratio = f[INDEX["oii_3730"]] / f[INDEX["oii_3727"]]
        assert 0.35 <= ratio <= 1.5


def test_fisher_information_of_a_lone_pixel_integrated_gaussian():
    loglam = 3.6 + 1e-4 * np.arange(400)
    line_set = LineSet(loglam)
    line_set.add(10.0 ** (3.6 + 1e-4 * 200.3), sigma_px=2.0)
    ivar = np.full(400, 4.0)
    flux = 10.0 / line_set.unit_snr(ivar)[0]  # SNR 10
    info = line_set.shift_information(np.array([flux]), ivar)
    # pixel integration adds the 1/12 px^2 variance of a box: SNR^2 / (2 (sigma^2 + 1/12))
    assert info == pytest.approx(100.0 / (2 * (2.0 ** 2 + 1.0 / 12.0)), rel=0.005)
    # a second line far away adds its information; one 3 px away (a doublet) adds much less, fluxes being unknown
    other = LineSet(loglam)
    other.add(10.0 ** (3.6 + 1e-4 * 100.3), sigma_px=2.0)
    other_info = other.shift_information(np.array([flux]), ivar)
    apart, blend = LineSet(loglam), LineSet(loglam)
    for pixel, pair in ((100.3, apart), (203.3, blend)):
        pair.add(10.0 ** (3.6 + 1e-4 * 200.3), sigma_px=2.0)
        pair.add(10.0 ** (3.6 + 1e-4 * pixel), sigma_px=2.0)
    assert apart.shift_information(np.array([flux, flux]), ivar) == pytest.approx(info + other_info, rel=1e-6)
    assert blend.shift_information(np.array([flux, flux]), ivar) < 0.7 * 2 * info
    # z = 1: sigma_z = 2 ln(10) 1e-4 / sqrt(12.5)
    assert cramer_rao_sigma_z(np.array([10.0]), np.array([2.0]), 1.0) == pytest.approx(1.3025e-4, rel=1e-3)
    assert shift_to_sigma_z(0.0, 1.0) == np.inf


def test_files_are_read_by_the_product_reader(small_set):
    out, truth, counts = small_set
    assert list(truth.columns) == TRUTH_COLUMNS
    assert len(truth) == N_FILES and sum(counts.values()) == N_FILES
    assert {"lens", "plain"} <= set(truth["kind"]) and truth["is_lens"].sum() >= 10
    flagged_any = harmless_any = False
    for row in truth.itertuples(index=False):
        spectrum = read_spectrum(os.path.join(out, row.file))
        assert spectrum.object_id == row.object_id
        assert spectrum.z_fg == row.z_fg  # float64 round trip
        assert spectrum.model is not None and spectrum.wdisp is not None and spectrum.sky is not None
        assert spectrum.meta["hdu2"] == ("SPALL" if row.layout == "boss" else "SPECOBJ")
        and_mask = fitsio.read(os.path.join(out, row.file), ext=1, columns=["and_mask"])["and_mask"]
        rejected = (and_mask & (FULLREJECT | COMBINEREJ)) != 0
        np.testing.assert_array_equal(spectrum.mask, rejected)  # harmless bits (NEARBADPIXEL, LOWFLAT) kept
        flagged_any |= bool(rejected.any())
        harmless_any |= bool(np.any((and_mask != 0) & ~rejected))
    assert flagged_any and harmless_any


def test_truth_lens_strongest_line_is_in_flux_minus_model(small_set):
    out, truth, _ = small_set
    lenses = truth[truth["kind"] == "lens"]
    for row in lenses.itertuples(index=False):
        key = INDEX[row.strongest_line]
        spectrum = read_spectrum(os.path.join(out, row.file))
        residual = np.where(spectrum.mask, 0.0, spectrum.flux - spectrum.model).astype(np.float64)
        ivar = np.where(spectrum.mask, 0.0, spectrum.ivar).astype(np.float64)
        loglam = np.log10(spectrum.wavelength)
        sigma_px = [getattr(row, f"sigma_px_{k}") for k in LINE_KEYS]
        flux, error, _ = fit_line_fluxes(residual, ivar, loglam, row.z_bg, np.array(sigma_px))
        true_flux = getattr(row, f"flux_{row.strongest_line}")
        assert abs(flux[key] - true_flux) < 5.0 * error[key] + 0.05 * true_flux, row.file
        # the truth's SNR is the matched-filter SNR of the line alone in this file's ivar
        alone = LineSet(loglam)
        alone.add(REST_VACUUM_A[key] * (1.0 + row.z_bg), sigma_px[key])
        assert true_flux * alone.unit_snr(ivar)[0] == pytest.approx(getattr(row, f"snr_{row.strongest_line}"), rel=0.01)
        # and nothing of the kind 0.01 in z away
        off, off_error, _ = fit_line_fluxes(residual, ivar, loglam, row.z_bg + 0.01, np.array(sigma_px))
        assert abs(off[key]) < 5.0 * off_error[key] + 0.05 * true_flux or row.snr_max < 8, row.file


def test_truth_summary_columns_are_consistent(small_set):
    _, truth, _ = small_set
    lenses = truth[truth["kind"] == "lens"]
    snr = lenses[[f"snr_{k}" for k in LINE_KEYS]].to_numpy()
    np.testing.assert_allclose(lenses["snr_total"], np.sqrt((snr ** 2).sum(axis=1)), rtol=1e-9)
    np.testing.assert_allclose(lenses["snr_max"], snr.max(axis=1), rtol=1e-9)
    assert (lenses["z_bg"] > lenses["z_fg"] + 0.049).all()
    assert np.all(np.isfinite(lenses["cr_sigma_z"])) and np.all(lenses["cr_sigma_z"] > 0)
    oii_only = lenses[lenses["lens_type"] == "oii_only"]
    assert ((oii_only["z_bg"] >= 0.9) & (oii_only["z_bg"] <= 1.7)).all()
    negatives = truth[truth["kind"] != "lens"]
    assert (negatives[[f"flux_{k}" for k in LINE_KEYS]].to_numpy() == 0).all()
    lone = negatives[negatives["kind"] == "lone_line"]
    assert ((lone["snr_max"] >= 6.0 * 0.9) & (lone["snr_max"] <= 30.0 * 1.1)).all()


def test_every_negative_kind_is_made(recipe):
    for kind in ("plain", "fg_emission", "lone_line", "cosmic", "sky_residual"):
        sim = recipe.simulate(file_rng(11, 0), kind)
        assert sim.truth["kind"] == kind and not sim.truth["is_lens"]
        residual = np.where(sim.ivar > 0, (sim.flux - sim.model) * np.sqrt(sim.ivar), 0.0)
        if kind == "cosmic":
            assert np.max(residual) > 5.0
        if kind in ("fg_emission", "lone_line"):
            assert sim.truth["snr_max"] > 0


def test_same_seed_same_set(tmp_path, recipe):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    build_set(a, 5, seed=3, recipe=recipe)
    build_set(b, 5, seed=3, recipe=recipe)
    with open(os.path.join(a, "truth.csv")) as fa, open(os.path.join(b, "truth.csv")) as fb:
        assert fa.read() == fb.read()
    first = sorted(f for f in os.listdir(a) if f.endswith(".fits"))[0]
    ra, rb = read_spectrum(os.path.join(a, first)), read_spectrum(os.path.join(b, first))
    np.testing.assert_array_equal(ra.flux, rb.flux)


def test_cli_writes_manifest(tmp_path):
    out = str(tmp_path / "cli")
    assert set_main(["--out", out, "--n", "3", "--seed", "1", "--quiet", "--eigen", EIGEN, "--skylines", SKYLINES]) == 0
    with open(os.path.join(out, "set.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert manifest["seed"] == 1 and manifest["n"] == 3 and sum(manifest["counts"].values()) == 3
    assert manifest["rest_wavelengths_vacuum_a"]["halpha"] == 6564.61


def test_cli_refuses_a_file_that_is_not_eigenspectra(tmp_path, capsys):
    bad = tmp_path / "not_eigen.fits"
    bad.write_bytes(b"not a fits file")
    assert set_main(["--out", str(tmp_path / "x"), "--n", "1", "--eigen", str(bad), "--skylines", SKYLINES]) == 1
    assert "not_eigen.fits" in capsys.readouterr().err


def test_oracle_fit_reaches_the_free_flux_bound(recipe):
    """The truth's cr_sigma_z_free_fluxes is attainable: an oracle knowing the widths scatters by ~1 of it."""
    pulls = []
    for i in range(30):
        sim = recipe.simulate(file_rng(21, i), "lens")
        t = sim.truth
        sigma_px = np.array([t[f"sigma_px_{k}"] for k in LINE_KEYS])
        z = oracle_redshift(sim.flux - sim.model, sim.ivar, sim.loglam, t["z_bg"], sigma_px,
                            6.0 * t["cr_sigma_z_free_fluxes"])
        pulls.append((z - t["z_bg"]) / t["cr_sigma_z_free_fluxes"])
        # overlapping lines (a doublet, wide Halpha + [NII]) make the two bounds differ either way
        assert 0.5 * t["cr_sigma_z"] < t["cr_sigma_z_free_fluxes"] < 50.0 * t["cr_sigma_z"]
    spread = 1.4826 * np.median(np.abs(np.array(pulls) - np.median(pulls)))
    assert 0.6 < spread < 1.5
