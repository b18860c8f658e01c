"""Typed errors raised by the core. Each names the file and the problem."""
from __future__ import annotations

from pathlib import Path


class CasigloError(Exception):
    """Base class of every error the core raises on purpose."""


class SpectrumReadError(CasigloError):
    """A file could not be read as a spectrum.

    Attributes
    ----------
    path : str
        The file that was being read.
    reason : str
        What was wrong, in words a user can act on.
    """

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelMismatchError(CasigloError):
    """An ONNX model file does not match this program's grid, lines or preprocessing."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
