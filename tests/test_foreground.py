"""The fitted foreground model (casiglo_gui.core.foreground): the fit itself, and on real SDSS/BOSS spectra
against the pipeline's own model."""
from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
from astropy.io import fits

from casiglo_gui import cli
from casiglo_gui.core import grid
from casiglo_gui.core.foreground import fit_foreground, galaxy_eigenspectra
from casiglo_gui.core.foreground.attach import attach_foreground
from casiglo_gui.core.foreground.compare import compare_models, lens_threshold_1pct, refitted
from casiglo_gui.core.foreground.linemask import emission_line_mask
from casiglo_gui.core.readers import read_spectrum
from casiglo_gui.core.readers.options import ReadOptions
from casiglo_gui.core.spectrum import FLAG_NO_FOREGROUND_MODEL
from lens_lines import default_detector

EMITTER = "sdss/spec-3650-55244-0007.fits"  # real emission source at z = 0.2396 in a z = 0.1805 galaxy
EMITTER_Z_BG = 0.2396
BOSS = ["sdss/spec-3650-55244-0007.fits", "sdss/spec-3650-55244-0056.fits", "sdss/spec-3650-55244-0089.fits",
        "sdss/spec-3651-55247-0054.fits", "sdss/spec-3586-55181-0003.fits", "sdss/spec-0266-51602-0013.fits"]


def _template_galaxy(z, first_pixel, n_pixels, coefficients, poly, noise, rng):
    """A spectrum made of the shipped eigenspectra at z (what the fit assumes), plus noise."""
    basis = galaxy_eigenspectra()
    loglam = grid.LOGLAM0 + grid.DLOGLAM * (first_pixel + np.arange(n_pixels))
    rest = (loglam - np.log10(1 + z) - basis.loglam0) / grid.DLOGLAM
    templates = np.stack([np.interp(rest, np.arange(basis.n_pixels), row) for row in basis.flux])
    x = np.linspace(-1, 1, n_pixels)
    truth = coefficients @ templates + poly[0] + poly[1] * x
    flux = truth + rng.normal(0, noise, n_pixels)
    return truth, flux.astype(np.float32), np.full(n_pixels, 1 / noise ** 2, np.float32)


def test_fit_recovers_a_galaxy_made_of_the_templates():
    rng = np.random.default_rng(3)
    truth, flux, ivar = _template_galaxy(0.137, -70, 4600, np.array([5.0, -1.0, 0.5, 0.2]), (0.3, -0.2), 0.1, rng)
    good = np.ones_like(flux, dtype=bool)
    good[1000:1010] = False
    fit = fit_foreground(flux, ivar, good, 0.137, first_pixel=-70)
    assert fit.fitted and fit.chi2_per_pixel == pytest.approx(1.0, abs=0.08)
    # The model follows the truth far below the noise (0.1), bad pixels included; the largest deviation
    # is where the tenth-of-a-pixel shift of the templates meets a sharp absorption edge.
    deviation = np.abs(fit.model - truth)
    assert np.sqrt(np.mean(deviation ** 2)) < 0.01 and deviation.max() < 0.06
    assert fit.model_error == 0.0  # a fit at the noise adds no model error


@pytest.mark.parametrize("correlated", [False, True])
def test_model_error_is_measured_on_the_scale_of_lines(correlated):
    """A 5% model error independent from pixel to pixel is measured as 5% per pixel and on line scales; the
    same 5% correlated over a line's width (template mismatch in an absorption line) is measured larger on
    line scales, where the detector's matched filters would otherwise read it as lines."""
    from scipy.ndimage import gaussian_filter1d

    from casiglo_gui.core.foreground.fit import line_scale_model_error

    rng = np.random.default_rng(8)
    n, noise, level = 4000, 0.01, 1.0
    model = np.full((2, n), level)
    error = rng.normal(0, 1, (2, n))
    if correlated:
        error = gaussian_filter1d(error, 2.0, axis=1)
    error *= 0.05 / error.std(axis=1, keepdims=True)
    resid = model * error + rng.normal(0, noise, (2, n))
    per_pixel = np.sqrt(((resid ** 2).sum(axis=1) - n * noise ** 2) / (model ** 2).sum(axis=1))
    on_lines = line_scale_model_error(resid, np.full((2, n), noise ** 2), model ** 2)
    assert per_pixel == pytest.approx(0.05, rel=0.05)
    if correlated:
        assert np.all(on_lines > 2 * per_pixel)
    else:
        assert on_lines == pytest.approx(per_pixel, rel=0.1)


