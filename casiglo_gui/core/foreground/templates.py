"""The SDSS galaxy eigenspectra (``spEigenGal-56436.fits``, the BOSS pipeline's galaxy basis), read once.

Package data ``core/data/spEigenGal-56436.fits``: an unmodified copy of sdss/idlspec2d
``templates/spEigenGal-56436.fits`` (4 eigenvectors x 9483 pixels, float32; rest-frame vacuum wavelengths
log10(lambda) = COEFF0 + COEFF1 * i = 3.0730 + 1e-4 * i, 1183-10500 Angstrom). Its 1e-4 dex step is the
model grid's, so shifting the templates to a redshift is a translation by log10(1 + z) / 1e-4 pixels.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from .. import grid

TEMPLATE_FILE = "spEigenGal-56436.fits"
# Instrumental sigma of the eigenspectra, in 1e-4 dex pixels: they were built from SDSS/BOSS spectra at
# the instrument's resolution (wdisp ~ 1 px), so a spectrum is broadened only by what it has beyond that.
TEMPLATE_SIGMA_PX = 1.0
# Broadening below this (pixels) changes a template by less than the fit's noise: skipped.
MIN_BROADENING_PX = 0.3
# Broadened bases are cached at this resolution (pixels of sigma).
BROADENING_STEP_PX = 0.1


class TemplateBasis:
    """The eigenspectra on their rest-frame log grid (float64, ``(n_templates, n_pixels)``)."""

    def __init__(self, flux: np.ndarray, loglam0: float, dloglam: float):
        if abs(dloglam - grid.DLOGLAM) > 1e-9:
            raise ValueError(f"template step {dloglam} dex differs from the model grid's {grid.DLOGLAM}")
        flux = np.asarray(flux, dtype=np.float64)
        # Unit-RMS rows keep the normal equations well conditioned (the fit's coefficients absorb the scale).
        self.flux = np.ascontiguousarray(flux / np.sqrt(np.mean(flux ** 2, axis=1, keepdims=True)))
        self.flux.setflags(write=False)
        self.loglam0 = float(loglam0)
        self.n_templates, self.n_pixels = self.flux.shape
        # Template pixel of model-grid pixel 0 at z = 0 (4859 for spEigenGal-56436: an integer).
        self.grid_offset = (grid.LOGLAM0 - self.loglam0) / grid.DLOGLAM

    @property
    def rest_range_a(self) -> tuple[float, float]:
        return 10 ** self.loglam0, 10 ** (self.loglam0 + grid.DLOGLAM * (self.n_pixels - 1))

    def broadened(self, sigma_px: float, continuum_only: bool = False) -> np.ndarray:
        """Templates convolved with a Gaussian of ``sigma_px`` pixels (no convolution when ~0); with
        ``continuum_only`` their emission lines are first cut out (:func:`.linemask.without_emission`)."""
        step = int(round(max(float(sigma_px), 0.0) / BROADENING_STEP_PX))
        return _broadened(self, step, bool(continuum_only))


@lru_cache(maxsize=32)
def _broadened(basis: TemplateBasis, step: int, continuum_only: bool) -> np.ndarray:
    from .linemask import without_emission

    flux = without_emission(basis.flux, basis.loglam0) if continuum_only else basis.flux
    sigma = step * BROADENING_STEP_PX
    if sigma < MIN_BROADENING_PX:
        return flux
    half = int(np.ceil(4 * sigma))
    x = np.arange(-half, half + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    # Edge pixels are repeated so the convolution does not pull the ends towards zero.
    padded = np.pad(flux, ((0, 0), (half, half)), mode="edge")
    out = np.stack([np.convolve(row, kernel, mode="valid") for row in padded])
    out.setflags(write=False)
    return out


@lru_cache(maxsize=1)
def galaxy_eigenspectra() -> TemplateBasis:
    """The shipped SDSS galaxy eigenspectra (read on first use)."""
    from ..readers.registry import open_fits

    path = resources.files("casiglo_gui.core").joinpath("data", TEMPLATE_FILE)
    with resources.as_file(path) as real_path:
        with open_fits(str(real_path), "direct") as source:
            header = source.header(0)
            flux = source.read_image(0)
    return TemplateBasis(flux, float(header["COEFF0"]), float(header["COEFF1"]))


def sigma_from_wdisp(wdisp: np.ndarray | None, good: np.ndarray | None = None) -> float:
    """Extra Gaussian sigma (pixels) to give the templates for a spectrum of dispersion ``wdisp``.

    ``wdisp`` is the instrumental sigma per pixel in 1e-4 dex pixels (SDSS ``wdisp``); its median over
    the good pixels is used (one kernel per spectrum). None or no finite value: no broadening.
    """
    if wdisp is None:
        return 0.0
    values = np.asarray(wdisp, dtype=np.float64)
    if good is not None:
        values = values[np.asarray(good, dtype=bool)]
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 0.0
    sigma = float(np.median(values))
    return float(np.sqrt(max(sigma * sigma - TEMPLATE_SIGMA_PX ** 2, 0.0)))
