"""One registry of readers. Each reader is a cheap identifier (looks at HDU names and headers, never at the
file name) plus a loader. The registry owns the boundary: every file first passes the structure check
(:mod:`.structure`: truncation, gzip integrity, structural cards, size limits), and damage found there,
by a FITS library (:class:`~.fitsfile.DamagedFitsError`) or by a loader leaves here as a
:class:`~casiglo_gui.core.errors.SpectrumReadError` naming the file and the reason. Anything else
raised inside a loader is a bug and propagates as such.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import SpectrumReadError
from ..spectrum import Spectrum
from .fitsfile import (
    BACKENDS, FALLBACK_BACKEND, DamagedFitsError, FitsSource, Unsupported, open_library_source,
)
from .options import DEFAULT_OPTIONS, ReadOptions
from .structure import FileLayout, inspect_file

# The reason given for a readable file without any spectrum (a scan writes it as the file's one row).
NO_SPECTRUM = "file holds no spectrum"


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
    """Check the whole structure of ``path`` before any library sees it (:func:`.structure.inspect_file`);
    a damaged, truncated or oversized file raises ``SpectrumReadError`` with the reason.

    Returns
    -------
    bool
        True if the file is gzip-compressed.
    """
    return inspect_file(path).compressed


def backend_chain(backend: str | None, compressed: bool) -> list[str]:
    """Back-ends to try in order: the one asked for, or (``None``/``"auto"``) the direct reader for
    uncompressed files, then fitsio (astropy where fitsio is not installed)."""
    if backend not in (None, "auto"):
        if backend not in BACKENDS:
            raise ValueError(f"unknown FITS back-end {backend!r}; choose from {BACKENDS}")
        return [backend]
    return [FALLBACK_BACKEND] if compressed else ["direct", FALLBACK_BACKEND]


def open_fits(path: str | Path, backend: str = "fitsio", layout: FileLayout | None = None) -> FitsSource:
    """Open ``path`` with one back-end: ``"direct"``, ``"fitsio"`` or ``"astropy"``, after the structure
    check (``layout`` when the caller already has it).

    Raises
    ------
    SpectrumReadError
        The structure check failed, or the library could not read the file.
    Unsupported
        The direct back-end does not implement a feature of this file (try another back-end).
    """
    path = str(path)
    layout = inspect_file(path) if layout is None else layout
    if backend == "direct":
        from .direct import DirectSource

        return DirectSource(path, layout)
    try:
        return open_library_source(path, backend, len(layout.hdus))
    except DamagedFitsError as exc:
        raise SpectrumReadError(path, str(exc)) from None


def open_source(path: str | Path, backend: str | None = None) -> FitsSource:
    """Open ``path`` with one back-end (default: fitsio, else astropy) after the structure check;
    damaged files raise ``SpectrumReadError``."""
    return open_fits(path, backend or FALLBACK_BACKEND)


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
    layout = inspect_file(path)
    chain = backend_chain(backend, layout.compressed)
    for attempt, name in enumerate(chain):
        try:
            source = open_fits(path, name, layout)
        except (SpectrumReadError, Unsupported) as exc:
            if attempt == len(chain) - 1:
                raise _as_read_error(path, name, exc) from None
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
        same. When every back-end fails, the first one's reason is given (the direct reader's own
        reasons are the most specific).
    options : ReadOptions, optional
        ``--z-fg``, ``--redshifts`` and whether to fit missing foreground models.

    Raises
    ------
    SpectrumReadError
        Missing, empty, non-FITS, truncated, oversized or unrecognised file, or unusable data.
    """
    options = DEFAULT_OPTIONS if options is None else options
    spectra = _iter_any_backend(str(path), backend, options)
    if not options.fit_foreground:
        return spectra
    from ..foreground.attach import with_fitted_foreground

    return with_fitted_foreground(spectra, z_fg=options.z_fg)


def _iter_any_backend(path: str, backend: str | None, options: ReadOptions) -> Iterator[Spectrum]:
    layout = inspect_file(path)
    chain = backend_chain(backend, layout.compressed)
    first_error: SpectrumReadError | None = None
    for name in chain:
        yielded = False
        try:
            for spectrum in _iter_with(path, name, layout, options):
                yielded = True
                yield spectrum
            return
        except _LoaderVerdict as verdict:
            raise verdict.error from None
        except (SpectrumReadError, Unsupported) as exc:
            # A later back-end gets its chance unless spectra were already handed out (no duplicates).
            error = _as_read_error(path, name, exc)
            if yielded:
                raise error from None
            if first_error is None and not isinstance(exc, Unsupported):
                first_error = error
            if name == chain[-1]:
                raise (first_error or error) from None


def _as_read_error(path: str, backend: str, exc: Exception) -> SpectrumReadError:
    if isinstance(exc, SpectrumReadError):
        return exc
    return SpectrumReadError(path, f"the {backend} back-end cannot read it ({exc})")


class _LoaderVerdict(Exception):
    """A loader refused the content of a file it read (e.g. a dead fibre): the same whatever the FITS
    back-end, so no other back-end is asked to read the file again."""

    def __init__(self, error: SpectrumReadError):
        super().__init__(str(error))
        self.error = error


def _iter_with(path: str, backend: str, layout: FileLayout, options: ReadOptions) -> Iterator[Spectrum]:
    source = open_fits(path, backend, layout)
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
        except Unsupported:
            raise
        except (DamagedFitsError, ValueError) as exc:
            # A library's damage report, or the direct back-end's own (it names what is wrong).
            raise SpectrumReadError(path, f"{reader.name} file could not be read: {exc}") from None
    finally:
        try:
            source.close()
        except DamagedFitsError:
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
        raise SpectrumReadError(str(path), NO_SPECTRUM) from None
    finally:
        spectra.close()
