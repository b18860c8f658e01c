"""Foreground-galaxy model by the BOSS pipeline's recipe, vectorised over many spectra.

model = sum_k a_k T_k(lambda / (1 + z_fg)) + sum_j b_j P_j(x)

with T the SDSS galaxy eigenspectra (:mod:`.templates`) broadened to the spectrum's resolution, P_j
Legendre polynomials of order < ``N_POLY`` over the pixel range, solved by weighted linear least squares
(weights = ivar) on the good pixels, leaving out the sky lines and pixels the templates do not cover
(and, with ``mask_emission``, the foreground's own emission lines). One clipping pass then drops pixels
more than ``CLIP_SIGMA`` from the first fit (cosmic rays, sky residuals, a background galaxy's lines) and
solves again.

All spectra of one call share a pixel grid: log10(lambda_i) = grid.LOGLAM0 + grid.DLOGLAM * (first_pixel + i).
SDSS/BOSS spectra, MaNGA spaxels and resampled DESI spectra all are on it. When every spectrum has the
same redshift and broadening (the spaxels of one cube) the design matrix is built once and the normal
equations of all spectra come from two matrix products.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import grid
from ..physics.linesearch import TRIAL_SIGMAS_PX
from ..skymask import sky_mask_on_grid
from .linemask import emission_line_mask
from .templates import BROADENING_STEP_PX, TemplateBasis, galaxy_eigenspectra

N_POLY = 3  # constant, linear, quadratic: the BOSS pipeline's npoly for galaxies
# Default off, as in the BOSS pipeline: the eigenspectra carry an average galaxy's emission lines and,
# fitted over every pixel, follow the foreground's own lines. Measured on the 111 real SDSS/BOSS
# galaxies of docs/foreground.md, masking them (continuum-only model, residual = the real foreground
# emission) raised 3 strong-emission SDSS-I galaxies above the detector's 1% threshold against 1
# without; the line-free chi^2 is the same either way.
MASK_EMISSION = False
CLIP_SIGMA = 5.0
# Fewer good pixels than this and no model is fitted (the spectrum keeps model_source "none").
MIN_FIT_PIXELS = 50
# Redshifts below this are not a galaxy's (stars, bad fits): no model.
MIN_Z = -0.01
# Relative ridge on the normal equations: keeps a degenerate basis (a template cut by the mask) solvable.
RIDGE = 1e-10
# Below this chi^2 per pixel the fit is taken to be at the noise (the pipeline's own models reach 1.0-1.4
# on BOSS spectra) and no model error is added: a faint background galaxy keeps its full significance.
MODEL_ERROR_MIN_CHI2 = 1.5
# Spectra solved together: small enough that a block's design matrices (~2 MB) stay in the CPU cache,
# which matters more for speed here than the number of calls (measured: 64 per block is 2x slower).
BLOCK = 16
# Zeros around the templates so that any redshift's window is a plain slice (covers z up to ~3).
TEMPLATE_PAD = 6000
SUBPIXELS = 10
# Gaussian sigmas (model-grid pixels) on which the model's error is measured: the detector's trial line
# widths, so that its matched filters see the mismatch at the noise.
LINE_SCALES_PX = TRIAL_SIGMAS_PX


@dataclass
class ForegroundFit:
    """Result of :func:`fit_foreground` for ``n`` spectra of ``n_pixels`` each.

    Attributes
    ----------
    model : float32 array (n, n_pixels)
        The fitted foreground; NaN where the templates do not reach and for spectra not fitted.
    coefficients : float64 array (n, n_templates + N_POLY)
        Template amplitudes then polynomial coefficients (NaN when not fitted).
    fitted : bool array (n,)
        False when a spectrum had too few usable pixels or no finite redshift.
    fit_pixels : bool array (n, n_pixels)
        Pixels the final solve used.
    chi2_per_pixel : float64 array (n,)
        Sum of ivar * (flux - model)^2 over ``fit_pixels``, divided by their number.
    model_error : float64 array (n,)
        Fractional error of the model, f: the residual's variance is 1/ivar + (f * model)^2, with f the
        moment estimate sum(r^2 - 1/ivar) / sum(model^2) over ``fit_pixels``, or the larger estimate
        from the residual smoothed to a line's width (:func:`line_scale_model_error`); 0 when the fit is
        at the noise (below ``MODEL_ERROR_MIN_CHI2``). Four eigenspectra cannot follow a high-S/N
        spectrum's absorption lines to its noise (real MaNGA spaxels: chi^2 per pixel 2.7-4.6, f = 2-7%);
        without this term the detector and the network would read that mismatch as lines.
    """

    model: np.ndarray
    coefficients: np.ndarray
    fitted: np.ndarray
    fit_pixels: np.ndarray
    chi2_per_pixel: np.ndarray
    model_error: np.ndarray


def _legendre(n_pixels: int) -> np.ndarray:
    x = np.linspace(-1.0, 1.0, n_pixels)
    return np.polynomial.legendre.legvander(x, N_POLY - 1).T  # (N_POLY, n_pixels)


def _template_positions(basis: TemplateBasis, first_pixel: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer template pixel of each spectrum's pixel 0 and the fractional remainder."""
    position = basis.grid_offset + first_pixel - np.log10(1.0 + z) / grid.DLOGLAM
    start = np.floor(position)
    return start.astype(np.int64), position - start


