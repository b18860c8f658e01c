"""The physics detector: line search + partner-evidence score + optional least-squares refinement."""
from __future__ import annotations

import numpy as np

from .. import grid
from ..detection import Detection
from ..lines import LINE_INDEX, N_LINES
from ..spectrum import GriddedSpectrum
from . import linesearch as ls
from . import scoring
from .refine import RefineResult, refine_redshift

DETECTOR_NAME = "physics"
N_CANDIDATES = 10
DOUBLET_WINDOW_PX = 4


class PhysicsDetector:
    """Classical emission-line search for background galaxies in foreground-subtracted residuals.

    Parameters
    ----------
    dz_margin : float
        Smallest z_bg - z_fg searched (the foreground's own lines are at z_fg).
    z_max : float, optional
        Largest z_bg searched; default: where [OII] leaves the grid (z ~ 1.78).
    refine_above : float or None
        Refine z_bg by non-linear least squares for detections scoring at least this (None: never).
        Refinement costs ~ms per spectrum, so it is kept to the few promising ones.
    n_alternatives : int
        Next-best redshift peaks reported.
    """

    def __init__(self, dz_margin: float = ls.DEFAULT_DZ_MARGIN, z_max: float | None = None,
                 refine_above: float | None = 0.5, n_alternatives: int = 3):
        self.dz_margin = float(dz_margin)
        self.z_max = z_max
        self.refine_above = refine_above
        self.n_alternatives = int(n_alternatives)

    # ------------------------------------------------------------------ public API
    def detect(self, g: GriddedSpectrum) -> Detection:
        """Search one gridded spectrum (see :meth:`detect_batch`)."""
        wdisp = None if g.wdisp is None else np.asarray(g.wdisp, dtype=np.float32)[None, :]
        return self.detect_batch(np.asarray(g.residual)[None, :], np.asarray(g.ivar)[None, :],
                                 np.array([g.z_fg], dtype=np.float64), wdisp=wdisp)[0]

    def detect_batch(self, residual: np.ndarray, ivar: np.ndarray, z_fg: np.ndarray,
                     wdisp: np.ndarray | None = None) -> list[Detection]:
        """Search a batch of cleaned model-grid residuals.

        Parameters
        ----------
        residual, ivar : float32 arrays (n, N_PIXELS)
            From :func:`casiglo_gui.core.preprocessing.clean` (ivar = 0 on masked and sky pixels).
        z_fg : float64 array (n,)
            Foreground redshifts (NaN: search from z = dz_margin).
        wdisp : float32 array (n, N_PIXELS), optional
            Instrumental dispersion (pixels); bounds the refined line width from below.

        Returns
        -------
        list of Detection
            One per spectrum, ``detector="physics"``. ``z_bg_err`` is NaN unless refined.
        """
        residual = np.atleast_2d(np.asarray(residual, dtype=np.float32))
        ivar = np.atleast_2d(np.asarray(ivar, dtype=np.float32))
        z_fg = np.atleast_1d(np.asarray(z_fg, dtype=np.float64))
        if residual.shape != ivar.shape or residual.shape[1] != grid.N_PIXELS or z_fg.shape[0] != residual.shape[0]:
            raise ValueError(f"expected residual/ivar (n, {grid.N_PIXELS}) and z_fg (n,); got "
                             f"{residual.shape}, {ivar.shape}, {z_fg.shape}")
        out: list[Detection] = []
        for start in range(0, residual.shape[0], ls.CHUNK):
            sl = slice(start, start + ls.CHUNK)
            out.extend(self._detect_chunk(residual[sl], ivar[sl], z_fg[sl]))
        if self.refine_above is not None:
            for i, det in enumerate(out):
                if det.score >= self.refine_above and np.isfinite(det.z_bg):
                    wd = None if wdisp is None else np.asarray(wdisp[i])
                    self._apply_refinement(det, residual[i], ivar[i], wd)
        return out

    def refine(self, g: GriddedSpectrum, z_start: float) -> Detection:
        """Refit the lines around ``z_start`` (e.g. a CNN's or an expert's redshift) and score the result.

        The score is the line search's partner evidence evaluated at the refined redshift.
        """
        res = refine_redshift(g.residual, g.ivar, z_start, wdisp=g.wdisp)
        z = res.z_bg if res.success else float(z_start)
        det = self._evaluate_at(g, z)
        if res.success:
            self._copy_refinement(det, res)
        return det

    # ------------------------------------------------------------------ internals
    def _detect_chunk(self, residual, ivar, z_fg) -> list[Detection]:
        n = residual.shape[0]
        sr = ls.scan(residual, ivar, z_fg, dz_margin=self.dz_margin, z_max=self.z_max)
        cols = ls.top_peaks(sr.s2, N_CANDIDATES)
        valid = cols >= 0
        colc = np.where(valid, cols, 0)
        rows = np.arange(n)[:, None]
        sub = sr.q0 + colc
        sig_idx = sr.best_sigma[rows, colc].astype(np.int64)
        evidence, feats, fl, nl = self._evidence(sr, sub, sig_idx)
        evidence = np.where(valid, evidence, -np.inf)
        s2c = np.where(valid, sr.s2[rows, colc], -np.inf)
        # Best candidate: most partner evidence; ties (e.g. all noise) by total significance.
        order = np.lexsort((-s2c, -np.round(evidence, 3)), axis=1)
        detections = []
        for i in range(n):
            if not valid[i, 0]:
                detections.append(self._empty())
                continue
            j = order[i, 0]
            col = colc[i, j]
            shift = (sub[i, j] + self._parabolic(sr.s2[i], col)) / ls.SUBPIXEL
            z = float(ls.redshift_of_shift(shift))
            sigma_px = ls.TRIAL_SIGMAS_PX[sig_idx[i, j]]
            detections.append(self._make_detection(z, float(evidence[i, j]), fl[i, j], nl[i, j], sigma_px,
                                                   alternatives=[
                                                       (float(ls.redshift_of_shift(sub[i, k] / ls.SUBPIXEL)),
                                                        float(np.sqrt(max(s2c[i, k], 0.0))))
                                                       for k in order[i, 1:] if valid[i, k]
                                                   ][: self.n_alternatives]))
        return detections

    def _evidence(self, sr: ls.ScanResult, sub: np.ndarray, sig_idx: np.ndarray):
        fl, nl = ls.line_arrays_at(sr.F, sr.N, sub, sig_idx)
        sigma = np.asarray(ls.TRIAL_SIGMAS_PX, dtype=np.float32)[sig_idx]
        feats = ls.feature_snr(fl, nl, sigma)
        doublet = self._doublet_snr(sr, sub, fl, nl, sigma)
        return scoring.partner_evidence(feats, doublet), feats, fl, nl

    @staticmethod
    def _doublet_snr(sr, sub, fl, nl, sigma):
        """sqrt of the chi^2 gain of the two-component [OII] fit over the best single Gaussian nearby."""
        a, b = LINE_INDEX["oii_3727"], LINE_INDEX["oii_3730"]
        f1, f2, n1, n2 = fl[..., a], fl[..., b], nl[..., a], nl[..., b]
        c = ls.oii_overlap(sigma) * np.sqrt(n1 * n2)
        det = n1 * n2 - c * c
        with np.errstate(divide="ignore", invalid="ignore"):
            a1 = (n2 * f1 - c * f2) / det
            a2 = (n1 * f2 - c * f1) / det
            both = (det > 0) & (a1 >= 0) & (a2 >= 0)
            two = np.where(both, a1 * f1 + a2 * f2, 0.0)
            one_a = np.where(n1 > 0, np.maximum(f1, 0) ** 2 / np.where(n1 > 0, n1, 1), 0.0)
            one_b = np.where(n2 > 0, np.maximum(f2, 0) ** 2 / np.where(n2 > 0, n2, 1), 0.0)
        delta2 = np.where(both, two, np.maximum(one_a, one_b))
        # Best single Gaussian of any trial width within +-DOUBLET_WINDOW_PX of the doublet's centre.
        centre = sub + (ls.REST_SUB[a] + ls.REST_SUB[b]) // 2
        offs = np.arange(-DOUBLET_WINDOW_PX * ls.SUBPIXEL, DOUBLET_WINDOW_PX * ls.SUBPIXEL + 1)
        pos = centre[..., None] + offs
        p, f = np.floor_divide(pos, ls.SUBPIXEL), np.mod(pos, ls.SUBPIXEL)
        inside = (p >= 0) & (p < grid.N_PIXELS)
        pc = np.clip(p, 0, grid.N_PIXELS - 1)
        rows = np.arange(sub.shape[0])[:, None, None]
        delta1 = np.zeros(sub.shape, dtype=np.float32)
        for si in range(len(ls.TRIAL_SIGMAS_PX)):
            F = sr.F[rows, si, f, pc]
            N = sr.N[rows, si, f, pc]
            with np.errstate(divide="ignore", invalid="ignore"):
                power = np.where(inside & (N > 0), np.maximum(F, 0) ** 2 / np.where(N > 0, N, 1), 0.0)
            delta1 = np.maximum(delta1, power.max(axis=-1))
        gain = np.where((n1 > 0) & (n2 > 0), delta2 - delta1, 0.0)
        return np.sqrt(np.maximum(gain, 0.0)).astype(np.float32)

    @staticmethod
    def _parabolic(row: np.ndarray, col: int) -> float:
        if col <= 0 or col >= row.shape[0] - 1:
            return 0.0
        ym, y0, yp = float(row[col - 1]), float(row[col]), float(row[col + 1])
        if ym < 0 or yp < 0:
            return 0.0
        den = ym - 2 * y0 + yp
        if den >= 0:
            return 0.0
        return float(np.clip(0.5 * (ym - yp) / den, -0.5, 0.5))

    def _make_detection(self, z, evidence, fl, nl, sigma_px, alternatives) -> Detection:
        with np.errstate(divide="ignore", invalid="ignore"):
            snr = np.where(nl > 0, fl / np.sqrt(np.where(nl > 0, nl, 1)), np.nan).astype(np.float64)
            amp = np.where(nl > 0, fl / np.where(nl > 0, nl, 1), np.nan).astype(np.float64)
        centres = 10.0 ** (grid.LOGLAM0 + grid.DLOGLAM * (ls.REST_PIXEL + ls.shift_of_redshift(z)))
        strongest = int(np.nanargmax(snr)) if np.any(np.isfinite(snr)) else LINE_INDEX["hbeta"]
        return Detection(
            z_bg=float(z), z_bg_err=float("nan"), score=float(scoring.lens_score(evidence)),
            n_lines=int(np.sum(np.nan_to_num(snr, nan=-1.0) >= scoring.LINE_DETECTION_SNR)),
            line_probability=scoring.line_probability(snr), line_snr=snr, detector=DETECTOR_NAME,
            model_version="", alternatives=list(alternatives), line_amplitude=amp,
            line_sigma_a=float(centres[strongest] * grid.LN10 * grid.DLOGLAM * sigma_px),
        )

    @staticmethod
    def _empty() -> Detection:
        return Detection(z_bg=float("nan"), z_bg_err=float("nan"), score=0.0, n_lines=0,
                         line_probability=np.zeros(N_LINES), line_snr=np.full(N_LINES, np.nan),
                         detector=DETECTOR_NAME, line_amplitude=np.full(N_LINES, np.nan))

    def _evaluate_at(self, g: GriddedSpectrum, z: float) -> Detection:
        """Line search numbers (features, evidence, per-line SNR) at one fixed redshift."""
        sr = ls.scan(np.asarray(g.residual)[None], np.asarray(g.ivar)[None], np.array([g.z_fg]),
                     dz_margin=self.dz_margin, z_max=self.z_max)
        shift = float(ls.shift_of_redshift(z))
        sub = np.array([[int(np.rint(shift * ls.SUBPIXEL))]])
        col = int(sub[0, 0] - sr.q0)
        if 0 <= col < sr.s2.shape[1]:
            sig_idx = sr.best_sigma[:, col: col + 1].astype(np.int64)
        else:
            sig_idx = np.ones_like(sub)
        evidence, _, fl, nl = self._evidence(sr, sub, sig_idx)
        return self._make_detection(z, float(evidence[0, 0]), fl[0, 0], nl[0, 0],
                                    ls.TRIAL_SIGMAS_PX[sig_idx[0, 0]], alternatives=[])

    def _apply_refinement(self, det: Detection, residual, ivar, wdisp) -> None:
        res = refine_redshift(residual, ivar, det.z_bg, wdisp=wdisp)
        if res.success:
            self._copy_refinement(det, res)

    @staticmethod
    def _copy_refinement(det: Detection, res: RefineResult) -> None:
        det.z_bg = res.z_bg
        det.z_bg_err = res.z_bg_err
        fitted = np.isfinite(res.snr)
        snr = np.where(fitted, res.snr, det.line_snr)
        det.line_snr = snr
        det.line_probability = scoring.line_probability(snr)
        det.n_lines = int(np.sum(np.nan_to_num(snr, nan=-1.0) >= scoring.LINE_DETECTION_SNR))
        det.line_amplitude = np.where(fitted, res.amplitude, det.line_amplitude)
        if np.any(fitted):
            strongest = int(np.nanargmax(np.where(fitted, res.snr, np.nan)))
            det.line_sigma_a = float(res.sigma_a[strongest])
