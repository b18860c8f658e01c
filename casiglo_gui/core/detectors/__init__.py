"""Detectors: from a cleaned model-grid residual to a :class:`~.detection.Detection`.

One package for the pipeline the app, ``casiglo scan`` and training's evaluation share:

- :mod:`.detection`: what a detector says (``Detection``, ``Solution``), and ``n_lines``'s one meaning;
- :mod:`.spec`: the detector protocol, which detector a scan or the app uses (``resolve_spec``,
  ``build_detector``) and where the installed model is;
- :mod:`.evidence`: the default ``combined`` detector (the CNN and the line search propose, physics
  evidence judges); :mod:`.cnn`: the network alone. The physics line search itself is
  :mod:`casiglo_gui.core.physics`, the ONNX model loader :mod:`casiglo_gui.core.inference`.

Names are imported on first use, so that :mod:`.detection` can be imported by the physics package
without pulling in the detectors built on it.
"""
from __future__ import annotations

from importlib import import_module

_WHERE = {
    "Detection": ".detection", "Solution": ".detection",
    "Detector": ".spec", "DetectorSpec": ".spec", "DETECTOR_KINDS": ".spec", "resolve_spec": ".spec",
    "build_detector": ".spec", "cached_detector": ".spec", "installed_model_path": ".spec",
    "CnnDetector": ".cnn", "EvidenceDetector": ".evidence", "EvidenceFusion": ".evidence",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name], __name__), name)
