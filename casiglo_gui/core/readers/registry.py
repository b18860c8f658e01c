"""One registry of readers. Each reader is a cheap identifier (looks at HDU names and headers, never at the
file name) plus a loader. The registry owns the boundary: whatever goes wrong inside a FITS library or a
loader leaves here as a :class:`~casiglo_gui.core.errors.SpectrumReadError` naming the file and the reason.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import SpectrumReadError
from ..spectrum import Spectrum
from .fitsfile import FALLBACK_BACKEND, FITS_ERRORS, FitsSource, backend_chain, open_fits
from .options import DEFAULT_OPTIONS, ReadOptions

FITS_MAGIC = b"SIMPLE  ="
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Reader:
    """A registered format.

    ``identify(source) -> bool`` must be cheap and decide from content only; ``load(source, path)``
    (``load(source, path, options)`` when registered with ``takes_options=True``) yields (or returns a
    list of) :class:`Spectrum`. A format that is recognised but cannot give spectra (e.g. MaNGA DAP
    MAPS) registers a loader that raises ``SpectrumReadError`` with the reason.
    """

    name: str
    identify: Callable[[FitsSource], bool]
    load: Callable[..., "list[Spectrum] | Iterator[Spectrum]"]
    priority: int = 0
    takes_options: bool = False


READERS: list[Reader] = []


def register_reader(name: str, identify: Callable[[FitsSource], bool], priority: int = 0,
                    takes_options: bool = False):
    """Decorator registering ``load(source, path)`` under ``name`` (higher priority is tried first);
    with ``takes_options`` the loader is called as ``load(source, path, options)`` (:class:`ReadOptions`)."""

    def decorate(load):
        READERS[:] = [r for r in READERS if r.name != name]
        READERS.append(Reader(name, identify, load, priority, takes_options))
        READERS.sort(key=lambda r: -r.priority)
        return load

    return decorate


def check_file(path: str) -> bool:
    """Refuse, with a specific reason, paths that cannot be a FITS file before any library sees them.

    Returns
    -------
    bool
        True if the file is gzip-compressed.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SpectrumReadError(path, "file not found") from None
    except OSError as exc:
        raise SpectrumReadError(path, f"cannot be opened ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise SpectrumReadError(path, "is a folder, not a file")
    size = info.st_size
    if size == 0:
        raise SpectrumReadError(path, "file is empty (0 bytes)")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(FITS_MAGIC))
    except OSError as exc:
        raise SpectrumReadError(path, f"cannot be opened ({exc.strerror or exc})") from None
    if head.startswith(GZIP_MAGIC):
        return True  # the FITS libraries decompress transparently; they judge the content
    if head != FITS_MAGIC:
        raise SpectrumReadError(path, "not a FITS file (it does not start with 'SIMPLE  =')")
    if size % 2880 != 0:
        raise SpectrumReadError(path, f"truncated FITS file ({size} bytes is not a whole number of "
                                      "2880-byte FITS blocks)")
    return False


def open_source(path: str | Path, backend: str | None = None) -> FitsSource:
    """Open ``path`` with one back-end (default: fitsio, else astropy) after :func:`check_file`; damaged
    files raise ``SpectrumReadError``."""
    path = str(path)
    compressed = check_file(path)
    return _open_checked(path, backend or FALLBACK_BACKEND, compressed)


def _open_checked(path: str, backend: str, compressed: bool) -> FitsSource:
    """:func:`open_fits` for a path that :func:`check_file` has passed."""
    try:
        return open_fits(path, backend, compressed=compressed)
    except FITS_ERRORS as exc:
        raise SpectrumReadError(path, f"not a readable FITS file ({_describe(exc)})") from None


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def identify(source: FitsSource) -> Reader | None:
    """The highest-priority reader whose identifier accepts ``source``; identifiers that raise count as no."""
    for reader in READERS:
        try:
            if reader.identify(source):
                return reader
        except Exception:  # an identifier must never decide by crashing (specutils' rule)
            continue
    return None


def identify_path(path: str | Path, backend: str | None = None) -> str | None:
    """Name of the reader that would read ``path``, or None; raises ``SpectrumReadError`` if unreadable.

    By default the fast direct back-end looks first (a file it cannot open goes to fitsio/astropy), as
    in :func:`iter_spectra`.
    """
    path = str(path)
    compressed = check_file(path)
    chain = backend_chain(path, backend, compressed)
    for attempt, name in enumerate(chain):
        try:
            source = _open_checked(path, name, compressed)
        except SpectrumReadError:
            if attempt == len(chain) - 1:
                raise
            continue
        with source:
            reader = identify(source)
        if reader is not None or attempt == len(chain) - 1:
            return None if reader is None else reader.name
    return None


