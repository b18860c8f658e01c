"""Random draws of the label distributions: line SNR, line width, z_bg / z_fg."""
from __future__ import annotations

import numpy as np
from scipy import special

from casiglo_gui.core import lines

from .config import SyntheticConfig

SPEED_OF_LIGHT_KMS = 299792.458


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


def draw_line_width(rng: np.random.Generator, n: int, config: SyntheticConfig) -> np.ndarray:
    """One intrinsic width per galaxy (its lines share its kinematics): a velocity dispersion in km/s,
    log-uniform in ``config.width_velocity_kms`` when that is set, else a sigma in Angstrom from the
    paper's two-width mixture. :func:`intrinsic_sigma_a` turns either into Angstrom at each line."""
    if config.width_velocity_kms is None:
        return draw_intrinsic_sigma(rng, n, config)
    lo, hi = np.log(np.asarray(config.width_velocity_kms, dtype=np.float64))
    return np.exp(rng.uniform(lo, hi, n))


def intrinsic_sigma_a(width: np.ndarray, centre_a: np.ndarray, config: SyntheticConfig) -> np.ndarray:
    """Intrinsic sigma (Angstrom) of lines centred at ``centre_a`` (observed, vacuum) of galaxies of
    :func:`draw_line_width` widths ``width``; ``centre_a`` is (n,) or (n, lines)."""
    width = np.asarray(width, dtype=np.float64)
    centre_a = np.asarray(centre_a, dtype=np.float64)
    if centre_a.ndim == 2:
        width = width[:, None]
    if config.width_velocity_kms is None:
        return np.broadcast_to(width, centre_a.shape)
    return width / SPEED_OF_LIGHT_KMS * centre_a


def draw_oii_ratio(rng: np.random.Generator, n: int, config: SyntheticConfig) -> np.ndarray:
    """Flux ratio [OII] 3730 / 3727, uniform in the configured (or the product's) range."""
    bounds = config.oii_ratio_range if config.oii_ratio_range is not None else lines.OII_3730_TO_3727_RANGE
    return rng.uniform(*bounds, n)


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
