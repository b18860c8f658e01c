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

# Exceptions the FITS libraries raise on damaged input; the registry turns them into SpectrumReadError.
FITS_ERRORS = (OSError, ValueError, TypeError, IndexError, KeyError, EOFError, RuntimeError,
               OverflowError, MemoryError, AttributeError, ZeroDivisionError)


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
        fits = astropy_fits()

        # We own the file handle: astropy can leave its own open when a damaged header stops it midway.
        self._handle = open(path, "rb")
        self._headers: dict[int, dict] = {}
        try:
            with self._guard():
                self._hdul = fits.open(self._handle, memmap=memmap, lazy_load_hdus=False)
                self.names = [str(hdu.name).strip().upper() for hdu in self._hdul]
        except BaseException:
            self._handle.close()
            raise

    @contextmanager
    def _guard(self):
        """Record astropy's warnings about damaged cards; turn its verification errors into ValueError."""
        VerifyError = astropy_fits().verify.VerifyError

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            except (VerifyError, AssertionError) as exc:  # astropy asserts on some malformed column cards
                raise ValueError(f"invalid FITS header: {exc}") from None
            finally:
                self.warnings.extend(f"{w.category.__name__}: {w.message}" for w in caught)

    def header(self, ext: int) -> Mapping:
        if ext not in self._headers:
            with self._guard():
                header = self._hdul[ext].header
                self._headers[ext] = {key.upper(): _plain(value) for key, value in header.items()
                                      if key and key not in ("COMMENT", "HISTORY")}
        return self._headers[ext]

    def column_names(self, ext: int) -> list[str]:
        if not self.is_table(ext):
            return []
        with self._guard():
            return [str(name) for name in self._hdul[ext].columns.names]

    def nrows(self, ext: int) -> int:
        return int(self.header(ext).get("NAXIS2", 0)) if self.is_table(ext) else 0

    def _read_columns(self, ext, columns, rows):
        with self._guard():
            data = self._hdul[ext].data
            if data is None:
                raise ValueError(f"HDU {ext} has no rows")
            out = {}
            for name in columns:
                column = data[name] if rows is None else data[name][list(rows)]
                out[name] = _strip_strings(np.array(column))
        return out

    def read_image(self, ext: int) -> np.ndarray:
        with self._guard():
            data = self._hdul[ext].data
            data = None if data is None else native(np.array(data))
        if data is None:
            raise ValueError(f"HDU {ext} has no data")
        return data

    def _declared_end(self) -> int | None:
        with self._guard():
            last = self._hdul[-1]
            offset, size = getattr(last, "_data_offset", None), getattr(last, "_data_size", None)
        if offset is None or size is None:
            return None
        return int(offset) + int(size)

    def close(self) -> None:
        try:
            with self._guard():
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
        return {name: _strip_strings(np.array(data[name])) for name in columns}

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


def backend_chain(path: str, backend: str | None = None, compressed: bool | None = None) -> list[str]:
    """Back-ends to try in order: the one asked for, or (``None``/``"auto"``) the direct reader for
    uncompressed files, then fitsio (astropy where fitsio is not installed)."""
    if backend not in (None, "auto"):
        if backend not in BACKENDS:
            raise ValueError(f"unknown FITS back-end {backend!r}; choose from {BACKENDS}")
        return [backend]
    if compressed is None:
        compressed = _gzip_magic(path)
    return [FALLBACK_BACKEND] if compressed else ["direct", FALLBACK_BACKEND]


def open_fits(path: str, backend: str = "fitsio", compressed: bool | None = None) -> FitsSource:
    """Open ``path`` with one back-end: ``"direct"``, ``"fitsio"`` or ``"astropy"``.

    ``compressed`` says whether the file is gzip-compressed when the caller already knows (else the
    file's first bytes are looked at).

    Raises whatever the back-end raises on a damaged file (see ``FITS_ERRORS``); the registry converts
    those into :class:`~casiglo_gui.core.errors.SpectrumReadError`.
    """
    if backend == "direct":
        from .direct import DirectSource

        if compressed is None:
            compressed = path.lower().endswith(".gz") or _gzip_magic(path)
        if compressed:
            from .direct import Unsupported

            raise Unsupported("the direct back-end does not read gzip-compressed files")
        return DirectSource(path)
    if backend == "fitsio":
        if fitsio is None:
            raise ValueError("the fitsio back-end was asked for but fitsio is not installed")
        return _checked(_FitsioSource(path))
    if backend == "astropy":
        return _checked(_AstropySource(path))
    raise ValueError(f"unknown FITS back-end {backend!r}; choose from {BACKENDS}")


def _gzip_magic(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _checked(source: FitsSource) -> FitsSource:
    try:
        source.check_complete()
    except BaseException:
        source.close()
        raise
    return source
