"""Our fitted foreground against a survey pipeline's own model, on spectra that carry both.

Used by ``benchmarks/compare_foreground.py`` (the figures of docs/foreground.md) and by the tests.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..skymask import sky_mask_on_grid
from ..spectrum import MODEL_FITTED, Spectrum
from .attach import attach_foreground
from .linemask import emission_line_mask

# Used when a detector carries no measured operating point (the physics detector without a model):
# the combined detector's 1%-false-positive threshold of casiglo-cnn-v3 (models/casiglo-cnn-v3.md).
FALLBACK_LENS_THRESHOLD_1PCT = 0.85


def lens_threshold_1pct(detector) -> float:
    """The detector's own lens-score threshold at 1% false positives.

    First found: a ``lens_threshold_1pct`` attribute of the detector; ``metrics[<name>]["threshold"]`` in
    its ONNX model's metadata; the same in the model card beside the ONNX file (``<model>.json``, measured
    on the card's test set), so the value follows the detector when it is retrained;
    ``FALLBACK_LENS_THRESHOLD_1PCT`` when the detector has no model.
    """
    own = getattr(detector, "lens_threshold_1pct", None)
    if own is not None:
        return float(own)
    model = getattr(detector, "model", None)
    name = getattr(detector, "name", "combined")
    for metrics in (getattr(model, "metrics", None), _card_metrics(getattr(model, "path", None))):
        value = ((metrics or {}).get(name) or {}).get("threshold")
        if value is not None:
            return float(value)
    return FALLBACK_LENS_THRESHOLD_1PCT


def _card_metrics(model_path) -> dict:
    if model_path is None:
        return {}
    card = Path(model_path).with_suffix(".json")
    try:
        return json.loads(card.read_text()).get("metrics", {})
    except (OSError, ValueError, AttributeError):
        return {}


def refitted(spectrum: Spectrum) -> Spectrum:
    """A copy of ``spectrum`` with its model replaced by our fitted one."""
    copy = dataclasses.replace(spectrum, model=None, model_source="", model_error=0.0,
                               mask=np.array(spectrum.mask, copy=True), flags=set(spectrum.flags),
                               meta=dict(spectrum.meta))
    attach_foreground([copy])
    if copy.model_source != MODEL_FITTED:
        raise ValueError(f"{spectrum.source}: no foreground could be fitted (z_fg={spectrum.z_fg})")
    return copy


def line_free_pixels(spectrum: Spectrum) -> np.ndarray:
    """Good pixels away from the foreground's emission lines and the sky lines (native pixels)."""
    good = ~np.asarray(spectrum.mask, dtype=bool) & (spectrum.ivar > 0)
    good &= ~emission_line_mask(spectrum.z_fg, spectrum.grid_shift, spectrum.n_pixels)[0]
    shift, n = spectrum.grid_shift, spectrum.n_pixels
    sky = np.zeros(n, dtype=bool)
    lo, hi = max(shift, 0), min(shift + n, sky_mask_on_grid().size)
    if hi > lo:
        sky[lo - shift: hi - shift] = sky_mask_on_grid()[lo:hi]
    return good & ~sky


@dataclass
class ModelComparison:
    """chi^2 per pixel of the residual on the same line-free pixels, pipeline model vs ours."""

    object_id: str
    n_pixels: int
    chi2_pipeline: float
    chi2_fitted: float

    @property
    def ratio(self) -> float:
        return self.chi2_fitted / self.chi2_pipeline


def compare_models(pipeline: Spectrum, fitted: Spectrum) -> ModelComparison:
    """Residual chi^2 per pixel of both models on the pixels where both are defined and line-free."""
    pixels = line_free_pixels(pipeline) & np.isfinite(pipeline.model) & np.isfinite(fitted.model)
    ivar = pipeline.ivar[pixels].astype(np.float64)

    def chi2(model):
        return float(np.mean((pipeline.flux[pixels] - model[pixels]) ** 2 * ivar))

    return ModelComparison(pipeline.object_id, int(pixels.sum()), chi2(pipeline.model), chi2(fitted.model))
