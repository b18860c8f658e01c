"""Property test: damaged real files (cut short, flipped bytes, edited header cards) are either read into a
valid Spectrum or refused with SpectrumReadError -- never another exception, a warning, or a bad array."""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casiglo_gui.core import grid, preprocessing
from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.readers import BACKENDS, read_spectra
from casiglo_gui.core.spectrum import FLAG_ALL_MASKED, Spectrum

FUZZ_SETTINGS = settings(max_examples=int(os.environ.get("CASIGLO_FUZZ_EXAMPLES", 60)), deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Values a damaged header card may end up holding (written into the card's value field, columns 11-30).
CARD_VALUES = st.sampled_from([
    "0", "-1", "1", "3", "99999999", "2147483648", "-2147483649", "1E99", "NaN", "T", "F", "''",
    "'GARBAGE '", "'E       '", "'COADD   '", "'SPALL   '", "'FLUX    '", "'1PE(10) '", "12.5", "/ x",
]) | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20)


def header_cards(path) -> list[int]:
    """Byte offsets of every header card in ``path``."""
    offsets = []
    with fits.open(path) as hdul:
        for i in range(len(hdul)):
            info = hdul.fileinfo(i)
            offsets.extend(range(info["hdrLoc"], info["datLoc"], 80))
    return offsets


def mutations(raw: bytes, cards: list[int]):
    size = len(raw)
    truncate = st.tuples(st.just("truncate"), st.integers(0, size - 1))
    flips = st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, size - 1), st.integers(1, 255)),
                                                min_size=1, max_size=30))
    card_edit = st.tuples(st.just("card"), st.lists(st.tuples(st.sampled_from(cards), CARD_VALUES),
                                                    min_size=1, max_size=3))
    return st.one_of(truncate, flips, card_edit)


def apply(raw: bytes, mutation) -> bytes:
    kind, arg = mutation
    if kind == "truncate":
        return raw[:arg]
    data = bytearray(raw)
    if kind == "flip":
        for pos, xor in arg:
            data[pos] ^= xor
    else:
        for offset, value in arg:
            data[offset + 10: offset + 30] = value.encode("ascii").ljust(20)[:20]
    return bytes(data)


def assert_valid(spectrum: Spectrum) -> None:
    n = spectrum.flux.shape[0]
    assert n > 0
    assert spectrum.wavelength.dtype == np.float64 and spectrum.wavelength.shape == (n,)
    assert np.all(np.isfinite(spectrum.wavelength)) and np.all(np.diff(spectrum.wavelength) > 0)
    for name in ("flux", "ivar"):
        array = getattr(spectrum, name)
        assert array.dtype == np.float32 and array.dtype.isnative and array.shape == (n,), name
    for name in ("model", "wdisp", "sky"):
        array = getattr(spectrum, name)
        assert array is None or (array.shape == (n,) and array.dtype.isnative), name
    assert np.all(np.isfinite(spectrum.ivar)) and np.all(spectrum.ivar >= 0)
    assert spectrum.mask.dtype == bool and spectrum.mask.shape == (n,)
    assert np.all(spectrum.mask | (spectrum.ivar > 0))
    assert isinstance(spectrum.z_fg, (float, np.floating))
    assert isinstance(spectrum.object_id, str) and spectrum.object_id
    assert isinstance(spectrum.grid_shift, int)
    assert spectrum.grid_shift < grid.N_PIXELS and spectrum.grid_shift + n > 0
    assert FLAG_ALL_MASKED in spectrum.flags or not np.all(spectrum.mask)
    gridded = preprocessing.to_model_grid(spectrum)
    assert gridded.residual.shape == (grid.N_PIXELS,) and np.all(np.isfinite(gridded.residual))


def check(path, backend) -> None:
    try:
        spectra = read_spectra(path, backend=backend)
    except SpectrumReadError as err:
        assert err.path == str(path) and err.reason
        return
    assert spectra
    for spectrum in spectra:
        assert_valid(spectrum)


def _run(tmp_path, raw, mutation, backend, suffix=".fits"):
    path = tmp_path / f"mutant{suffix}"
    path.write_bytes(apply(raw, mutation))
    check(path, backend)


SOURCES = ["sdss/spec-3650-55244-0007.fits", "sdss/spec-0266-51602-0013.fits"]


@pytest.mark.parametrize("name", SOURCES)
def test_damaged_spec_files(data_dir, tmp_path, name):
    raw = (data_dir / name).read_bytes()
    cards = header_cards(data_dir / name)

    @FUZZ_SETTINGS
    @given(mutation=mutations(raw, cards), backend=st.sampled_from((None,) + BACKENDS))
    def run(mutation, backend):
        _run(tmp_path, raw, mutation, backend)

    run()


def test_damaged_cube(data_dir, tmp_path):
    spec = importlib.util.spec_from_file_location("make_test_logcube", data_dir / "manga" / "make_test_logcube.py")
    factory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(factory)
    path = factory.write_logcube(tmp_path / "cube.fits")
    raw = path.read_bytes()
    cards = header_cards(path)

    @settings(FUZZ_SETTINGS, max_examples=FUZZ_SETTINGS.max_examples // 2)
    @given(mutation=mutations(raw, cards))
    def run(mutation):
        _run(tmp_path, raw, mutation, None)

    run()


def test_damaged_gzip_table(data_dir, tmp_path):
    raw = (data_dir / "manga/MaNGA_test_spectra.fits.gz").read_bytes()

    @settings(FUZZ_SETTINGS, max_examples=FUZZ_SETTINGS.max_examples // 3)
    @given(cut=st.integers(0, len(raw) - 1), backend=st.sampled_from((None,) + BACKENDS))
    def run(cut, backend):
        _run(tmp_path, raw, ("truncate", cut), backend, suffix=".fits.gz")

    run()
