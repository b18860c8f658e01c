"""MaNGA: DR17-layout LOGCUBEs built from real spaxel spectra, the DAP test-spectra table, MAPS refusal."""
from __future__ import annotations

import gzip
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from casiglo_gui.core import grid, preprocessing
from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.readers import BACKENDS, identify_path, open_cube, read_spectra, read_spectrum
from casiglo_gui.core.spectrum import FLAG_ALL_MASKED, FLAG_NO_FOREGROUND_MODEL

TABLE = "manga/MaNGA_test_spectra.fits.gz"
TABLE_Z = [0.04953, 0.05023, 0.04935, 0.02745, 0.03081, 0.01716, 0.01716, 0.01817]
FULLY_MASKED_ROW = 5


def _factory(data_dir):
    spec = importlib.util.spec_from_file_location("make_test_logcube", data_dir / "manga" / "make_test_logcube.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def factory(data_dir):
    return _factory(data_dir)


@pytest.fixture(scope="session")
def built_cubes(tmp_path_factory):
    """The 5x5 test cube, plain and gzipped, built once per session (tests only read them)."""
    folder = tmp_path_factory.mktemp("cubes")
    plain = _factory(Path(__file__).parent / "data").write_logcube(folder / "cube.fits")
    gz = folder / "cube.fits.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    return {"fits": plain, "fits.gz": gz}


@pytest.fixture(params=["fits", "fits.gz"])
def cube_path(request, built_cubes):
    return built_cubes[request.param]


@pytest.fixture
def table_rows(data_dir):
    with fits.open(data_dir / TABLE) as hdul:
        return {name: np.array(hdul[name].data) for name in ("WAVE", "FLUX", "IVAR", "MASK")}


# -- test-spectra table ---------------------------------------------------------------------------

@pytest.mark.parametrize("backend", [None] + [b for b in BACKENDS if b != "direct"])
def test_table_gives_one_spectrum_per_row(data_dir, backend):
    spectra = read_spectra(data_dir / TABLE, backend=backend)
    assert len(spectra) == 8
    for row, (s, z) in enumerate(zip(spectra, TABLE_Z)):
        assert s.object_id == f"MaNGA_test_spectra[{row}]"
        assert s.z_fg == pytest.approx(z, abs=6e-6)
        assert s.grid_shift == 0 and s.n_pixels == grid.N_PIXELS
        np.testing.assert_allclose(s.wavelength, grid.WAVELENGTH_A, rtol=1e-9)
        # The table has no model: every row with data gets a fitted one; the empty row keeps none.
        if row == FULLY_MASKED_ROW:
            assert FLAG_NO_FOREGROUND_MODEL in s.flags and s.model is None and s.model_source == "none"
        else:
            assert FLAG_NO_FOREGROUND_MODEL not in s.flags and s.model_source == "fitted"
            assert np.isfinite(s.model[~s.mask]).all()
        assert s.flux.dtype == np.float32 and s.flux.dtype.isnative and s.survey == "manga"


def test_fully_masked_row_is_returned_flagged_not_dropped(data_dir):
    spectra = read_spectra(data_dir / TABLE)
    dead = spectra[FULLY_MASKED_ROW]
    assert FLAG_ALL_MASKED in dead.flags and np.all(dead.mask) and not dead.is_usable
    assert all(s.is_usable for i, s in enumerate(spectra) if i != FULLY_MASKED_ROW)
    # On the grid it contributes nothing: every pixel has ivar 0.
    assert np.all(preprocessing.to_model_grid(dead).ivar == 0)


def test_multicomp_table(data_dir):
    spectra = read_spectra(data_dir / "manga/MaNGA_multicomp_test_spectra.fits.gz")
    assert [round(s.z_fg, 5) for s in spectra] == [0.03126, 0.13466, 0.02366]


# -- LOGCUBE ----------------------------------------------------------------------------------------

def test_cube_is_identified_by_content(cube_path, tmp_path):
    assert identify_path(cube_path) == "manga-logcube"
    disguised = tmp_path / ("spec-0001-50000-0001" + "".join(cube_path.suffixes))
    shutil.copy(cube_path, disguised)
    assert identify_path(disguised) == "manga-logcube"


def test_spaxel_is_the_source_spectrum(cube_path, factory, table_rows):
    with open_cube(cube_path) as cube:
        assert cube.shape == (5, 5) and cube.n_wave == grid.N_PIXELS
        assert cube.plateifu == "8131-6102"
        assert (cube.ra, cube.dec) == (factory.OBJRA, factory.OBJDEC)
        assert np.isnan(cube.z_fg) and cube.z_source == "none"
        s = cube.spaxel(3, 1)
        row = factory.spaxel_row(3, 1)
        assert s.object_id == "8131-6102/3,1" and s.meta["x"] == 3 and s.meta["y"] == 1
        np.testing.assert_array_equal(s.flux, table_rows["FLUX"][row])
        np.testing.assert_array_equal(s.ivar, np.where(table_rows["MASK"][row] >= 0, table_rows["IVAR"][row], 0))
        np.testing.assert_array_equal(s.mask, (table_rows["MASK"][row] != 0) | (table_rows["IVAR"][row] <= 0))
        assert s.grid_shift == 0 and FLAG_NO_FOREGROUND_MODEL in s.flags
        assert s.flux.dtype == np.float32 and s.flux.dtype.isnative


def test_empty_spaxel_and_outside(cube_path):
    with open_cube(cube_path) as cube:
        corner = cube.spaxel(0, 0)
        assert FLAG_ALL_MASKED in corner.flags and np.all(corner.mask)
        with pytest.raises(IndexError):
            cube.spaxel(5, 0)


def test_iteration_and_spaxels_with_data(cube_path, factory):
    with open_cube(cube_path) as cube:
        expected = [(x, y) for y in range(5) for x in range(5)
                    if factory.spaxel_row(x, y) not in (None, FULLY_MASKED_ROW)]
        assert cube.spaxels_with_data() == expected
        ids = [s.object_id for s in cube]
        assert ids == [f"8131-6102/{x},{y}" for x, y in expected]
        assert len(cube) == len(expected)
    assert [s.object_id for s in read_spectra(cube_path)] == ids


def test_white_light_map(cube_path, factory, table_rows):
    with open_cube(cube_path) as cube:
        image = cube.white_light()
    assert image.shape == (5, 5)
    for y in range(5):
        for x in range(5):
            row = factory.spaxel_row(x, y)
            if row in (None, FULLY_MASKED_ROW):
                assert np.isnan(image[y, x])
                continue
            good = (table_rows["MASK"][row] == 0) & (table_rows["IVAR"][row] > 0)
            assert image[y, x] == pytest.approx(table_rows["FLUX"][row][good].mean(dtype=np.float64), rel=1e-5)


def test_aperture_sums_flux_and_variance(cube_path, factory, table_rows):
    with open_cube(cube_path) as cube:
        single = cube.aperture(2, 2, 0)
        np.testing.assert_array_equal(single.flux[~single.mask], cube.spaxel(2, 2).flux[~single.mask])
        ap = cube.aperture(2, 2, 1.0)
    members = [(2, 2), (1, 2), (3, 2), (2, 1), (2, 3)]
    rows = [factory.spaxel_row(x, y) for x, y in members]
    rows = [r for r in rows if r != FULLY_MASKED_ROW]
    assert ap.meta["n_spaxels"] == len(rows) == 4
    good = ~ap.mask
    assert good.sum() > 4000
    expected_flux = sum(table_rows["FLUX"][r].astype(np.float64) for r in rows)
    expected_var = sum(1.0 / table_rows["IVAR"][r][good].astype(np.float64) for r in rows)
    np.testing.assert_allclose(ap.flux[good], expected_flux[good], rtol=1e-5)
    np.testing.assert_allclose(ap.ivar[good], 1.0 / expected_var, rtol=1e-5)
    assert np.all(ap.ivar[ap.mask] == 0)
    assert ap.object_id == "8131-6102/2,2/r1"


def test_redshift_from_header_and_caller_override(tmp_path, factory):
    path = factory.write_logcube(tmp_path / "zcube.fits", z_keyword=0.0495)
    with open_cube(path) as cube:
        assert cube.z_fg == pytest.approx(0.0495) and cube.z_source == "header"
        assert cube.spaxel(2, 2).z_fg == pytest.approx(0.0495)
    with open_cube(path, z_fg=0.1) as cube:
        assert cube.z_fg == 0.1 and cube.spaxel(2, 2).z_fg == 0.1


def test_dap_model_cube_gives_foreground_model(tmp_path, factory):
    cube_path = factory.write_logcube(tmp_path / "cube.fits")
    model_path = factory.write_model_cube(tmp_path / "model.fits")
    with open_cube(cube_path, model_cube=model_path) as cube:
        assert cube.has_foreground_model
        assert cube.z_fg == pytest.approx(factory.SCINPVEL_KMS / 299792.458) and cube.z_source == "SCINPVEL"
        s = cube.spaxel(2, 2)
        assert FLAG_NO_FOREGROUND_MODEL not in s.flags and s.model_source == "dap"
        np.testing.assert_allclose(s.residual, s.flux * (1 - factory.MODEL_SCALE), rtol=1e-5, atol=1e-6)
        ap = cube.aperture(2, 2, 1)
        assert ap.model is not None and FLAG_NO_FOREGROUND_MODEL not in ap.flags and ap.model_source == "dap"
    # Without the DAP model, spaxels and apertures get a fitted one at the cube's redshift.
    with open_cube(cube_path, z_fg=0.0495) as cube:
        assert cube.spaxel(2, 2).model_source == "fitted" and cube.aperture(2, 2, 1).model_source == "fitted"
    # The model cube read on its own carries its MODEL too.
    assert read_spectrum(model_path).model is not None


def test_cube_bad_input(tmp_path, factory):
    with pytest.raises(SpectrumReadError, match="file not found"):
        open_cube(tmp_path / "absent.fits")
    plain = factory.write_logcube(tmp_path / "cube.fits")
    raw = plain.read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SpectrumReadError):
        read_spectra(cut)
    with pytest.raises(SpectrumReadError):
        open_cube(cut).spaxel(2, 2)
    cube_model = factory.write_logcube(tmp_path / "other.fits")
    with pytest.raises(SpectrumReadError, match="no MODEL HDU"):
        open_cube(plain, model_cube=cube_model)


