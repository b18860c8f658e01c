"""Non-lens features added to backgrounds: the hard negatives a lens finder must reject.

All functions act in place on rows ``rows`` of batch arrays ``residual`` and ``ivar`` (n, N_PIXELS).
Amplitudes are set in units of the local noise so that they stay meaningful at any noise level.
"""
from __future__ import annotations

import numpy as np

from casiglo_gui.core import grid
from casiglo_gui.core.skymask import sky_line_wavelengths, sky_mask_on_grid

from . import profiles

# Vacuum wavelengths of strong stellar absorption features whose mismatch leaves residuals in
# flux - model: Ca K, Ca H, H delta, G band, H gamma, H beta, Mg b, Fe 5270, Na D, H alpha.
STELLAR_FEATURES_A = np.array([3934.78, 3969.59, 4102.89, 4305.6, 4341.68, 4862.68,
                               5176.7, 5270.4, 5894.6, 6564.61])
MISMATCH_HALF_WIDTH_PX = 30


def median_positive(values: np.ndarray) -> np.ndarray:
    """Median of the positive entries of each row; 1 for rows with none."""
    values = np.asarray(values, dtype=np.float64)
    has = np.any(values > 0, axis=1)
    med = np.ones(values.shape[0])
    if has.any():
        med[has] = np.nanmedian(np.where(values[has] > 0, values[has], np.nan), axis=1)
    return med


def _noise_sigma(ivar_rows: np.ndarray) -> np.ndarray:
    """Typical noise sigma of each row: 1/sqrt(median positive ivar)."""
    return 1.0 / np.sqrt(median_positive(ivar_rows))


def random_good_pixels(rng: np.random.Generator, ivar: np.ndarray, rows: np.ndarray, tries: int = 8) -> np.ndarray:
    """One random pixel per row with ivar > 0 outside the sky mask (the first good one of ``tries``
    uniform candidates), so that preprocessing does not mask it away."""
    cand = rng.integers(0, grid.N_PIXELS, (rows.size, tries))
    good = (ivar[rows[:, None], cand] > 0) & ~sky_mask_on_grid()[cand]
    first = np.argmax(good, axis=1)
    return cand[np.arange(rows.size), first]


def add_cosmic_rays(rng, residual, ivar, rows, per_row=(1, 3), significance=(8.0, 60.0)) -> None:
    """1-3 spikes per row, each 1 or 2 pixels wide, at random good pixels, ``significance`` sigma high."""
    rows = np.asarray(rows)
    if rows.size == 0:
        return
    counts = rng.integers(per_row[0], per_row[1] + 1, rows.size)
    r = np.repeat(rows, counts)
    pix = random_good_pixels(rng, ivar, r)
    amp = rng.uniform(*significance, r.size) / np.sqrt(np.maximum(ivar[r, pix], 1e-30))
    residual[r, pix] += amp.astype(np.float32)
    wide = rng.random(r.size) < 0.4
    nxt = np.clip(pix + 1, 0, grid.N_PIXELS - 1)
    ok = wide & (ivar[r, nxt] > 0)
    residual[r[ok], nxt[ok]] += (amp[ok] * rng.uniform(0.2, 0.8, ok.sum())).astype(np.float32)


def _sky_residual_shapes(centre, offset, sigma, shape):
    pixels, _ = profiles.stamps(centre + offset, sigma)
    lo, hi = profiles.pixel_edges_a(pixels)
    u = (0.5 * (lo + hi) - (centre + offset)[:, None]) / sigma[:, None]
    gauss = np.exp(-0.5 * u * u)
    # shape 1: derivative of a Gaussian scaled to unit peak, as left by a wavelength-calibration shift
    return pixels, np.where((shape == 1)[:, None], -u * np.exp(0.5) * gauss, gauss)


