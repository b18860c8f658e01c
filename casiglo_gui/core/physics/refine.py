"""Redshift refinement: non-linear least squares of z, one common line width and the line amplitudes.

The model is a sum of pixel-integrated Gaussians (one per line on the spectrum) sharing one redshift and
one width in pixels (a velocity width: constant in pixels on the log grid). Amplitudes are free and
non-negative, so the fit does not impose line ratios. It is fitted by a bounded Levenberg-Marquardt
(:func:`bounded_levenberg_marquardt`: with about a dozen parameters numpy's small solves are ~3x faster
than scipy's general trust-region solver) on the pixels near the lines, weighted by sqrt(ivar), with an
analytic Jacobian; the redshift error comes from the covariance ``(J^T J)^-1``, scaled by chi^2/dof when
that exceeds 1 (residuals noisier than their ivar; never scaled down).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import grid
from ..lines import N_LINES
from .linesearch import REST_PIXEL, redshift_of_shift, shift_of_redshift
from .profiles import integrated_gaussian_derivatives

FIT_HALF_WINDOW_PX = 14  # pixels either side of each line used in the fit (> 4 sigma for sigma <= 3.5 px)
SIGMA_BOUNDS_PX = (0.5, 8.0)
MAX_SHIFT_PX = 3.0  # how far the fit may move from the starting redshift, pixels
DEFAULT_SIGMA_PX = 1.5


@dataclass
class RefineResult:
    """Outcome of :func:`refine_redshift`.

    Attributes
    ----------
    z_bg, z_bg_err : float
        Fitted redshift and its 1-sigma error (float64); NaN when the fit failed.
    sigma_px : float
        Common Gaussian sigma of the lines, pixels (1e-4 dex); ``sigma_a`` gives it in Angstrom per line.
    amplitude, amplitude_err, snr : float arrays (12,)
        Peak heights (1e-17 erg/s/cm^2/A), their errors and amplitude / error; NaN off the spectrum.
    sigma_a : float array (12,)
        Observed Gaussian sigma of each line in Angstrom.
    chi2 : float
        Weighted chi^2 of the fit; ``dof`` its degrees of freedom.
    success : bool
    message : str
    """

    z_bg: float
    z_bg_err: float
    sigma_px: float
    amplitude: np.ndarray = field(default_factory=lambda: np.full(N_LINES, np.nan))
    amplitude_err: np.ndarray = field(default_factory=lambda: np.full(N_LINES, np.nan))
    snr: np.ndarray = field(default_factory=lambda: np.full(N_LINES, np.nan))
    sigma_a: np.ndarray = field(default_factory=lambda: np.full(N_LINES, np.nan))
    chi2: float = float("nan")
    dof: int = 0
    success: bool = False
    message: str = ""


@dataclass
class LeastSquaresSolution:
    """Result of :func:`bounded_levenberg_marquardt` (the fields scipy's ``least_squares`` also returns)."""

    x: np.ndarray
    fun: np.ndarray
    jac: np.ndarray
    success: bool
    message: str
    nfev: int


def bounded_levenberg_marquardt(fun, jac, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                                max_iter: int = 60, rtol: float = 1e-8) -> LeastSquaresSolution:
    """Minimise ``|fun(x)|^2`` within ``lo <= x <= hi`` by Levenberg-Marquardt with an active set.

    Parameters at a bound whose gradient points outwards are held for that step (so a line amplitude
    pinned at zero does not spoil the step of the others); every trial point is clipped into the box.

    Parameters
    ----------
    fun, jac : callables
        Residual vector and its Jacobian at ``x``.
    x0, lo, hi : float arrays
        Start (inside the box) and bounds.
    max_iter : int
        Most accepted steps.
    rtol : float
        Stop when a step lowers the cost by less than this fraction.

    Returns
    -------
    LeastSquaresSolution
        ``success`` is False when the iteration limit was reached before convergence.
    """
    x = np.clip(np.asarray(x0, dtype=np.float64), lo, hi)
    f = fun(x)
    cost = float(f @ f)
    j = jac(x)
    damping = 1e-3
    nfev = 1
    for _ in range(max_iter):
        gradient = j.T @ f
        free = ~(((x <= lo) & (gradient > 0)) | ((x >= hi) & (gradient < 0)))
        if not free.any():
            return LeastSquaresSolution(x, f, j, True, "converged: every parameter held at a bound", nfev)
        normal = (j.T @ j)[np.ix_(free, free)]
        scale = np.maximum(np.diag(normal), 1e-12)
        improved = False
        while damping < 1e10:
            step = np.zeros_like(x)
            step[free] = np.linalg.solve(normal + damping * np.diag(scale), -gradient[free])
            x_new = np.clip(x + step, lo, hi)
            f_new = fun(x_new)
            nfev += 1
            cost_new = float(f_new @ f_new)
            if cost_new < cost:
                improved = True
                break
            damping *= 4.0
        if not improved:  # no step lowers the cost: at a minimum to machine precision
            return LeastSquaresSolution(x, f, j, True, "converged: no further decrease", nfev)
        gain = cost - cost_new
        x, f, cost = x_new, f_new, cost_new
        j = jac(x)
        damping = max(damping / 3.0, 1e-9)
        if gain <= rtol * max(cost, 1e-300):
            return LeastSquaresSolution(x, f, j, True, "converged: relative cost decrease below tolerance", nfev)
    return LeastSquaresSolution(x, f, j, False, "iteration limit reached", nfev)


def _fit_pixels(ivar: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Lines with usable pixels near their position at ``shift``, and the union of their windows."""
    centres = REST_PIXEL + shift
    in_range = (centres > 2) & (centres < grid.N_PIXELS - 3)
    lines = []
    pixels = np.zeros(grid.N_PIXELS, dtype=bool)
    for k in np.flatnonzero(in_range):
        lo = max(int(np.floor(centres[k])) - FIT_HALF_WINDOW_PX, 0)
        hi = min(int(np.ceil(centres[k])) + FIT_HALF_WINDOW_PX + 1, grid.N_PIXELS)
        core_lo = max(int(np.floor(centres[k] - 2)), 0)
        core_hi = min(int(np.ceil(centres[k] + 2)) + 1, grid.N_PIXELS)
        if np.any(ivar[core_lo:core_hi] > 0):
            lines.append(k)
            pixels[lo:hi] = True
    pixels &= ivar > 0
    return np.asarray(lines, dtype=np.int64), np.flatnonzero(pixels)


def refine_redshift(residual: np.ndarray, ivar: np.ndarray, z_start: float, wdisp: np.ndarray | None = None,
                    sigma_start_px: float | None = None, max_shift_px: float = MAX_SHIFT_PX) -> RefineResult:
    """Fit z, a common width and the line amplitudes around a starting redshift.

    Parameters
    ----------
    residual, ivar : float arrays (N_PIXELS,)
        Cleaned model-grid residual and inverse variance (ivar = 0 on masked pixels).
    z_start : float
        Starting background redshift.
    wdisp : float array (N_PIXELS,), optional
        Instrumental dispersion in pixels; when given, the width may not go below 0.8 x its median
        near the lines (a real line is never narrower than the resolution).
    sigma_start_px : float, optional
        Starting width (pixels); default 1.5 px, or the instrumental width when larger.
    max_shift_px : float
        The fit stays within this many pixels of the starting redshift.

    Returns
    -------
    RefineResult
        ``success`` is False (and z_bg NaN) when no line falls on usable pixels or the fit fails.
    """
    r = np.asarray(residual, dtype=np.float64)
    w = np.asarray(ivar, dtype=np.float64)
    z_start = float(z_start)
    if not np.isfinite(z_start) or z_start <= -1:
        return RefineResult(np.nan, np.nan, np.nan, message="starting redshift is not finite")
    s0 = float(shift_of_redshift(z_start))
    lines, pix = _fit_pixels(w, s0)
    if lines.size == 0 or pix.size <= lines.size + 2:
        return RefineResult(np.nan, np.nan, np.nan, message="no line on usable pixels")
    sigma_lo = SIGMA_BOUNDS_PX[0]
    if wdisp is not None:
        wd = np.asarray(wdisp, dtype=np.float64)[pix]
        wd = wd[np.isfinite(wd) & (wd > 0)]
        if wd.size:
            sigma_lo = max(sigma_lo, 0.8 * float(np.median(wd)))
    sigma0 = float(sigma_start_px) if sigma_start_px else max(DEFAULT_SIGMA_PX, sigma_lo * 1.1)
    sigma0 = float(np.clip(sigma0, sigma_lo * 1.01, SIGMA_BOUNDS_PX[1] * 0.99))
    x = pix.astype(np.float64)
    sw = np.sqrt(w[pix])
    data = r[pix] * sw
    rest = REST_PIXEL[lines]
    m = lines.size
    # (line, pixel) pairs within each line's window: the model is sparse, evaluate only these.
    pair_line, pair_pix = [], []
    for i, k in enumerate(lines):
        near = np.flatnonzero(np.abs(x - (REST_PIXEL[k] + s0)) <= FIT_HALF_WINDOW_PX + max_shift_px)
        pair_line.append(np.full(near.size, i))
        pair_pix.append(near)
    pair_line = np.concatenate(pair_line)
    pair_pix = np.concatenate(pair_pix)
    pair_x = x[pair_pix]
    pair_rest = rest[pair_line]
    pair_sw = sw[pair_pix]
    cache: dict = {}

    def profiles(params):
        key = (float(params[0]), float(params[1]))
        if cache.get("key") != key:
            cache["key"] = key
            cache["val"] = integrated_gaussian_derivatives(pair_x - (pair_rest + key[0]), key[1])
        return cache["val"]

    def fun(params):
        g, _, _ = profiles(params)
        model = np.bincount(pair_pix, weights=params[2:][pair_line] * g, minlength=x.size)
        return model * sw - data

    def jac(params):
        g, dc, ds = profiles(params)
        a = params[2:][pair_line]
        j = np.zeros((x.size, m + 2))
        j[:, 0] = np.bincount(pair_pix, weights=a * dc, minlength=x.size) * sw
        j[:, 1] = np.bincount(pair_pix, weights=a * ds, minlength=x.size) * sw
        j[pair_pix, 2 + pair_line] = g * pair_sw
        return j

    # Linear amplitudes at the start as the initial guess (non-negative).
    design = jac(np.r_[s0, sigma0, np.zeros(m)])[:, 2:]
    a0, *_ = np.linalg.lstsq(design, data, rcond=None)
    a0 = np.maximum(a0, 0.0)
    lo = np.r_[s0 - max_shift_px, sigma_lo, np.zeros(m)]
    hi = np.r_[s0 + max_shift_px, SIGMA_BOUNDS_PX[1], np.full(m, np.inf)]
    x0 = np.clip(np.r_[s0, sigma0, a0], lo, hi)
    try:
        sol = bounded_levenberg_marquardt(fun, jac, x0, lo, hi)
    except np.linalg.LinAlgError as exc:
        return RefineResult(np.nan, np.nan, np.nan, message=f"fit failed: {exc}")
    jtj = sol.jac.T @ sol.jac
    try:
        cov = np.linalg.pinv(jtj)
    except np.linalg.LinAlgError:
        cov = np.full_like(jtj, np.nan)
    chi2 = float(np.sum(sol.fun ** 2))
    dof = int(x.size - m - 2)
    # Real residuals often scatter more than their ivar says; never let that shrink the errors.
    if dof > 0 and chi2 > dof:
        cov = cov * (chi2 / dof)
    s_fit, sig_fit = float(sol.x[0]), float(sol.x[1])
    z_fit = float(redshift_of_shift(s_fit))
    s_err = float(np.sqrt(cov[0, 0])) if cov[0, 0] > 0 else np.nan
    z_err = (1.0 + z_fit) * grid.LN10 * grid.DLOGLAM * s_err
    amp = np.full(N_LINES, np.nan)
    amp_err = np.full(N_LINES, np.nan)
    amp[lines] = sol.x[2:]
    diag = np.diag(cov)[2:]
    amp_err[lines] = np.sqrt(np.where(diag > 0, diag, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = amp / amp_err
    centres_a = 10.0 ** (grid.LOGLAM0 + grid.DLOGLAM * (REST_PIXEL + s_fit))
    sigma_a = np.full(N_LINES, np.nan)
    sigma_a[lines] = centres_a[lines] * grid.LN10 * grid.DLOGLAM * sig_fit
    return RefineResult(z_bg=z_fit, z_bg_err=float(z_err), sigma_px=sig_fit, amplitude=amp,
                        amplitude_err=amp_err, snr=snr, sigma_a=sigma_a, chi2=chi2,
                        dof=dof, success=bool(sol.success and np.isfinite(s_err)),
                        message=str(sol.message))
