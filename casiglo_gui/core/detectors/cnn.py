"""The CNN alone: its own z_bg, line probabilities and calibrated lens score, no physics judging.

Useful to see what the network says by itself (``casiglo scan --detector cnn``); the default detector
(:mod:`.evidence`) lets physics judge the network's proposals.
"""
from __future__ import annotations

import math

import numpy as np

from .. import grid, lines, preprocessing
from .detection import Detection, as_batch_of_one, count_lines, detector_inputs

DETECTOR_NAME = "cnn"


def line_snr_at(residual: np.ndarray, ivar: np.ndarray, z_bg: np.ndarray, sigma_px: float = 1.5) -> np.ndarray:
    """Matched-filter SNR of each of the 12 lines at fixed redshifts (fixed-width Gaussian), vectorised.

    A cheap measurement for spectra the full least-squares fit is not spent on. NaN where a line falls
    off the grid, on masked pixels only, or where ``z_bg`` is not finite.
    """
    residual = np.atleast_2d(np.asarray(residual, dtype=np.float64))
    ivar = np.atleast_2d(np.asarray(ivar, dtype=np.float64))
    z_bg = np.atleast_1d(np.asarray(z_bg, dtype=np.float64))
    half = int(math.ceil(4 * sigma_px))
    offsets = np.arange(-half, half + 1)
    zz = np.where(np.isfinite(z_bg), z_bg, 0.0)
    centre = grid.pixel_of_wavelength(lines.REST_WAVELENGTHS_A[None, :] * (1.0 + zz[:, None]))  # (n, 12)
    base = np.rint(centre).astype(np.int64)
    pix = base[..., None] + offsets                                   # (n, 12, w)
    inside = (pix >= 0) & (pix < grid.N_PIXELS)
    pixc = np.clip(pix, 0, grid.N_PIXELS - 1)
    rows = np.arange(residual.shape[0])[:, None, None]
    r = residual[rows, pixc]
    w = np.where(inside, ivar[rows, pixc], 0.0)
    g = np.exp(-0.5 * ((pix - centre[..., None]) / sigma_px) ** 2)
    num = np.sum(r * g * w, axis=-1)
    den = np.sum(g * g * w, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(den > 0, num / np.sqrt(den), np.nan)
    snr[~np.isfinite(z_bg)] = np.nan
    return snr


class CnnDetector:
    """The ONNX CNN as a detector: z_bg and line probabilities from the network, the lens score its
    calibrated probability, line SNRs by a fixed-width matched filter at its z_bg (for the table)."""

    name = DETECTOR_NAME

    def __init__(self, model):
        self.model = model

    def detect(self, g) -> Detection:
        residual, ivar, z_fg, wdisp = as_batch_of_one(g)
        return self.detect_batch(residual, ivar, z_fg, wdisp=wdisp)[0]

    def detect_batch(self, residual: np.ndarray, ivar: np.ndarray, z_fg: np.ndarray,
                     wdisp: np.ndarray | None = None) -> list[Detection]:
        residual, ivar, z_fg = detector_inputs(residual, ivar, z_fg)
        out = self.model.predict_raw(preprocessing.network_input(residual, ivar), np.nan_to_num(z_fg, nan=0.0))
        score = self.model.lens_score(out["lens_logit"])
        z = np.asarray(out["z_bg"], np.float64)
        snr = line_snr_at(residual, ivar, z)
        return [Detection(z_bg=float(z[i]), z_bg_err=float("nan"), score=float(score[i]),
                          n_lines=count_lines(snr[i]),
                          line_probability=out["line_prob"][i].astype(np.float64), line_snr=snr[i],
                          detector=self.name, model_version=self.model.version)
                for i in range(residual.shape[0])]