def add_sky_residuals(rng, residual, ivar, rows, per_row=(1, 4), significance=(4.0, 15.0)) -> None:
    """Imperfect sky subtraction near listed night-sky lines, not fully covered by the sky mask.

    Four shapes: centred on a random listed sky wavelength, a line offset by 0.9-2.5 A (just outside the
    +-0.8 A mask), a P-Cygni-like derivative of a Gaussian (wavelength-calibration error) or a broad
    Gaussian whose wings pass the mask; or a narrow line at a random red wavelength (6800-10300 A, the
    OH-band region), standing for a sky line missing from the list. The part left on unmasked pixels peaks at ``significance`` x the
    local noise; the ivar within 3 px is lowered by 20-70% but not to zero, as when the pipeline
    underestimates the sky noise. Centres whose residual would be entirely masked are redrawn.
    """
    rows = np.asarray(rows)
    if rows.size == 0:
        return
    sky = sky_line_wavelengths()
    sky = sky[(sky > grid.WAVELENGTH_A[0] + 20) & (sky < grid.WAVELENGTH_A[-1] - 20)]
    counts = rng.integers(per_row[0], per_row[1] + 1, rows.size)
    r = np.repeat(rows, counts)
    m = r.size
    shape = rng.integers(0, 4, m)
    sigma = np.where(shape == 2, rng.uniform(1.8, 3.0, m), rng.uniform(0.8, 1.6, m))
    unlisted = shape == 3
    centre = np.where(unlisted, rng.uniform(6800.0, 10300.0, m), sky[rng.integers(0, sky.size, m)])
    offset = np.where(shape == 0, rng.choice([-1.0, 1.0], m) * rng.uniform(0.9, 2.5, m), 0.0)
    sky_mask = sky_mask_on_grid()
    for _ in range(6):
        pixels, values = _sky_residual_shapes(centre, offset, sigma, shape)
        on = (pixels >= 0) & (pixels < grid.N_PIXELS)
        safe = np.clip(pixels, 0, grid.N_PIXELS - 1)
        usable = on & ~sky_mask[safe] & (ivar[r[:, None], safe] > 0)
        visible_peak = np.max(np.abs(values) * usable, axis=1)
        hidden = visible_peak < 0.2
        if not hidden.any():
            break
        centre[hidden & ~unlisted] = sky[rng.integers(0, sky.size, int((hidden & ~unlisted).sum()))]
        centre[hidden & unlisted] = rng.uniform(6800.0, 10300.0, int((hidden & unlisted).sum()))
    keep = visible_peak >= 0.2
    r, pixels, values, on, safe, usable = r[keep], pixels[keep], values[keep], on[keep], safe[keep], usable[keep]
    visible_peak = visible_peak[keep]
    m = r.size
    local_ivar = np.where(on, ivar[r[:, None], safe], 0.0)
    centre_px = pixels[:, profiles.STAMP_HALF_WIDTH_PX][:, None]
    new_ivar = np.where(np.abs(pixels - centre_px) <= 3, local_ivar * rng.uniform(0.3, 0.8, m)[:, None], local_ivar)
    level = 1.0 / np.sqrt(median_positive(np.where(usable, new_ivar, 0.0)))
    amp = rng.choice([-1.0, 1.0], m, p=[0.3, 0.7]) * rng.uniform(*significance, m) * level / visible_peak
    rows2 = np.broadcast_to(r[:, None], pixels.shape)
    ivar[rows2[on], pixels[on]] = new_ivar[on].astype(np.float32)
    profiles.scatter_add(residual, r, pixels, amp[:, None] * values)


def add_foreground_mismatch(rng, residual, ivar, z_fg, rows, significance=(0.8, 3.0)) -> None:
    """What a poor foreground model leaves: residuals of stellar absorption features at z_fg (either sign,
    velocity-dispersion broadened) and, in half of the rows, a wiggle of period 20-150 pixels (shorter than
    the high-pass blocks, so preprocessing does not remove it)."""
    rows = np.asarray(rows)
    if rows.size == 0:
        return
    level = _noise_sigma(ivar[rows])
    nfeat = STELLAR_FEATURES_A.size
    r = np.repeat(rows, nfeat)
    centre = np.tile(STELLAR_FEATURES_A, rows.size) * (1.0 + np.repeat(z_fg[rows], nfeat))
    vdisp = np.repeat(rng.uniform(120.0, 320.0, rows.size), nfeat)
    sigma = centre * vdisp / 299792.458
    keep = rng.random(r.size) < 0.6
    amp = (rng.choice([-1.0, 1.0], r.size) * rng.uniform(*significance, r.size)
           * np.repeat(level, nfeat) * np.sqrt(2 * np.pi) * sigma)
    r, centre, sigma, amp = r[keep], centre[keep], sigma[keep], amp[keep]
    if r.size:
        pixels, prof = profiles.stamps(centre, sigma, half_width=MISMATCH_HALF_WIDTH_PX)
        profiles.scatter_add(residual, r, pixels, amp[:, None] * prof)
    wig = rows[rng.random(rows.size) < 0.5]
    if wig.size:
        period = rng.uniform(20.0, 150.0, wig.size)[:, None]
        phase = rng.uniform(0, 2 * np.pi, wig.size)[:, None]
        amp = (rng.uniform(0.3, 1.0, wig.size) * _noise_sigma(ivar[wig]))[:, None]
        idx = np.arange(grid.N_PIXELS)[None, :]
        residual[wig] += (amp * np.sin(2 * np.pi * idx / period + phase)).astype(np.float32)
