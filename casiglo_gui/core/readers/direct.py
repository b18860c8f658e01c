"""A minimal, fast FITS back-end for uncompressed files: headers searched with numpy, table columns taken
straight from the file bytes with a numpy structured dtype.

Why it exists: cfitsio (behind fitsio) spends ~15 ms per BOSS spec file building the column description
of the 236-column ``SPALL`` table even when a single cell of it is read, and astropy ~45 ms; this reads a
spec-lite file in a few tenths of a millisecond. What makes it fast:

* a header is never parsed as a whole: the structural cards are taken from their standard positions
  (BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT), any other keyword is found by one vectorised comparison of the
  cards' first ten bytes, and only the values asked for are converted;
* table layouts (column offsets and dtypes) are cached across files by header bytes: every BOSS file of
  one pipeline version shares the same 236-column ``SPALL`` header, so a scan parses it once;
* only the columns asked for are converted (one byte-swapping copy each), only the rows asked for are
  viewed (a spec file's HDU2 is read as its single row).

It handles only the plain cases (uncompressed files; binary-table columns of fixed width without scaling;
images without BSCALE/BZERO) and raises :class:`Unsupported` otherwise, upon which the registry reads the
file with fitsio or astropy instead, so it never refuses a file that they can read.
"""
from __future__ import annotations

import math
import mmap
import os
import re
from collections.abc import Mapping

import numpy as np

from .fitsfile import FitsSource, native

BLOCK = 2880
CARD = 80
END_CARD = b"END" + b" " * 77
# Largest header accepted (cards); a damaged file must not make us read gigabytes looking for END.
MAX_HEADER_BLOCKS = 2000
# Files up to this size (every spec file, lite or full) are read into memory in one call, as cheap as
# mapping them and simpler; larger ones (MaNGA cubes, often only identified here) are memory-mapped so
# that only the headers and the bytes asked for are touched.
MAX_READ_BYTES = 4 * 1024 * 1024
TFORM_RE = re.compile(r"^\s*(\d*)([LXBIJKAEDCMPQ])")
BINTABLE_CODES = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "A": "S1", "E": ">f4", "D": ">f8",
                  "C": ">c8", "M": ">c16"}
BITPIX_DTYPES = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
STRING_RE = re.compile(r"'((?:[^']|'')*)'")
# FITS integers and reals (Python's int()/float() would also take '1_000', 'inf' or 'nan').
INT_RE = re.compile(r"[+-]?\d+\Z")
REAL_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][+-]?\d+)?\Z")


class Unsupported(ValueError):
    """A valid FITS feature this back-end does not implement; the caller should use fitsio/astropy."""


def _parse_value(field: bytes):
    """Value of a FITS card's value field (columns 11-80), comment removed."""
    text = field.decode("ascii", errors="replace").strip()
    if text.startswith("'"):
        m = STRING_RE.match(text)
        # Quotes inside strings are doubled; an unterminated string keeps what there is.
        value = m.group(1) if m else text[1:]
        return value.replace("''", "'").rstrip()
    text = text.split("/", 1)[0].strip()
    if text == "T":
        return True
    if text == "F":
        return False
    if text == "":
        return None
    if INT_RE.match(text):
        return int(text)
    if REAL_RE.match(text):
        return float(text.replace("D", "E").replace("d", "e"))
    return text


def _pattern(key: str) -> bytes | None:
    """The first ten bytes of a card holding a value for ``key`` (None for names no card can have)."""
    key = key.upper()
    if len(key) > 8:
        return None
    return key.encode("ascii", errors="replace").ljust(8) + b"= "


_MISSING = object()  # no default given
_ABSENT = object()  # the header has no such card


