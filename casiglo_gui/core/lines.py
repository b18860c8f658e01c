"""The 12 emission lines the product searches for (the DESIGN.md contract).

Vacuum rest wavelengths in Angstrom, in contract order. Every part of the product (physics search,
synthetic data, the CNN's outputs, the scan table, the app's markers) uses this one table.
"""
from __future__ import annotations

import numpy as np

LINE_KEYS: tuple[str, ...] = (
    "oii_3727", "oii_3730", "hdelta", "hgamma", "hbeta", "oiii_4960",
    "oiii_5008", "nii_6550", "halpha", "nii_6585", "sii_6718", "sii_6733",
)

REST_WAVELENGTHS_A: np.ndarray = np.array(
    [3727.09, 3729.88, 4102.89, 4341.68, 4862.68, 4960.30,
     5008.24, 6549.86, 6564.61, 6585.27, 6718.29, 6732.68],
    dtype=np.float64,
)
REST_WAVELENGTHS_A.setflags(write=False)

LINE_LABELS: dict[str, str] = {
    "oii_3727": "[OII] 3727", "oii_3730": "[OII] 3730", "hdelta": "Hδ", "hgamma": "Hγ",
    "hbeta": "Hβ", "oiii_4960": "[OIII] 4960", "oiii_5008": "[OIII] 5008",
    "nii_6550": "[NII] 6550", "halpha": "Hα", "nii_6585": "[NII] 6585",
    "sii_6718": "[SII] 6718", "sii_6733": "[SII] 6733",
}

N_LINES = len(LINE_KEYS)
LINE_INDEX: dict[str, int] = {key: i for i, key in enumerate(LINE_KEYS)}

# Physical flux ratios (Osterbrock & Ferland): fixed by atomic physics or, for the Balmer decrement,
# a lower bound from case-B recombination.
OIII_5008_TO_4960 = 2.98
NII_6585_TO_6550 = 2.95
HALPHA_TO_HBETA_MIN = 2.86
OII_3730_TO_3727_RANGE = (0.8, 1.4)

# Other strong emission lines a foreground galaxy (star-forming, AGN, multi-component) can show, vacuum
# Angstrom: [NeIII] 3870, HeI 5877, [OI] 6302/6366, [ArIII] 7138, [SIII] 9071/9533. Not searched for in the
# background, but their positions at z_fg are vetoed like the 12 lines' (a foreground [SIII] 9533 is where
# a z = 1.637 [OII] would be).
FOREGROUND_EXTRA_LINES_A: np.ndarray = np.array([3869.86, 5877.25, 6302.05, 6365.54, 7137.76, 9071.1, 9533.2])
FOREGROUND_EXTRA_LINES_A.setflags(write=False)


def rest_wavelength(key: str) -> float:
    """Vacuum rest wavelength (Angstrom) of the line ``key``."""
    return float(REST_WAVELENGTHS_A[LINE_INDEX[key]])


def observed_wavelengths(z: float) -> np.ndarray:
    """Observed vacuum wavelengths (Angstrom) of the 12 lines at redshift ``z``: rest x (1 + z)."""
    return REST_WAVELENGTHS_A * (1.0 + np.float64(z))
