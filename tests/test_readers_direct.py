"""The default read path (the numpy-only ``direct`` FITS back-end first, fitsio/astropy for what it does not
handle) gives exactly the spectra, or exactly the error, of the general back-ends, for every file in
tests/data and for headers and tables laid out in ways the fast path does not expect."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.readers import FALLBACK_BACKEND, identify_path, iter_spectra, read_spectra, read_spectrum
from casiglo_gui.core.readers.direct import DirectSource

DATA = Path(__file__).parent / "data"
FILES = sorted(p for p in DATA.rglob("*") if p.is_file() and ".fits" in p.name)
BOSS_LITE = DATA / "sdss" / "spec-3650-55244-0007.fits"
SDSS_FULL = DATA / "sdss" / "spec-0332-52367-0639_full.fits"


def outcome(path, backend=None):
    try:
        return read_spectra(path, backend=backend)
    except SpectrumReadError as exc:
        return exc.reason


def assert_same_spectra(fast, general, same_file=True):
    assert len(fast) == len(general)
    for a, b in zip(fast, general):
        for f in fields(a):
            if f.name == "source" and not same_file:
                continue
            x, y = getattr(a, f.name), getattr(b, f.name)
            if isinstance(y, np.ndarray):
                assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), f.name
            elif f.name == "meta":
                assert {k: v for k, v in x.items() if k != "fits_backend"} == \
                       {k: v for k, v in y.items() if k != "fits_backend"}
            elif isinstance(y, float) and np.isnan(y):
                assert np.isnan(x), f.name
            else:
                assert x == y, f.name


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_default_chain_matches_general_back_end(path):
    fast, general = outcome(path), outcome(path, FALLBACK_BACKEND)
    if isinstance(general, str):
        assert fast == general
    else:
        assert_same_spectra(fast, general)


def test_uncompressed_spec_files_are_read_by_the_direct_back_end():
    for path in (BOSS_LITE, SDSS_FULL):
        assert read_spectrum(path).meta["fits_backend"] == "direct"
    gz = next(p for p in FILES if p.name.endswith(".gz"))
    assert all(s.meta.get("fits_backend", FALLBACK_BACKEND) == FALLBACK_BACKEND for s in iter_spectra(gz))


def test_identify_path_uses_the_fast_chain():
    assert identify_path(BOSS_LITE) == "sdss-spec"
    assert identify_path(DATA / "sdss" / "ppxf_NGC3522_SDSS_DR8.fits") is None


def test_truncated_file_names_the_problem(tmp_path):
    truncated = tmp_path / "t.fits"
    truncated.write_bytes(BOSS_LITE.read_bytes()[:100_000])
    assert outcome(truncated).startswith("truncated FITS file")


def test_scaled_column_falls_back_with_the_same_values(tmp_path):
    """A COADD column with TSCAL/TZERO is beyond the direct reader; the spectrum still comes back, equal."""
    path = tmp_path / "scaled.fits"
    with fits.open(BOSS_LITE) as hdul:
        table = hdul[1].data
        cols = [fits.Column(name=n, format=hdul[1].columns[n].format, array=np.array(table[n]))
                for n in table.columns.names if n != "and_mask"]
        cols.append(fits.Column(name="and_mask", format="J", bscale=1, bzero=0,
                                array=np.array(table["and_mask"])))
        out = fits.HDUList([hdul[0].copy(), fits.BinTableHDU.from_columns(cols, name="COADD")]
                           + [h.copy() for h in hdul[2:]])
        out[1].header["TZERO9"] = 0  # the scaling card the direct back-end refuses to interpret
        out.writeto(path)
    spectrum = read_spectrum(path)
    assert spectrum.meta["fits_backend"] == FALLBACK_BACKEND
    assert_same_spectra([spectrum], [read_spectrum(BOSS_LITE)], same_file=False)


def _header_cards(raw: bytes, start: int) -> tuple[list[bytes], int]:
    cards, pos = [], start
    while True:
        card = raw[pos: pos + 80]
        cards.append(card)
        pos += 80
        if card.startswith(b"END     "):
            return cards, -(-(pos - start) // 2880) * 2880


def test_cards_out_of_their_standard_places_are_still_found(tmp_path):
    """Mandatory cards in a non-standard order (PCOUNT after GCOUNT, NAXIS2 last) and a keyword repeated
    later in the header: the direct back-end finds the first of each, wherever it is."""
    raw = BOSS_LITE.read_bytes()
    source = DirectSource(str(BOSS_LITE))
    coadd_start = source._hdus[1].data_start - len(source._hdus[1].header.raw) - 80
    coadd_start -= coadd_start % 2880
    source.close()
    cards, size = _header_cards(raw, coadd_start)
    end = cards.pop()
    naxis2 = cards.pop(4)
    cards[4], cards[5] = cards[5], cards[4]  # GCOUNT before PCOUNT
    cards.append(naxis2)
    cards.append(b"EXTNAME = 'NOTCOADD'".ljust(80))  # a later duplicate must not win
    cards.append(end)
    header = b"".join(cards)
    header += b" " * (-len(header) % 2880)
    assert len(header) == size  # same number of blocks: the data stays where it was
    mutated = tmp_path / "reordered.fits"
    mutated.write_bytes(raw[:coadd_start] + header + raw[coadd_start + size:])
    with DirectSource(str(mutated)) as source:
        assert source.names[1] == "COADD"
        assert source.nrows(1) == read_spectrum(BOSS_LITE).flux.size
    spectrum = read_spectrum(mutated, backend="direct")
    assert_same_spectra([spectrum], [read_spectrum(BOSS_LITE)], same_file=False)


def test_header_mapping_matches_astropy():
    with DirectSource(str(BOSS_LITE)) as source, fits.open(BOSS_LITE) as hdul:
        for ext in range(len(hdul)):
            ours, theirs = source.header(ext), hdul[ext].header
            keys = [k for k in theirs.keys() if k and k not in ("COMMENT", "HISTORY")]
            assert list(dict.fromkeys(keys)) == list(ours)
            for key in keys:
                expected = theirs[key]
                assert ours[key] == (expected.strip() if isinstance(expected, str) else expected), key
            assert "NOSUCHKEY" not in ours and ours.get("NOSUCHKEY", 5) == 5
            assert "A_KEYWORD_LONGER_THAN_EIGHT" not in ours


def test_memory_mapped_large_files_give_the_same_spectra(monkeypatch):
    """Files above MAX_IN_MEMORY_BYTES (MaNGA cubes) are memory-mapped instead of read whole: same spectra."""
    from casiglo_gui.core.readers import structure

    in_memory = [read_spectra(p, backend="direct") for p in (BOSS_LITE, SDSS_FULL)]
    monkeypatch.setattr(structure, "MAX_IN_MEMORY_BYTES", 0)
    with DirectSource(str(BOSS_LITE)) as source:
        assert source._mm is not None
    for path, expected in zip((BOSS_LITE, SDSS_FULL), in_memory):
        assert_same_spectra(read_spectra(path, backend="direct"), expected)
