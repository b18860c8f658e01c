"""One registry of readers. Each reader is a cheap identifier (looks at headers) plus a loader."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from astropy.io import fits

from ..errors import SpectrumReadError
from ..spectrum import Spectrum


@dataclass(frozen=True)
class Reader:
    name: str
    identify: Callable[[fits.HDUList], bool]
    load: Callable[[fits.HDUList, str], list[Spectrum]]
    priority: int = 0


READERS: list[Reader] = []


def register_reader(name: str, identify: Callable[[fits.HDUList], bool], priority: int = 0):
    """Decorator registering ``load(hdul, path) -> list[Spectrum]`` under ``name``."""

    def decorate(load):
        READERS.append(Reader(name, identify, load, priority))
        READERS.sort(key=lambda r: -r.priority)
        return load

    return decorate


def _open(path: str | Path) -> fits.HDUList:
    path = str(path)
    if not os.path.exists(path):
        raise SpectrumReadError(path, "file not found")
    if os.path.isdir(path):
        raise SpectrumReadError(path, "is a folder, not a file")
    if os.path.getsize(path) == 0:
        raise SpectrumReadError(path, "file is empty")
    try:
        hdul = fits.open(path, memmap=False, lazy_load_hdus=False)
    except (OSError, ValueError, TypeError, IndexError, KeyError, EOFError) as exc:
        raise SpectrumReadError(path, f"not a readable FITS file ({exc})") from None
    return hdul


def identify(hdul: fits.HDUList) -> Reader | None:
    """The highest-priority reader whose identifier accepts ``hdul``; identifiers that raise count as no."""
    for reader in READERS:
        try:
            if reader.identify(hdul):
                return reader
        except Exception:  # an identifier must never decide by crashing
            continue
    return None


def read_spectra(path: str | Path) -> list[Spectrum]:
    """Read every spectrum in ``path``.

    Raises
    ------
    SpectrumReadError
        For a missing, empty, non-FITS, truncated or unrecognised file, or unusable data.
    """
    path = str(path)
    with _open(path) as hdul:
        reader = identify(hdul)
        if reader is None:
            names = [h.name for h in hdul]
            raise SpectrumReadError(path, f"not a recognised spectrum file (HDUs: {', '.join(names)})")
        try:
            return reader.load(hdul, path)
        except SpectrumReadError:
            raise
        except (OSError, ValueError, TypeError, IndexError, KeyError, EOFError) as exc:
            raise SpectrumReadError(path, f"{reader.name} file could not be read ({exc})") from None


def read_spectrum(path: str | Path) -> Spectrum:
    """Read the single spectrum in ``path`` (the first one for multi-spectrum files)."""
    return read_spectra(path)[0]
