"""Damaged spectrum files for the fuzz test (tests/test_reliability_fuzz.py) and its larger run
(benchmarks/fuzz_scan.py): seeded mutations of the repo's real spec files, reproducible from the seed.

Each case is one file and what was done to it. ``truncated`` cases (cut anywhere but exactly between
two HDUs, plain or inside the gzip stream) must never read as ``ok``: a cut exactly between HDUs leaves
a complete, valid FITS file, which no reader can tell from an original, so those cuts are not made.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "sdss"
SOURCES = ("spec-3650-55244-0007.fits", "spec-3651-55247-0054.fits", "spec-0266-51602-0013.fits",
           "spec-0332-52367-0639_full.fits", "spec-1931-53358-0251.fits")
BLOCK, CARD = 2880, 80
STRUCTURAL = (b"BITPIX  = ", b"NAXIS   = ", b"NAXIS1  = ", b"NAXIS2  = ", b"PCOUNT  = ", b"GCOUNT  = ",
              b"TFIELDS = ", b"XTENSION= ", b"EXTNAME = ", b"TFORM1  = ", b"TFORM2  = ", b"TTYPE1  = ")
CARD_VALUES = (b"0", b"-1", b"1", b"3", b"99999999", b"2147483648", b"9223372036854775808", b"1E99", b"NaN",
               b"T", b"''", b"'GARBAGE '", b"'COADD   '", b"'BINTABL '", b"'1PE(10) '", b"12.5", b"/ x")
KINDS = ("intact", "cut", "cut_block", "gzip", "gzip_cut", "gzip_crc", "flip", "flip_header", "card",
         "pixels", "garbage")


@dataclass(frozen=True)
class Case:
    path: str
    kind: str
    source: str
    truncated: bool


def _hdu_starts(raw: bytes) -> list[int]:
    """Offsets where each HDU's header starts (walking the original, undamaged file)."""
    starts, offset = [], 0
    while offset < len(raw):
        starts.append(offset)
        end = offset
        while raw[end: end + 3] != b"END" or (end - offset) % CARD:
            end += CARD
        header = raw[offset:end]
        cards = {header[k:k + 8].strip(): header[k + 10:k + 80] for k in range(0, len(header), CARD)}
        bitpix = abs(int(cards[b"BITPIX"].split(b"/")[0]))
        naxis = int(cards[b"NAXIS"].split(b"/")[0])
        size = 0
        if naxis:
            size = 1
            for i in range(1, naxis + 1):
                size *= int(cards[f"NAXIS{i}".encode()].split(b"/")[0])
            size += int(cards.get(b"PCOUNT", b"0").split(b"/")[0] or 0)
        data_start = offset + -(-(end - offset + CARD) // BLOCK) * BLOCK
        offset = data_start + -(-(size * bitpix // 8) // BLOCK) * BLOCK
    return starts


def _coadd_rows(raw: bytes, starts: list[int]) -> tuple[int, int, int]:
    """(data start, row bytes, rows) of the COADD table (HDU 1)."""
    start, end = starts[1], starts[2]
    header = raw[start:end]
    cards = {header[k:k + 8].strip(): header[k + 10:k + 80] for k in range(0, len(header), CARD)}
    hend = header.index(b"END" + b" " * 77)
    data = start + -(-(hend + CARD) // BLOCK) * BLOCK
    return data, int(cards[b"NAXIS1"].split(b"/")[0]), int(cards[b"NAXIS2"].split(b"/")[0])


def mutate(raw: bytes, kind: str, rng: np.random.Generator) -> tuple[bytes, bool, str]:
    """(damaged bytes, truncated?, file suffix)."""
    starts = _hdu_starts(raw)
    if kind == "intact":
        return raw, False, ".fits"
    if kind == "cut":
        while True:
            size = int(rng.integers(1, len(raw)))
            if size not in starts:
                return raw[:size], True, ".fits"
    if kind == "cut_block":
        cuts = [b for b in range(BLOCK, len(raw), BLOCK) if b not in starts]
        return raw[: cuts[int(rng.integers(len(cuts)))]], True, ".fits"
    if kind in ("gzip", "gzip_cut", "gzip_crc"):
        packed = gzip.compress(raw, compresslevel=6, mtime=0)
        if kind == "gzip":
            return packed, False, ".fits.gz"
        if kind == "gzip_crc":
            data = bytearray(packed)
            data[-8 + int(rng.integers(0, 8))] ^= int(rng.integers(1, 256))
            return bytes(data), True, ".fits.gz"
        return packed[: int(rng.integers(10, len(packed) - 1))], True, ".fits.gz"
    data = bytearray(raw)
    if kind in ("flip", "flip_header"):
        limit = starts[-1] + BLOCK if kind == "flip_header" else len(data)
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(0, limit))] ^= int(rng.integers(1, 256))
    elif kind == "card":
        for _ in range(int(rng.integers(1, 3))):
            keyword = STRUCTURAL[int(rng.integers(len(STRUCTURAL)))]
            hdu = starts[int(rng.integers(len(starts)))]
            at = raw.find(keyword, hdu)
            if at >= 0 and at % CARD == 0:
                data[at + 10: at + 30] = CARD_VALUES[int(rng.integers(len(CARD_VALUES)))].rjust(20)
    elif kind == "pixels":
        table, row_bytes, rows = _coadd_rows(raw, starts)
        values = np.array([1e38, 3e38, -3e38, np.inf, -np.inf, np.nan, -1.0, 0.0, 1e10, 1e-38], ">f4")
        column = int(rng.integers(0, 3))  # flux, loglam or ivar: the first three COADD columns in these files
        for _ in range(int(rng.integers(1, 80))):
            row = int(rng.integers(rows))
            at = table + row * row_bytes + 4 * column
            data[at: at + 4] = values[int(rng.integers(len(values)))].tobytes()
    elif kind == "garbage":
        size = int(rng.integers(0, 3)) * BLOCK + int(rng.integers(0, 2)) * int(rng.integers(1, 100))
        head = b"SIMPLE  = " if rng.integers(2) else b""
        return head + rng.integers(0, 256, size, dtype=np.uint8).tobytes(), False, ".fits"
    return bytes(data), False, ".fits"


def damaged_inputs(folder: Path, n: int, seed: int) -> list[Case]:
    """``n`` damaged (and some intact) files in ``folder``, the same for the same ``seed``."""
    rng = np.random.default_rng(seed)
    raws = {name: (DATA / name).read_bytes() for name in SOURCES}
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        source = SOURCES[int(rng.integers(len(SOURCES)))]
        data, truncated, suffix = mutate(raws[source], kind, rng)
        path = folder / f"case-{i:05d}-{kind}{suffix}"
        path.write_bytes(data)
        cases.append(Case(str(path), kind, source, truncated))
    return cases
