"""Pixel-integrated Gaussian line profiles on the log-lambda grid.

On the 1e-4 dex grid a line of constant velocity width has a constant width in pixels, and a redshift
is a translation, so one profile shape serves every line at every redshift. Profiles are integrated
over each pixel (not point-sampled) so that narrow lines (sigma ~ 1 px) keep the right shape and flux.
Amplitudes are peak heights in the residual's flux unit (1e-17 erg/s/cm^2/A).
"""
from __future__ import annotations

import numpy as np

SQRT2 = np.sqrt(2.0)
SQRT2PI = np.sqrt(2.0 * np.pi)


def erf(x):
    """``scipy.special.erf``, imported at first use: importing ``scipy.special`` costs ~0.15 s, which the
    inspector's launch would otherwise pay before its first drawn spectrum."""
    from scipy.special import erf as scipy_erf

    return scipy_erf(x)


def integrated_gaussian(offset_px: np.ndarray, sigma_px: float | np.ndarray) -> np.ndarray:
    """Pixel-integrated Gaussian with unit peak height (for sigma >> 1 px).

    Parameters
    ----------
    offset_px : array
        Pixel centre minus line centre, in pixels.
    sigma_px : float or array
        Gaussian sigma in pixels (broadcast against ``offset_px``).

    Returns
    -------
    array
        ``sigma * sqrt(2 pi) * (Phi((x + 0.5) / sigma) - Phi((x - 0.5) / sigma))``.
    """
    x = np.asarray(offset_px, dtype=np.float64)
    s = np.asarray(sigma_px, dtype=np.float64)
    hi = (x + 0.5) / (SQRT2 * s)
    lo = (x - 0.5) / (SQRT2 * s)
    return 0.5 * SQRT2PI * s * (erf(hi) - erf(lo))


def integrated_gaussian_derivatives(offset_px: np.ndarray, sigma_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Profile and its derivatives with respect to the line centre and sigma.

    Returns
    -------
    profile, d_profile_d_centre, d_profile_d_sigma : arrays
    """
    x = np.asarray(offset_px, dtype=np.float64)
    s = float(sigma_px)
    u_hi = (x + 0.5) / s
    u_lo = (x - 0.5) / s
    phi_hi = np.exp(-0.5 * u_hi * u_hi) / SQRT2PI
    phi_lo = np.exp(-0.5 * u_lo * u_lo) / SQRT2PI
    profile = 0.5 * SQRT2PI * s * (erf(u_hi / SQRT2) - erf(u_lo / SQRT2))
    # Moving the centre right is moving the pixel left: d/dc = -d/dx.
    d_centre = SQRT2PI * (phi_lo - phi_hi)
    d_sigma = profile / s + SQRT2PI * (u_lo * phi_lo - u_hi * phi_hi)
    return profile, d_centre, d_sigma
