"""Relative fluxes of the 12 lines of one emission-line galaxy, drawn from this set's own priors.

Intrinsic ratios relative to H-beta: Balmer case B (H-gamma 0.468, H-delta 0.259, H-alpha 2.86);
[OIII]5008 log-uniform 0.1-6, [OIII]4960 = 5008 / 2.98; [NII]6585/H-alpha log-uniform 0.05-0.6,
[NII]6550 = 6585 / 2.95; [OII] total log-uniform 0.8-6 with 3730/3727 uniform 0.35-1.5; [SII] total /
H-alpha log-uniform 0.1-0.5 with 6718/6733 uniform 0.45-1.45. Dust: an attenuation law
tau(lambda) = tau_V (lambda / 5500 A)^-0.7 (Charlot & Fall 2000) set by an observed Balmer decrement drawn
log-uniform 2.86-6, applied to every line (so H-alpha/H-beta >= 2.86 always; a doublet's members share one
factor, keeping the tied ratios exact).
"""
from __future__ import annotations

import numpy as np

from .spectral_lines import INDEX, REST_VACUUM_A

CASE_B_HALPHA_HBETA = 2.86
DUST_SLOPE = 0.7


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _dust_wavelengths() -> np.ndarray:
    """Each line's wavelength for the dust law; the members of a doublet share their mean, so the atomic
    ratios ([OIII] 2.98, [NII] 2.95) stay exact, as a fit with tied ratios assumes."""
    out = REST_VACUUM_A.copy()
    for a, b in (("oii_3727", "oii_3730"), ("oiii_4960", "oiii_5008"), ("nii_6550", "nii_6585"),
                 ("sii_6718", "sii_6733")):
        out[INDEX[a]] = out[INDEX[b]] = 0.5 * (REST_VACUUM_A[INDEX[a]] + REST_VACUUM_A[INDEX[b]])
    return out


def attenuation(decrement: float) -> np.ndarray:
    """Flux factor of each line for an observed H-alpha/H-beta ``decrement`` (1 at 2.86)."""
    curve = (_dust_wavelengths() / 5500.0) ** -DUST_SLOPE
    tau_v = np.log(decrement / CASE_B_HALPHA_HBETA) / (curve[INDEX["hbeta"]] - curve[INDEX["halpha"]])
    tau = tau_v * curve
    return np.exp(-(tau - tau[INDEX["hbeta"]]))


def draw_relative_fluxes(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Line fluxes relative to the observed H-beta, and the drawn parameters."""
    f = np.zeros(REST_VACUUM_A.size)
    f[INDEX["hbeta"]] = 1.0
    f[INDEX["hgamma"]] = 0.468
    f[INDEX["hdelta"]] = 0.259
    f[INDEX["halpha"]] = CASE_B_HALPHA_HBETA
    oiii = _log_uniform(rng, 0.1, 6.0)
    f[INDEX["oiii_5008"]] = oiii
    f[INDEX["oiii_4960"]] = oiii / 2.98
    nii = _log_uniform(rng, 0.05, 0.6) * CASE_B_HALPHA_HBETA
    f[INDEX["nii_6585"]] = nii
    f[INDEX["nii_6550"]] = nii / 2.95
    oii = _log_uniform(rng, 0.8, 6.0)
    oii_ratio = rng.uniform(0.35, 1.5)  # 3730 / 3727
    f[INDEX["oii_3727"]] = oii / (1.0 + oii_ratio)
    f[INDEX["oii_3730"]] = oii * oii_ratio / (1.0 + oii_ratio)
    sii = _log_uniform(rng, 0.1, 0.5) * CASE_B_HALPHA_HBETA
    sii_ratio = rng.uniform(0.45, 1.45)  # 6718 / 6733
    f[INDEX["sii_6718"]] = sii * sii_ratio / (1.0 + sii_ratio)
    f[INDEX["sii_6733"]] = sii / (1.0 + sii_ratio)
    decrement = _log_uniform(rng, CASE_B_HALPHA_HBETA, 6.0)
    f *= attenuation(decrement)
    return f, {"balmer_decrement": decrement, "oii_ratio": oii_ratio, "sii_ratio": sii_ratio}


def oii_only_fluxes(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Only the [OII] doublet (a high-z source whose other lines are out of reach or faint)."""
    f = np.zeros(REST_VACUUM_A.size)
    ratio = rng.uniform(0.35, 1.5)
    f[INDEX["oii_3727"]] = 1.0 / (1.0 + ratio)
    f[INDEX["oii_3730"]] = ratio / (1.0 + ratio)
    return f, {"oii_ratio": ratio}
