"""The model wavelength grid: the MaNGA LOGCUBE grid, log10(lambda) = 3.5589 + 1e-4 * i, i = 0..4562.

SDSS-I/II and BOSS/eBOSS spectra share the 1e-4 dex step, so they map onto this grid by an integer
pixel shift; pixels a spectrum does not cover are masked.
"""
from __future__ import annotations

import numpy as np

LOGLAM0 = 3.5589
DLOGLAM = 1e-4
N_PIXELS = 4563
# A spectrum whose first pixel is further than this (in pixels) from a grid pixel is not on the grid.
MAX_SHIFT_RESIDUAL_PX = 0.05

LOGLAM: np.ndarray = LOGLAM0 + DLOGLAM * np.arange(N_PIXELS, dtype=np.float64)
LOGLAM.setflags(write=False)
WAVELENGTH_A: np.ndarray = 10.0 ** LOGLAM
WAVELENGTH_A.setflags(write=False)

LN10 = np.log(10.0)
# Velocity width of one pixel: c * ln(10) * dloglam (km/s), ~69 km/s.
PIXEL_KMS = 299792.458 * LN10 * DLOGLAM


class OffGridError(ValueError):
    """The spectrum's wavelengths are not on the 1e-4 dex log grid."""


def pixel_shift(first_loglam: float) -> int:
    """Integer offset of a spectrum's first pixel on the model grid.

    Parameters
    ----------
    first_loglam : float
        log10 of the first pixel's vacuum wavelength (Angstrom).

    Returns
    -------
    int
        ``i`` such that the spectrum's pixel 0 sits at model-grid pixel ``i`` (may be negative).

    Raises
    ------
    OffGridError
        If the first pixel is not within ``MAX_SHIFT_RESIDUAL_PX`` of a grid pixel.
    """
    exact = (float(first_loglam) - LOGLAM0) / DLOGLAM
    shift = int(np.rint(exact))
    if abs(exact - shift) > MAX_SHIFT_RESIDUAL_PX:
        raise OffGridError(
            f"first pixel log10(lambda)={first_loglam:.6f} is {exact - shift:+.3f} px off the model grid"
        )
    return shift


def pixel_of_wavelength(wavelength_a: np.ndarray | float) -> np.ndarray:
    """Fractional model-grid pixel index of vacuum wavelength(s) in Angstrom."""
    return (np.log10(np.asarray(wavelength_a, dtype=np.float64)) - LOGLAM0) / DLOGLAM


def pixel_of_redshift_offset(z: float, z_ref: float = 0.0) -> float:
    """Shift in pixels of a line observed at redshift ``z`` relative to ``z_ref`` (log grid: a translation)."""
    return float(np.log10((1.0 + np.float64(z)) / (1.0 + np.float64(z_ref))) / DLOGLAM)
