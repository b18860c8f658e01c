"""Pixel-integrated Gaussian lines on a log-lambda pixel grid, their matched-filter SNR and Fisher information.

Positions and widths are in pixels of the spectrum's own 1e-4 dex grid (x = (log10 lambda - loglam[0]) / 1e-4),
so a line of velocity dispersion sigma_v has the same width in pixels at every wavelength.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .spectral_lines import KMS_PER_PIXEL, LOGLAM_STEP

SQRT_2PI = np.sqrt(2.0 * np.pi)


def total_sigma_px(sigma_v_kms: float | np.ndarray, wdisp_px: float | np.ndarray) -> np.ndarray:
    """Observed Gaussian sigma in pixels: intrinsic dispersion and instrumental wdisp in quadrature."""
    return np.sqrt((np.asarray(sigma_v_kms, np.float64) / KMS_PER_PIXEL) ** 2
                   + np.asarray(wdisp_px, np.float64) ** 2)


def stamp(center_px: float, sigma_px: float, n_pixels: int, reach: float = 6.0) -> tuple[int, np.ndarray, np.ndarray]:
    """Fraction of a unit-flux line falling in each pixel near ``center_px``, and its derivative in the centre.

    Returns ``(start, fraction, dfraction_dcenter)`` for pixels ``start .. start + len - 1`` (clipped to the
    spectrum); an empty stamp when the line lies outside it.
    """
    half = int(np.ceil(reach * sigma_px)) + 2
    lo = max(int(np.floor(center_px)) - half, 0)
    hi = min(int(np.ceil(center_px)) + half + 1, n_pixels)
    if hi <= lo:
        return 0, np.zeros(0), np.zeros(0)
    edges = (np.arange(lo, hi + 1, dtype=np.float64) - 0.5 - center_px) / sigma_px
    cdf = ndtr(edges)
    pdf = np.exp(-0.5 * edges * edges) / SQRT_2PI
    # d/dx0 of [Phi((b - x0)/s) - Phi((a - x0)/s)] = -(phi(b') - phi(a'))/s
    return lo, np.diff(cdf), -np.diff(pdf) / sigma_px


def pixel_widths_a(loglam: np.ndarray) -> np.ndarray:
    """Width in Angstrom of each pixel of a log-lambda grid (its edges half a step either side)."""
    half = 0.5 * LOGLAM_STEP
    return 10.0 ** (loglam + half) - 10.0 ** (loglam - half)


class LineSet:
    """Gaussian lines on one spectrum: flux densities, per-line matched-filter SNR, Fisher information."""

    def __init__(self, loglam: np.ndarray):
        self.loglam = np.asarray(loglam, np.float64)
        self.dlam = pixel_widths_a(self.loglam)
        self.n = self.loglam.size
        self._stamps: list[tuple[int, np.ndarray, np.ndarray]] = []

    def center_px(self, observed_a: float) -> float:
        # The fixed step, not loglam[1] - loglam[0]: float32 loglam columns get that difference wrong by up to
        # 0.2%, i.e. pixels off after a few thousand pixels.
        return (np.log10(observed_a) - self.loglam[0]) / LOGLAM_STEP

    def add(self, observed_a: float, sigma_px: float) -> int:
        """Register a unit-flux line; returns its index."""
        self._stamps.append(stamp(self.center_px(observed_a), sigma_px, self.n))
        return len(self._stamps) - 1

    def unit_snr(self, ivar: np.ndarray) -> np.ndarray:
        """Matched-filter SNR of each registered line at unit flux (1e-17 erg/s/cm^2), given ``ivar``."""
        out = np.zeros(len(self._stamps))
        for k, (lo, frac, _) in enumerate(self._stamps):
            density = frac / self.dlam[lo:lo + frac.size]
            out[k] = np.sqrt(np.sum(density * density * ivar[lo:lo + frac.size]))
        return out

    def flux_density(self, fluxes: np.ndarray) -> np.ndarray:
        """Sum of the lines with total fluxes ``fluxes`` as flux density per Angstrom on every pixel."""
        out = np.zeros(self.n)
        for f, (lo, frac, _) in zip(fluxes, self._stamps):
            if f != 0.0 and frac.size:
                out[lo:lo + frac.size] += f * frac / self.dlam[lo:lo + frac.size]
        return out

    def shift_information(self, fluxes: np.ndarray, ivar: np.ndarray) -> float:
        """Fisher information (pixels^-2) on a common shift of the lines when their fluxes are unknown too.

        I_eff = I_ss - I_sF I_FF^-1 I_Fs over the parameters (shift, F_1 .. F_k), from ``ivar``. For lines
        apart it is sum_k SNR_k^2 / (2 (sigma_k^2 + 1/12)) (pixel integration adds 1/12 px^2); it is less for
        blends such as the [OII] doublet, whose component fluxes trade off against the shift.
        """
        derivative = np.zeros(self.n)
        shapes = []
        for f, (lo, frac, dfrac) in zip(fluxes, self._stamps):
            if f == 0.0 or not frac.size:
                continue
            width = self.dlam[lo:lo + frac.size]
            derivative[lo:lo + dfrac.size] += f * dfrac / width
            shape = np.zeros(self.n)
            shape[lo:lo + frac.size] = frac / width
            shapes.append(shape)
        if not shapes:
            return 0.0
        a = np.array(shapes)
        i_ss = float(np.sum(derivative * derivative * ivar))
        i_sf = a @ (derivative * ivar)
        i_ff = (a * ivar) @ a.T
        return i_ss - float(i_sf @ np.linalg.solve(i_ff, i_sf))


def cramer_rao_sigma_z(snr: np.ndarray, sigma_px: np.ndarray, z_bg: float) -> float:
    """1-sigma bound on z_bg for a common shift of independent Gaussian lines.

    Fisher information sum_k SNR_k^2 / (2 sigma_k^2) (pixels^-2); dz = (1 + z) ln(10) 1e-4 dpix. Inf
    without a line.
    """
    snr = np.asarray(snr, np.float64)
    sigma_px = np.asarray(sigma_px, np.float64)
    use = (snr > 0) & (sigma_px > 0)
    info = float(np.sum(snr[use] ** 2 / (2.0 * sigma_px[use] ** 2)))
    return shift_to_sigma_z(info, z_bg)


def shift_to_sigma_z(information: float, z_bg: float) -> float:
    """Redshift sigma from a Fisher information on the pixel shift (inf when there is none)."""
    if not information > 0:
        return float("inf")
    return float((1.0 + z_bg) * np.log(10.0) * LOGLAM_STEP / np.sqrt(information))

