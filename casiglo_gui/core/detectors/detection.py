"""What a detector (physics, CNN, combined) says about one spectrum.

The scan table, the app's markers and the label store all read this one type.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..lines import N_LINES

# A line counts in ``n_lines`` when its SNR at z_bg reaches this (the one meaning of n_lines).
LINE_DETECTION_SNR = 4.0


def count_lines(line_snr: np.ndarray) -> np.ndarray | int:
    """``n_lines``: lines with SNR >= ``LINE_DETECTION_SNR`` (NaN: off the spectrum, not counted);
    the last axis is the 12 lines."""
    counts = np.sum(np.nan_to_num(np.asarray(line_snr, dtype=np.float64), nan=-np.inf) >= LINE_DETECTION_SNR,
                    axis=-1)
    return int(counts) if np.ndim(counts) == 0 else counts


@dataclass
class Solution:
    """One candidate explanation of a spectrum: a background redshift with its lines and evidence.

    The detector keeps its best solution in the :class:`Detection` itself and the next ones in
    ``Detection.alternatives`` (best first), so an inspector can flip to the N-th best fit.
    """

    z_bg: float
    score: float
    evidence: float = float("nan")  # physics chi^2 evidence beyond one line (see detectors.evidence)
    z_bg_err: float = float("nan")
    n_lines: int = 0
    line_probability: np.ndarray = field(default_factory=lambda: np.zeros(N_LINES))
    line_snr: np.ndarray = field(default_factory=lambda: np.full(N_LINES, np.nan))


@dataclass
class Detection:
    """A detector's verdict on one spectrum.

    Attributes
    ----------
    z_bg : float
        Best background redshift (float64); NaN when nothing was found.
    z_bg_err : float
        1-sigma uncertainty of ``z_bg``; NaN when not refined.
    score : float
        Lens score in [0, 1]; higher = more lens-like.
    n_lines : int
        Number of lines with SNR >= ``LINE_DETECTION_SNR`` at ``z_bg`` (:func:`count_lines`).
    line_probability : float array (12,)
        Probability that each line (contract order) is present.
    line_snr : float array (12,)
        Measured SNR of each line at ``z_bg`` (NaN where the line falls off the spectrum).
    detector : str
        ``physics``, ``cnn`` or ``combined``.
    model_version : str
        Version of the model that proposed it ("" for the physics detector).
    alternatives : list of Solution
        Next-best solutions (best first), at most a few.
    """

    z_bg: float
    z_bg_err: float
    score: float
    n_lines: int
    line_probability: np.ndarray = field(default_factory=lambda: np.zeros(N_LINES))
    line_snr: np.ndarray = field(default_factory=lambda: np.full(N_LINES, np.nan))
    detector: str = "physics"
    model_version: str = ""
    alternatives: list[Solution] = field(default_factory=list)
    line_amplitude: np.ndarray | None = None
    line_sigma_a: float = float("nan")


def detector_inputs(residual, ivar, z_fg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A detector's batch inputs as float32 (n, N_PIXELS) residual and ivar and float64 (n,) z_fg.

    Raises
    ------
    ValueError
        When the shapes do not fit the model grid or each other.
    """
    from .. import grid

    residual = np.atleast_2d(np.asarray(residual, dtype=np.float32))
    ivar = np.atleast_2d(np.asarray(ivar, dtype=np.float32))
    z_fg = np.atleast_1d(np.asarray(z_fg, dtype=np.float64))
    if residual.shape != ivar.shape or residual.shape[1] != grid.N_PIXELS or z_fg.shape[0] != residual.shape[0]:
        raise ValueError(f"expected residual/ivar (n, {grid.N_PIXELS}) and z_fg (n,); got "
                         f"{residual.shape}, {ivar.shape}, {z_fg.shape}")
    return residual, ivar, z_fg


def as_batch_of_one(g) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``(residual, ivar, z_fg, wdisp)`` of one GriddedSpectrum shaped as a batch of one for ``detect_batch``."""
    wdisp = None if g.wdisp is None else np.asarray(g.wdisp, dtype=np.float32)[None, :]
    return (np.asarray(g.residual)[None, :], np.asarray(g.ivar)[None, :],
            np.array([g.z_fg], dtype=np.float64), wdisp)
