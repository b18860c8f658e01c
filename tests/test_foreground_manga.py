"""MaNGA without a DAP model: real spaxels come out as ordinary galaxies once the fitted foreground is
subtracted, and a lens injected into a cube is found where it was put, on the detection map too."""
from __future__ import annotations

import csv
import dataclasses
import shutil

import numpy as np
import pytest
from astropy.io import fits

from casiglo_gui import cli
from casiglo_gui.core.detectors.detection import as_batch_of_one
from casiglo_gui.core.foreground.attach import attach_foreground
from casiglo_gui.core.foreground.compare import lens_threshold_1pct
from casiglo_gui.core.preprocessing import to_model_grid
from casiglo_gui.core.readers import open_cube, read_spectra
from casiglo_gui.core.readers.options import ReadOptions
from lens_lines import default_detector, lens_lines

TABLE = "manga/MaNGA_test_spectra.fits.gz"
MULTICOMP = "manga/MaNGA_multicomp_test_spectra.fits.gz"

N_ROWS = {TABLE: 8, MULTICOMP: 3}
CUBE_ROW = 6      # the spaxel the synthetic cube is made of (z = 0.0172)
LENS_Z = 0.4567
ARC = [(3, 2), (4, 2), (5, 3), (5, 4)]


@pytest.fixture(scope="module")
def detector():
    return default_detector()


def _with_lens(base, peak):
    """``base`` (read without a model) with the lens's lines at ``LENS_Z`` added, then its fitted model."""
    flux = (base.flux + lens_lines(base.wavelength, LENS_Z, peak)).astype(np.float32)
    lensed = dataclasses.replace(base, flux=flux, flags=set(base.flags), meta=dict(base.meta))
    attach_foreground([lensed])
    return lensed


def _score(detector, spectrum):
    return detector.detect_batch(*as_batch_of_one(to_model_grid(spectrum)))[0]


@pytest.mark.parametrize("table", sorted(N_ROWS))
def test_every_real_spaxel_with_a_fitted_model_is_an_ordinary_galaxy(data_dir, detector, table):
    """Every real spaxel with a good pixel scores below the 1% threshold, the high-S/N ones whose template
    mismatch (Ca triplet read as [NII], broad multi-component lines) scored up to 0.97 included; on raw flux
    the same spaxels look like lenses."""
    threshold = lens_threshold_1pct(detector)
    spectra = read_spectra(data_dir / table)
    raw = read_spectra(data_dir / table, options=ReadOptions(fit_foreground=False))
    assert len(spectra) == N_ROWS[table]
    raw_scores = []
    for row, spectrum in enumerate(spectra):
        if not spectrum.is_usable:  # MaNGA_test_spectra row 5: no good pixel, not searched
            assert spectrum.model_source == "none"
            continue
        assert spectrum.model_source == "fitted"
        assert _score(detector, spectrum).score < threshold, (table, row)
        raw_scores.append(_score(detector, raw[row]).score)
    if table == TABLE:  # what the fit fixes: on its raw flux, a MaNGA spaxel looks like a lens
        assert max(raw_scores) >= threshold


@pytest.mark.parametrize("table, row", [(TABLE, 3), (MULTICOMP, 2)])
def test_lens_injected_into_a_high_snr_spaxel_is_found(data_dir, detector, table, row):
    """The model error measured on line scales (5-7% at S/N ~70) leaves a lens whose lines peak at 20% of
    the continuum clearly found."""
    base = read_spectra(data_dir / table, options=ReadOptions(fit_foreground=False))[row]
    continuum = np.median(base.flux[base.ivar > 0])
    lensed = _with_lens(base, 0.2 * continuum)
    d = _score(detector, lensed)
    assert lensed.model_error > 0.02
    assert d.score >= lens_threshold_1pct(detector) and d.z_bg == pytest.approx(LENS_Z, abs=3e-4)


def test_lens_injected_into_a_real_spaxel_is_found(data_dir, detector):
    base = read_spectra(data_dir / TABLE, options=ReadOptions(fit_foreground=False))[CUBE_ROW]
    noise = np.median(1 / np.sqrt(base.ivar[base.ivar > 0]))
    lensed = _with_lens(base, 8 * noise)
    d = _score(detector, lensed)
    assert lensed.model_source == "fitted"
    assert d.score >= lens_threshold_1pct(detector) and d.z_bg == pytest.approx(LENS_Z, abs=3e-4)


