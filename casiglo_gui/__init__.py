"""CASIGLO Inspector: find strong gravitational lenses in survey spectra."""

__version__ = "0.1.0"
