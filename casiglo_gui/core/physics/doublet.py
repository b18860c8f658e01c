"""The [OII] doublet's shape as evidence: two components 3.25 px apart versus one Gaussian.

[OII] 3727/3730 alone is the commonest signature of a distant background galaxy, and one Gaussian line
(an impostor) can be read as it. What tells them apart is the doublet's two-peaked (or flat-topped)
profile. Both models are fitted by weighted linear least squares directly on the pixels around the
candidate, over a grid of widths and sub-pixel centres, so neither gains from a coarse width grid:

- one Gaussian: sigma 0.8-5.0 px (wide enough to cover a blended doublet), centre within +-3 px
  (everywhere a doublet component can reach);
- the doublet: sigma 0.8-4.7 px, two amplitudes at the exact separation whose ratio 3730/3727 stays
  within the physical range ``OII_RATIO_RANGE`` (0.35-1.5: the low- and high-density limits, with
  margin), so a lone Gaussian cannot be fitted as a "doublet" with one component switched off.

The doublet's chi^2 gain over the best single Gaussian is the shape evidence (one extra amplitude, so
pure noise gives ~chi^2 with one degree of freedom). It is negative where one Gaussian explains the
line better than any physical doublet: at high SNR, evidence that the line is not [OII].
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import grid
from ..lines import LINE_INDEX
from .linesearch import OII_SEPARATION_PX, REST_PIXEL
from .profiles import integrated_gaussian

HALF_WINDOW_PX = 14  # > 3 sigma beyond each component of the broadest doublet
OII_RATIO_RANGE = (0.35, 1.5)  # [OII] 3730/3727 flux ratio (amplitude ratio at a common width)
# Component widths up to 4.7 px: a 300 km/s source (4.3 px on the 69 km/s grid) with the instrument's
# ~1.1 px. The single Gaussian reaches further, to what such a doublet blends into (sqrt(4.7^2 + 1.6^2)).
SINGLE_SIGMAS_PX = np.arange(0.8, 5.06, 0.15)
DOUBLET_SIGMAS_PX = np.arange(0.8, 4.76, 0.15)
CENTRE_OFFSETS_PX = np.arange(-1.25, 1.26, 0.125)
# The single line may sit wherever either doublet component can (centre offset +- half the separation),
# or a line beside the candidate would count for the doublet and not for the single Gaussian.
SINGLE_OFFSETS_PX = np.arange(-3.0, 3.01, 0.125)


@lru_cache(maxsize=1)
def _templates():
    """Single and doublet-component templates on the window, for every (sigma, centre-offset) pair."""
    x = np.arange(-HALF_WINDOW_PX, HALF_WINDOW_PX + 1, dtype=np.float64)
    s, c = np.meshgrid(SINGLE_SIGMAS_PX, SINGLE_OFFSETS_PX, indexing="ij")
    single = integrated_gaussian(x[None, :] - c.reshape(-1, 1), s.reshape(-1, 1))
    s, c = np.meshgrid(DOUBLET_SIGMAS_PX, CENTRE_OFFSETS_PX, indexing="ij")
    half = OII_SEPARATION_PX / 2
    blue = integrated_gaussian(x[None, :] - (c.reshape(-1, 1) - half), s.reshape(-1, 1))
    red = integrated_gaussian(x[None, :] - (c.reshape(-1, 1) + half), s.reshape(-1, 1))
    return single.astype(np.float32), blue.astype(np.float32), red.astype(np.float32)


def doublet_gains(residual: np.ndarray, ivar: np.ndarray, rows: np.ndarray, shift_px: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Best chi^2 gains of the doublet and of one Gaussian around [OII] at given shifts.

    Parameters
    ----------
    residual, ivar : float32 (n, N_PIXELS)
    rows : int array (m,)
        Spectrum of each candidate.
    shift_px : float array (m,)
        Candidate shifts (pixels) of the line pattern.

    Returns
    -------
    doublet, single : float32 (m,)
    """
    centre = (REST_PIXEL[LINE_INDEX["oii_3727"]] + REST_PIXEL[LINE_INDEX["oii_3730"]]) / 2 + shift_px
    base = np.rint(centre).astype(np.int64)
    pos = base[:, None] + np.arange(-HALF_WINDOW_PX, HALF_WINDOW_PX + 1)
    inside = (pos >= 0) & (pos < grid.N_PIXELS)
    pc = np.clip(pos, 0, grid.N_PIXELS - 1)
    w = np.where(inside, ivar[rows[:, None], pc], 0.0).astype(np.float32)
    wr = w * np.where(inside, residual[rows[:, None], pc], 0.0).astype(np.float32)
    # Templates are centred on the window's middle pixel; the candidate's own sub-pixel centre is
    # covered by the centre-offset grid (+-1.25 px > the 0.5 px rounding).
    single, blue, red = _templates()
    a = wr @ single.T
    b = w @ (single * single).T
    with np.errstate(divide="ignore", invalid="ignore"):
        g1 = np.where(b > 0, np.maximum(a, 0.0) ** 2 / np.where(b > 0, b, 1.0), 0.0).max(axis=1)
    f1 = wr @ blue.T
    f2 = wr @ red.T
    n11 = w @ (blue * blue).T
    n22 = w @ (red * red).T
    n12 = w @ (blue * red).T
    det = n11 * n22 - n12 * n12
    lo, hi = OII_RATIO_RANGE
    with np.errstate(divide="ignore", invalid="ignore"):
        a1 = (n22 * f1 - n12 * f2) / det
        a2 = (n11 * f2 - n12 * f1) / det
        inside = (det > 1e-12 * n11 * n22) & (a1 > 0) & (a2 >= lo * a1) & (a2 <= hi * a1)
        two = np.where(inside, a1 * f1 + a2 * f2, 0.0)
        # Outside the physical ratio range the best fit lies on its boundary: one template blue + r red.
        for r in (lo, hi):
            num = np.maximum(f1 + r * f2, 0.0)
            den = n11 + 2 * r * n12 + r * r * n22
            two = np.maximum(two, np.where(den > 0, num * num / np.where(den > 0, den, 1.0), 0.0))
    g2 = two.max(axis=1)
    return g2.astype(np.float32), g1.astype(np.float32)
