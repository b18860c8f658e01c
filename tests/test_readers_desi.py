"""DESI DR1 coadds with their Redrock redshifts: the real pair, a synthetic DESI-layout coadd with a lens,
and the files that must be refused with a reason."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from astropy.io import fits

from casiglo_gui import cli
from casiglo_gui.core import grid
from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.foreground.compare import lens_threshold_1pct
from casiglo_gui.core.readers import identify_path, read_spectra
from casiglo_gui.core.readers.options import ReadOptions
from casiglo_gui.core.readers.resample import grid_edges, resample_to_grid
from casiglo_gui.core.spectrum import FLAG_NOT_SEARCHED
from lens_lines import default_detector, lens_lines

COADD = "desi/coadd-4-80613-thru20210324.fits"
REDROCK = "desi/redrock-4-80613-thru20210324.fits"
STRIPPED = "desi/quasarnp-stripped-coadd-2.fits"
TARGETID = 39633345008634465
REDROCK_Z = 0.36874355
LENS_Z = 0.5512  # its lines fall on no line of the z = 0.3687 foreground


def _scan(paths, out, *extra):
    assert cli.main(["scan", *map(str, paths), "--out", str(out), "--workers", "1", "--no-progress", *extra]) == 0
    with open(out, newline="") as fh:
        return list(csv.DictReader(fh))


def test_real_coadd_reads_with_redrock_redshift_and_a_fitted_model(data_dir):
    assert identify_path(data_dir / COADD) == "desi-coadd"
    (s,) = read_spectra(data_dir / COADD)
    assert s.object_id == str(TARGETID) and s.survey == "desi" and s.grid_shift == 0
    assert s.z_fg == pytest.approx(REDROCK_Z, abs=1e-7) and s.meta["spectype"] == "GALAXY"
    assert (s.ra, s.dec) == pytest.approx((105.48977, 56.66930), abs=1e-4)
    assert s.model_source == "fitted" and np.isfinite(s.model[~s.mask]).all()
    # B+R+Z cover 3600-9824 A: most of the grid, nothing beyond the Z arm's red end.
    assert (~s.mask).sum() > 0.9 * np.sum(grid.WAVELENGTH_A < 9824)
    assert s.mask[grid.WAVELENGTH_A > 9830].all()
    assert 0.3 < np.median(s.wdisp[~s.mask]) < 1.2  # DESI resolves better than the 1e-4 dex grid's pixel
    assert s.meta["foreground_chi2"] < 2.0


def test_real_coadd_scans_ok_with_no_false_detection(data_dir, tmp_path, capsys):
    (row,) = _scan([data_dir / COADD], tmp_path / "desi.csv")
    assert row["status"] == "ok" and row["object_id"] == str(TARGETID)
    assert float(row["z_fg"]) == pytest.approx(REDROCK_Z, abs=1e-7)
    assert float(row["score"]) < lens_threshold_1pct(default_detector())
    assert "fitted 1" in capsys.readouterr().err


def test_stripped_coadd_is_refused_saying_why(data_dir, tmp_path):
    assert identify_path(data_dir / STRIPPED) == "desi-coadd"
    with pytest.raises(SpectrumReadError, match="without a FIBERMAP.*no TARGETID"):
        read_spectra(data_dir / STRIPPED)
    (row,) = _scan([data_dir / STRIPPED], tmp_path / "s.csv")
    assert row["status"].startswith("error: DESI coadd without a FIBERMAP")


def test_coadd_without_its_redrock_file_says_what_it_needs(data_dir, tmp_path):
    lone = tmp_path / "coadd-4-80613-thru20210324.fits"
    shutil.copy(data_dir / COADD, lone)
    with pytest.raises(SpectrumReadError, match="--redshifts"):
        read_spectra(lone)
    (row,) = _scan([lone], tmp_path / "a.csv")
    assert "redrock-4-80613-thru20210324.fits beside it" in row["status"] and "--redshifts" in row["status"]
    (row,) = _scan([lone], tmp_path / "b.csv", "--redshifts", str(data_dir / REDROCK))
    assert row["status"] == "ok" and float(row["z_fg"]) == pytest.approx(REDROCK_Z, abs=1e-7)
    (s,) = read_spectra(lone, options=ReadOptions(redshifts=str(data_dir / REDROCK)))
    assert s.z_fg == pytest.approx(REDROCK_Z, abs=1e-7)


def test_a_lone_redrock_file_is_refused(data_dir):
    assert identify_path(data_dir / REDROCK) == "desi-redrock"
    with pytest.raises(SpectrumReadError, match="Redrock redshift file, not spectra"):
        read_spectra(data_dir / REDROCK)


def test_resampling_conserves_flux_and_propagates_ivar():
    wave = 3600.0 + 0.8 * np.arange(2751)
    rng = np.random.default_rng(5)
    flux = np.vstack([np.full(wave.size, 2.0), 2 + np.sin(wave / 7.0)])
    ivar = np.full(flux.shape, 4.0)
    good = np.ones(flux.shape, dtype=bool)
    good[1, 500] = False
    out_flux, out_ivar = resample_to_grid(wave, flux, ivar, good)
    ok = out_ivar[0] > 0
    np.testing.assert_allclose(out_flux[0][ok], 2.0, rtol=1e-12)
    # Integrated flux over the covered output pixels equals the input's over the same range.
    edges = grid_edges()
    inside = (wave - 0.4 >= edges[:-1][ok][0]) & (wave + 0.4 <= edges[1:][ok][-1])
    assert np.sum(out_flux[1][ok] * np.diff(edges)[ok]) == pytest.approx(np.sum(flux[1][inside] * 0.8), rel=2e-3)
    # An output pixel averages its inputs with overlap weights w: ivar = input ivar * (sum w)^2 / sum w^2.
    assert np.all(out_ivar[0][ok] >= 4.0 - 1e-9) and np.all(out_ivar[0][ok] <= 4.0 * 3.5)
    # Noise: the scatter of resampled white noise matches the propagated ivar.
    noisy = rng.normal(0, 0.5, (200, wave.size))
    f, iv = resample_to_grid(wave, noisy, np.full(noisy.shape, 4.0), np.ones(noisy.shape, bool))
    middle = np.nonzero(iv[0] > 0)[0][100:-100]
    assert np.mean((f[:, middle] ** 2 * iv[:, middle])) == pytest.approx(1.0, abs=0.1)


def _synthetic_coadd(folder, data_dir):
    """A 3-target DESI-layout coadd made of the real galaxy's arms: target 0 with a background galaxy's
    lines at LENS_Z, target 1 a QSO for Redrock, target 2 a galaxy with ZWARN = 4."""
    coadd, redrock = folder / "coadd-sv1-bright-999.fits", folder / "redrock-sv1-bright-999.fits"
    with fits.open(data_dir / COADD) as hdul:
        hdus = [fits.PrimaryHDU(header=hdul[0].header)]
        fibermap = hdul["FIBERMAP"].data
        table = fits.BinTableHDU.from_columns(hdul["FIBERMAP"].columns, nrows=3, name="FIBERMAP")
        for name in ("TARGETID", "TARGET_RA", "TARGET_DEC"):
            table.data[name] = np.array([fibermap[name][0]] * 3) + (np.arange(3) if name == "TARGETID" else 0)
        hdus.append(table)
        for arm in ("B", "R", "Z"):
            wave = np.array(hdul[f"{arm}_WAVELENGTH"].data)
            flux = np.repeat(np.array(hdul[f"{arm}_FLUX"].data, dtype=np.float32), 3, axis=0)
            ivar = np.repeat(np.array(hdul[f"{arm}_IVAR"].data, dtype=np.float32), 3, axis=0)
            noise = np.median(1 / np.sqrt(ivar[0][ivar[0] > 0]))
            flux[0] += lens_lines(wave, LENS_Z, 6 * noise).astype(np.float32)
            hdus += [fits.ImageHDU(wave, name=f"{arm}_WAVELENGTH"), fits.ImageHDU(flux, name=f"{arm}_FLUX"),
                     fits.ImageHDU(ivar, name=f"{arm}_IVAR"),
                     fits.ImageHDU(np.repeat(np.array(hdul[f"{arm}_MASK"].data), 3, axis=0), name=f"{arm}_MASK"),
                     fits.ImageHDU(np.repeat(np.array(hdul[f"{arm}_RESOLUTION"].data), 3, axis=0),
                                   name=f"{arm}_RESOLUTION")]
        fits.HDUList(hdus).writeto(coadd)
    tid = np.array(fibermap["TARGETID"][0]) + np.arange(3)
    columns = [fits.Column("TARGETID", "K", array=tid), fits.Column("Z", "D", array=[REDROCK_Z, 1.91, REDROCK_Z]),
               fits.Column("ZWARN", "K", array=[0, 0, 4]), fits.Column("SPECTYPE", "6A", array=["GALAXY", "QSO", "GALAXY"]),
               fits.Column("SUBTYPE", "20A", array=["", "", ""])]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(columns, name="REDSHIFTS")]).writeto(redrock)
    return coadd, tid


def test_synthetic_coadd_lens_found_non_galaxies_reported(data_dir, tmp_path):
    coadd, tid = _synthetic_coadd(tmp_path, data_dir)
    spectra = read_spectra(coadd)
    assert [s.object_id for s in spectra] == [str(t) for t in tid]
    assert [FLAG_NOT_SEARCHED in s.flags for s in spectra] == [False, True, True]
    assert [s.model_source for s in spectra] == ["fitted", "none", "none"]
    lens, qso, zwarn = _scan([coadd], tmp_path / "scan.csv")  # one row per target, in file order
    assert lens["status"] == "ok" and float(lens["score"]) >= lens_threshold_1pct(default_detector())
    assert float(lens["z_bg"]) == pytest.approx(LENS_Z, abs=3e-4)
    assert qso["status"] == "error: not searched: Redrock SPECTYPE QSO (only galaxies are searched)"
    assert zwarn["status"] == "error: not searched: Redrock ZWARN=4 (redshift not reliable)"


def test_the_inspector_opens_a_coadd_with_its_redshifts_and_model(data_dir):
    """``casiglo open`` reads files through the same registry: no flag needed when redrock lies beside."""
    from casiglo_gui.core.inspection.loading import read_file

    (s,) = read_file(str(data_dir / COADD))
    assert s.model_source == "fitted" and s.z_fg == pytest.approx(REDROCK_Z, abs=1e-7)