class _Header(Mapping):
    """Header cards indexed by keyword (first occurrence wins, as in astropy and cfitsio); found on
    demand and parsed on first access, so a 500-card header costs only the cards that are asked for."""

    def __init__(self, raw: bytes):
        self.raw = raw
        self._starts = None  # the first ten bytes of every card, as one numpy array (built on demand)
        self._values: dict[str, object] = {}
        self._found: dict[str, dict] = {}

    def _position(self, key: str, hint: int = -1) -> int:
        """Card number of ``key`` (-1 if absent); ``hint`` is where the standard puts it."""
        pattern = _pattern(key)
        if pattern is None:
            return -1
        raw = self.raw
        # The standard position holds it and no card before it does (a short search of a few cards).
        if 0 <= hint and raw[hint * CARD: hint * CARD + 10] == pattern \
                and raw.find(pattern, 0, hint * CARD + 10) == hint * CARD:
            return hint
        return self._first_position(pattern)

    def _first_position(self, pattern: bytes) -> int:
        if self._starts is None:
            self._starts = np.frombuffer(self.raw, dtype="S10", count=len(self.raw) // 10)[::CARD // 10]
        hits = np.flatnonzero(self._starts == pattern)
        return int(hits[0]) if hits.size else -1

    def value(self, key: str, hint: int = -1, default=_MISSING):
        """Value of ``key``; ``default`` (or KeyError) when absent."""
        key = key.upper()
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            i = self._position(key, hint)
            value = _ABSENT if i < 0 else _parse_value(self.raw[i * CARD + 10: (i + 1) * CARD])
            self._values[key] = value
        if value is _ABSENT:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return value

    def __getitem__(self, key: str):
        return self.value(str(key))

    def get(self, key, default=None):
        return self.value(str(key), default=default)

    def __contains__(self, key) -> bool:
        return self.value(str(key), default=_ABSENT) is not _ABSENT

    def __iter__(self):
        seen = set()
        raw = self.raw
        for k in range(0, len(raw) - CARD + 1, CARD):
            if raw[k + 8: k + 10] == b"= ":
                key = raw[k: k + 8].decode("ascii", errors="replace").strip().upper()
                if key and key not in seen:
                    seen.add(key)
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def find(self, prefix: str) -> dict[int, object]:
        """``{n: value}`` of the keywords ``PREFIXn`` (e.g. all TTYPEn), found by regex, cached."""
        if prefix not in self._found:
            out: dict[int, object] = {}
            if prefix.encode() in self.raw:
                # Keyword padded to 8 columns, "= " in columns 9-10, value and comment in columns 11-80.
                pattern = re.compile(re.escape(prefix.encode()) + rb"(\d{1,3}) *= (.{70})", re.DOTALL)
                for m in pattern.finditer(self.raw):
                    if m.start() % CARD == 0:
                        n = int(m.group(1))
                        if n not in out:
                            out[n] = _parse_value(m.group(2))
            self._found[prefix] = out
        return self._found[prefix]


# Table layouts by header bytes: every BOSS file of one pipeline version has the same 236-column SPALL
# header, so a scan parses it once instead of once per file.
_LAYOUTS: dict[bytes, "_TableLayout"] = {}
MAX_CACHED_LAYOUTS = 64


class _TableLayout:
    """Column names, byte offsets and numpy dtypes of a binary table, from its header."""

    def __init__(self, header: "_Header", tfields: int):
        ttype = header.find("TTYPE")
        tform = header.find("TFORM")
        special = set(header.find("TSCAL")) | set(header.find("TZERO")) | set(header.find("TDIM"))
        self.by_name: dict[str, int] = {}
        for n in range(tfields, 0, -1):  # first of duplicate names wins, as in astropy
            if n in ttype:
                self.by_name[str(ttype[n]).lower()] = n
        self.columns: dict[int, tuple[int, object]] = {}
        offset = 0
        for n in range(1, tfields + 1):
            m = TFORM_RE.match(str(tform.get(n, "")))
            if m is None:
                raise ValueError(f"invalid TFORM{n}")
            repeat = int(m.group(1)) if m.group(1) else 1
            code = m.group(2)
            if code in "PQ":
                width, dtype = (8 if code == "P" else 16), None
            elif code == "X":
                width, dtype = (repeat + 7) // 8, None
            else:
                base = np.dtype(BINTABLE_CODES[code])
                width = base.itemsize * repeat
                dtype = f"S{repeat}" if code == "A" else (base if repeat == 1 else (base, (repeat,)))
                if code == "L" or n in special or repeat == 0:
                    dtype = None  # logical, scaled, multi-dimensional or empty: left to fitsio/astropy
            self.columns[n] = (offset, dtype)
            offset += width
        self.row_bytes = offset
        # Structured dtypes for the column selections asked for (a scan asks for the same few each time).
        self.selections: dict[tuple[str, ...], tuple[list[str], np.dtype]] = {}

    def selection(self, columns, row_bytes: int) -> tuple[list[str], np.dtype | None]:
        """Lower-case names of the ``columns`` present and a dtype viewing just them in one row."""
        key = tuple(columns)
        cached = self.selections.get(key)
        if cached is not None:
            return cached
        names, formats, positions = [], [], []
        for column in columns:
            name = column.lower()
            n = self.by_name.get(name)
            if n is None or name in names:
                continue
            offset, dtype = self.columns[n]
            if dtype is None:
                raise Unsupported(f"column {name} needs scaling, bits or variable-length arrays")
            names.append(name)
            formats.append(dtype)
            positions.append(offset)
        dtype = np.dtype({"names": names, "formats": formats, "offsets": positions, "itemsize": row_bytes}) \
            if names else None
        if len(self.selections) < 16:
            self.selections[key] = (names, dtype)
        return names, dtype


class _Hdu:
    __slots__ = ("header", "name", "xtension", "data_start", "data_size", "is_table")

    def __init__(self, header, name, xtension, data_start, data_size):
        self.header, self.name, self.xtension = header, name, xtension
        self.data_start, self.data_size = data_start, data_size
        self.is_table = xtension in ("BINTABLE", "TABLE")

_NAXIS_PATTERNS = [f"NAXIS{i:<3d}= ".encode() for i in range(1, 1000)]
_INT_BYTES_RE = re.compile(rb"[+-]?\d+\Z")


def _standard_cards(header: _Header, primary: bool) -> None:
    """Parse the mandatory cards (BITPIX, NAXIS, NAXISn, then PCOUNT, GCOUNT in an extension) from the
    positions the standard gives them, into the header's value cache.

    Cards are taken in order and each only if every card before it is where the standard puts it, so no
    earlier card can hold the same keyword. At the first departure (or a value that is not a plain
    integer) it stops, and the remaining keywords are searched for like any other.
    """
    raw, values = header.raw, header._values
    expected = [b"BITPIX  = ", b"NAXIS   = "]
    keys = ["BITPIX", "NAXIS"]
    position = 1
    while position <= len(expected):
        start = position * CARD
        if raw[start: start + 10] != expected[position - 1]:
            return
        text = raw[start + 10: start + CARD].split(b"/", 1)[0].strip()
        if not _INT_BYTES_RE.match(text):
            return
        value = int(text)
        values[keys[position - 1]] = value
        if position == 2:  # NAXIS known: the NAXISn follow, then PCOUNT and GCOUNT in extensions
            if not 0 <= value <= 999:
                return
            expected += _NAXIS_PATTERNS[:value]
            keys += [f"NAXIS{i}" for i in range(1, value + 1)]
            if not primary:
                expected += [b"PCOUNT  = ", b"GCOUNT  = "]
                keys += ["PCOUNT", "GCOUNT"]
        position += 1


class DirectSource(FitsSource):
    """Read-only view on an uncompressed FITS file (see the module docstring for its limits)."""

    backend = "direct"

    def __init__(self, path: str):
        super().__init__(path)
        self._mm = None
        self._data = b""
        with open(path, "rb") as handle:
            self._size = os.fstat(handle.fileno()).st_size
            if self._size <= MAX_READ_BYTES:
                self._data = handle.read()
            else:
                self._mm = self._data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            if len(self._data) != self._size:
                raise ValueError(f"file changed while being read ({len(self._data)} of {self._size} bytes)")
            self._hdus = self._walk()
        except BaseException:
            self.close()
            raise
        self.names = [hdu.name for hdu in self._hdus]

    def _read_at(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0 or offset + size > self._size:
            raise ValueError(f"truncated FITS file: wanted {size} bytes at {offset}, file has {self._size}")
        return self._data[offset: offset + size]

    def _buffer(self, offset: int, size: int):
        """The file's bytes ``offset:offset+size`` for numpy: a view of the in-memory file, or a copy of
        the mapped one (a view would keep the mapping from being closed)."""
        if self._mm is not None:
            return self._read_at(offset, size), 0
        if offset < 0 or size < 0 or offset + size > self._size:
            raise ValueError(f"truncated FITS file: wanted {size} bytes at {offset}, file has {self._size}")
        return self._data, offset

    def _header_end(self, start: int) -> int:
        """Offset of the END card of the header starting at ``start`` (card-aligned)."""
        limit = min(self._size, start + MAX_HEADER_BLOCKS * BLOCK)
        pos = start
        while True:
            found = self._data.find(END_CARD, pos, limit)
            if found < 0:
                raise ValueError("header has no END card (truncated or damaged file)")
            if (found - start) % CARD == 0:
                return found
            pos = found + 1

    def _walk(self) -> list[_Hdu]:
        hdus, offset = [], 0
        while offset < self._size:
            end = self._header_end(offset)
            raw = self._read_at(offset, end - offset)
            header_blocks = -(-(end - offset + CARD) // BLOCK)
            first = raw[:10]
            if not hdus and first != b"SIMPLE  = ":
                raise ValueError("not a FITS file")
            if hdus and first != b"XTENSION= ":
                raise Unsupported("data after the last HDU that is not an extension")
            hdu = self._describe(_Header(raw), offset + BLOCK * header_blocks, primary=not hdus)
            hdus.append(hdu)
            offset = hdu.data_start + -(-hdu.data_size // BLOCK) * BLOCK
            if hdu.data_start + hdu.data_size > self._size:
                raise ValueError(f"truncated FITS file: {self._size} bytes, but its headers declare "
                                 f"{hdu.data_start + hdu.data_size}")
        return hdus

    @staticmethod
    def _describe(header: _Header, data_start: int, primary: bool) -> _Hdu:
        _standard_cards(header, primary)
        bitpix = header.value("BITPIX", default=None)
        naxis = header.value("NAXIS", default=None)
        if bitpix not in BITPIX_DTYPES or type(naxis) is not int or not 0 <= naxis <= 999:
            raise ValueError("invalid BITPIX or NAXIS")
        dims = [header.value(f"NAXIS{i}", default=None) for i in range(1, naxis + 1)]
        if not all(type(d) is int and d >= 0 for d in dims):
            raise ValueError("invalid NAXISn")
        if primary and not (dims and dims[0] == 0 and header.value("GROUPS", default=False) is True):
            pcount, gcount = 0, 1  # only random-groups primary HDUs have parameters (as in cfitsio)
        else:
            pcount = header.value("PCOUNT", default=0)
            gcount = header.value("GCOUNT", default=1)
        if type(pcount) is not int or type(gcount) is not int or pcount < 0 or gcount < 0:
            raise ValueError("invalid PCOUNT or GCOUNT")
        size = math.prod(dims) if dims else 0
        size = abs(bitpix) // 8 * gcount * (pcount + size)
        xtension = "" if primary else str(header.value("XTENSION", 0, "")).upper()
        name = str(header.value("EXTNAME", default="") or "").strip().upper() or ("PRIMARY" if primary else "")
        return _Hdu(header, name, xtension, data_start, size)

    # -- FitsSource interface ---------------------------------------------------------------------
    def header(self, ext: int) -> Mapping:
        return self._hdus[ext].header

    def is_table(self, ext: int) -> bool:
        return self._hdus[ext].is_table

    def _binary_table(self, ext: int) -> bool:
        hdu = self._hdus[ext]
        if hdu.xtension == "TABLE":
            raise Unsupported("ASCII tables are read by fitsio/astropy")
        return hdu.is_table

    def column_names(self, ext: int) -> list[str]:
        if not self._binary_table(ext):
            return []
        ttype = self._hdus[ext].header.find("TTYPE")
        return [str(ttype.get(n, f"col{n}")) for n in range(1, self._tfields(ext) + 1)]

    def _tfields(self, ext: int) -> int:
        tfields = self._hdus[ext].header.value("TFIELDS", 7, 0)
        if type(tfields) is not int or not 0 <= tfields <= 999:
            raise ValueError("invalid TFIELDS")
        return tfields

    def nrows(self, ext: int) -> int:
        return int(self._hdus[ext].header.value("NAXIS2", 4, 0)) if self.is_table(ext) else 0

    def _layout(self, ext: int) -> "_TableLayout":
        header = self._hdus[ext].header
        layout = _LAYOUTS.get(header.raw)
        if layout is None:
            layout = _TableLayout(header, self._tfields(ext))
            if len(_LAYOUTS) >= MAX_CACHED_LAYOUTS:
                _LAYOUTS.clear()
            _LAYOUTS[header.raw] = layout
        return layout

    def read_columns(self, ext, columns, rows=None) -> dict:
        hdu = self._hdus[ext]
        if not self._binary_table(ext):
            return {}
        layout = self._layout(ext)
        row_bytes, n_rows = hdu.header.value("NAXIS1", 3, None), hdu.header.value("NAXIS2", 4, None)
        if layout.row_bytes != row_bytes or type(n_rows) is not int or n_rows < 0:
            raise ValueError(f"TFORMs add up to {layout.row_bytes} bytes per row, NAXIS1 says {row_bytes}")
        names, dtype = layout.selection(columns, row_bytes)
        if not names:
            return {}
        if rows is None:
            buffer, at = self._buffer(hdu.data_start, row_bytes * n_rows)
            table = np.frombuffer(buffer, dtype=dtype, count=n_rows, offset=at)
        else:
            rows = [int(r) for r in rows]
            if any(not 0 <= r < n_rows for r in rows):
                raise IndexError("row out of range")
            parts = []
            for r in rows:
                buffer, at = self._buffer(hdu.data_start + r * row_bytes, row_bytes)
                parts.append(np.frombuffer(buffer, dtype=dtype, count=1, offset=at))
            table = parts[0] if len(parts) == 1 else np.concatenate(parts)
        out = {}
        for name in names:
            column = table[name]
            if column.dtype.kind == "S":
                out[name] = np.char.strip(np.char.decode(column, "ascii", errors="replace"))
            else:  # one copy, byte-swapped to native order on the way
                out[name] = column.astype(column.dtype.newbyteorder("="))
        return out

    def read_image(self, ext: int) -> np.ndarray:
        hdu = self._hdus[ext]
        header = hdu.header
        if hdu.is_table or "BSCALE" in header or "BZERO" in header:
            raise Unsupported("scaled images and tables are read by fitsio/astropy")
        if hdu.xtension not in ("", "IMAGE"):
            raise Unsupported(f"{hdu.xtension} extensions are read by fitsio/astropy")
        dims = [header[f"NAXIS{i}"] for i in range(1, header["NAXIS"] + 1)]
        if not dims:
            raise ValueError(f"HDU {ext} has no data")
        dtype = np.dtype(BITPIX_DTYPES[header["BITPIX"]])
        data = np.frombuffer(self._read_at(hdu.data_start, hdu.data_size), dtype=dtype)
        return native(data.reshape(tuple(reversed(dims))))

    def _declared_end(self) -> int | None:
        last = self._hdus[-1]
        return last.data_start + last.data_size

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
        self._data = b""
