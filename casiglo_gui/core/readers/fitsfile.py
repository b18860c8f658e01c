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
from contextlib import contextmanager

import numpy as np

try:  # fitsio is a dependency, but the core must still work where only astropy is installed
    import fitsio
except ImportError:  # pragma: no cover - exercised only on installs without fitsio
    fitsio = None

BACKENDS = ("direct", "fitsio", "astropy") if fitsio is not None else ("direct", "astropy")
# The library used when the direct back-end cannot read a file (gzip, scaled columns, damage).
FALLBACK_BACKEND = BACKENDS[1]
DEFAULT_BACKEND = "auto"

# What fitsio and astropy raise on damaged input (besides astropy's VerifyError and assertions). Caught
# only around their own calls (``_library_calls``), so that a bug in a reader is not reported as a
# damaged file.
LIBRARY_ERRORS = (OSError, ValueError, TypeError, IndexError, KeyError, EOFError, RuntimeError,
                  OverflowError, MemoryError, AttributeError, ZeroDivisionError, AssertionError)

# The name readers that call astropy themselves (MaNGA cubes) catch around those calls.
FITS_ERRORS = LIBRARY_ERRORS


class Unsupported(ValueError):
    """A valid FITS feature a back-end does not implement; the registry tries the next back-end."""


class DamagedFitsError(ValueError):
    """A FITS library could not read part of a file that passed the structure check.

    The message names the HDU and the library, never the library's own text: that can hold decode
    positions or cfitsio's error stack from earlier files, and would make tables depend on what a
    process read before.
    """


@contextmanager
def _library_calls(source: "FitsSource", what: str, extra: tuple = ()):
    """Turn a FITS library's exception during ``what`` into :class:`DamagedFitsError`."""
    try:
        yield
    except LIBRARY_ERRORS + extra as exc:
        raise DamagedFitsError(f"damaged FITS data: {source.backend} could not read {what} "
                               f"({type(exc).__name__})") from None


def astropy_fits():
    """``astropy.io.fits``, imported on first use (the direct and fitsio paths do not need it).

    astropy warns at import when XDG_CONFIG_HOME/XDG_CACHE_HOME name a folder that does not exist yet (as
    on a fresh account or in tests); that concerns its own configuration, not the file being read, so
    exactly that warning is ignored here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"XDG_(CONFIG|CACHE)_HOME is set to")
        from astropy.io import fits
        from astropy.io.fits import verify  # noqa: F401  (VerifyError / VerifyWarning)
    return fits


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

    # -- shared --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.names)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

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
        fits = astropy_fits()

        # We own the file handle: astropy can leave its own open when a damaged header stops it midway.
        self._handle = open(path, "rb")
        self._headers: dict[int, dict] = {}
        try:
            with self._guard("the HDU list"):
                self._hdul = fits.open(self._handle, memmap=memmap, lazy_load_hdus=False)
                self.names = [str(hdu.name).strip().upper() for hdu in self._hdul]
        except BaseException:
            self._handle.close()
            raise

    @contextmanager
    def _guard(self, what: str):
        """Record astropy's warnings about damaged cards; its errors become DamagedFitsError."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with _library_calls(self, what, (astropy_fits().verify.VerifyError,)):
                    yield
            finally:
                self.warnings.extend(f"{w.category.__name__}: {w.message}" for w in caught)

    def header(self, ext: int) -> Mapping:
        if ext not in self._headers:
            with self._guard(f"the header of HDU {ext}"):
                header = self._hdul[ext].header
                self._headers[ext] = {key.upper(): _plain(value) for key, value in header.items()
                                      if key and key not in ("COMMENT", "HISTORY")}
        return self._headers[ext]

    def column_names(self, ext: int) -> list[str]:
        if not self.is_table(ext):
            return []
        with self._guard(f"the columns of HDU {ext}"):
            return [str(name) for name in self._hdul[ext].columns.names]

    def nrows(self, ext: int) -> int:
        return int(self.header(ext).get("NAXIS2", 0)) if self.is_table(ext) else 0

    def _read_columns(self, ext, columns, rows):
        with self._guard(f"the table of HDU {ext}"):
            data = self._hdul[ext].data
            if data is None:
                raise ValueError("no rows")
            out = {}
            for name in columns:
                column = data[name] if rows is None else data[name][list(rows)]
                out[name] = _strip_strings(np.array(column))
        return out

    def read_image(self, ext: int) -> np.ndarray:
        with self._guard(f"the image of HDU {ext}"):
            data = self._hdul[ext].data
            data = None if data is None else native(np.array(data))
        if data is None:
            raise DamagedFitsError(f"HDU {ext} has no data")
        return data

    def close(self) -> None:
        try:
            with self._guard("the file (closing)"):
                self._hdul.close()
        finally:
            self._handle.close()


