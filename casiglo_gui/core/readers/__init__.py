"""Spectrum readers, chosen by file content (never by name), in one registry.

``read_spectra(path)`` returns every spectrum in a file (one for a spec file, one per row for MaNGA
test-spectra tables, one per spaxel with data for a MaNGA LOGCUBE); ``read_spectrum(path)`` returns the
first; ``iter_spectra(path)`` yields them lazily; ``open_cube(path)`` gives a :class:`MangaCube` for
spaxels, apertures and the white-light map. Unreadable input raises
:class:`casiglo_gui.core.errors.SpectrumReadError` naming the file and the reason.

FITS back-end: a fast direct reader for uncompressed files, falling back to fitsio (astropy where fitsio is
not installed); ``backend=`` picks one. All give identical spectra.
"""
from .registry import (  # noqa: F401
    READERS, Reader, check_file, identify, identify_path, iter_spectra, open_fits, open_source,
    read_spectra, read_spectrum, register_reader,
)
from .fitsfile import BACKENDS, DEFAULT_BACKEND, FALLBACK_BACKEND  # noqa: F401
from . import sdss  # noqa: F401  (registers itself)
from . import desi  # noqa: F401  (registers the DESI readers)
from .manga import MangaCube, open_cube  # noqa: F401  (registers the MaNGA readers)
