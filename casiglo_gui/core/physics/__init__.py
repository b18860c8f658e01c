"""Physics line search: redshift scan over the 12 lines, lens score, and sub-pixel refinement.

Qt-free and TensorFlow-free. Entry points: :class:`PhysicsDetector` (``detect``, ``detect_batch``,
``refine``) and :func:`refine_redshift`.
"""
from .detector import PhysicsDetector
from .linesearch import ScanResult, redshift_of_shift, scan, shift_of_redshift
from .refine import RefineResult, refine_redshift

__all__ = ["PhysicsDetector", "RefineResult", "ScanResult", "refine_redshift", "redshift_of_shift", "scan",
           "shift_of_redshift"]
