"""The scan's fast FITS back-end gives exactly the spectra (or the error) of the general readers."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
# Imported at collection: astropy's first import looks up XDG_CONFIG_HOME, which the isolation fixture
# points at a folder that does not exist yet (AstropyUserWarning).
import astropy.io.fits  # noqa: F401

from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.scan.chunk import _read_fast, iter_file

DATA = Path(__file__).parent / "data"
FILES = sorted(p for p in DATA.rglob("*") if p.is_file() and ".fits" in p.name)


def outcome(path, fast):
    try:
        return list(iter_file(str(path), fast=fast))
    except SpectrumReadError as exc:
        return exc.reason


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_fast_path_matches_general_readers(path):
    fast, general = outcome(path, True), outcome(path, False)
    if isinstance(general, str):
        assert fast == general
        return
    assert len(fast) == len(general)
    for a, b in zip(fast, general):
        for f in fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if isinstance(y, np.ndarray):
                assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), f.name
            elif f.name == "meta":
                assert {k: v for k, v in x.items() if k != "fits_backend"} == \
                       {k: v for k, v in y.items() if k != "fits_backend"}
            elif isinstance(y, float) and np.isnan(y):
                assert np.isnan(x)
            else:
                assert x == y, f.name


def test_fast_path_serves_spec_files_and_declines_others(tmp_path):
    spec = DATA / "sdss" / "spec-3650-55244-0007.fits"
    spectra = _read_fast(str(spec))
    assert spectra is not None and spectra[0].meta["fits_backend"] == "raw"
    assert _read_fast(str(DATA / "sdss" / "ppxf_NGC3522_SDSS_DR8.fits")) is None   # not a spec file
    truncated = tmp_path / "t.fits"
    truncated.write_bytes(spec.read_bytes()[:100_000])
    assert _read_fast(str(truncated)) is None  # the general path names the problem
    assert outcome(truncated, True).startswith("truncated FITS file")
