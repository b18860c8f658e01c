"""SDSS-I/II and BOSS/eBOSS spec files: what a user reads, identical from every FITS back-end, and every
kind of bad input refused with a SpectrumReadError that names the file and the reason."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.io import fits

from casiglo_gui.core import grid, preprocessing
from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.readers import BACKENDS, read_spectra, read_spectrum
from casiglo_gui.core.readers.options import ReadOptions
from casiglo_gui.core.spectrum import FLAG_NO_FOREGROUND_MODEL, FLAG_PARTIAL_COVERAGE

SDSS = "sdss"
BOSS_LITE = "spec-3650-55244-0007.fits"
GZIP_BACKENDS = [b for b in BACKENDS if b != "direct"]  # the direct reader hands .gz to fitsio

# Values from shared/data/real/MANIFEST.md (pipeline Z, plate-mjd-fiber, PLUG_RA/PLUG_DEC, grid shift).
PINNED = [
    ("spec-0266-51602-0013.fits", "0266-51602-0013", 0.12132, 213, 146.93410, -0.67040, "sdss"),
    ("spec-0266-51602-0107.fits", "0266-51602-0107", 0.12315, 197, 146.49052, -0.36931, "sdss"),
    ("spec-0332-52367-0639_full.fits", "0332-52367-0639", 0.10061, 242, 184.03066, -2.23828, "sdss"),
    ("spec-1931-53358-0251.fits", "1931-53358-0251", 1.18846, 209, 130.47524, 23.33188, "sdss"),
    ("spec-3586-55181-0003.fits", "3586-55181-0003", 0.58870, -73, 9.43210, -0.24518, "boss"),
    ("spec-3650-55244-0007.fits", "3650-55244-0007", 0.18048, -74, 41.04724, -0.83919, "boss"),
    ("spec-3650-55244-0089.fits", "3650-55244-0089", 0.20002, -74, 41.07105, -0.51066, "boss"),
    ("spec-3651-55247-0054.fits", "3651-55247-0054", 0.23027, -72, 41.81406, -0.72541, "boss"),
]


@pytest.mark.parametrize("name, object_id, z, shift, ra, dec, survey", PINNED)
@pytest.mark.parametrize("backend", BACKENDS)
def test_pinned_identity_redshift_and_shift(data_dir, backend, name, object_id, z, shift, ra, dec, survey):
    s = read_spectrum(data_dir / SDSS / name, backend=backend)
    assert s.object_id == object_id
    assert s.z_fg == pytest.approx(z, abs=6e-6)
    assert isinstance(s.z_fg, np.float64)
    assert s.grid_shift == shift
    assert (s.ra, s.dec) == (pytest.approx(ra, abs=1e-5), pytest.approx(dec, abs=1e-5))
    assert s.survey == survey
    assert s.source == str(data_dir / SDSS / name)
    # Wavelength of pixel 0 is the grid wavelength at the shift (the integer mapping is exact).
    assert np.log10(s.wavelength[0]) == pytest.approx(grid.LOGLAM0 + grid.DLOGLAM * shift, abs=1e-6)


@pytest.mark.parametrize("name", [p[0] for p in PINNED])
def test_backends_give_identical_spectra(data_dir, name):
    spectra = [read_spectrum(data_dir / SDSS / name, backend=b) for b in BACKENDS]
    reference = spectra[0]
    for other in spectra[1:]:
        for field in ("wavelength", "flux", "ivar", "model", "mask", "wdisp", "sky"):
            a, b = getattr(reference, field), getattr(other, field)
            assert a.dtype == b.dtype, field
            np.testing.assert_array_equal(a, b, err_msg=field)
        for field in ("object_id", "ra", "dec", "z_fg", "survey", "grid_shift", "flags"):
            assert getattr(reference, field) == getattr(other, field), field
        strip = lambda m: {k: v for k, v in m.items() if k != "fits_backend"}  # noqa: E731
        assert strip(reference.meta) == strip(other.meta)


@pytest.mark.parametrize("backend", BACKENDS)
def test_arrays_are_native_typed_and_consistent(data_dir, backend):
    s = read_spectrum(data_dir / SDSS / BOSS_LITE, backend=backend)
    n = s.n_pixels
    assert n == 4623
    for field, dtype in (("flux", np.float32), ("ivar", np.float32), ("model", np.float32),
                         ("wdisp", np.float32), ("sky", np.float32), ("wavelength", np.float64)):
        array = getattr(s, field)
        assert array.dtype == dtype and array.dtype.isnative and array.shape == (n,), field
    assert s.mask.dtype == bool and s.mask.shape == (n,)
    assert np.all(np.isfinite(s.ivar)) and np.all(s.ivar >= 0)
    assert np.all(s.ivar[s.mask == 0] > 0)
    assert s.has_foreground_model and not s.flags
    np.testing.assert_allclose(s.residual, s.flux - s.model)
    assert s.meta["class"] == "GALAXY" and s.meta["hdu2"] == "SPALL" and s.meta["run2d"] == "v5_13_2"


def test_full_file_reads_like_its_lite_counterpart_coadd(data_dir):
    s = read_spectrum(data_dir / SDSS / "spec-0332-52367-0639_full.fits")
    assert s.object_id == "0332-52367-0639" and s.n_pixels == 3810 and s.meta["class"] == "QSO"


def test_partial_coverage_is_read_flagged_and_masked_on_the_grid(data_dir):
    s = read_spectrum(data_dir / SDSS / "spec-1931-53358-0251.fits")
    assert FLAG_PARTIAL_COVERAGE in s.flags
    assert s.wavelength[-1] < 7400
    gridded = preprocessing.to_model_grid(s)
    covered = np.zeros(grid.N_PIXELS, dtype=bool)
    covered[s.grid_shift: s.grid_shift + s.n_pixels] = True
    assert np.all(gridded.mask[~covered]) and np.all(gridded.ivar[~covered] == 0)
    assert np.any(~gridded.mask[covered])
    # A normal SDSS-I spectrum is not flagged.
    assert FLAG_PARTIAL_COVERAGE not in read_spectrum(data_dir / SDSS / "spec-0266-51602-0013.fits").flags


# -- bad input -----------------------------------------------------------------------------------

def _refused(path, *words, backend=None):
    with pytest.raises(SpectrumReadError) as info:
        read_spectra(path, backend=backend)
    err = info.value
    assert err.path == str(path)
    assert str(path) in str(err)
    for word in words:
        assert word in err.reason, err.reason
    return err


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_empty_folder_and_non_fits(tmp_path, backend):
    _refused(tmp_path / "nope.fits", "not found", backend=backend)
    empty = tmp_path / "empty.fits"
    empty.write_bytes(b"")
    _refused(empty, "empty", backend=backend)
    _refused(tmp_path, "folder", backend=backend)
    text = tmp_path / "notes.fits"
    text.write_text("plate,mjd,fiber\n3650,55244,7\n")
    _refused(text, "not a FITS file", backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_truncated_fits(data_dir, tmp_path, backend):
    raw = (data_dir / SDSS / BOSS_LITE).read_bytes()
    for cut in (100, 2880 * 3, len(raw) // 2, len(raw) - 2880):
        path = tmp_path / f"cut{cut}.fits"
        path.write_bytes(raw[:cut])
        _refused(path, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fits_that_is_not_a_spectrum(data_dir, backend):
    _refused(data_dir / SDSS / "ppxf_NGC3522_SDSS_DR8.fits", "not a recognised spectrum file", backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dead_fibre_all_zero_ivar(data_dir, backend):
    _refused(data_dir / SDSS / "spec-0269-51581-0003.fits", "ivar is zero at every pixel", backend=backend)


def _rewrite_coadd(src, dst, edit):
    """Copy a spec file with its COADD table replaced by ``edit(dict of columns) -> dict``."""
    with fits.open(src) as hdul:
        table = hdul[1].data
        columns = {name: np.array(table[name]) for name in table.columns.names}
        columns = edit(columns)
        coadd = fits.BinTableHDU.from_columns(
            [fits.Column(name=k, array=v, format="J" if v.dtype.kind == "i" else "E") for k, v in columns.items()],
            name="COADD")
        out = fits.HDUList([hdul[0].copy(), coadd] + [h.copy() for h in hdul[2:]])
        out.writeto(dst)
    return dst


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_model_column_is_read_and_flagged(data_dir, tmp_path, backend):
    path = _rewrite_coadd(data_dir / SDSS / BOSS_LITE, tmp_path / "nomodel.fits",
                          lambda c: {k: v for k, v in c.items() if k != "model"})
    s = read_spectrum(path, backend=backend, options=ReadOptions(fit_foreground=False))
    assert FLAG_NO_FOREGROUND_MODEL in s.flags and s.model is None and s.model_source == "none"
    np.testing.assert_array_equal(s.residual, s.flux)
    assert s.object_id == "3650-55244-0007"
    # By default the missing model is fitted (casiglo_gui.core.foreground), and says so.
    fitted = read_spectrum(path, backend=backend)
    assert fitted.model_source == "fitted" and FLAG_NO_FOREGROUND_MODEL not in fitted.flags


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_nan_flux(data_dir, tmp_path, backend):
    def nan_flux(c):
        c["flux"] = np.full_like(c["flux"], np.nan)
        return c
    _refused(_rewrite_coadd(data_dir / SDSS / BOSS_LITE, tmp_path / "nan.fits", nan_flux),
             "flux is NaN", backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("column", ["flux", "loglam", "ivar"])
def test_missing_required_column(data_dir, tmp_path, backend, column):
    path = _rewrite_coadd(data_dir / SDSS / BOSS_LITE, tmp_path / f"no{column}.fits",
                          lambda c: {k: v for k, v in c.items() if k != column})
    _refused(path, "lacks required column", column, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_wrong_loglam_step(data_dir, tmp_path, backend):
    def double_step(c):
        c["loglam"] = (c["loglam"][0] + 2e-4 * np.arange(c["loglam"].size)).astype(np.float32)
        return c
    _refused(_rewrite_coadd(data_dir / SDSS / BOSS_LITE, tmp_path / "step.fits", double_step),
             "wrong loglam step", backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_off_grid_and_linear_wavelengths(data_dir, tmp_path, backend):
    def half_pixel(c):
        c["loglam"] = (c["loglam"].astype(np.float64) + 0.5e-4).astype(np.float32)
        return c
    _refused(_rewrite_coadd(data_dir / SDSS / BOSS_LITE, tmp_path / "half.fits", half_pixel),
             "not on the 1e-4 dex model grid", backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_redshift_column(data_dir, tmp_path, backend):
    src = data_dir / SDSS / BOSS_LITE
    with fits.open(src) as hdul:
        info = hdul[2].data
        keep = [c for c in info.columns if c.name != "Z"]
        spall = fits.BinTableHDU.from_columns(keep, name="SPALL")
        fits.HDUList([hdul[0].copy(), hdul[1].copy(), spall]).writeto(tmp_path / "noz.fits")
    _refused(tmp_path / "noz.fits", "Z column", backend=backend)


def test_content_not_name_decides(data_dir, tmp_path):
    # A spec file with an arbitrary name is still a spec file; a non-spectrum named spec-*.fits is not.
    shutil.copy(data_dir / SDSS / BOSS_LITE, tmp_path / "whatever.dat")
    assert read_spectrum(tmp_path / "whatever.dat").object_id == "3650-55244-0007"
    shutil.copy(data_dir / SDSS / "ppxf_NGC3522_SDSS_DR8.fits", tmp_path / "spec-0001-50000-0001.fits")
    _refused(tmp_path / "spec-0001-50000-0001.fits", "not a recognised spectrum file")


@pytest.mark.parametrize("backend", [None] + GZIP_BACKENDS)
def test_gzipped_spec_file(data_dir, tmp_path, backend):
    import gzip
    gz = tmp_path / "spec.fits.gz"
    gz.write_bytes(gzip.compress((data_dir / SDSS / BOSS_LITE).read_bytes()))
    a = read_spectrum(gz, backend=backend)
    b = read_spectrum(data_dir / SDSS / BOSS_LITE, backend=backend)
    np.testing.assert_array_equal(a.flux, b.flux)
    assert a.object_id == b.object_id


def test_direct_backend_refuses_gzip_and_default_falls_back(data_dir, tmp_path):
    import gzip
    gz = tmp_path / "spec.fits.gz"
    gz.write_bytes(gzip.compress((data_dir / SDSS / BOSS_LITE).read_bytes()))
    _refused(gz, "does not read gzip", backend="direct")
    assert read_spectrum(gz).meta["fits_backend"] != "direct"
    assert read_spectrum(data_dir / SDSS / BOSS_LITE).meta["fits_backend"] == "direct"


def test_check_real_data_script_reports_every_file(data_dir, capsys):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "check_real_data.py"
    spec = importlib.util.spec_from_file_location("check_real_data", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(data_dir)]) == 0
    out = capsys.readouterr().out
    n_files = len(list(data_dir.rglob("*.fits"))) + len(list(data_dir.rglob("*.fits.gz")))
    assert f"{n_files} files:" in out
    dead = next(line for line in out.splitlines() if line.startswith("spec-0269-51581-0003.fits"))
    assert "refused: ivar is zero at every pixel" in dead
    ok = next(line for line in out.splitlines() if line.startswith("spec-3650-55244-0007.fits"))
    assert "3650-55244-0007" in ok and "-74" in ok and ok.rstrip().endswith("ok")


def test_fibre_level_mask_bits_do_not_mask_half_the_spectrum(data_dir):
    # spec-0266-51602-0013 has MANYBADCOLUMNS (bit 4) on ~1,750 red pixels that are fine (ivar > 0 everywhere):
    # only bad-pixel bits (e.g. BRIGHTSKY, bit 23) may mask.
    spectrum = read_spectrum(data_dir / "sdss" / "spec-0266-51602-0013.fits")
    assert spectrum.mask.mean() < 0.05
    assert not spectrum.mask[-1000:].all()
    and_mask = fits.getdata(data_dir / "sdss" / "spec-0266-51602-0013.fits", 1)["and_mask"]
    assert spectrum.mask[(and_mask & (1 << 23)) != 0].all()