def _solve(normal: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Batched solve of (n, k, k) c = (n, k) with a small relative ridge."""
    k = normal.shape[-1]
    scale = np.trace(normal, axis1=1, axis2=2) / k
    normal = normal + (RIDGE * np.maximum(scale, 1e-300))[:, None, None] * np.eye(k)
    return np.linalg.solve(normal, rhs[..., None])[..., 0]


def fit_foreground(flux: np.ndarray, ivar: np.ndarray, good: np.ndarray, z_fg, first_pixel: int = 0,
                   sigma_px=0.0, basis: TemplateBasis | None = None,
                   mask_emission: bool = MASK_EMISSION) -> ForegroundFit:
    """Fit the foreground model of ``n`` spectra on one pixel grid.

    Parameters
    ----------
    flux, ivar : arrays (n, n_pixels) or (n_pixels,)
        Flux density and inverse variance (any units; the model comes out in the flux's).
    good : bool array, same shape
        True = usable pixel (the reader's mask inverted).
    z_fg : float or float64 array (n,)
        Foreground redshift of each spectrum (or one for all). NaN: that spectrum is not fitted.
    first_pixel : int
        Model-grid pixel of pixel 0 (``Spectrum.grid_shift``); may be negative.
    sigma_px : float or array (n,)
        Extra Gaussian broadening of the templates, 1e-4 dex pixels (see
        :func:`.templates.sigma_from_wdisp`).
    basis : TemplateBasis, optional
        Default: the shipped SDSS galaxy eigenspectra.
    mask_emission : bool
        Leave the foreground's emission-line windows (:mod:`.linemask`) out of the fit and cut the lines
        out of the templates, so that the model is the continuum alone (see ``MASK_EMISSION``).

    Returns
    -------
    ForegroundFit
    """
    basis = galaxy_eigenspectra() if basis is None else basis
    single = np.ndim(flux) == 1
    flux = np.atleast_2d(np.asarray(flux, dtype=np.float32))
    ivar = np.atleast_2d(np.asarray(ivar, dtype=np.float32))
    good = np.atleast_2d(np.asarray(good, dtype=bool))
    n, n_pixels = flux.shape
    if ivar.shape != flux.shape or good.shape != flux.shape:
        raise ValueError(f"flux {flux.shape}, ivar {ivar.shape} and good {good.shape} differ in shape")
    z = np.broadcast_to(np.asarray(z_fg, dtype=np.float64), (n,)).copy()
    sigma = np.broadcast_to(np.asarray(sigma_px, dtype=np.float64), (n,)).copy()
    sigma = np.where(np.isfinite(sigma), np.round(sigma / BROADENING_STEP_PX) * BROADENING_STEP_PX, 0.0)
    finite_z = np.isfinite(z) & (z > MIN_Z)
    not_sky = ~_sky_pixels(first_pixel, n_pixels)

    k = basis.n_templates + N_POLY
    model = np.full((n, n_pixels), np.nan, dtype=np.float32)
    coefficients = np.full((n, k), np.nan)
    fitted = np.zeros(n, dtype=bool)
    fit_pixels = np.zeros((n, n_pixels), dtype=bool)
    chi2 = np.full(n, np.nan)
    model_error = np.full(n, np.nan)
    poly = _legendre(n_pixels)
    start, frac = _template_positions(basis, first_pixel, np.where(finite_z, z, 0.0))
    todo = np.nonzero(finite_z)[0]
    for block in range(0, todo.size, BLOCK):
        members = todo[block:block + BLOCK]
        f, iv = flux[members], ivar[members]
        with np.errstate(invalid="ignore"):
            usable = good[members] & np.isfinite(f) & (iv > 0) & not_sky
        if mask_emission:
            usable &= ~emission_line_mask(z[members], first_pixel, n_pixels)
        design, covered = _designs(basis, start[members], frac[members], sigma[members], poly, mask_emission)
        usable &= covered
        weight = np.where(usable, iv, np.float32(0))
        coef, m, used = _fit_block(design, np.where(usable, f, np.float32(0)), weight)
        n_used = used.sum(axis=1)
        ok = n_used >= MIN_FIT_PIXELS
        m[~covered] = np.nan
        rows = members[ok]
        model[rows] = m[ok]
        coefficients[rows] = coef[ok]
        fitted[rows] = True
        fit_pixels[rows] = used[ok]
        resid2 = np.where(used, f - m, np.float32(0))[ok].astype(np.float64) ** 2
        used_iv = np.where(used[ok], iv[ok], 0).astype(np.float64)
        chi2[rows] = (resid2 * used_iv).sum(axis=1) / n_used[ok]
        with np.errstate(divide="ignore"):
            noise_var = np.where(used_iv > 0, 1.0 / used_iv, 0.0)
        model_sq = np.where(used[ok], m[ok], 0).astype(np.float64) ** 2
        excess = (resid2 - noise_var).sum(axis=1)
        error = np.sqrt(np.maximum(excess, 0.0) / np.maximum(model_sq.sum(axis=1), 1e-300))
        poor = chi2[rows] > MODEL_ERROR_MIN_CHI2
        if np.any(poor):
            resid = np.where(used, f - m, np.float32(0))[ok][poor].astype(np.float64)
            error[poor] = np.maximum(error[poor], line_scale_model_error(resid, noise_var[poor], model_sq[poor]))
        model_error[rows] = np.where(poor, error, 0.0)
    if single:
        return ForegroundFit(model[0], coefficients[0], fitted[0], fit_pixels[0], chi2[0], model_error[0])
    return ForegroundFit(model, coefficients, fitted, fit_pixels, chi2, model_error)


def line_scale_model_error(resid: np.ndarray, noise_var: np.ndarray, model_sq: np.ndarray) -> np.ndarray:
    """Fractional model error f, (n,), that the residual shows on the scales of lines.

    The per-pixel moment estimate treats the model's error as independent from pixel to pixel, but a
    template mismatch in an absorption line (Ca triplet, NaD, Mgb) or a foreground emission line is
    correlated over the line's width, and the detector weighs lines with matched filters of those widths
    (``LINE_SCALES_PX``). For each width the residual is smoothed by that Gaussian g and f is the moment
    estimate on the smoothed residual s = g * r, whose expectation under the error model
    var = 1/ivar + (f model)^2 is E[s_p^2] = sum_j g_j^2 (1/ivar + f^2 model^2)_{p-j}; summed over p
    (the few pixels within a kernel of the ends aside) that is sum g^2 x sum_p (1/ivar + f^2 model^2)_p:

        f^2 = (sum_p s_p^2 / sum g^2 - sum_p 1/ivar_p) / sum_p model_p^2.

    White errors give the per-pixel value at every width; errors correlated over a line's width, up to
    sqrt(1 / sum g^2) (2.4 at sigma 1.6 px) times more. The largest over the widths is returned, so that
    every matched filter of the detector sees the mismatch at most at its noise.
    ``resid``, ``noise_var`` (1/ivar) and ``model_sq`` are 0 off the fitted pixels, (n, n_pixels).
    """
    from scipy.ndimage import correlate1d

    noise = np.asarray(noise_var, np.float64).sum(axis=1)
    power = np.maximum(np.asarray(model_sq, np.float64).sum(axis=1), 1e-300)
    resid = np.asarray(resid, np.float32)
    best = np.zeros(resid.shape[0])
    for sigma in LINE_SCALES_PX:
        half = int(np.ceil(4 * sigma))
        g = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
        g /= g.sum()
        smooth = correlate1d(resid, g.astype(np.float32), axis=1, mode="constant").astype(np.float64)
        excess = (smooth * smooth).sum(axis=1) / (g * g).sum() - noise
        best = np.maximum(best, np.sqrt(np.maximum(excess, 0.0) / power))
    return best


def _designs(basis: TemplateBasis, start: np.ndarray, frac: np.ndarray, sigma: np.ndarray,
             poly: np.ndarray, continuum_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """Design matrices ``(n, k, n_pixels)`` float32 (shifted, broadened templates then polynomials) and
    the pixels the templates cover ``(n, n_pixels)``.

    A spectrum's templates are a contiguous window of the zero-padded templates pre-shifted to the
    nearest tenth of a pixel (an error of at most 3.5 km/s), so building a design is a copy.
    """
    n, n_pixels = start.size, poly.shape[1]
    n_t = basis.n_templates
    design = np.empty((n, n_t + N_POLY, n_pixels), dtype=np.float32)
    design[:, n_t:] = poly
    pixel = np.arange(n_pixels)
    covered = (pixel[None, :] >= -start[:, None]) & (pixel[None, :] < basis.n_pixels - 1 - start[:, None])
    sub = np.rint(frac * SUBPIXELS).astype(np.int64)
    first = np.clip(start + TEMPLATE_PAD + sub // SUBPIXELS, 0, basis.n_pixels + TEMPLATE_PAD)
    sub %= SUBPIXELS
    for s in np.unique(sigma):
        rows = np.nonzero(sigma == s)[0]
        shifted = _subpixel_templates(basis, float(s), n_pixels, continuum_only)
        for row in rows:
            design[row, :n_t] = shifted[sub[row], :, first[row]:first[row] + n_pixels]
    return design, covered


def _subpixel_templates(basis: TemplateBasis, sigma: float, n_pixels: int, continuum_only: bool) -> np.ndarray:
    """``(SUBPIXELS, n_templates, length)`` float32: the broadened templates shifted by q / SUBPIXELS
    pixels (linear interpolation), with ``TEMPLATE_PAD`` zeros before and room for any window after."""
    key = (id(basis), round(sigma, 3), n_pixels, continuum_only)
    cached = _SHIFTED.get(key)
    if cached is None:
        templates = basis.broadened(sigma, continuum_only)
        padded = np.zeros((basis.n_templates, TEMPLATE_PAD + basis.n_pixels + TEMPLATE_PAD + n_pixels + 2))
        padded[:, TEMPLATE_PAD:TEMPLATE_PAD + basis.n_pixels] = templates
        q = (np.arange(SUBPIXELS) / SUBPIXELS)[:, None, None]
        cached = ((1.0 - q) * padded[None, :, :-1] + q * padded[None, :, 1:]).astype(np.float32)
        if len(_SHIFTED) >= 8:
            _SHIFTED.clear()
        _SHIFTED[key] = cached
    return cached


_SHIFTED: dict = {}


def _fit_block(design: np.ndarray, flux: np.ndarray, weight: np.ndarray):
    """Solve, clip at ``CLIP_SIGMA``, solve again; ``design`` is ``(n, k, n_pixels)``.

    The clipped pixels are few, so the second solve's normal equations are the first's minus their
    terms: no second pass over every pixel.
    """
    weighted = design * weight[:, None, :]
    normal = np.einsum("nkp,nlp->nkl", weighted, design).astype(np.float64)
    rhs = np.einsum("nkp,np->nk", weighted, flux).astype(np.float64)
    coef = _solve(normal, rhs)
    model = np.einsum("nk,nkp->np", coef.astype(np.float32), design)
    clipped = (weight > 0) & (np.abs((flux - model) * np.sqrt(weight)) > CLIP_SIGMA)
    rows, cols = np.nonzero(clipped)
    if rows.size:
        d = design[rows, :, cols].astype(np.float64)  # (m, k)
        w = weight[rows, cols].astype(np.float64)
        np.subtract.at(normal, rows, w[:, None, None] * d[:, :, None] * d[:, None, :])
        np.subtract.at(rhs, rows, (w * flux[rows, cols])[:, None] * d)
        coef = _solve(normal, rhs)
        model = np.einsum("nk,nkp->np", coef.astype(np.float32), design)
    return coef, model, (weight > 0) & ~clipped


def _sky_pixels(first_pixel: int, n_pixels: int) -> np.ndarray:
    """Sky-line pixels of a spectrum starting at model-grid pixel ``first_pixel`` (outside the grid: none)."""
    sky = sky_mask_on_grid()
    out = np.zeros(n_pixels, dtype=bool)
    lo, hi = max(first_pixel, 0), min(first_pixel + n_pixels, grid.N_PIXELS)
    if hi > lo:
        out[lo - first_pixel: hi - first_pixel] = sky[lo:hi]
    return out
