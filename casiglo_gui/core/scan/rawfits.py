"""A minimal, fast FITS back-end for the scan's hot path: spec-*.fits files read with numpy alone.

Why: the general back-ends spend 15-50 ms per BOSS spec-lite file building HDU descriptions and
parsing the ~490-card header of the SPALL table (its ~240 columns); the scan needs 6 COADD columns and
a few cells of one row. This back-end reads the file's bytes once, parses only what locates the data
(END, NAXISn, BITPIX, PCOUNT, TTYPEn/TFORMn), and views the tables with a big-endian numpy dtype.

The readers' ``direct`` back-end does the same job generally (every card of every header is parsed);
this one finds cards on demand and caches table layouts across files, which costs ~3x less CPU per
spec-lite file (measured 0.9 vs 2.7 ms on the 90 BOSS files, same machine, same run).

It plugs under the readers' own loaders (it is a :class:`~casiglo_gui.core.readers.fitsfile.FitsSource`),
so a spectrum read through it is the same as through fitsio or astropy (a test checks every file in
tests/data). Anything it does not handle exactly (compressed files, scaled columns, malformed
headers) raises :class:`RawFitsUnsupported` and the caller falls back to the registry's reader, which
also produces the canonical error message for broken files.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

import numpy as np

from ..readers.fitsfile import FitsSource, native

BLOCK = 2880
CARD = 80
_BITPIX_DTYPE = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
_TFORM_DTYPE = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8",
                "C": ">c8", "M": ">c16"}
# Only spec files are worth the fast path; anything bigger is left to the general back-ends.
MAX_BYTES = 64 * 1024 * 1024


_LAYOUTS: dict = {}


class RawFitsUnsupported(Exception):
    """This file needs the general FITS back-ends (not an error in the file as such)."""


def _value(text: str):
    text = text.strip()
    if text.startswith("'"):
        out, i = [], 1
        while i < len(text):
            j = text.find("'", i)
            if j < 0:
                raise RawFitsUnsupported("unterminated string card")
            out.append(text[i:j])
            if text[j + 1: j + 2] == "'":
                out.append("'")
                i = j + 2
                continue
            break
        return "".join(out).rstrip()
    text = text.split("/", 1)[0].strip()
    if text == "T":
        return True
    if text == "F":
        return False
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text.replace("D", "E"))
    except ValueError:
        return text


_END_CARD = b"END" + b" " * 77


def _header_text(raw: bytes, start: int) -> tuple[str, int]:
    """The cards of the header starting at ``start`` (up to END) as text, and where its data starts."""
    end = start
    n = len(raw)
    while True:
        if end + BLOCK > n:
            raise RawFitsUnsupported("header runs past the end of the file")
        block = raw[end: end + BLOCK]
        end += BLOCK
        at = block.find(_END_CARD)
        while at >= 0 and at % CARD:
            at = block.find(_END_CARD, at + 1)
        if at >= 0:
            return raw[start: end - BLOCK + at].decode("ascii", errors="replace"), end


def _find_card(text: str, key: str) -> str | None:
    """Value text of card ``key`` (first occurrence at a card boundary), None if absent."""
    pattern = f"{key:<8}= "
    at = text.find(pattern)
    while at >= 0 and at % CARD:
        at = text.find(pattern, at + 1)
    return None if at < 0 else text[at + 10: at + CARD]


def _all_cards(text: str) -> dict[str, str]:
    cards: dict[str, str] = {}
    for k in range(0, len(text), CARD):
        if text[k + 8: k + 10] == "= ":
            key = text[k: k + 8].rstrip()
            if key not in cards:
                cards[key] = text[k + 10: k + CARD]
    return cards


# Cards that decide a binary table's row layout; their text is the layout's cache key.
_LAYOUT_CARDS = re.compile(r"(?:TTYPE|TFORM|TSCAL|TZERO)\d{1,3} *= .{70}")


class _LazyHeader(Mapping):
    """Header values found and converted only when asked for (most are never looked at)."""

    def __init__(self, text: str):
        self._text = text
        self._cards: dict[str, str] | None = None

    def __getitem__(self, key):
        value = _find_card(self._text, key.upper())
        if value is None:
            raise KeyError(key)
        return _value(value)

    def _all(self) -> dict[str, str]:
        if self._cards is None:
            self._cards = _all_cards(self._text)
        return self._cards

    def __iter__(self):
        return iter(self._all())

    def __len__(self):
        return len(self._all())


class _Hdu:
    __slots__ = ("text", "data_start", "data_bytes", "is_table", "_cards", "_header", "_dtype", "_columns")

    def __init__(self, text, data_start):
        self.text, self.data_start = text, data_start
        self.data_bytes, self.is_table = 0, False
        self._cards = self._header = self._dtype = self._columns = None

    @property
    def cards(self) -> dict[str, str]:
        if self._cards is None:
            self._cards = _all_cards(self.text)
        return self._cards

    def get(self, key, default=None):
        text = _find_card(self.text, key)
        return default if text is None else _value(text)


class RawFitsSource(FitsSource):
    """Read-only FITS access from the file's bytes (see the module docstring for its limits)."""

    backend = "raw"

    def __init__(self, path: str):
        super().__init__(path)
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise RawFitsUnsupported("large file")
        with open(path, "rb") as fh:
            self._raw = fh.read()
        if not self._raw.startswith(b"SIMPLE  ="):
            raise RawFitsUnsupported("not a plain FITS file")
        self._hdus: list[_Hdu] = []
        pos = 0
        while pos < len(self._raw):
            text, data_start = _header_text(self._raw, pos)
            hdu = _Hdu(text, data_start)
            xtension = str(hdu.get("XTENSION", "") or "").upper() if pos else ""
            bitpix = hdu.get("BITPIX")
            naxis = hdu.get("NAXIS", 0)
            if not isinstance(bitpix, int) or not isinstance(naxis, int):
                raise RawFitsUnsupported("BITPIX/NAXIS missing")
            dims = [hdu.get(f"NAXIS{i}", 0) for i in range(1, naxis + 1)]
            if not all(isinstance(d, int) and d >= 0 for d in dims):
                raise RawFitsUnsupported("bad NAXISn")
            pcount, gcount = hdu.get("PCOUNT", 0) or 0, hdu.get("GCOUNT", 1) or 1
            n_elements = int(np.prod(dims)) if dims else 0
            data_bytes = abs(bitpix) // 8 * gcount * (pcount + n_elements)
            hdu.data_bytes = data_bytes
            hdu.is_table = xtension == "BINTABLE"
            if xtension == "TABLE":
                raise RawFitsUnsupported("ASCII table")
            self._hdus.append(hdu)
            pos = data_start + -(-data_bytes // BLOCK) * BLOCK
            if data_start + data_bytes > len(self._raw):
                raise RawFitsUnsupported("data run past the end of the file")
        names = []
        for i, hdu in enumerate(self._hdus):
            name = str(hdu.get("EXTNAME", "") or "").strip().upper()
            names.append(name or ("PRIMARY" if i == 0 else ""))
        self.names = names

    # -- FitsSource --------------------------------------------------------------------------------
    def header(self, ext: int):
        hdu = self._hdus[ext]
        if hdu._header is None:
            hdu._header = _LazyHeader(hdu.text)
        return hdu._header

    def is_table(self, ext: int) -> bool:
        return self._hdus[ext].is_table

    def _table(self, ext: int):
        hdu = self._hdus[ext]
        if hdu._dtype is None:
            nfields = hdu.get("TFIELDS", 0)
            # Survey files share table layouts: build each layout's dtype once per process.
            layout = "".join(_LAYOUT_CARDS.findall(hdu.text)) + f"|{hdu.get('NAXIS1')}|{nfields}"
            cached = _LAYOUTS.get(layout)
            if cached is not None:
                hdu._dtype, hdu._columns = cached
                return hdu
            cards = hdu.cards
            names, formats = [], []
            for i in range(1, nfields + 1):
                tform = str(hdu.get(f"TFORM{i}", "")).strip().upper()
                digits = len(tform) - len(tform.lstrip("0123456789"))
                repeat = int(tform[:digits]) if digits else 1
                code = tform[digits: digits + 1]
                if cards.get(f"TSCAL{i}") is not None or cards.get(f"TZERO{i}") is not None:
                    formats.append(("scaled", code, repeat))
                elif code == "A":
                    formats.append(f"S{repeat}" if repeat else "S1")
                elif code == "X":
                    formats.append(f"{-(-repeat // 8)}u1")
                elif code in ("P", "Q"):
                    formats.append((">i4" if code == "P" else ">i8", 2 * repeat))
                elif code in _TFORM_DTYPE:
                    formats.append(_TFORM_DTYPE[code] if repeat == 1 else (_TFORM_DTYPE[code], repeat))
                else:
                    raise RawFitsUnsupported(f"TFORM {tform}")
                names.append(str(hdu.get(f"TTYPE{i}", f"col{i}") or f"col{i}").strip())
            itemsizes = []
            dtype_formats = []
            for f in formats:
                if isinstance(f, tuple) and f[0] == "scaled":
                    _, code, repeat = f
                    if code not in _TFORM_DTYPE:
                        raise RawFitsUnsupported("scaled non-numeric column")
                    f = _TFORM_DTYPE[code] if repeat == 1 else (_TFORM_DTYPE[code], repeat)
                dtype_formats.append(f)
                itemsizes.append(np.dtype(f if not isinstance(f, tuple) else np.dtype(f)).itemsize)
            row_bytes = hdu.get("NAXIS1", 0)
            if sum(itemsizes) != row_bytes or len(set(n.lower() for n in names)) != len(names):
                raise RawFitsUnsupported("row layout")
            hdu._dtype = np.dtype({"names": names, "formats": dtype_formats})
            hdu._columns = {n: (f, i) for i, (n, f) in enumerate(zip(names, formats))}
            if len(_LAYOUTS) < 64:
                _LAYOUTS[layout] = (hdu._dtype, hdu._columns)
        return hdu

    def column_names(self, ext: int) -> list[str]:
        if not self.is_table(ext):
            return []
        return list(self._table(ext)._dtype.names)

    def nrows(self, ext: int) -> int:
        return int(self._hdus[ext].get("NAXIS2", 0)) if self.is_table(ext) else 0

    def _read_columns(self, ext: int, columns: Sequence[str], rows) -> dict:
        hdu = self._table(ext)
        nrows = self.nrows(ext)
        table = np.frombuffer(self._raw, dtype=hdu._dtype, count=nrows, offset=hdu.data_start)
        if rows is not None:
            table = table[np.asarray(rows, dtype=np.int64)]
        out = {}
        for name in columns:
            form, _ = hdu._columns[name]
            if isinstance(form, tuple) and form[0] == "scaled":
                raise RawFitsUnsupported(f"scaled column {name}")
            column = table[name]
            if column.dtype.kind == "S":
                column = np.char.strip(np.char.decode(column, "ascii", errors="replace"))
            elif form == "i1":  # FITS logical: 'T' / 'F'
                column = column == ord("T")
            out[name] = native(np.array(column))
        return out

    def read_image(self, ext: int) -> np.ndarray:
        hdu = self._hdus[ext]
        if hdu.is_table or hdu.data_bytes == 0:
            raise ValueError(f"HDU {ext} has no image data")
        if hdu.cards.get("BSCALE") is not None or hdu.cards.get("BZERO") is not None:
            raise RawFitsUnsupported("scaled image")
        naxis = hdu.get("NAXIS")
        shape = tuple(reversed([hdu.get(f"NAXIS{i}") for i in range(1, naxis + 1)]))
        data = np.frombuffer(self._raw, dtype=_BITPIX_DTYPE[hdu.get("BITPIX")], count=int(np.prod(shape)),
                             offset=hdu.data_start)
        return native(np.array(data.reshape(shape)))

    def close(self) -> None:
        self._raw = b""
