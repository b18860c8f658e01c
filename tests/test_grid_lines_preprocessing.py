import numpy as np
import pytest

from casiglo_gui.core import grid, lines, preprocessing
from casiglo_gui.core.skymask import sky_mask_on_grid


def test_line_table_is_the_contract():
    assert lines.LINE_KEYS == ("oii_3727", "oii_3730", "hdelta", "hgamma", "hbeta", "oiii_4960",
                               "oiii_5008", "nii_6550", "halpha", "nii_6585", "sii_6718", "sii_6733")
    assert lines.rest_wavelength("halpha") == 6564.61
    np.testing.assert_allclose(lines.observed_wavelengths(0.5)[4], 4862.68 * 1.5)


def test_grid_matches_manga_logcube():
    assert grid.N_PIXELS == 4563
    assert grid.WAVELENGTH_A[0] == pytest.approx(3621.596, abs=1e-3)
    assert grid.WAVELENGTH_A[-1] == pytest.approx(10353.805, abs=1e-2)


def test_pixel_shift_of_boss_and_sdss_starts():
    assert grid.pixel_shift(3.5589 - 74e-4) == -74
    assert grid.pixel_shift(3.5589 + 216e-4 + 1e-7) == 216
    with pytest.raises(grid.OffGridError):
        grid.pixel_shift(3.5589 + 0.5e-4)


def test_redshift_is_a_translation_on_the_grid():
    px = grid.pixel_of_wavelength(lines.observed_wavelengths(0.3))
    rest = grid.pixel_of_wavelength(lines.REST_WAVELENGTHS_A)
    np.testing.assert_allclose(px - rest, grid.pixel_of_redshift_offset(0.3), atol=1e-9)


def test_place_on_grid_masks_uncovered_pixels():
    values = np.arange(10, dtype=np.float32)
    out = preprocessing.place_on_grid(values, -3, np.float32(-1))
    assert out[:7].tolist() == list(range(3, 10)) and out[7] == -1
    out = preprocessing.place_on_grid(values, grid.N_PIXELS - 2, np.float32(-1))
    assert out[-2:].tolist() == [0, 1] and out[-3] == -1


def test_clean_zeroes_bad_and_sky_pixels_and_removes_continuum():
    rng = np.random.default_rng(1)
    residual = rng.normal(0, 1, grid.N_PIXELS).astype(np.float32) + 5.0  # offset continuum mismatch
    ivar = np.ones(grid.N_PIXELS, np.float32)
    ivar[100:110] = 0
    residual[200] = np.nan
    mask = np.zeros(grid.N_PIXELS, bool)
    r, iv, bad = preprocessing.clean(residual, ivar, mask)
    assert np.all(iv[bad] == 0) and np.all(r[bad] == 0)
    assert bad[100:110].all() and bad[200] and bad[sky_mask_on_grid()].all()
    assert abs(np.median(r[~bad])) < 0.1  # the 5-unit offset is gone


def test_network_input_is_significance_and_finite():
    residual = np.array([0.0, 1.0, 1e6, -2.0], np.float32)
    ivar = np.array([1.0, 4.0, 1.0, 0.0], np.float32)
    x = preprocessing.network_input(residual, ivar)
    assert x.dtype == np.float32 and np.all(np.isfinite(x))
    assert x[0] == 0 and x[1] == pytest.approx(2.0, rel=0.03) and x[3] == 0
    assert x[2] < 100  # a cosmic ray stays bounded


@pytest.mark.parametrize("shape", [(4600,), (3, 4600), (2, 3, 50), (1,), (41,), (42,)])
@pytest.mark.parametrize("size", [1, 2, 3, 40, 41, 42, 100])
def test_running_minimum_gives_scipys_minimum_filter1d_exactly(shape, size):
    from scipy.ndimage import minimum_filter1d

    from casiglo_gui.core.running import running_minimum

    values = np.random.default_rng(size).normal(size=shape).astype(np.float32)
    values[..., ::5] = np.float32(3.0)                  # ties
    expected = minimum_filter1d(values, size, axis=-1, mode="nearest")
    got = running_minimum(values, size)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