def _strip_strings(column: np.ndarray) -> np.ndarray:
    if column.dtype.kind == "S":
        return np.char.strip(np.char.decode(column, "ascii", errors="replace"))
    if column.dtype.kind == "U":
        return np.char.strip(column)
    return column


class _FitsioSource(FitsSource):
    backend = "fitsio"

    def __init__(self, path: str):
        super().__init__(path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _library_calls(self, "the HDU list"):
                self._fits = fitsio.FITS(path)
            try:
                with _library_calls(self, "the HDU list"):
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
            with _library_calls(self, f"the header of HDU {ext}"):
                header = self._hdus[ext].read_header()
                self._headers[ext] = {key.upper(): _plain(header[key]) for key in header.keys()
                                      if key and key not in ("COMMENT", "HISTORY", "")}
        return self._headers[ext]

    def column_names(self, ext: int) -> list[str]:
        if not self.is_table(ext):
            return []
        with _library_calls(self, f"the columns of HDU {ext}"):
            return list(self._hdus[ext].get_colnames())

    def nrows(self, ext: int) -> int:
        if not self.is_table(ext):
            return 0
        with _library_calls(self, f"the table of HDU {ext}"):
            return int(self._hdus[ext].get_nrows())

    def _read_columns(self, ext, columns, rows):
        hdu = self._hdus[ext]
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
        with _library_calls(self, f"the table of HDU {ext}"):
            data = hdu.read(columns=list(columns), rows=rows)
            return {name: _strip_strings(np.array(data[name])) for name in columns}

    def read_image(self, ext: int) -> np.ndarray:
        with _library_calls(self, f"the image of HDU {ext}"):
            data = self._hdus[ext].read()
        if data is None:
            raise DamagedFitsError(f"HDU {ext} has no data")
        return native(np.array(data))

    def close(self) -> None:
        with _library_calls(self, "the file (closing)"):
            self._fits.close()


def open_library_source(path: str, backend: str, n_hdus: int) -> FitsSource:
    """Open ``path`` with a FITS library back-end, ``"fitsio"`` or ``"astropy"``; damaged files raise
    :class:`DamagedFitsError`. Call it only for a file :func:`.structure.inspect_file` has passed,
    which found ``n_hdus`` HDUs: a library that stops earlier (fitsio silently drops an HDU whose
    header it cannot parse) is refusing that HDU, and saying so beats "not a recognised file"."""
    if backend == "fitsio":
        if fitsio is None:
            raise ValueError("the fitsio back-end was asked for but fitsio is not installed")
        source = _FitsioSource(path)
    elif backend == "astropy":
        source = _AstropySource(path)
    else:
        raise ValueError(f"unknown FITS back-end {backend!r}; choose from {BACKENDS}")
    if len(source.names) < n_hdus:
        source.close()
        raise DamagedFitsError(f"damaged FITS header: {backend} could not parse the header of HDU "
                               f"{len(source.names)} (its column or keyword cards are invalid)")
    return source
