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

import mmap
import os
import re
from collections.abc import Mapping

import numpy as np

from ..errors import SpectrumReadError
from .fitsfile import FitsSource, Unsupported, native
from .header import Header
from .structure import FileLayout, inspect_file

# Files larger than structure.MAX_IN_MEMORY_BYTES (MaNGA cubes, often only identified here) are
# memory-mapped so that only the headers and the bytes asked for are touched; smaller ones come in memory.
TFORM_RE = re.compile(r"^\s*(\d*)([LXBIJKAEDCMPQ])")
BINTABLE_CODES = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "A": "S1", "E": ">f4", "D": ">f8",
                  "C": ">c8", "M": ">c16"}
BITPIX_DTYPES = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


_LAYOUTS: dict[bytes, "_TableLayout"] = {}
MAX_CACHED_LAYOUTS = 64


class _TableLayout:
    """Column names, byte offsets and numpy dtypes of a binary table, from its header."""

    def __init__(self, header: "Header", tfields: int):
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
                raise ValueError(f"damaged FITS table: TFORM{n} = {tform.get(n)!r} is not a column format")
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


class DirectSource(FitsSource):
    """Read-only view on an uncompressed FITS file (see the module docstring for its limits)."""

    backend = "direct"

    def __init__(self, path: str, layout: FileLayout | None = None):
        super().__init__(path)
        layout = inspect_file(path) if layout is None else layout
        if layout.compressed:
            raise Unsupported("the direct back-end does not read gzip-compressed files")
        self._mm = None
        self._data = b""
        if layout.data is not None:  # the structure check read the (small) file already
            self._data, self._size = layout.data, len(layout.data)
        else:
            with open(path, "rb") as handle:
                self._size = os.fstat(handle.fileno()).st_size
                self._mm = self._data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        if len(self._data) != layout.size or self._size != layout.size:
            self.close()
            raise SpectrumReadError(path, f"file changed while being read ({len(self._data)} bytes, "
                                          f"{layout.size} when checked)")
        self._hdus = layout.hdus
        self.names = [hdu.name for hdu in self._hdus]

    def _span(self, offset: int, size: int) -> None:
        """Refuse a byte range outside the file (the structure check makes this a bug guard)."""
        if offset < 0 or size < 0 or offset + size > self._size:
            raise ValueError(f"damaged FITS file: wanted {size} bytes at {offset}, the file has {self._size}")

    def _read_at(self, offset: int, size: int) -> bytes:
        self._span(offset, size)
        return self._data[offset: offset + size]

    def _buffer(self, offset: int, size: int):
        """The file's bytes ``offset:offset+size`` for numpy: a view of the in-memory file, or a copy of
        the mapped one (a view would keep the mapping from being closed)."""
        if self._mm is not None:
            return self._read_at(offset, size), 0
        self._span(offset, size)
        return self._data, offset

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
            raise ValueError(f"damaged FITS table: HDU {ext} has TFIELDS = {tfields!r}")
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
            raise ValueError(f"damaged FITS table: the TFORMn of HDU {ext} add up to {layout.row_bytes} bytes "
                             f"per row, its NAXIS1 says {row_bytes}")
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

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
        self._data = b""
