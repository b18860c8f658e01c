"""What the spectrum view shows for the current item, computed without Qt.

The chosen background redshift (from a detector, a scan row, a manual nudge or a refit), where the 12
line markers and the foreground features fall, inverse-variance weighted smoothing, shaded regions
(masked pixels, sky lines) and the per-line stamps (residual, a Gaussian fit of that line, noise).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import grid
from ..detectors.detection import Detection, Solution
from ..lines import LINE_KEYS, LINE_LABELS, N_LINES, REST_WAVELENGTHS_A
from ..skymask import sky_mask_on_grid
from ..spectrum import GriddedSpectrum, Spectrum

# Foreground-galaxy features drawn at z_fg (vacuum Angstrom): absorption lines of an old population.
FOREGROUND_ABSORPTION_A: dict[str, float] = {
    "Ca K": 3934.78, "Ca H": 3969.59, "G band": 4305.61, "Mg b": 5176.7, "Na D": 5895.6,
}
# Where probabilities shown beside the markers come from, per Detection.detector.
PROBABILITY_SOURCE = {"cnn": "model", "combined": "model", "physics": "fit", "scan": "scan table"}
STAMP_HALF_WIDTH_PX = 40
DEFAULT_LINE_SIGMA_PX = 1.5  # a narrow line at SDSS resolution (~70 km/s pixels)


def redshift_nudged(z: float, pixels: float) -> float:
    """Redshift moved by ``pixels`` model-grid pixels (a pixel is 1e-4 dex in 1 + z)."""
    return float((1.0 + np.float64(z)) * 10.0 ** (grid.DLOGLAM * pixels) - 1.0)


def ivar_smooth(values: np.ndarray, ivar: np.ndarray, half_width: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance weighted boxcar of ``2 * half_width + 1`` pixels.

    Returns
    -------
    smoothed, sigma : float64 arrays
        The weighted mean and its 1-sigma error (NaN where no pixel in the window has weight).
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.where(np.isfinite(values) & (np.asarray(ivar) > 0), np.asarray(ivar, dtype=np.float64), 0.0)
    weighted = np.where(weights > 0, values, 0.0) * weights
    if half_width <= 0:
        total_w = weights
        total = weighted
    else:
        kernel = np.ones(2 * half_width + 1)
        total = np.convolve(weighted, kernel, mode="same")
        total_w = np.convolve(weights, kernel, mode="same")
    with np.errstate(divide="ignore", invalid="ignore"):
        smoothed = np.where(total_w > 0, total / total_w, np.nan)
        sigma = np.where(total_w > 0, 1.0 / np.sqrt(total_w), np.nan)
    return smoothed, sigma


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges ``[start, stop)`` where ``mask`` is True."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


@dataclass
class Stamp:
    """One line's zoom: model-grid wavelengths, residual, its 1-sigma noise and a Gaussian fit."""

    key: str
    centre_a: float
    wavelength: np.ndarray
    residual: np.ndarray
    sigma: np.ndarray
    fit: np.ndarray
    amplitude: float
    snr: float
    covered: bool


def fit_line(gridded: GriddedSpectrum, centre_a: float, sigma_px: float,
             half_width_px: int = STAMP_HALF_WIDTH_PX) -> Stamp:
    """Fit a Gaussian of fixed centre and width (amplitude only, weighted least squares) at ``centre_a``."""
    centre_px = float(grid.pixel_of_wavelength(centre_a))
    lo = max(int(math.floor(centre_px)) - half_width_px, 0)
    hi = min(int(math.ceil(centre_px)) + half_width_px + 1, grid.N_PIXELS)
    if hi <= lo:
        empty = np.zeros(0)
        return Stamp("", centre_a, empty, empty, empty, empty, float("nan"), float("nan"), False)
    pix = np.arange(lo, hi, dtype=np.float64)
    wave = grid.WAVELENGTH_A[lo:hi]
    resid = np.asarray(gridded.residual[lo:hi], dtype=np.float64)
    ivar = np.asarray(gridded.ivar[lo:hi], dtype=np.float64)
    profile = np.exp(-0.5 * ((pix - centre_px) / sigma_px) ** 2)
    denom = float(np.sum(ivar * profile**2))
    core = np.abs(pix - centre_px) <= 2 * sigma_px
    covered = denom > 0 and bool(np.any(ivar[core] > 0))
    if covered:
        amplitude = float(np.sum(ivar * resid * profile) / denom)
        snr = amplitude * math.sqrt(denom)
    else:
        amplitude, snr = float("nan"), float("nan")
    with np.errstate(divide="ignore"):
        sigma = np.where(ivar > 0, 1.0 / np.sqrt(np.where(ivar > 0, ivar, 1.0)), np.nan)
    resid = np.where(ivar > 0, resid, np.nan)
    fit = profile * (amplitude if covered else 0.0)
    return Stamp("", centre_a, wave, resid, sigma, fit, amplitude, snr, covered)


