"""Random draws of the label distributions: line SNR, line width, z_bg / z_fg."""
from __future__ import annotations

import numpy as np
from scipy import special

from .config import SyntheticConfig


def moyal_cdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """CDF of the Moyal distribution (as scipy.stats.moyal with loc=mu, scale=sigma)."""
    z = (np.asarray(x, dtype=np.float64) - mu) / sigma
    return special.erfc(np.exp(-0.5 * z) / np.sqrt(2.0))


def moyal_ppf(q: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """Inverse of :func:`moyal_cdf`."""
    q = np.asarray(q, dtype=np.float64)
    return mu - 2.0 * sigma * np.log(np.sqrt(2.0) * special.erfcinv(q))


def draw_snr(rng: np.random.Generator, n: int, config: SyntheticConfig) -> np.ndarray:
    """Per-line SNR labels, truncated to [snr_min, snr_max] by inverse-CDF sampling (no rejection loop)."""
    if config.snr_distribution == "moyal":
        lo, hi = moyal_cdf([config.snr_min, config.snr_max], config.snr_mu, config.snr_sigma)
        q = rng.uniform(lo, hi, n)
        return np.clip(moyal_ppf(q, config.snr_mu, config.snr_sigma), config.snr_min, config.snr_max)
    hi = min(config.snr_wide_max, config.snr_max)
    return np.exp(rng.uniform(np.log(config.snr_min), np.log(hi), n))


def draw_intrinsic_sigma(rng: np.random.Generator, n: int, config: SyntheticConfig) -> np.ndarray:
    """Intrinsic line sigma in Angstrom from the paper's two-width mixture."""
    p = np.asarray(config.width_probabilities, dtype=np.float64)
    return np.asarray(config.width_sigmas_a, dtype=np.float64)[rng.choice(len(p), n, p=p / p.sum())]


def draw_z_ratio(rng: np.random.Generator, n: int, config: SyntheticConfig) -> np.ndarray:
    """z_bg / z_fg: BELLS-like (normal around ~2, > 1) or MaNGA-like (uniform 2-10) or a mix."""
    bells = np.abs(rng.normal(config.bells_ratio_mean, config.bells_ratio_sd, n))
    bells = np.where(bells > 1.05, bells, 1.05 + np.abs(bells - 1.05))
    manga = rng.uniform(*config.manga_ratio_range, n)
    if config.z_ratio_mode == "bells":
        return bells
    if config.z_ratio_mode == "manga":
        return manga
    return np.where(rng.random(n) < 0.5, bells, manga)
