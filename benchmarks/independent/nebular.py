"""Relative line fluxes of a star-forming galaxy, drawn from physical relations (not from our generator).

- Balmer lines: case B, T = 1e4 K, n_e = 100 cm^-3 (Osterbrock & Ferland 2006, Table 4.4; Storey &
  Hummer 1995): H-alpha/H-beta = 2.86, H-gamma 0.468, H-delta 0.259, H-epsilon 0.159, H8 0.105.
- [NII]6585/H-alpha uniform in log between 0.1 and 0.5; [OIII]5008/H-beta placed below the Kauffmann
  et al. (2003, MNRAS 346, 1055) star-forming demarcation for that [NII]/H-alpha (BPT diagram), so
  metal-poor galaxies get strong [OIII] and metal-rich ones weak [OIII], as observed.
- Fixed atomic ratios: [OIII]5008/4960 = 2.98, [NII]6585/6550 = 2.95, [OI]6302/6365 = 3.
- Density-sensitive doublets: [OII]3730/3727 uniform in [0.7, 1.5], [SII]6718/6733 uniform in [0.5, 1.4].
- [OII](3727+3730)/H-beta log-uniform in [1.6, 5]; [SII](6718+6733)/H-alpha log-uniform in [0.1, 0.4];
  [NeIII]3870/[OII] uniform in [0.03, 0.15]; HeI 5877/H-beta 0.10; [OI]6302/H-alpha uniform in [0.01, 0.08].
- Dust: an observed Balmer decrement uniform in [2.86, 5] sets E(B-V) through the Cardelli, Clayton &
  Mathis (1989, ApJ 345, 245) curve with R_V = 3.1, which then reddens every line.
"""
from __future__ import annotations

import numpy as np

R_V = 3.1
CASE_B_TO_HBETA = {"halpha": 2.86, "hgamma": 0.468, "hdelta": 0.259, "hepsilon": 0.159, "h8_3890": 0.105}


def ccm89_k(wavelength_a: np.ndarray | float) -> np.ndarray:
    """Cardelli, Clayton & Mathis (1989) k(lambda) = A(lambda)/E(B-V) for R_V = 3.1, optical/NIR range.

    Valid for 0.3-1.1 um^-1 (infrared branch) and 1.1-3.3 um^-1 (optical branch), i.e. 3030-33000 A.
    """
    x = 1e4 / np.asarray(wavelength_a, dtype=np.float64)  # inverse microns
    if np.any((x < 0.3) | (x > 3.3)):
        raise ValueError("CCM89 optical/IR formula needs 3030-33000 A")
    y = x - 1.82
    a_opt = (1 + 0.17699 * y - 0.50447 * y**2 - 0.02427 * y**3 + 0.72085 * y**4 + 0.01979 * y**5
             - 0.77530 * y**6 + 0.32999 * y**7)
    b_opt = (1.41338 * y + 2.28305 * y**2 + 1.07233 * y**3 - 5.38434 * y**4 - 0.62251 * y**5
             + 5.30260 * y**6 - 2.09002 * y**7)
    a_ir, b_ir = 0.574 * x**1.61, -0.527 * x**1.61
    a = np.where(x >= 1.1, a_opt, a_ir)
    b = np.where(x >= 1.1, b_opt, b_ir)
    return a * R_V + b


def draw_ratios(rng: np.random.Generator, wavelengths: dict[str, float]) -> tuple[dict[str, float], dict]:
    """Observed (reddened) fluxes relative to intrinsic H-beta = 1, for every line in ``wavelengths``.

    Returns
    -------
    ratios : dict
        Line key -> relative observed flux.
    params : dict
        The physical draws (``nii_ha``, ``oiii_hb``, ``oii_ratio``, ``sii_ratio``, ``decrement``, ``ebv``).
    """
    log_nii_ha = rng.uniform(np.log10(0.1), np.log10(0.5))
    kauffmann = 0.61 / (log_nii_ha - 0.05) + 1.3
    oiii_hb = 10 ** (kauffmann - rng.uniform(0.05, 0.5))
    oii_ratio = rng.uniform(0.7, 1.5)          # [OII] 3730/3727
    sii_ratio = rng.uniform(0.5, 1.4)          # [SII] 6718/6733
    oii_total = 10 ** rng.uniform(np.log10(1.6), np.log10(5.0))
    halpha = CASE_B_TO_HBETA["halpha"]
    sii_total = halpha * 10 ** rng.uniform(-1.0, np.log10(0.4))
    oi_6302 = halpha * rng.uniform(0.01, 0.08)
    nii_6585 = halpha * 10 ** log_nii_ha
    intrinsic = {
        "hbeta": 1.0, **CASE_B_TO_HBETA,
        "oiii_5008": oiii_hb, "oiii_4960": oiii_hb / 2.98,
        "nii_6585": nii_6585, "nii_6550": nii_6585 / 2.95,
        "oii_3727": oii_total / (1 + oii_ratio), "oii_3730": oii_total * oii_ratio / (1 + oii_ratio),
        "sii_6718": sii_total * sii_ratio / (1 + sii_ratio), "sii_6733": sii_total / (1 + sii_ratio),
        "neiii_3870": oii_total * rng.uniform(0.03, 0.15), "hei_5877": 0.10,
        "oi_6302": oi_6302, "oi_6365": oi_6302 / 3.0,
    }
    decrement = rng.uniform(2.86, 5.0)
    k_hb, k_ha = ccm89_k(wavelengths["hbeta"]), ccm89_k(wavelengths["halpha"])
    ebv = 2.5 / (k_hb - k_ha) * np.log10(decrement / 2.86)
    ratios = {key: float(intrinsic[key] * 10 ** (-0.4 * ebv * (ccm89_k(wavelengths[key]) - k_hb)))
              for key in wavelengths if key in intrinsic}
    params = {"nii_ha": 10 ** log_nii_ha, "oiii_hb": oiii_hb, "oii_ratio": oii_ratio,
              "sii_ratio": sii_ratio, "decrement": decrement, "ebv": float(ebv)}
    return ratios, params