def test_fit_is_the_same_one_by_one_and_vectorised():
    rng = np.random.default_rng(4)
    zs = [0.05, 0.31, 0.52]
    made = [_template_galaxy(z, 0, grid.N_PIXELS, rng.uniform(1, 3, 4), (0.1, 0.0), 0.2, rng) for z in zs]
    flux = np.stack([m[1] for m in made])
    ivar = np.stack([m[2] for m in made])
    good = np.ones_like(flux, dtype=bool)
    together = fit_foreground(flux, ivar, good, np.array(zs))
    for k, z in enumerate(zs):
        alone = fit_foreground(flux[k], ivar[k], good[k], z)
        np.testing.assert_allclose(alone.model, together.model[k], rtol=1e-5, atol=1e-5)


def test_no_redshift_no_fit_and_the_spectrum_says_so(data_dir):
    s = read_spectrum(data_dir / EMITTER, options=ReadOptions(fit_foreground=False))
    bare = dataclasses.replace(s, model=None, model_source="", z_fg=np.float64(np.nan), flags=set(),
                               meta=dict(s.meta))
    attach_foreground([bare])
    assert bare.model is None and bare.model_source == "none"


def test_emission_line_mask_marks_the_foreground_lines():
    z = 0.1
    mask = emission_line_mask(np.array([z]), 0, grid.N_PIXELS)[0]
    halpha = int(round(grid.pixel_of_wavelength(6564.61 * (1 + z))))
    assert mask[halpha - 6: halpha + 7].all() and not mask[halpha - 60]


@pytest.mark.parametrize("name", BOSS)
def test_fitted_model_is_as_good_as_the_pipelines_on_line_free_pixels(data_dir, name):
    """docs/foreground.md's comparison, on the real spectra kept in tests/data."""
    pipeline = read_spectrum(data_dir / name)
    assert pipeline.model_source == "pipeline"
    fitted = refitted(pipeline)
    assert fitted.model_source == "fitted" and FLAG_NO_FOREGROUND_MODEL not in fitted.flags
    comparison = compare_models(pipeline, fitted)
    assert comparison.n_pixels > 3000
    assert comparison.ratio <= 1.10, comparison


def _drop_model_column(src, dst):
    with fits.open(src) as hdul:
        coadd = hdul[1]
        columns = [c for c in coadd.columns if c.name.lower() != "model"]
        table = fits.BinTableHDU.from_columns(fits.ColDefs(columns), header=coadd.header, name="COADD")
        fits.HDUList([hdul[0].copy(), table] + [h.copy() for h in hdul[2:]]).writeto(dst)


def _scan(paths, out, *extra):
    assert cli.main(["scan", *map(str, paths), "--out", str(out), "--workers", "1", "--no-progress", *extra]) == 0
    with open(out, newline="") as fh:
        return list(csv.DictReader(fh))


def test_real_spec_with_its_model_removed_scans_the_same(data_dir, tmp_path, capsys):
    """The real emitter in 3650-55244-0007 is still found when the pipeline model is replaced by ours."""
    bare = tmp_path / "spec-3650-55244-0007-nomodel.fits"
    _drop_model_column(data_dir / EMITTER, bare)
    with_pipeline, with_fit = _scan([data_dir / EMITTER, bare], tmp_path / "scan.csv")
    assert "foreground models (spectra searched this run): fitted 1, pipeline 1" in capsys.readouterr().err
    threshold = lens_threshold_1pct(default_detector())
    for row in (with_pipeline, with_fit):
        assert row["status"] == "ok" and float(row["score"]) >= threshold, row
        assert float(row["z_bg"]) == pytest.approx(EMITTER_Z_BG, abs=2e-4)
    assert abs(float(with_pipeline["z_bg"]) - float(with_fit["z_bg"])) < 1e-4