@dataclass
class ViewState:
    """The current item's spectrum, the detector's verdict, and the redshift on show.

    The detector's verdict (``detection``: its best solution and ``alternatives``) is never replaced: a
    refit is kept beside it (``refit``), so X always brings the detector's solution back. ``z`` is what
    the markers show; ``z_origin`` says where it came from: ``detector`` or ``scan`` (the best solution),
    ``alternative N`` (the detector's N-th next-best), ``manual`` (nudged or dragged), ``refit`` or ``none``.

    Line probabilities belong to a solution: they are shown only at that solution's z. Line S/N shown
    anywhere (plot labels, stamps) is :meth:`line_snrs`: the solution's (or refit's) at its own z, the
    stamp fit at the shown z once the inspector has moved it, so the plot and the stamps never disagree.
    """

    spectrum: Spectrum
    gridded: GriddedSpectrum
    detection: Detection | None = None
    z: float = float("nan")
    z_err: float = float("nan")
    z_origin: str = "none"
    smoothing_half_width: int = 2
    history: list[tuple[str, float]] = field(default_factory=list)
    refit: Detection | None = None
    solution_index: int = -1   # into labelled_solutions(); -1 until one is shown
    _stamps: tuple[float, list] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.detection is not None and math.isfinite(self.detection.z_bg) and not math.isfinite(self.z):
            self.z = float(np.float64(self.detection.z_bg))
            self.z_err = float(self.detection.z_bg_err)
            self.z_origin = self.best_origin
            self.solution_index = 0
        if not math.isfinite(self.z):
            # Nothing detected: start the markers just above the foreground, for the inspector to move.
            z_fg = self.spectrum.z_fg if math.isfinite(self.spectrum.z_fg) else 0.0
            self.z = float(z_fg) + 0.1
            self.z_origin = "none"

    @property
    def best_origin(self) -> str:
        return "scan" if self.detection is not None and self.detection.detector == "scan" else "detector"

    # --- solutions ------------------------------------------------------------------------------
    def labelled_solutions(self) -> list[tuple[str, Solution]]:
        """The detector's solutions with the origin each is shown under: its best (when it found a z_bg),
        then ``alternative 1``, ``alternative 2``... (finite z only), best first."""
        d = self.detection
        if d is None:
            return []
        out = []
        if math.isfinite(d.z_bg):
            out.append((self.best_origin, Solution(z_bg=d.z_bg, score=d.score, z_bg_err=d.z_bg_err, n_lines=d.n_lines,
                                                   line_probability=d.line_probability, line_snr=d.line_snr)))
        for k, solution in enumerate(d.alternatives, start=1):
            # The same z twice (a detector may return it) is one solution to the inspector.
            if math.isfinite(solution.z_bg) and all(abs(solution.z_bg - s.z_bg) > 1e-6 for _, s in out):
                out.append((f"alternative {k}", solution))
        return out

    def solutions(self) -> list[Solution]:
        return [solution for _, solution in self.labelled_solutions()]

    def cycle_solution(self) -> int:
        """Show the detector's next solution (best -> 2nd -> 3rd -> best); returns its index (-1: none)."""
        labelled = self.labelled_solutions()
        if not labelled:
            return -1
        self.solution_index = (self.solution_index + 1) % len(labelled)
        origin, chosen = labelled[self.solution_index]
        self.set_z(chosen.z_bg, origin, chosen.z_bg_err)
        return self.solution_index

    def _measured_by(self):
        """The solution (or refit) whose lines were measured at the shown z, else None (moved by hand)."""
        if self.z_origin == "refit":
            return self.refit
        for origin, solution in self.labelled_solutions():
            if origin == self.z_origin:
                return solution
        return None

    # --- redshift ---------------------------------------------------------------------------------
    def set_z(self, z: float, origin: str = "manual", z_err: float = float("nan")) -> None:
        self.history.append((self.z_origin, self.z))
        self.z = float(np.float64(z))
        self.z_err = float(z_err)
        self.z_origin = origin

    def nudge(self, pixels: float) -> None:
        """Move the marker set by ``pixels`` grid pixels (a manual choice)."""
        self.set_z(redshift_nudged(self.z, pixels), "manual")

    def reset_z(self) -> None:
        """Back to the detector's (or scan's) best solution (when it found one)."""
        if self.detection is not None and math.isfinite(self.detection.z_bg):
            self.solution_index = 0
            self.set_z(self.detection.z_bg, self.best_origin, self.detection.z_bg_err)

    def apply_refit(self, refit: Detection) -> None:
        """Show a refined fit from the chosen z; the detector's verdict stays as it was."""
        self.refit = refit
        self.set_z(refit.z_bg, "refit", refit.z_bg_err)

    # --- what is drawn -------------------------------------------------------------------------
    def marker_wavelengths(self) -> np.ndarray:
        """Observed vacuum wavelengths of the 12 lines at the chosen z: rest x (1 + z)."""
        return REST_WAVELENGTHS_A * (1.0 + np.float64(self.z))

    def foreground_emission_wavelengths(self) -> np.ndarray:
        return REST_WAVELENGTHS_A * (1.0 + np.float64(self.spectrum.z_fg))

    def foreground_absorption(self) -> dict[str, float]:
        factor = 1.0 + np.float64(self.spectrum.z_fg)
        return {name: float(rest * factor) for name, rest in FOREGROUND_ABSORPTION_A.items()}

    @property
    def probability_source(self) -> str:
        if self.detection is None:
            return "none"
        if self.z_origin == "refit" and self.refit is not None:
            return PROBABILITY_SOURCE.get(self.refit.detector, self.refit.detector)
        if self.z_origin == "none":
            return "none (no z_bg found)"
        if self._measured_by() is None:
            return "none at a moved z"
        return PROBABILITY_SOURCE.get(self.detection.detector, self.detection.detector)

    @property
    def snr_source(self) -> str:
        """Where the S/N shown beside each line comes from."""
        measured = self._measured_by()
        if measured is None:
            return "line fit at the shown z"
        return "refit" if measured is self.refit else self.probability_source

    def line_probabilities(self) -> np.ndarray:
        measured = self._measured_by()
        if measured is None:
            return np.full(N_LINES, np.nan)
        return np.asarray(measured.line_probability, dtype=np.float64)

    def line_snrs(self) -> np.ndarray:
        measured = self._measured_by()
        if measured is None:
            return np.array([stamp.snr for stamp in self.stamps()], dtype=np.float64)
        return np.asarray(measured.line_snr, dtype=np.float64)

    def marker_labels(self) -> list[str]:
        """Per-line marker text: name, probability and SNR where known."""
        labels = []
        for key, p, snr in zip(LINE_KEYS, self.line_probabilities(), self.line_snrs()):
            text = LINE_LABELS[key]
            if math.isfinite(p):
                text += f" p={p:.2f}"
            if math.isfinite(snr):
                text += f" S/N={snr:.1f}"
            labels.append(text)
        return labels

    def line_sigma_px(self) -> float:
        fitted = self.refit if self.z_origin == "refit" and self.refit is not None else self.detection
        sigma_a = float(getattr(fitted, "line_sigma_a", float("nan"))) if fitted else float("nan")
        if math.isfinite(sigma_a) and sigma_a > 0:
            centre = float(np.median(self.marker_wavelengths()))
            return max(sigma_a / (centre * math.log(10) * grid.DLOGLAM), 0.5)
        return DEFAULT_LINE_SIGMA_PX

    def stamps(self) -> list[Stamp]:
        """One stamp per line at the chosen z, in contract order (computed once per z)."""
        if self._stamps is not None and self._stamps[0] == self.z:
            return self._stamps[1]
        sigma_px = self.line_sigma_px()
        out = []
        for key, centre in zip(LINE_KEYS, self.marker_wavelengths()):
            stamp = fit_line(self.gridded, float(centre), sigma_px)
            stamp.key = key
            out.append(stamp)
        self._stamps = (self.z, out)
        return out

    def smoothed(self, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(wavelength, smoothed values, 1-sigma) of ``flux`` or ``residual`` in the file's own pixels."""
        s = self.spectrum
        values = s.flux if which == "flux" else s.residual
        ivar = np.where(s.mask, 0.0, s.ivar)
        smooth, sigma = ivar_smooth(values, ivar, self.smoothing_half_width)
        return s.wavelength, smooth, sigma

    def masked_ranges_a(self) -> list[tuple[float, float]]:
        """Wavelength ranges (Angstrom) of the file's bad pixels."""
        w = self.spectrum.wavelength
        return [(float(w[a]), float(w[b - 1])) for a, b in true_runs(self.spectrum.mask)]


def sky_ranges_a() -> list[tuple[float, float]]:
    """Wavelength ranges (Angstrom) of the model grid's sky-line mask."""
    w = grid.WAVELENGTH_A
    return [(float(w[a]), float(w[b - 1])) for a, b in true_runs(sky_mask_on_grid())]
