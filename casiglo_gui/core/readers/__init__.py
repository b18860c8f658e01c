"""Spectrum readers, chosen by file content (never by name), in one registry.

``read_spectra(path)`` returns every spectrum in a file (one for a spec file, one per row for MaNGA
test-spectra tables); ``read_spectrum(path)`` returns exactly one. Unreadable input raises
:class:`casiglo_gui.core.errors.SpectrumReadError` naming the file and the reason.
"""
from .registry import identify, read_spectra, read_spectrum, register_reader, READERS  # noqa: F401
from . import sdss  # noqa: F401  (registers itself)
