"""Line keys, vacuum rest wavelengths and velocity units, typed in from the DESIGN contract.

Not imported from ``casiglo_gui.core.lines`` on purpose: the set must not inherit a mistake of the
product; tests/test_independent2_set.py checks that both agree.
"""
from __future__ import annotations

import numpy as np

LINE_KEYS = ("oii_3727", "oii_3730", "hdelta", "hgamma", "hbeta", "oiii_4960",
             "oiii_5008", "nii_6550", "halpha", "nii_6585", "sii_6718", "sii_6733")
REST_VACUUM_A = np.array([3727.09, 3729.88, 4102.89, 4341.68, 4862.68, 4960.30,
                          5008.24, 6549.86, 6564.61, 6585.27, 6718.29, 6732.68])
INDEX = {key: i for i, key in enumerate(LINE_KEYS)}
SPEED_OF_LIGHT_KMS = 299792.458
LOGLAM_STEP = 1e-4  # dex per pixel of every SDSS/BOSS coadd
# One pixel of 1e-4 dex in velocity: c ln(10) 1e-4 = 69.03 km/s.
KMS_PER_PIXEL = SPEED_OF_LIGHT_KMS * np.log(10.0) * LOGLAM_STEP


def air_to_vacuum(air_a: np.ndarray) -> np.ndarray:
    """Vacuum wavelengths (A) from air wavelengths above 2000 A (Ciddor 1996, as in idlutils airtovac)."""
    air_a = np.asarray(air_a, dtype=np.float64)
    sigma2 = (1e4 / air_a) ** 2
    factor = 1.0 + 5.792105e-2 / (238.0185 - sigma2) + 1.67917e-3 / (57.362 - sigma2)
    return air_a * factor
