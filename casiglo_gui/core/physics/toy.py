"""A tiny seeded generator of toy residual spectra for the physics detector's tests and benchmarks.

Not the project's synthetic-data generator (``training.synthetic``): white Gaussian noise with a
smooth ivar, Gaussian emission lines at chosen redshifts, cosmic-ray spikes, all on the model grid and
passed through :func:`casiglo_gui.core.preprocessing.clean` like real data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import grid
from ..lines import LINE_INDEX, N_LINES, NII_6585_TO_6550, OIII_5008_TO_4960
from ..preprocessing import clean
from .linesearch import REST_PIXEL, shift_of_redshift
from .profiles import integrated_gaussian

LINE_SETS: dict[str, tuple[str, ...]] = {
    "oii": ("oii_3727", "oii_3730"),
    "halpha_nii": ("nii_6550", "halpha", "nii_6585"),
    "five": ("oii_3727", "oii_3730", "hbeta", "oiii_4960", "oiii_5008", "halpha"),
    "oiii_hbeta": ("hbeta", "oiii_4960", "oiii_5008"),
    "all": tuple(LINE_INDEX),
}


@dataclass
class ToySpectrum:
    residual: np.ndarray
    ivar: np.ndarray
    z_fg: float
    z_bg: float
    sigma_px: float


def noise_ivar(rng: np.random.Generator, level: float = 1.0) -> np.ndarray:
    """A smooth ivar with the throughput-like slope of a real spectrum (float32)."""
    x = np.linspace(-1, 1, grid.N_PIXELS)
    shape = 1.0 - 0.4 * x ** 2 + 0.1 * rng.normal()
    return (np.clip(shape, 0.3, None) / level ** 2).astype(np.float32)


def add_lines(residual: np.ndarray, z: float, amplitudes: np.ndarray, sigma_px: float) -> None:
    """Add Gaussian lines (peak heights ``amplitudes``, 12, contract order) at redshift z in place."""
    centres = REST_PIXEL + float(shift_of_redshift(z))
    x = np.arange(grid.N_PIXELS, dtype=np.float64)
    for k in np.flatnonzero(amplitudes):
        c = centres[k]
        if not (-10 < c < grid.N_PIXELS + 10):
            continue
        lo, hi = max(int(c) - 25, 0), min(int(c) + 26, grid.N_PIXELS)
        residual[lo:hi] += amplitudes[k] * integrated_gaussian(x[lo:hi] - c, sigma_px)


def line_amplitudes(rng: np.random.Generator, keys: tuple[str, ...], peak_snr: float, sigma_noise: float,
                    ) -> np.ndarray:
    """Amplitudes for a line set: the strongest line at ``peak_snr`` x noise per pixel, ratios physical."""
    amp = np.zeros(N_LINES)
    for key in keys:
        amp[LINE_INDEX[key]] = rng.uniform(0.3, 1.0)
    if "oiii_5008" in keys:
        amp[LINE_INDEX["oiii_4960"]] = amp[LINE_INDEX["oiii_5008"]] / OIII_5008_TO_4960
    if "nii_6585" in keys:
        amp[LINE_INDEX["nii_6550"]] = amp[LINE_INDEX["nii_6585"]] / NII_6585_TO_6550
    if "oii_3727" in keys and "oii_3730" in keys:
        amp[LINE_INDEX["oii_3730"]] = amp[LINE_INDEX["oii_3727"]] * rng.uniform(0.8, 1.4)
    return amp / amp.max() * peak_snr * sigma_noise


def make(rng: np.random.Generator, kind: str, z_fg: float | None = None, z_bg: float | None = None,
         peak_snr: float = 8.0, sigma_px: float | None = None, noise: float = 1.0) -> ToySpectrum:
    """One toy spectrum.

    Parameters
    ----------
    kind : str
        A key of ``LINE_SETS`` (a lens), ``noise``, ``single`` (one lone Gaussian line), ``cosmic``
        (a 1-2 px spike), ``foreground`` (a full emission-line set at z_fg).
    peak_snr : float
        Peak height of the strongest line over the per-pixel noise.
    """
    z_fg = float(rng.uniform(0.05, 0.6)) if z_fg is None else float(z_fg)
    ivar = noise_ivar(rng, noise)
    sd = 1.0 / np.sqrt(ivar)
    residual = (rng.normal(size=grid.N_PIXELS) * sd).astype(np.float64)
    sigma_px = float(rng.uniform(1.1, 2.6)) if sigma_px is None else float(sigma_px)
    z_true = float("nan")
    local_sd = float(np.median(sd))
    if kind in LINE_SETS:
        keys = LINE_SETS[kind]
        if z_bg is None:
            # Keep the set's reddest line below 9300 A (redder, the OH sky mask covers much of the grid).
            reddest = max(REST_PIXEL[LINE_INDEX[k]] for k in keys)
            s_max = float(grid.pixel_of_wavelength(9300.0)) - reddest
            z_hi = 10 ** (s_max * grid.DLOGLAM) - 1
            z_bg = float(rng.uniform(z_fg + 0.05, max(z_fg + 0.06, min(z_hi, z_fg + 0.9))))
        z_true = float(z_bg)
        add_lines(residual, z_true, line_amplitudes(rng, keys, peak_snr, local_sd), sigma_px)
    elif kind == "single":
        amp = np.zeros(N_LINES)
        k = int(rng.integers(N_LINES))
        amp[k] = peak_snr * local_sd
        z_line = float(rng.uniform(z_fg + 0.05, z_fg + 0.5))
        add_lines(residual, z_line, amp, sigma_px)
    elif kind == "cosmic":
        p = int(rng.integers(200, grid.N_PIXELS - 200))
        residual[p] += peak_snr * 4 * sd[p]
        if rng.random() < 0.5:
            residual[p + 1] += peak_snr * 2 * sd[p + 1]
    elif kind == "foreground":
        amp = line_amplitudes(rng, LINE_SETS["all"], peak_snr, local_sd)
        add_lines(residual, z_fg, amp, sigma_px)
    elif kind != "noise":
        raise ValueError(f"unknown toy kind {kind!r}")
    r, w, _ = clean(residual.astype(np.float32), ivar, np.zeros(grid.N_PIXELS, dtype=bool), highpass=False)
    return ToySpectrum(residual=r, ivar=w, z_fg=z_fg, z_bg=z_true, sigma_px=sigma_px)
