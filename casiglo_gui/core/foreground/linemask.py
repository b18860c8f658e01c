"""Pixels of the foreground galaxy's own emission lines: left out of the fit when it is asked to model the
continuum alone (``fit_foreground(mask_emission=True)``), and out of the line-free pixels on which the
fitted and pipeline models are compared (:mod:`.compare`).
"""
from __future__ import annotations

import numpy as np

from .. import grid

SPEED_OF_LIGHT_KMS = 299792.458
# Vacuum rest wavelengths (Angstrom) of the emission lines a galaxy or a narrow-line AGN may show
# (SDSS/BOSS emlines.par, converted to vacuum; the 12 search lines among them).
FOREGROUND_EMISSION_A = np.array([
    1215.67, 1549.06, 1908.73, 2799.49,               # Lya, CIV, CIII], MgII
    3727.09, 3729.88, 3869.86,                         # [OII], [NeIII] (not H8/Heps: on Ca H absorption)
    4102.89, 4341.68, 4364.44, 4687.02, 4862.68,       # Hdelta, Hgamma, [OIII]4363, HeII, Hbeta
    4960.30, 5008.24, 5877.25, 6302.05, 6365.54,       # [OIII], HeI, [OI]
    6549.86, 6564.61, 6585.27, 6718.29, 6732.68,       # [NII], Halpha, [SII]
    7137.77,                                           # [ArIII]
])
# Half-width of each window: +-500 km/s holds a narrow line of sigma <= 200 km/s to its 2.5-sigma wings.
LINE_HALF_WIDTH_KMS = 500.0


def emission_line_mask(z_fg: np.ndarray, first_pixel: int, n_pixels: int,
                       half_width_kms: float = LINE_HALF_WIDTH_KMS) -> np.ndarray:
    """``(n, n_pixels)`` bool: True within ``half_width_kms`` of a line at each spectrum's ``z_fg``.

    Pixels are on the model grid's log scale starting at model-grid pixel ``first_pixel``.
    """
    z = np.atleast_1d(np.asarray(z_fg, dtype=np.float64))
    half_px = np.log10(1.0 + half_width_kms / SPEED_OF_LIGHT_KMS) / grid.DLOGLAM
    centre = ((np.log10(FOREGROUND_EMISSION_A)[None, :] + np.log10(1.0 + z)[:, None] - grid.LOGLAM0)
              / grid.DLOGLAM - first_pixel)  # (n, n_lines), fractional pixel
    lo = np.clip(np.ceil(centre - half_px), 0, n_pixels).astype(np.int64)
    hi = np.clip(np.floor(centre + half_px) + 1, 0, n_pixels).astype(np.int64)
    # +1 where a window opens, -1 where it closes; the running sum is > 0 inside any window.
    edges = np.zeros((z.size, n_pixels + 1), dtype=np.int32)
    rows = np.broadcast_to(np.arange(z.size)[:, None], lo.shape)
    np.add.at(edges, (rows, lo), 1)
    np.add.at(edges, (rows, hi), -1)
    return np.cumsum(edges[:, :n_pixels], axis=1) > 0


def without_emission(templates: np.ndarray, loglam0: float, half_width_kms: float = LINE_HALF_WIDTH_KMS) -> np.ndarray:
    """Rest-frame templates with every emission-line window replaced by a straight line between its edges.

    The eigenspectra carry an average galaxy's emission lines; with those pixels left out of the fit,
    the lines' amplitude in the model would be set by the continuum alone (seen: H-alpha and [NII] in the
    model 5-10 sigma above a real spectrum's). Without them the model is the galaxy's continuum and the
    residual holds the foreground's real emission, which the detector knows to ignore.
    """
    out = np.array(templates, dtype=np.float64, copy=True)
    n = out.shape[1]
    half_px = np.log10(1.0 + half_width_kms / SPEED_OF_LIGHT_KMS) / grid.DLOGLAM
    for centre in (np.log10(FOREGROUND_EMISSION_A) - loglam0) / grid.DLOGLAM:
        lo, hi = int(np.floor(centre - half_px)), int(np.ceil(centre + half_px))
        if lo < 0 or hi >= n:
            continue
        t = (np.arange(lo, hi + 1) - lo) / (hi - lo)
        out[:, lo:hi + 1] = out[:, [lo]] * (1.0 - t) + out[:, [hi]] * t
    return out
