"""Flux-conserving resampling of linearly sampled spectra (DESI arms) onto the model grid, ivar propagated.

Each output pixel's flux density is the overlap-weighted mean of the input pixels it covers (the integral
of the flux over the pixel divided by its width), using only good input pixels; its variance is the
overlap-weighted sum of their variances divided by the squared good overlap. An output pixel is good
when good input pixels cover at least ``MIN_GOOD_COVERAGE`` of it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import grid

if TYPE_CHECKING:
    from scipy import sparse

MIN_GOOD_COVERAGE = 0.5


def pixel_edges(centres: np.ndarray) -> np.ndarray:
    """Edges (n + 1) of pixels with the given increasing centres: midpoints, half a step beyond the ends."""
    centres = np.asarray(centres, dtype=np.float64)
    middle = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[centres[0] - (middle[0] - centres[0])], middle,
                           [centres[-1] + (centres[-1] - middle[-1])]])


def grid_edges() -> np.ndarray:
    """Wavelength edges (Angstrom) of the model grid's pixels (log-spaced)."""
    return 10.0 ** (grid.LOGLAM0 + grid.DLOGLAM * (np.arange(grid.N_PIXELS + 1) - 0.5))


def overlap_matrix(in_edges: np.ndarray, out_edges: np.ndarray) -> sparse.csr_matrix:
    """``(n_out, n_in)`` sparse matrix of overlap lengths (Angstrom) between input and output pixels."""
    # Imported here, not with the module: scipy.sparse (~0.3 s with SciPy's array-API layer) is needed only
    # for DESI files, and every reader module is imported before the inspector draws its first spectrum.
    from scipy import sparse

    lo = max(in_edges[0], out_edges[0])
    hi = min(in_edges[-1], out_edges[-1])
    n_out, n_in = out_edges.size - 1, in_edges.size - 1
    if hi <= lo:
        return sparse.csr_matrix((n_out, n_in))
    # Every edge of either grid inside the common range cuts it into segments, each inside exactly one
    # input and one output pixel.
    cuts = np.unique(np.concatenate([[lo, hi], in_edges[(in_edges > lo) & (in_edges < hi)],
                                     out_edges[(out_edges > lo) & (out_edges < hi)]]))
    middle = 0.5 * (cuts[1:] + cuts[:-1])
    i_in = np.searchsorted(in_edges, middle) - 1
    i_out = np.searchsorted(out_edges, middle) - 1
    return sparse.csr_matrix((np.diff(cuts), (i_out, i_in)), shape=(n_out, n_in))


def resample_to_grid(wavelength: np.ndarray, flux: np.ndarray, ivar: np.ndarray, good: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``(n, n_in)`` spectra sampled at ``wavelength`` onto the model grid.

    Returns
    -------
    flux, ivar : float64 arrays (n, grid.N_PIXELS)
        ivar is 0 where the output pixel is not good (outside the input range, or mostly bad input).
    """
    edges = grid_edges()
    weights = overlap_matrix(pixel_edges(wavelength), edges)
    good = np.asarray(good, dtype=bool) & (ivar > 0) & np.isfinite(flux) & np.isfinite(ivar)
    g = good.astype(np.float64)
    with np.errstate(divide="ignore"):
        variance = np.where(good, 1.0 / np.where(good, ivar, 1.0), 0.0)
    good_length = (weights @ g.T).T
    flux_sum = (weights @ np.where(good, flux, 0.0).T).T
    var_sum = (weights.multiply(weights) @ variance.T).T
    ok = good_length >= MIN_GOOD_COVERAGE * np.diff(edges)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out_flux = np.where(ok, flux_sum / good_length, 0.0)
        out_ivar = np.where(ok & (var_sum > 0), good_length ** 2 / var_sum, 0.0)
    return out_flux, out_ivar
