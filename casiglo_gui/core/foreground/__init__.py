"""A foreground-galaxy model for spectra that come without one (MaNGA cubes without a DAP model, DESI).

``fit_foreground`` (vectorised least squares on the SDSS galaxy eigenspectra + a polynomial) and
``attach_foreground`` (puts a fitted model into :class:`~casiglo_gui.core.spectrum.Spectrum` objects,
recording ``model_source = "fitted"``). See docs/foreground.md.
"""
from .fit import N_POLY, ForegroundFit, fit_foreground  # noqa: F401
from .templates import galaxy_eigenspectra, sigma_from_wdisp  # noqa: F401
