"""Preprocessing shared by training and inference: what the model sees in training is what it sees in use.

Steps: residual = flux - foreground model; map onto the model grid by the integer pixel shift; mask bad
pixels (reader mask, ivar <= 0, non-finite) and sky-line pixels (ivar set to 0 there); remove any slow
continuum mismatch left by the foreground model (block-median high-pass); the network input is the
per-pixel significance residual x sqrt(ivar), compressed with asinh so cosmic rays stay finite.
"""
from __future__ import annotations

import numpy as np

from . import grid
from .skymask import SKY_MASK_VERSION, sky_mask_on_grid
from .spectrum import GriddedSpectrum, Spectrum

# Bump whenever anything below changes what the network sees; models carry it in their metadata.
PREPROCESSING_VERSION = f"casiglo-pre-1/highpass128/asinh5/{SKY_MASK_VERSION}"

HIGHPASS_BLOCK_PX = 128  # ~ 300 A at 5000 A: far wider than any emission line (sigma <= ~5 px)
ASINH_SCALE = 5.0


def place_on_grid(values: np.ndarray, shift: int, fill: float | bool = 0.0) -> np.ndarray:
    """Copy a native-pixel array onto the model grid at integer ``shift``; uncovered pixels get ``fill``."""
    values = np.asarray(values)
    out = np.full(grid.N_PIXELS, fill, dtype=values.dtype)
    lo = max(shift, 0)
    hi = min(shift + values.shape[0], grid.N_PIXELS)
    if hi > lo:
        out[lo:hi] = values[lo - shift: hi - shift]
    return out


def to_model_grid(spectrum: Spectrum, mask_sky: bool = True, highpass: bool = True) -> GriddedSpectrum:
    """Map a spectrum's residual, ivar and mask onto the model grid.

    Parameters
    ----------
    spectrum : Spectrum
        As returned by a reader; must have ``grid_shift`` set.
    mask_sky : bool
        Mask the known night-sky line pixels (default True).
    highpass : bool
        Subtract the block-median continuum of the residual (default True).

    Returns
    -------
    GriddedSpectrum
        With ivar = 0 on every masked pixel.
    """
    if spectrum.grid_shift is None:
        raise ValueError(f"{spectrum.source}: spectrum is not on the model grid")
    shift = spectrum.grid_shift
    residual = place_on_grid(spectrum.residual.astype(np.float32), shift, np.float32(0))
    ivar = place_on_grid(spectrum.residual_ivar.astype(np.float32), shift, np.float32(0))
    mask = place_on_grid(spectrum.mask.astype(bool), shift, True)
    flux = place_on_grid(spectrum.flux.astype(np.float32), shift, np.float32(np.nan))
    model = None
    if spectrum.model is not None:
        model = place_on_grid(spectrum.model.astype(np.float32), shift, np.float32(np.nan))
    wdisp = None
    if spectrum.wdisp is not None:
        wdisp = place_on_grid(spectrum.wdisp.astype(np.float32), shift, np.float32(0))
    residual, ivar, mask = clean(residual, ivar, mask, mask_sky=mask_sky, highpass=highpass)
    return GriddedSpectrum(residual=residual, ivar=ivar, mask=mask, z_fg=float(spectrum.z_fg),
                           flux=flux, model=model, wdisp=wdisp,
                           object_id=spectrum.object_id, source=spectrum.source)


def clean(residual: np.ndarray, ivar: np.ndarray, mask: np.ndarray, mask_sky: bool = True,
          highpass: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mask bad and sky pixels (ivar -> 0, residual -> 0) and high-pass the residual.

    Works on one spectrum ``(N_PIXELS,)`` or a batch ``(n, N_PIXELS)``; returns new float32 arrays.
    """
    residual = np.array(residual, dtype=np.float32, copy=True)
    ivar = np.array(ivar, dtype=np.float32, copy=True)
    bad = np.asarray(mask, dtype=bool) | ~np.isfinite(residual) | ~np.isfinite(ivar) | (ivar <= 0)
    if mask_sky:
        bad = bad | sky_mask_on_grid()
    residual[bad] = 0.0
    ivar[bad] = 0.0
    if highpass:
        residual -= continuum(residual, bad)
        residual[bad] = 0.0
    return residual, ivar, bad


def continuum(residual: np.ndarray, bad: np.ndarray, block: int = HIGHPASS_BLOCK_PX) -> np.ndarray:
    """Slow continuum of a residual: median of good pixels in blocks, linearly interpolated.

    Vectorised over a leading batch axis. Blocks with fewer than a quarter of their pixels good get the
    neighbouring blocks' value through the interpolation.
    """
    r = np.asarray(residual, dtype=np.float32)
    squeeze = r.ndim == 1
    r2 = np.atleast_2d(r)
    b2 = np.atleast_2d(bad)
    n, npix = r2.shape
    nblock = -(-npix // block)
    padded = np.full((n, nblock * block), np.nan, dtype=np.float32)
    padded[:, :npix] = np.where(b2, np.nan, r2)
    blocks = padded.reshape(n, nblock, block)
    n_good = np.sum(np.isfinite(blocks), axis=2)
    enough = n_good >= block // 4
    # Sorting puts NaNs last, so the median of the k good values is the mean of two order statistics.
    blocks_sorted = np.sort(blocks, axis=2)
    k = np.maximum(n_good, 1)
    lo_idx = ((k - 1) // 2)[..., None]
    hi_idx = (k // 2)[..., None]
    med = 0.5 * (np.take_along_axis(blocks_sorted, lo_idx, 2) + np.take_along_axis(blocks_sorted, hi_idx, 2))[..., 0]
    centres = (np.arange(nblock) + 0.5) * block - 0.5
    x = np.arange(npix, dtype=np.float32)
    out = np.zeros((n, npix), dtype=np.float32)
    for i in range(n):
        ok = enough[i]
        if ok.sum() >= 2:
            out[i] = np.interp(x, centres[ok], med[i, ok])
        elif ok.sum() == 1:
            out[i] = med[i, ok][0]
    return out[0] if squeeze else out


def network_input(residual: np.ndarray, ivar: np.ndarray) -> np.ndarray:
    """The CNN's spectral input: per-pixel significance residual x sqrt(ivar), asinh-compressed.

    ``residual`` and ``ivar`` are cleaned model-grid arrays (see :func:`clean`); masked pixels have
    ivar = 0 and so give 0. Works on ``(N_PIXELS,)`` or ``(n, N_PIXELS)``; returns float32.
    """
    significance = np.asarray(residual, dtype=np.float32) * np.sqrt(np.maximum(ivar, 0).astype(np.float32))
    return (ASINH_SCALE * np.arcsinh(significance / ASINH_SCALE)).astype(np.float32)
