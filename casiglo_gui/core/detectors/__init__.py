"""Detectors: from a cleaned model-grid residual to a :class:`~casiglo_gui.core.detection.Detection`.

:class:`EvidenceDetector` is the default: the CNN and the physics line search propose candidate
redshifts, physics evidence judges them, and one calibrated score comes out (see :mod:`.evidence`).
"""
from .cnn import CnnDetector
from .evidence import EvidenceDetector, EvidenceFusion

__all__ = ["CnnDetector", "EvidenceDetector", "EvidenceFusion"]