def iter_spectra(path: str | Path, backend: str | None = None,
                 options: ReadOptions | None = None) -> Iterator[Spectrum]:
    """Yield the spectra in ``path`` one by one (MaNGA cubes are read spaxel by spaxel).

    Every spectrum that comes without a foreground model gets a fitted one (``model_source =
    "fitted"``, see :mod:`casiglo_gui.core.foreground`) unless ``options.fit_foreground`` is False.

    Parameters
    ----------
    path : str or Path
        A FITS file (``.gz`` is decompressed transparently).
    backend : {"direct", "fitsio", "astropy"}, optional
        FITS library. By default the fast direct reader is tried first on uncompressed files and fitsio
        (or astropy) reads whatever it cannot; all give identical spectra. A file the loader refuses for
        its content (e.g. a dead fibre) is not read again by the next back-end: the verdict would be the
        same.
    options : ReadOptions, optional
        ``--z-fg``, ``--redshifts`` and whether to fit missing foreground models.

    Raises
    ------
    SpectrumReadError
        Missing, empty, non-FITS, truncated or unrecognised file, or unusable data.
    """
    options = DEFAULT_OPTIONS if options is None else options
    spectra = _iter_any_backend(str(path), backend, options)
    if not options.fit_foreground:
        return spectra
    from ..foreground.attach import with_fitted_foreground

    return with_fitted_foreground(spectra, z_fg=options.z_fg)


def _iter_any_backend(path: str, backend: str | None, options: ReadOptions) -> Iterator[Spectrum]:
    compressed = check_file(path)
    chain = backend_chain(path, backend, compressed)
    for attempt, name in enumerate(chain):
        yielded = False
        try:
            for spectrum in _iter_with(path, name, compressed, options):
                yielded = True
                yield spectrum
            return
        except _LoaderVerdict as verdict:
            raise verdict.error from None
        except SpectrumReadError:
            # A later back-end gets its chance unless spectra were already handed out (no duplicates).
            if yielded or attempt == len(chain) - 1:
                raise


class _LoaderVerdict(Exception):
    """A loader refused the content of a file it read (e.g. a dead fibre): the same whatever the FITS
    back-end, so no other back-end is asked to read the file again."""

    def __init__(self, error: SpectrumReadError):
        super().__init__(str(error))
        self.error = error


def _iter_with(path: str, backend: str, compressed: bool, options: ReadOptions) -> Iterator[Spectrum]:
    source = _open_checked(path, backend, compressed)
    try:
        reader = identify(source)
        if reader is None:
            names = ", ".join(n or "(unnamed)" for n in source.names)
            raise SpectrumReadError(path, f"not a recognised spectrum file (HDUs: {names})")
        try:
            if reader.takes_options:
                yield from reader.load(source, path, options)
            else:
                yield from reader.load(source, path)
        except SpectrumReadError as exc:
            raise _LoaderVerdict(exc) from None
        except FITS_ERRORS as exc:
            raise SpectrumReadError(path, f"{reader.name} file could not be read ({_describe(exc)})") from None
    finally:
        try:
            source.close()
        except FITS_ERRORS:
            pass


def read_spectra(path: str | Path, backend: str | None = None,
                 options: ReadOptions | None = None) -> list[Spectrum]:
    """Read every spectrum in ``path``: one for a spec file, one per row of a MaNGA test-spectra table,
    one per spaxel with data for a MaNGA LOGCUBE (a full cube is thousands of spectra: prefer
    :func:`iter_spectra`, or :func:`casiglo_gui.core.readers.open_cube` to pick spaxels or apertures).

    A multi-spectrum file never drops an unusable member silently: such a spectrum comes back with
    ``mask`` all True and the ``all_masked`` flag. A single-spectrum file with no usable pixel raises.

    Raises
    ------
    SpectrumReadError
        For a missing, empty, non-FITS, truncated or unrecognised file, or unusable data.
    """
    return list(iter_spectra(path, backend, options))


def read_spectrum(path: str | Path, backend: str | None = None,
                  options: ReadOptions | None = None) -> Spectrum:
    """Read the single spectrum in ``path`` (the first one for multi-spectrum files)."""
    spectra = iter_spectra(path, backend, options)
    try:
        return next(spectra)
    except StopIteration:
        raise SpectrumReadError(str(path), "file holds no spectrum") from None
    finally:
        spectra.close()