def write_lensed_cube(path, source_table, rng, size=9):
    """A DR17-layout LOGCUBE of one real spaxel's galaxy (brighter at the centre, noise re-drawn per spaxel),
    header Z = that galaxy's redshift, with a background galaxy's lines added in the ``ARC`` spaxels."""
    with fits.open(source_table) as hdul:
        wave = np.array(hdul["WAVE"].data, dtype=np.float64)
        flux0 = np.array(hdul["FLUX"].data[CUBE_ROW], dtype=np.float64)
        ivar0 = np.array(hdul["IVAR"].data[CUBE_ROW], dtype=np.float64)
        mask0 = np.array(hdul["MASK"].data[CUBE_ROW])
        z = float(hdul["Z"].data[CUBE_ROW])
    sigma0 = np.where(ivar0 > 0, 1 / np.sqrt(np.where(ivar0 > 0, ivar0, 1)), 0)
    flux = np.zeros((wave.size, size, size), np.float32)
    ivar = np.zeros_like(flux)
    mask = np.full(flux.shape, 1 | 1024, np.int32)  # NOCOV | DONOTUSE outside the round IFU
    centre = (size - 1) / 2
    noise = np.median(sigma0[ivar0 > 0])
    for y in range(size):
        for x in range(size):
            r = np.hypot(x - centre, y - centre)
            if r > size / 2:
                continue
            brightness = np.exp(-r / 3.0)
            f = brightness * flux0 + rng.normal(0, 1, wave.size) * sigma0 * np.sqrt(1 - brightness ** 2)
            if (x, y) in ARC:
                f = f + lens_lines(wave, LENS_Z, 8 * noise)
            flux[:, y, x] = f
            ivar[:, y, x] = ivar0
            mask[:, y, x] = mask0
    primary = fits.PrimaryHDU()
    primary.header["PLATEIFU"] = "9999-9101"
    primary.header["OBJRA"], primary.header["OBJDEC"] = 10.0, 20.0
    primary.header["Z"] = z
    fits.HDUList([primary, fits.ImageHDU(flux, name="FLUX"), fits.ImageHDU(ivar, name="IVAR"),
                  fits.ImageHDU(mask, name="MASK"), fits.ImageHDU(wave, name="WAVE")]).writeto(path)
    return z


def test_lens_in_a_cube_is_found_in_its_spaxels_and_on_the_map(data_dir, tmp_path, detector):
    cube = tmp_path / "manga-9999-9101-LOGCUBE.fits"
    z_fg = write_lensed_cube(cube, data_dir / TABLE, np.random.default_rng(11))
    out, maps = tmp_path / "cube.csv", tmp_path / "maps"
    assert cli.main(["scan", str(cube), "--out", str(out), "--maps", str(maps), "--workers", "1",
                     "--no-progress"]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open_cube(cube) as c:
        assert c.z_source == "header" and len(rows) == len(c.spaxels_with_data())
    threshold = lens_threshold_1pct(detector)
    by_xy = {tuple(int(v) for v in r["object_id"].split("/")[1].split(",")): r for r in rows}
    for xy in ARC:
        r = by_xy[xy]
        assert r["status"] == "ok" and float(r["z_fg"]) == pytest.approx(z_fg)
        assert float(r["score"]) >= threshold and float(r["z_bg"]) == pytest.approx(LENS_Z, abs=3e-4), r
    false = [xy for xy, r in by_xy.items() if xy not in ARC and float(r["score"]) >= threshold]
    assert len(false) <= 1, false
    with fits.open(maps / "manga-9999-9101-LOGCUBE-CASIGLO-MAPS.fits") as hdul:
        lit = np.argwhere(hdul["SCORE"].data >= threshold)
        z_map = hdul["Z_BG"].data
    assert set(ARC) <= {(int(x), int(y)) for y, x in lit}  # the arc shows on the map
    assert all(z_map[y, x] == pytest.approx(LENS_Z, abs=3e-4) for x, y in ARC)


def test_cube_redshift_from_the_maps_file_or_drpall_beside_it(data_dir, tmp_path):
    """A DRP cube has no redshift in its header: the DAP MAPS file (SCINPVEL) or the DRPall catalogue
    beside it gives one, so the scan needs no flag; with neither, the rows say what to give."""
    cube = tmp_path / "manga-8131-6102-LOGCUBE.fits.gz"
    shutil.copy(data_dir / "manga/manga-test-5x5-LOGCUBE.fits.gz", cube)
    (row, *_) = _scan_rows(cube, tmp_path / "none.csv")
    assert row["status"].startswith("error: not searched: no foreground model and no foreground redshift")
    assert "--z-fg" in row["status"]

    maps = tmp_path / "manga-8131-6102-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz"
    primary = fits.PrimaryHDU()
    primary.header["PLATEIFU"] = "8131-6102"
    primary.header["SCINPVEL"] = 14848.0  # km/s
    fits.HDUList([primary, fits.ImageHDU(np.zeros((2, 2)), name="BINID")]).writeto(maps)
    with open_cube(cube) as c:
        assert c.z_fg == pytest.approx(14848.0 / 299792.458) and c.z_source == maps.name
    rows = _scan_rows(cube, tmp_path / "maps.csv")
    assert all(r["status"] == "ok" and float(r["z_fg"]) == pytest.approx(0.049528, abs=1e-6) for r in rows)

    maps.unlink()
    drpall = tmp_path / "drpall-v3_1_1.fits"
    fits.BinTableHDU.from_columns([fits.Column("PLATEIFU", "10A", array=["7815-3702", "8131-6102"]),
                                   fits.Column("NSA_Z", "D", array=[0.0294, 0.0301])]).writeto(drpall)
    with open_cube(cube) as c:
        assert c.z_fg == pytest.approx(0.0301) and c.z_source == drpall.name
    elsewhere = tmp_path / "catalogues"
    elsewhere.mkdir()
    drpall.rename(elsewhere / drpall.name)
    rows = _scan_rows(cube, tmp_path / "given.csv", "--redshifts", str(elsewhere / drpall.name))
    assert all(r["status"] == "ok" and float(r["z_fg"]) == pytest.approx(0.0301) for r in rows)


def _scan_rows(path, out, *extra):
    assert cli.main(["scan", str(path), "--out", str(out), "--workers", "1", "--no-progress",
                     "--detector", "physics", *extra]) == 0
    with open(out, newline="") as fh:
        return list(csv.DictReader(fh))
