"""An oracle redshift fit that knows each line's width: what an estimator at the Cramer-Rao bound reaches.

Least squares over the file's residual (flux - model, the reader's mask) with the 12 lines' pixel-integrated
profiles at the true widths and free fluxes, minimised over z on a fine grid around a starting z and
refined by a parabola. Its dz / cr_sigma_z spread checks the set's bound: ~1 when the bound is right.
"""
from __future__ import annotations

import numpy as np

from .profiles import LineSet
from .spectral_lines import REST_VACUUM_A


def fit_line_fluxes(residual: np.ndarray, ivar: np.ndarray, loglam: np.ndarray, z: float,
                    sigma_px: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted least-squares fluxes of the lines with ``sigma_px > 0`` at ``z`` (blends fitted jointly).

    Returns fluxes, their 1-sigma errors (inf for lines not fitted) and the chi^2 decrease they bring.
    """
    shapes, use = [], []
    for k, (rest, sigma) in enumerate(zip(REST_VACUUM_A, sigma_px)):
        if not sigma > 0:
            continue
        line_set = LineSet(loglam)
        line_set.add(rest * (1.0 + z), float(sigma))
        shape = line_set.flux_density(np.array([1.0]))
        if np.any(shape * ivar > 0):
            shapes.append(shape)
            use.append(k)
    flux = np.zeros(len(REST_VACUUM_A))
    error = np.full(len(REST_VACUUM_A), np.inf)
    if not use:
        return flux, error, 0.0
    weight = np.sqrt(ivar)
    a = np.array(shapes).T * weight[:, None]
    b = residual * weight
    normal = a.T @ a
    solution = np.linalg.solve(normal, a.T @ b)
    flux[use] = solution
    error[use] = np.sqrt(np.diag(np.linalg.inv(normal)))
    return flux, error, float(solution @ (a.T @ b))


def oracle_redshift(residual: np.ndarray, ivar: np.ndarray, loglam: np.ndarray, z_start: float,
                    sigma_px: np.ndarray, half_range: float, steps: int = 41) -> float:
    """The z within ``z_start +- half_range`` that explains most chi^2 with the given line widths."""
    zs = z_start + np.linspace(-half_range, half_range, steps)
    gain = np.array([fit_line_fluxes(residual, ivar, loglam, z, sigma_px)[2] for z in zs])
    best = int(np.argmax(gain))
    if 0 < best < steps - 1:
        y0, y1, y2 = gain[best - 1], gain[best], gain[best + 1]
        curvature = y0 - 2.0 * y1 + y2
        if curvature < 0:
            return float(zs[best] + 0.5 * (y0 - y2) / curvature * (zs[1] - zs[0]))
    return float(zs[best])
