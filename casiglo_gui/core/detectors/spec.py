"""Which detector a scan uses, built from a small picklable description in every worker.

A detector is anything with ``detect_batch(residual (n, N_PIXELS), ivar, z_fg (n,), wdisp=None) ->
list[Detection]``: the physics line search, the ONNX CNN alone, or the two combined
(:class:`~casiglo_gui.core.detectors.EvidenceDetector`: candidates from both, judged by physics evidence).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import CasigloError
from .detection import Detection

DETECTOR_KINDS = ("physics", "cnn", "combined")


class Detector(Protocol):
    def detect_batch(self, residual: np.ndarray, ivar: np.ndarray, z_fg: np.ndarray,
                     wdisp: np.ndarray | None = None) -> list[Detection]: ...


class DetectorUnavailableError(CasigloError):
    """The requested detector cannot be built here (missing model or component)."""


@dataclass(frozen=True)
class DetectorSpec:
    """What to build: ``kind`` (physics, cnn, combined) and, for the CNN, the ONNX model path."""

    kind: str
    model_path: str | None = None
    threads: int = 1  # onnxruntime intra-op threads per worker


def installed_model_path() -> str | None:
    """The shipped/installed ONNX model (:func:`casiglo_gui.core.inference.default_model_path`), or None
    when this installation has none."""
    from ..inference import default_model_path as find

    path = find()
    return str(path) if path.exists() else None


def resolve_spec(kind: str | None, model_path: str | None, threads: int = 1) -> tuple[DetectorSpec, str]:
    """Choose the detector: the explicit ``kind``, or combined when a model is present, else physics.

    Returns the spec and a sentence for stderr saying what was chosen and why.
    """
    if kind is not None and kind not in DETECTOR_KINDS:
        raise DetectorUnavailableError(f"unknown detector {kind!r}; choose one of {', '.join(DETECTOR_KINDS)}")
    path = model_path or (installed_model_path() if kind != "physics" else None)
    if kind is None:
        if path is not None:
            return DetectorSpec("combined", path, threads), f"detector: combined (CNN model {path} + physics)"
        return DetectorSpec("physics"), "detector: physics (no CNN model found; use --model PATH for the CNN)"
    if kind in ("cnn", "combined"):
        if path is None:
            raise DetectorUnavailableError(f"--detector {kind} needs a CNN model: none is installed; "
                                           "give --model PATH or use --detector physics")
        if not os.path.exists(path):
            raise DetectorUnavailableError(f"model file not found: {path}")
        return DetectorSpec(kind, os.path.abspath(path), threads), f"detector: {kind} (model {path})"
    return DetectorSpec("physics"), "detector: physics"


def build_detector(spec: DetectorSpec) -> Detector:
    """Build the detector described by ``spec`` (imports the pieces only when needed)."""
    if spec.kind == "physics":
        from ..physics import PhysicsDetector
        return PhysicsDetector()
    from .cnn import CnnDetector
    from ..inference import OnnxLineModel

    model = OnnxLineModel(spec.model_path, threads=spec.threads)
    if spec.kind == "cnn":
        return CnnDetector(model)
    from .evidence import EvidenceDetector
    return EvidenceDetector(model)


_CACHE: dict[DetectorSpec, Detector] = {}


def cached_detector(spec: DetectorSpec) -> Detector:
    """One detector per spec per process: workers build it on their first chunk and keep it."""
    detector = _CACHE.get(spec)
    if detector is None:
        detector = _CACHE[spec] = build_detector(spec)
    return detector
