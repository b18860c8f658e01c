"""A small read-only view on a FITS file, with two interchangeable back-ends.

Readers are written once against :class:`FitsSource` and get identical arrays from either back-end:

* ``fitsio`` (cfitsio; the default when installed) reads only the table columns and rows asked for;
* ``astropy`` (``astropy.io.fits``) is the fallback and the reference.

Every array leaves this module in native byte order (FITS stores big-endian; onnxruntime and pandas
misbehave on ``>f4``), and every header value is a plain Python scalar. Warnings the FITS libraries raise
about non-standard cards are recorded in :attr:`FitsSource.warnings` rather than lost or raised.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

try:  # fitsio is a dependency, but the core must still work where only astropy is installed
    import fitsio
except ImportError:  # pragma: no cover - exercised only on installs without fitsio
    fitsio = None

BACKENDS = ("fitsio", "astropy") if fitsio is not None else ("astropy",)
DEFAULT_BACKEND = BACKENDS[0]

# Exceptions the FITS libraries raise on damaged input; the registry turns them into SpectrumReadError.
FITS_ERRORS = (OSError, ValueError, TypeError, IndexError, KeyError, EOFError, RuntimeError,
               OverflowError, MemoryError, AttributeError, ZeroDivisionError)


def native(array: np.ndarray, dtype=None) -> np.ndarray:
    """Return ``array`` in native byte order (and ``dtype`` when given), copying only when needed."""
    array = np.asarray(array)
    if dtype is not None:
        return array.astype(dtype, copy=False) if array.dtype.isnative else array.astype(dtype)
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array


def _plain(value):
    """Header value as a plain Python scalar; strings stripped of FITS padding."""
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode("ascii", errors="replace")
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, np.generic):
        return value.item()
    return value


class FitsSource:
    """Read-only access to the HDUs of one FITS file (use :func:`open_fits`)."""

    backend = ""

    def __init__(self, path: str):
        self.path = path
        self.warnings: list[str] = []
        self.names: list[str] = []

    # -- to be provided by back-ends ---------------------------------------------------------------
    def header(self, ext: int) -> Mapping:  # pragma: no cover - abstract
        raise NotImplementedError

    def column_names(self, ext: int) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def nrows(self, ext: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read_columns(self, ext: int, columns: Sequence[str], rows) -> dict:  # pragma: no cover
        raise NotImplementedError

    def read_image(self, ext: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _declared_end(self) -> int | None:  # pragma: no cover - abstract
        """Byte offset where the last HDU's data ends according to the headers (None if unknown)."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.names)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def check_complete(self) -> None:
        """Raise ValueError if an uncompressed file is shorter than its headers declare.

        The FITS libraries read the HDUs a reader asks for and would not notice a file cut inside a later
        HDU (e.g. the per-exposure tables of a full spec file); a cut file is refused as a whole.
        """
        if self.path.lower().endswith(".gz") or self._is_gzip():
            return
        import os

        end = self._declared_end()
        size = os.path.getsize(self.path)
        if end is not None and size < end:
            raise ValueError(f"truncated FITS file: {size} bytes, but its headers declare {end}")

    def _is_gzip(self) -> bool:
        with open(self.path, "rb") as handle:
            return handle.read(2) == b"\x1f\x8b"

    def index(self, name: str) -> int | None:
        """Index of the first HDU called ``name`` (case-insensitive), or None."""
        name = name.upper()
        for i, hdu_name in enumerate(self.names):
            if hdu_name == name:
                return i
        return None

    def is_table(self, ext: int) -> bool:
        return str(self.header(ext).get("XTENSION", "")).upper() in ("BINTABLE", "TABLE")

    def image_shape(self, ext: int) -> tuple[int, ...]:
        """Shape of an image HDU in numpy order (slowest axis first), from NAXISn; () if no data."""
        header = self.header(ext)
        if self.is_table(ext):
            return ()
        naxis = int(header.get("NAXIS", 0))
        dims = [int(header.get(f"NAXIS{i}", 0)) for i in range(1, naxis + 1)]
        return tuple(reversed(dims))

    def read_columns(self, ext: int, columns: Sequence[str], rows: Sequence[int] | None = None) -> dict:
        """Read the named table columns that exist (case-insensitive match).

        Returns
        -------
        dict
            Lower-case column name -> native-order array (strings stripped). Absent columns are absent.
        """
        available = {name.lower(): name for name in self.column_names(ext)}
        wanted = [available[c.lower()] for c in columns if c.lower() in available]
        if not wanted:
            return {}
        raw = self._read_columns(ext, wanted, rows)
        return {name.lower(): native(raw[name]) for name in wanted}


