"""Preprocessing shared by training and inference: what the model sees in training is what it sees in use.

Steps: residual = flux - foreground model; map onto the model grid by the integer pixel shift; mask bad
pixels (reader mask, ivar <= 0, non-finite) and sky-line pixels (ivar set to 0 there); remove any slow
continuum mismatch left by the foreground model (block-median high-pass); the network input is the
per-pixel significance residual x sqrt(ivar), compressed with asinh so cosmic rays stay finite.

Which sky-line pixels are masked depends on what the spectrum says about its own sky. With a ``sky``
spectrum (SDSS/BOSS files carry one), a listed sky wavelength is masked only where this spectrum's sky
line is bright enough that a ``SKY_RESIDUAL_FRACTION`` subtraction residual would reach 1 sigma of its
noise; faint listed lines stay (the fixed list alone removes 18% of the pixels at 7000-8000 A and 31% at
8000-9000 A, where [OII] of z 0.9-1.4 sources falls). Without one, the whole list is masked. The network
always sees the whole list masked (:func:`network_input`), as in training.
"""
from __future__ import annotations

import numpy as np

from . import grid
from .running import running_minimum
from .skymask import SKY_MASK_VERSION, sky_mask_on_grid, sky_windows_on_grid
from .spectrum import GriddedSpectrum, Spectrum

# Bump whenever anything below changes what the network sees; models carry it in their metadata.
PREPROCESSING_VERSION = f"casiglo-pre-1/highpass128/asinh5/{SKY_MASK_VERSION}"

HIGHPASS_BLOCK_PX = 128  # ~ 300 A at 5000 A: far wider than any emission line (sigma <= ~5 px)
ASINH_SCALE = 5.0
# Sky subtraction leaves a few percent of a sky line's flux (BOSS: ~1-3%); 3% errs on the safe side.
SKY_RESIDUAL_FRACTION = 0.03
SKY_CONTINUUM_PX = 41  # running-minimum window separating sky lines from the sky continuum


def place_on_grid(values: np.ndarray, shift: int, fill: float | bool = 0.0) -> np.ndarray:
    """Copy a native-pixel array onto the model grid at integer ``shift``; uncovered pixels get ``fill``."""
    values = np.asarray(values)
    out = np.full(grid.N_PIXELS, fill, dtype=values.dtype)
    lo = max(shift, 0)
    hi = min(shift + values.shape[0], grid.N_PIXELS)
    if hi > lo:
        out[lo:hi] = values[lo - shift: hi - shift]
    return out


def to_model_grid(spectrum: Spectrum, mask_sky: bool = True, highpass: bool = True,
                  own_sky: bool = True) -> GriddedSpectrum:
    """Map a spectrum's residual, ivar and mask onto the model grid.

    Parameters
    ----------
    spectrum : Spectrum
        As returned by a reader; must have ``grid_shift`` set.
    mask_sky : bool
        Mask the known night-sky line pixels (default True).
    own_sky : bool
        Mask only the listed sky lines that are bright in the spectrum's own ``sky`` (default True;
        False, or a spectrum without ``sky``, masks the whole list).
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
    sky = None
    if own_sky and spectrum.sky is not None:
        sky = place_on_grid(spectrum.sky.astype(np.float32), shift, np.float32(np.nan))
    residual, ivar, mask = clean(residual, ivar, mask, mask_sky=mask_sky, highpass=highpass, sky=sky)
    return GriddedSpectrum(residual=residual, ivar=ivar, mask=mask, z_fg=float(spectrum.z_fg),
                           flux=flux, model=model, wdisp=wdisp,
                           object_id=spectrum.object_id, source=spectrum.source)


def clean(residual: np.ndarray, ivar: np.ndarray, mask: np.ndarray, mask_sky: bool = True,
          highpass: bool = True, sky: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mask bad and sky pixels (ivar -> 0, residual -> 0) and high-pass the residual.

    Works on one spectrum ``(N_PIXELS,)`` or a batch ``(n, N_PIXELS)``; returns new float32 arrays.
    ``sky`` (same shape, NaN where unknown): the spectrum's own sky, which decides which listed sky
    lines are bright enough to mask (see the module docstring); None masks the whole list.
    """
    residual = np.array(residual, dtype=np.float32, copy=True)
    ivar = np.array(ivar, dtype=np.float32, copy=True)
    bad = np.asarray(mask, dtype=bool) | ~np.isfinite(residual) | ~np.isfinite(ivar) | (ivar <= 0)
    if mask_sky:
        bad = bad | (sky_mask_on_grid() if sky is None else bright_sky_mask(sky, ivar))
    residual[bad] = 0.0
    ivar[bad] = 0.0
    if highpass:
        residual -= continuum(residual, bad)
        residual[bad] = 0.0
    return residual, ivar, bad


def bright_sky_mask(sky: np.ndarray, ivar: np.ndarray) -> np.ndarray:
    """Listed sky-line pixels where this spectrum's sky line is bright against its noise (and the
    always-masked artefact windows); where the sky is unknown (NaN) the listed pixels are masked."""
    sky = np.asarray(sky, dtype=np.float32)
    known = np.isfinite(sky)
    filled = np.where(known, sky, 0.0).astype(np.float32)
    # The lower envelope is the sky continuum (lines only add); 40x cheaper than a running median and
    # it errs towards masking (noise lowers the envelope a little).
    line = filled - running_minimum(filled, SKY_CONTINUUM_PX)
    noise_sigma = np.sqrt(np.maximum(np.nan_to_num(np.asarray(ivar, np.float32), nan=0.0), 0.0))
    bright = SKY_RESIDUAL_FRACTION * line * noise_sigma > 1.0
    return sky_windows_on_grid() | (sky_mask_on_grid() & (bright | ~known))


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
    ivar = 0 and so give 0, and so does every listed sky-line pixel, whatever the spectrum's own sky
    mask kept (the network was trained on that view). Works on ``(N_PIXELS,)`` or ``(n, N_PIXELS)``; returns float32.
    """
    seen = np.maximum(np.asarray(ivar, dtype=np.float32), 0)
    if seen.shape[-1] == grid.N_PIXELS:
        seen = np.where(sky_mask_on_grid(), np.float32(0), seen)
    significance = np.asarray(residual, dtype=np.float32) * np.sqrt(seen)
    return (ASINH_SCALE * np.arcsinh(significance / ASINH_SCALE)).astype(np.float32)
