"""Foreground galaxies from the SDSS galaxy eigenspectra (``spEigenGal``) with random coefficients.

The true galaxy is a random combination of the four eigenspectra (emission-line windows bridged, so the
foreground itself has no emission lines; foreground emission is a separate negative kind). The file's
``model`` column, standing for the pipeline's fit, is the same galaxy with perturbed coefficients and a
slow multiplicative error: template mismatch leaves small, real-looking residuals in flux - model.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from .spectral_lines import LOGLAM_STEP

# Rest-frame vacuum wavelengths of nebular lines present in the eigenspectra (the 12 keys, [NeIII], [OI],
# [NII]5756, HeI 5877, [ArIII]); bridged over +-BRIDGE_KMS so no emission is left in the foreground.
NEBULAR_REST_A = (3727.09, 3729.88, 3869.86, 4102.89, 4341.68, 4862.68, 4960.30, 5008.24, 5877.25,
                  6302.05, 6365.54, 6549.86, 6564.61, 6585.27, 6718.29, 6732.68, 7137.77)
BRIDGE_KMS = 700.0
# Relative spread of the coefficients of eigenspectra 1-3 (each normalised to the RMS of eigenspectrum 0).
COEFFICIENT_SPREAD = (0.35, 0.12, 0.08)
MISMATCH = (0.005, 0.03)  # relative coefficient error of the pipeline model: uniform range
SHARED_EIGEN = "/work/shared/data/real/idlspec2d/spEigenGal-56436.fits"
REPO_EIGEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data",
                          "idlspec2d", "spEigenGal-56436.fits")


def default_eigen_path() -> str:
    return SHARED_EIGEN if os.path.exists(SHARED_EIGEN) else os.path.normpath(REPO_EIGEN)


@dataclass
class EigenBasis:
    """Eigenspectra on a rest-frame log-lambda grid, emission windows bridged, unit RMS each."""

    loglam0: float
    vectors: np.ndarray  # (4, n)
    source: str

    @classmethod
    def load(cls, path: str | None = None) -> "EigenBasis":
        path = path or default_eigen_path()
        try:
            with fits.open(path, memmap=False) as hdus:
                header = hdus[0].header
                data = hdus[0].data
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read the eigenspectra: {exc}") from None
        if data is None or data.ndim != 2 or data.shape[0] < 4:
            raise ValueError(f"{path}: not a spEigenGal file (expected a 2-D image of >= 4 eigenspectra)")
        loglam0 = float(header.get("COEFF0", np.nan))
        step = float(header.get("COEFF1", np.nan))
        if not np.isfinite(loglam0) or abs(step - LOGLAM_STEP) > 1e-9:
            raise ValueError(f"{path}: COEFF0/COEFF1 do not describe a 1e-4 dex log-lambda grid")
        vectors = np.asarray(data[:4], dtype=np.float64)
        loglam = loglam0 + LOGLAM_STEP * np.arange(vectors.shape[1])
        vectors = bridge_windows(vectors, 10.0 ** loglam)
        vectors /= np.sqrt(np.mean(vectors[0] ** 2))
        return cls(loglam0, vectors, os.path.abspath(path))

    def evaluate(self, coefficients: np.ndarray, rest_loglam: np.ndarray) -> np.ndarray:
        """The combination at rest-frame log-lambda values (linear interpolation, edges held)."""
        grid = self.loglam0 + LOGLAM_STEP * np.arange(self.vectors.shape[1])
        spectrum = coefficients @ self.vectors
        return np.interp(rest_loglam, grid, spectrum)


def bridge_windows(vectors: np.ndarray, rest_a: np.ndarray) -> np.ndarray:
    """Replace each nebular-line window by a straight line between its edges."""
    out = vectors.copy()
    half = BRIDGE_KMS / 299792.458
    for line in NEBULAR_REST_A:
        inside = np.flatnonzero(np.abs(rest_a / line - 1.0) < half)
        if inside.size == 0 or inside[0] == 0 or inside[-1] >= rest_a.size - 1:
            continue
        a, b = inside[0] - 1, inside[-1] + 1
        t = (rest_a[inside] - rest_a[a]) / (rest_a[b] - rest_a[a])
        out[:, inside] = out[:, [a]] * (1.0 - t) + out[:, [b]] * t
    return out


def draw_coefficients(rng: np.random.Generator, basis: EigenBasis, rest_loglam: np.ndarray,
                      tries: int = 20) -> np.ndarray:
    """Coefficients whose spectrum stays positive over ``rest_loglam`` (redrawn, else the mean galaxy)."""
    for _ in range(tries):
        c = np.r_[1.0, rng.normal(0.0, COEFFICIENT_SPREAD)]
        if np.min(basis.evaluate(c, rest_loglam)) > 0.05:
            return c
    return np.array([1.0, 0.0, 0.0, 0.0])


def foreground(rng: np.random.Generator, basis: EigenBasis, loglam: np.ndarray, z_fg: float,
               level: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """True galaxy and its imperfect pipeline model (flux density, 1e-17 erg/s/cm^2/A) on ``loglam``.

    ``level`` is the galaxy's median flux density over the spectrum.
    """
    rest = loglam - np.log10(1.0 + z_fg)
    c = draw_coefficients(rng, basis, rest)
    galaxy = basis.evaluate(c, rest)
    scale = level / np.median(galaxy)
    mismatch = rng.uniform(*MISMATCH)
    c_model = c + rng.normal(0.0, mismatch, c.size) * np.r_[1.0, np.abs(c[1:]) + 0.05]
    x = np.linspace(-1.0, 1.0, loglam.size)
    slow = 1.0 + rng.normal(0.0, 0.5 * mismatch, 3) @ np.vstack([x, 1.5 * x * x - 0.5, 2.5 * x ** 3 - 1.5 * x])
    model = basis.evaluate(c_model, rest) * slow
    return scale * galaxy, scale * model, {"eigen_coefficients": c.round(4).tolist(), "model_mismatch": mismatch}
