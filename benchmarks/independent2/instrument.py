"""Spectrograph layouts, resolution, throughput, noise and flagged pixels of the simulated files.

Two layouts on the 1e-4 dex SDSS grid: BOSS (3560-10330 A, HDU2 ``SPALL``) and SDSS-I/II (3800-9200 A,
HDU2 ``SPECOBJ``). Noise: variance = scale x (sky + object) / T(lambda) + (read / T(lambda))^2, with T a
smooth throughput (blue and red cut-offs, a random slow ripple) and ``scale`` drawn log-uniform per spectrum.
Flagged pixels: a few short runs per spectrum with FULLREJECT or COMBINEREJ set in and_mask and ivar = 0, and
runs with harmless bits (NEARBADPIXEL, LOWFLAT) that leave the pixel usable.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spectral_lines import LOGLAM_STEP

GRID_LOGLAM0 = 3.5589  # first pixel of the model grid: every SDSS coadd starts an integer number of pixels from it
FULLREJECT, COMBINEREJ = 1 << 18, 1 << 25
NEARBADPIXEL, LOWFLAT = 1 << 16, 1 << 17


@dataclass(frozen=True)
class Layout:
    name: str
    hdu2: str
    first_pixel: tuple[int, int]  # range of offsets (pixels) from GRID_LOGLAM0, inclusive
    n_pixels: tuple[int, int]
    blue_cut_a: float
    red_cut_a: float
    dichroic_a: float


BOSS = Layout("boss", "SPALL", (-76, -70), (4618, 4640), 3600.0, 10200.0, 6000.0)
SDSS = Layout("sdss", "SPECOBJ", (178, 242), (3805, 3850), 3830.0, 9150.0, 5950.0)


def draw_loglam(rng: np.random.Generator, layout: Layout) -> np.ndarray:
    first = int(rng.integers(layout.first_pixel[0], layout.first_pixel[1] + 1))
    n = int(rng.integers(layout.n_pixels[0], layout.n_pixels[1] + 1))
    return GRID_LOGLAM0 + LOGLAM_STEP * (first + np.arange(n))


def draw_wdisp(rng: np.random.Generator, layout: Layout, lam: np.ndarray) -> np.ndarray:
    """Instrumental Gaussian sigma in pixels: falls across each camera, a step at the dichroic."""
    blue = lam < layout.dichroic_a
    out = np.empty(lam.size)
    b0, b1 = rng.uniform(1.2, 1.6), rng.uniform(0.9, 1.05)
    r0, r1 = rng.uniform(0.95, 1.1), rng.uniform(0.75, 0.9)
    t_blue = (lam[blue] - lam[0]) / (layout.dichroic_a - lam[0])
    t_red = (lam[~blue] - layout.dichroic_a) / (lam[-1] - layout.dichroic_a)
    out[blue] = b0 + (b1 - b0) * t_blue
    out[~blue] = r0 + (r1 - r0) * t_red
    return out


def draw_throughput(rng: np.random.Generator, layout: Layout, lam: np.ndarray) -> np.ndarray:
    """Relative throughput (peak ~1): logistic blue and red cut-offs and a slow random ripple."""
    blue = 1.0 / (1.0 + np.exp(-(lam - layout.blue_cut_a) / rng.uniform(60.0, 140.0)))
    red = 1.0 / (1.0 + np.exp((lam - layout.red_cut_a) / rng.uniform(150.0, 300.0)))
    x = np.log(lam / lam[0]) / np.log(lam[-1] / lam[0])
    ripple = 1.0 + 0.08 * np.sin(2 * np.pi * (rng.uniform(1.0, 3.0) * x + rng.uniform()))
    return np.clip(blue * red * ripple, 1e-3, None)


def variance(object_flux: np.ndarray, sky: np.ndarray, throughput: np.ndarray, scale: float,
             read: float) -> np.ndarray:
    """Per-pixel variance of the sky-subtracted flux (Poisson-like in sky + object, plus read noise)."""
    return scale * (sky + np.clip(object_flux, 0.0, None)) / throughput + (read / throughput) ** 2


def draw_flags(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``and_mask`` and a boolean of the pixels whose ivar must be zero (rejected)."""
    and_mask = np.zeros(n, dtype=np.int32)
    rejected = np.zeros(n, dtype=bool)
    for _ in range(int(rng.poisson(1.5))):
        start, length = int(rng.integers(0, n)), int(rng.integers(1, 6))
        and_mask[start:start + length] |= FULLREJECT if rng.random() < 0.5 else COMBINEREJ
        rejected[start:start + length] = True
    for _ in range(int(rng.poisson(2.0))):
        start, length = int(rng.integers(0, n)), int(rng.integers(1, 30))
        and_mask[start:start + length] |= NEARBADPIXEL if rng.random() < 0.5 else LOWFLAT
    return and_mask, rejected