class _AstropySource(FitsSource):
    backend = "astropy"

    def __init__(self, path: str, memmap: bool = False):
        super().__init__(path)
        from astropy.io import fits

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self._hdul = fits.open(path, memmap=memmap, lazy_load_hdus=False)
            # Force a full header parse now so that malformed cards fail here, not later.
            self.names = [str(hdu.name).strip().upper() for hdu in self._hdul]
        self._note(caught)

    def _note(self, caught) -> None:
        self.warnings.extend(f"{w.category.__name__}: {w.message}" for w in caught)

    def header(self, ext: int) -> Mapping:
        return self._hdul[ext].header

    def column_names(self, ext: int) -> list[str]:
        if not self.is_table(ext):
            return []
        return list(self._hdul[ext].columns.names)

    def nrows(self, ext: int) -> int:
        return int(self.header(ext).get("NAXIS2", 0)) if self.is_table(ext) else 0

    def _read_columns(self, ext, columns, rows):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = self._hdul[ext].data
            if data is None:
                raise ValueError(f"HDU {ext} has no rows")
            out = {}
            for name in columns:
                column = data[name] if rows is None else data[name][list(rows)]
                column = np.asarray(column)
                if column.dtype.kind == "S":
                    column = np.char.strip(np.char.decode(column, "ascii", errors="replace"))
                elif column.dtype.kind == "U":
                    column = np.char.strip(column)
                out[name] = np.array(column)
        self._note(caught)
        return out

    def read_image(self, ext: int) -> np.ndarray:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = self._hdul[ext].data
            data = None if data is None else native(np.array(data))
        self._note(caught)
        if data is None:
            raise ValueError(f"HDU {ext} has no data")
        return data

    def _declared_end(self) -> int | None:
        last = self._hdul[-1]
        offset, size = getattr(last, "_data_offset", None), getattr(last, "_data_size", None)
        if offset is None or size is None:
            return None
        return int(offset) + int(size)

    def close(self) -> None:
        self._hdul.close()


class _FitsioSource(FitsSource):
    backend = "fitsio"

    def __init__(self, path: str):
        super().__init__(path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self._fits = fitsio.FITS(path)
            try:
                self._hdus = list(self._fits)
                self.names = [str(hdu.get_extname()).strip().upper() for hdu in self._hdus]
                if self.names:
                    self.names[0] = self.names[0] or "PRIMARY"
            except BaseException:
                self._fits.close()
                raise
        self.warnings.extend(f"{w.category.__name__}: {w.message}" for w in caught)
        self._headers: dict[int, dict] = {}

    def header(self, ext: int) -> Mapping:
        if ext not in self._headers:
            header = self._hdus[ext].read_header()
            self._headers[ext] = {key.upper(): _plain(header[key]) for key in header.keys()
                                  if key and key not in ("COMMENT", "HISTORY", "")}
        return self._headers[ext]

    def column_names(self, ext: int) -> list[str]:
        if not self.is_table(ext):
            return []
        return list(self._hdus[ext].get_colnames())

    def nrows(self, ext: int) -> int:
        return int(self._hdus[ext].get_nrows()) if self.is_table(ext) else 0

    def _read_columns(self, ext, columns, rows):
        hdu = self._hdus[ext]
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
        data = hdu.read(columns=list(columns), rows=rows)
        out = {}
        for name in columns:
            column = np.asarray(data[name])
            if column.dtype.kind == "S":
                column = np.char.strip(np.char.decode(column, "ascii", errors="replace"))
            elif column.dtype.kind == "U":
                column = np.char.strip(column)
            out[name] = np.array(column)
        return out

    def read_image(self, ext: int) -> np.ndarray:
        data = self._hdus[ext].read()
        if data is None:
            raise ValueError(f"HDU {ext} has no data")
        return native(np.array(data))

    def _declared_end(self) -> int | None:
        end = self._hdus[-1]._info.get("data_end")
        return None if end is None else int(end)

    def close(self) -> None:
        self._fits.close()


def open_fits(path: str, backend: str | None = None) -> FitsSource:
    """Open ``path`` with the named back-end (``"fitsio"`` or ``"astropy"``; default: fastest installed).

    Raises whatever the back-end raises on a damaged file (see ``FITS_ERRORS``); the registry converts
    those into :class:`~casiglo_gui.core.errors.SpectrumReadError`.
    """
    backend = backend or DEFAULT_BACKEND
    if backend == "fitsio":
        if fitsio is None:
            raise ValueError("the fitsio back-end was asked for but fitsio is not installed")
        return _checked(_FitsioSource(path))
    if backend == "astropy":
        return _checked(_AstropySource(path))
    raise ValueError(f"unknown FITS back-end {backend!r}; choose from {BACKENDS}")


def _checked(source: FitsSource) -> FitsSource:
    try:
        source.check_complete()
    except BaseException:
        source.close()
        raise
    return source
