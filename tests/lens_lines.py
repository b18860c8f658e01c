"""A background galaxy's emission lines, added to a foreground spectrum for tests (any wavelength sampling)."""
from __future__ import annotations

import numpy as np

from casiglo_gui.core.lines import LINE_KEYS, REST_WAVELENGTHS_A
from casiglo_gui.core.detectors.spec import build_detector, resolve_spec

# Relative line strengths with the physical ratios ([OIII] 5008/4960 = 2.98, [NII] 6585/6550 = 2.95).
RELATIVE = {"oii_3727": 0.8, "oii_3730": 1.0, "hbeta": 0.6, "oiii_4960": 0.5, "oiii_5008": 1.49,
            "nii_6550": 0.3, "halpha": 1.5, "nii_6585": 0.885}


def lens_lines(wavelength: np.ndarray, z_bg: float, peak: float, sigma_kms: float = 100.0) -> np.ndarray:
    """Flux of the lines at ``z_bg`` sampled at ``wavelength`` (Angstrom); the strongest-but-one peaks at ``peak``."""
    wavelength = np.asarray(wavelength, dtype=np.float64)
    out = np.zeros_like(wavelength)
    for key, strength in RELATIVE.items():
        centre = REST_WAVELENGTHS_A[LINE_KEYS.index(key)] * (1.0 + z_bg)
        sigma = centre * sigma_kms / 299792.458
        out += peak * strength * np.exp(-0.5 * ((wavelength - centre) / sigma) ** 2)
    return out


def default_detector():
    """The detector a plain ``casiglo scan`` uses here (combined when the shipped model is present)."""
    spec, _ = resolve_spec(None, None)
    return build_detector(spec)
