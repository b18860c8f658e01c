"""The one spectrum type every reader returns, and its view on the model grid."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WAVELENGTH_UNIT = "Angstrom (vacuum)"
FLUX_UNIT = "1e-17 erg/s/cm^2/Angstrom"
IVAR_UNIT = "1/(1e-17 erg/s/cm^2/Angstrom)^2"

# Flags a reader may set on a spectrum it could read but that needs a caveat.
FLAG_NO_FOREGROUND_MODEL = "no_foreground_model"
FLAG_PARTIAL_COVERAGE = "partial_coverage"
# Set on a member of a multi-spectrum file (MaNGA table row, cube spaxel) with no usable pixel; such a
# member is returned (never silently dropped) with mask all True. Single-spectrum files raise instead.
FLAG_ALL_MASKED = "all_masked"
# Set on a spectrum a reader returns only to report it (a DESI star or quasar, a redshift failure):
# ``meta["not_searched"]`` says why; the scan gives it an ``error: not searched: ...`` row.
FLAG_NOT_SEARCHED = "not_searched"

# Where a spectrum's foreground model came from (``Spectrum.model_source``).
MODEL_PIPELINE = "pipeline"   # the survey pipeline's own (SDSS/BOSS ``model`` column)
MODEL_DAP = "dap"             # a MaNGA DAP model cube
MODEL_FITTED = "fitted"       # fitted here (casiglo_gui.core.foreground)
MODEL_NONE = "none"           # no model: the residual is the flux itself
MODEL_SOURCES = (MODEL_PIPELINE, MODEL_DAP, MODEL_FITTED, MODEL_NONE)


@dataclass
class Spectrum:
    """One 1-D spectrum as read from a file, in its native pixels.

    Attributes
    ----------
    wavelength : float64 array
        Vacuum wavelength of each pixel, Angstrom.
    flux, ivar : float32 arrays
        Flux density (1e-17 erg/s/cm^2/A) and its inverse variance; native byte order.
    model : float32 array or None
        Foreground-galaxy model (pipeline ``model`` column or DAP model); None when the file has none.
    mask : bool array
        True = bad pixel (and_mask set, ivar <= 0, non-finite flux).
    object_id : str
        ``PLATE-MJD-FIBER`` for SDSS/BOSS, ``PLATE-IFU[/x,y]`` for MaNGA.
    ra, dec : float
        Object position in degrees (PLUG_RA/PLUG_DEC, not the plate centre); NaN when unknown.
    z_fg : float
        Foreground (pipeline) redshift, float64; NaN when unknown.
    source : str
        Path of the file it came from.
    survey : str
        ``sdss``, ``boss``, ``eboss``, ``manga`` or ``synthetic``.
    grid_shift : int or None
        Model-grid pixel of this spectrum's pixel 0 (see :func:`casiglo_gui.core.grid.pixel_shift`).
    wdisp : float32 array or None
        Instrumental dispersion (sigma) in units of 1e-4 dex pixels, when the file has it.
    sky : float32 array or None
        Sky flux that was subtracted, when the file has it.
    flags : set of str
        Caveats, e.g. ``no_foreground_model``.
    meta : dict
        Other header values worth showing (class, zwarning, plate, mjd, fiber, ifu...).
    model_error : float
        Fractional uncertainty of ``model`` (0 for survey models): a fitted model adds
        (model_error * model)^2 to the residual's variance (see :attr:`residual_ivar`).
    model_source : str
        Where ``model`` came from: ``pipeline``, ``dap``, ``fitted`` or ``none`` (see ``MODEL_SOURCES``).
        Left empty, it becomes ``pipeline`` when a model is given and ``none`` otherwise.
    """

    wavelength: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    model: np.ndarray | None
    mask: np.ndarray
    object_id: str
    ra: float
    dec: float
    z_fg: float
    source: str
    survey: str
    grid_shift: int | None
    wdisp: np.ndarray | None = None
    sky: np.ndarray | None = None
    flags: set[str] = field(default_factory=set)
    meta: dict = field(default_factory=dict)
    model_source: str = ""
    model_error: float = 0.0

    wavelength_unit = WAVELENGTH_UNIT
    flux_unit = FLUX_UNIT

    def __post_init__(self):
        if not self.model_source:
            self.model_source = MODEL_PIPELINE if self.model is not None else MODEL_NONE
        if self.model_source not in MODEL_SOURCES:
            raise ValueError(f"model_source must be one of {MODEL_SOURCES}, not {self.model_source!r}")

    @property
    def n_pixels(self) -> int:
        return int(self.flux.shape[0])

    @property
    def has_foreground_model(self) -> bool:
        return self.model is not None

    @property
    def is_usable(self) -> bool:
        """False when no pixel is good (see ``FLAG_ALL_MASKED``): nothing to search for lines in."""
        return FLAG_ALL_MASKED not in self.flags and not bool(np.all(self.mask))

    @property
    def residual_ivar(self) -> np.ndarray:
        """Inverse variance of :attr:`residual`: ``ivar``, less the model's own uncertainty when it has one."""
        if self.model is None or not self.model_error > 0:
            return self.ivar
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = 1.0 / self.ivar.astype(np.float64) + (self.model_error * self.model.astype(np.float64)) ** 2
            out = np.where((self.ivar > 0) & np.isfinite(variance), 1.0 / variance, 0.0)
        return out.astype(np.float32)

    @property
    def residual(self) -> np.ndarray:
        """Flux minus foreground model (the flux itself when no model is present)."""
        if self.model is None:
            return self.flux
        return self.flux - self.model


@dataclass
class GriddedSpectrum:
    """A spectrum mapped onto the model grid (``casiglo_gui.core.grid``), ready for detection.

    All arrays have ``grid.N_PIXELS`` elements. ``ivar`` is 0 wherever ``mask`` is True, so weighted
    sums ignore bad, sky and uncovered pixels without further checks.
    """

    residual: np.ndarray
    ivar: np.ndarray
    mask: np.ndarray
    z_fg: float
    flux: np.ndarray | None = None
    model: np.ndarray | None = None
    wdisp: np.ndarray | None = None
    object_id: str = ""
    source: str = ""