def test_linear_wavelength_cube_is_refused(tmp_path, factory):
    path = factory.write_logcube(tmp_path / "lin.fits")
    with fits.open(path, mode="update") as hdul:
        wave = hdul["WAVE"].data
        hdul["WAVE"].data = np.linspace(wave[0], wave[-1], wave.size)
    with pytest.raises(SpectrumReadError, match="wrong loglam step"):
        read_spectra(path)


def test_maps_file_is_refused_with_reason(tmp_path):
    primary = fits.PrimaryHDU()
    primary.header["DAPTYPE"] = "HYB10-GAU-MILESHC"
    hdus = [primary] + [fits.ImageHDU(np.zeros((2, 4, 4), np.float32), name=n)
                        for n in ("SPX_SKYCOO", "BINID", "EMLINE_GFLUX", "STELLAR_VEL")]
    path = tmp_path / "manga-1-2-MAPS-HYB10-GAU-MILESHC.fits"
    fits.HDUList(hdus).writeto(path)
    for backend in (None,) + BACKENDS:
        with pytest.raises(SpectrumReadError, match="MaNGA DAP MAPS file: maps, not spectra"):
            read_spectra(path, backend=backend)


def test_iteration_matches_spaxel_access(tmp_path, factory):
    cube_path = factory.write_logcube(tmp_path / "cube.fits")
    model_path = factory.write_model_cube(tmp_path / "model.fits")
    with open_cube(cube_path, model_cube=model_path) as cube:
        for s in cube:
            direct = cube.spaxel(s.meta["x"], s.meta["y"])
            for field in ("flux", "ivar", "mask", "model", "wavelength"):
                a, b = getattr(s, field), getattr(direct, field)
                assert a.dtype == b.dtype and a.flags.c_contiguous
                np.testing.assert_array_equal(a, b)
            assert (s.object_id, s.flags) == (direct.object_id, direct.flags)
