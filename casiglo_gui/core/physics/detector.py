"""The physics detector: line search + partner-evidence score + optional least-squares refinement.

Per spectrum: the scan (:func:`.linesearch.scan`) gives the combined significance S^2 of every trial
redshift; its ``N_CANDIDATES`` best peaks get partner evidence (:mod:`.scoring`); the most significant
peak is kept unless another has clearly more partner evidence; the z of the kept peak is interpolated
between scan steps and, for detections scoring at least ``refine_above``, refitted by
:func:`.refine.refine_redshift` (which also gives z_bg_err and the per-line SNRs then reported).
``n_lines`` counts lines with SNR >= 4 at z_bg (:func:`~casiglo_gui.core.detectors.detection.count_lines`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import grid
from ..detectors.detection import Detection, Solution, as_batch_of_one, count_lines, detector_inputs
from ..lines import LINE_INDEX, N_LINES
from ..spectrum import GriddedSpectrum
from . import linesearch as ls
from . import scoring
from .ratios import ratio_deficit
from .doublet import doublet_gains
from .refine import RefineResult, refine_redshift

DETECTOR_NAME = "physics"
N_CANDIDATES = 20
# Of those, how many come from the partner-significance map (multi-line sources) rather than from the
# total significance: a single bright feature fills the total map's best peaks with its 12 readings.
N_PARTNER_CANDIDATES = 8
BLEND_MARGIN_PX = 3
# Spike test (cosmic rays): window around each line (wide enough that a broad kernel picking up a
# spike in its wing is caught too) and the chi^2 margin a 2-pixel spike must win by.
SPIKE_WINDOW_PX = 4
SPIKE_MARGIN_CHI2 = 9.0
# Fraction of a lone line's power that the more flexible multi-line fit may gain from the coarse
# width grid alone (measured <= 0.6% on noiseless lone Gaussians of sigma 1.3-2.5 px); a resolved
# [OII] doublet gains 5-10%.
BLEND_TOLERANCE = 0.015
# The [OII] shape test needs this fraction of the pixels across the doublet unmasked.
OII_MIN_COVERAGE = 0.7
# The doublet-shape fit runs only where the [OII] template reaches this SNR.
OII_SHAPE_MIN_SNR = 4.0
# Prefer a less significant peak only when its partner evidence is larger by this much.
EVIDENCE_SWITCH = 2.0


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
        Refinement costs ~3 ms per spectrum, so it is kept to the few promising ones; the default 0.2
        is below the 1%-false-positive threshold measured by benchmarks/eval_physics.py (~0.2-0.3),
        so every detection a user would act on is refined.
    n_alternatives : int
        Next-best redshift peaks reported.
    """

    def __init__(self, dz_margin: float = ls.DEFAULT_DZ_MARGIN, z_max: float | None = None,
                 refine_above: float | None = 0.2, n_alternatives: int = 3):
        self.dz_margin = float(dz_margin)
        self.z_max = z_max
        self.refine_above = refine_above
        self.n_alternatives = int(n_alternatives)

    # ------------------------------------------------------------------ public API
    def detect(self, g: GriddedSpectrum) -> Detection:
        """Search one gridded spectrum (see :meth:`detect_batch`)."""
        residual, ivar, z_fg, wdisp = as_batch_of_one(g)
        return self.detect_batch(residual, ivar, z_fg, wdisp=wdisp)[0]

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
        residual, ivar, z_fg = detector_inputs(residual, ivar, z_fg)
        out: list[Detection] = []
        for start in range(0, residual.shape[0], ls.CHUNK):
            sl = slice(start, start + ls.CHUNK)
            out.extend(self._detect_chunk(residual[sl], ivar[sl], z_fg[sl]))
        if self.refine_above is not None:
            for i, det in enumerate(out):
                if det.score >= self.refine_above and np.isfinite(det.z_bg):
                    wd = None if wdisp is None else np.asarray(wdisp[i])
                    refine_detection(det, residual[i], ivar[i], wd)
        return out

    def refine(self, g: GriddedSpectrum, z_start: float) -> Detection:
        """Refit the lines around ``z_start`` (e.g. a CNN's or an expert's redshift) and score the result.

        The score is the line search's partner evidence evaluated at the refined redshift.
        """
        res = refine_redshift(g.residual, g.ivar, z_start, wdisp=g.wdisp)
        z = res.z_bg if res.success else float(z_start)
        det = self._evaluate_at(g, z)
        if res.success:
            copy_refinement(det, res)
        return det

    # ------------------------------------------------------------------ internals
    def candidates_batch(self, residual: np.ndarray, ivar: np.ndarray, z_fg: np.ndarray,
                         extra_z: np.ndarray | None = None) -> "Candidates":
        """Every candidate redshift's physics evidence, for a batch (the combined detector's judge).

        Candidates are the ``N_CANDIDATES`` best peaks of the line search plus, when ``extra_z`` is
        given (e.g. the CNN's z_bg, one per spectrum; NaN for none), that redshift as the last column.
        """
        residual, ivar, z_fg = detector_inputs(residual, ivar, z_fg)
        parts = []
        for start in range(0, residual.shape[0], ls.CHUNK):
            sl = slice(start, start + ls.CHUNK)
            extra = None if extra_z is None else np.atleast_1d(np.asarray(extra_z, dtype=np.float64))[sl]
            parts.append(self._candidates_chunk(residual[sl], ivar[sl], z_fg[sl], extra))
        return Candidates.concatenate(parts)

    def _candidates_chunk(self, residual, ivar, z_fg, extra_z=None) -> "Candidates":
        n = residual.shape[0]
        sr = ls.scan(residual, ivar, z_fg, dz_margin=self.dz_margin, z_max=self.z_max)
        cols = np.concatenate([ls.top_peaks(sr.s2, N_CANDIDATES - N_PARTNER_CANDIDATES),
                               ls.top_peaks(sr.partner_s2, N_PARTNER_CANDIDATES)], axis=1)
        valid = cols >= 0
        colc = np.where(valid, cols, 0)
        rows = np.arange(n)[:, None]
        sub = sr.q0 + colc
        sig_idx = sr.best_sigma[rows, colc].astype(np.int64)
        frac = self._parabolic_offsets(sr.s2, colc)
        if extra_z is not None:
            # The proposer's redshift as one more candidate, read at the nearest half pixel with the
            # width the search preferred there; outside the searched range it is not a candidate.
            shift = ls.shift_of_redshift(np.where(np.isfinite(extra_z), extra_z, 0.0))
            q = np.rint(shift * ls.SUBPIXEL).astype(np.int64)
            col = q - sr.q0
            inside = np.isfinite(extra_z) & (col >= 0) & (col < sr.s2.shape[1])
            colx = np.clip(col, 0, sr.s2.shape[1] - 1)
            inside &= sr.s2[np.arange(n), colx] >= 0
            sub = np.concatenate([sub, q[:, None]], axis=1)
            colc = np.concatenate([colc, colx[:, None]], axis=1)
            valid = np.concatenate([valid, inside[:, None]], axis=1)
            sig_idx = np.concatenate([sig_idx, sr.best_sigma[np.arange(n), colx].astype(np.int64)[:, None]], axis=1)
            frac = np.concatenate([frac, (shift * ls.SUBPIXEL - q)[:, None]], axis=1)
        evidence, _, fl, nl, scale, deficit, tied = self._evidence(sr, sub, sig_idx)
        m = sub.shape[1]
        z = ls.redshift_of_shift((sub + frac) / ls.SUBPIXEL)
        sigma_px = np.asarray(ls.TRIAL_SIGMAS_PX)[sig_idx]
        flat = self._detection_fields(z.reshape(-1), evidence.reshape(-1), fl.reshape(n * m, -1),
                                      nl.reshape(n * m, -1), sigma_px.reshape(-1), scale.reshape(-1))
        fields = {k: v.reshape((n, m) + v.shape[1:]) for k, v in flat.items()}
        s2 = np.where(valid, sr.s2[rows, colc], -np.inf)
        return Candidates(z=fields["z"], evidence=np.where(valid, evidence, -np.inf), s2=s2, valid=valid,
                          oii_deficit=np.where(valid, deficit, 0.0), ratio_deficit=np.where(valid, tied, 0.0),
                          snr=fields["snr"], amp=fields["amp"], n_lines=fields["n_lines"],
                          sigma_a=fields["sigma_a"], has_extra=extra_z is not None)

    def _detect_chunk(self, residual, ivar, z_fg) -> list[Detection]:
        c = self._candidates_chunk(residual, ivar, z_fg)
        n = residual.shape[0]
        r1 = np.arange(n)
        # The most significant peak, unless another has clearly more partner evidence (a lone strong
        # line or blended doublet gets its top S^2 at whichever line it is taken for; the right
        # reading is the one where other lines agree).
        by_s2 = np.argsort(-c.s2, axis=1, kind="stable")
        first = by_s2[:, 0]
        most = np.argmax(c.evidence, axis=1)
        switch = c.evidence[r1, most] > c.evidence[r1, first] + EVIDENCE_SWITCH
        chosen = np.where(switch, most, first)
        detections = []
        for i in range(n):
            k = int(chosen[i])
            if not c.valid[i, 0] or c.s2[i, 0] <= 0:  # nothing usable (e.g. every pixel masked)
                detections.append(self._empty())
                continue
            others = [j for j in by_s2[i] if j != k and c.valid[i, j]][: self.n_alternatives]
            alternatives = [c.solution(i, j) for j in others]
            det = Detection(z_bg=float(c.z[i, k]), z_bg_err=float("nan"),
                            score=float(scoring.lens_score(c.evidence[i, k])), n_lines=int(c.n_lines[i, k]),
                            line_probability=scoring.line_probability(c.snr[i, k]), line_snr=c.snr[i, k],
                            detector=DETECTOR_NAME, model_version="", alternatives=alternatives,
                            line_amplitude=c.amp[i, k], line_sigma_a=float(c.sigma_a[i, k]))
            detections.append(det)
        return detections

    def _evidence(self, sr: ls.ScanResult, sub: np.ndarray, sig_idx: np.ndarray):
        """Partner evidence of candidate shifts (see :mod:`.scoring`), with the per-line arrays.

        Also returns the [OII] shape deficit (chi^2, <= 0): how much better one Gaussian explains the
        [OII] position than any physical doublet (evidence against reading that line as [OII]).
        """
        fl, nl = ls.line_arrays_at(sr.F, sr.N, sub, sig_idx)
        # Dividing F by the noise scale divides every SNR by it; amplitudes come from the raw arrays.
        scale = sr.noise_scale[np.arange(sub.shape[0])[:, None], sig_idx][..., None]
        # Lines that are spikes narrower than the resolution (cosmic rays) give no evidence.
        fl_s = np.where(self._spike_like(sr, sub), 0.0, fl / scale)
        sigma = np.asarray(ls.TRIAL_SIGMAS_PX, dtype=np.float32)[sig_idx]
        feats = ls.feature_snr(fl_s, nl, sigma)
        parts = [feats[..., ls.FEATURE_NAMES.index(name)] for name in scoring.UNBLENDED_FEATURES]
        for name, members, lines in scoring.BLEND_GROUPS:
            if name == "oii":
                primary, partner, deficit = self._oii_terms(sr, sub, feats[..., ls.FEATURE_NAMES.index("oii")], lines)
                parts.extend([primary, partner])
                continue
            total = sum(np.maximum(feats[..., ls.FEATURE_NAMES.index(m)], 0.0) ** 2 for m in members)
            single = self._best_single(sr, sub, lines)
            parts.append(np.sqrt(np.minimum(total, single)))
            parts.append(np.sqrt(np.maximum(total - single * (1.0 + BLEND_TOLERANCE), 0.0)))
        evidence = scoring.partner_evidence(np.stack(parts, axis=-1))
        return evidence, feats, fl, nl, scale[..., 0], deficit, ratio_deficit(fl_s, nl)

    def _oii_terms(self, sr, sub, oii_snr, lines):
        """[OII] group terms: (best single line, doublet shape) from exact fits on the pixels.

        Fitted only where the [OII] template has SNR >= OII_SHAPE_MIN_SNR (elsewhere the shape cannot
        matter) and the doublet is covered well enough to show its shape (:meth:`_covered`). Both
        models are fitted to the same unmasked pixels, so a masked pixel favours neither.
        """
        primary = np.maximum(oii_snr, 0.0).astype(np.float32)
        partner = np.zeros_like(primary)
        deficit = np.zeros_like(primary)
        todo = (oii_snr >= OII_SHAPE_MIN_SNR) & self._covered(sr, sub, lines)
        if np.any(todo):
            rows, cols = np.nonzero(todo)
            two, one = doublet_gains(sr.residual, sr.ivar, rows, sub[rows, cols] / ls.SUBPIXEL)
            var = sr.noise_scale[rows, 1] ** 2
            primary[rows, cols] = np.sqrt(np.maximum(one, 0.0) / var)
            partner[rows, cols] = np.sqrt(np.maximum(two - one, 0.0) / var)
            deficit[rows, cols] = np.minimum(two - one, 0.0) / var
        return primary, partner, deficit

    @staticmethod
    def _spike_like(sr, sub):
        """(n, m, 12) True where the signal at a line's position is a 1-2 pixel spike, not a line.

        Compares the chi^2 gain of two free adjacent pixels with that of the narrowest real line
        (sigma = 1 px kernel) within +-SPIKE_WINDOW_PX: a resolved line (sigma >= 1 px) puts <= 76% of its power
        in its two brightest pixels, a cosmic ray ~100%; a spike must win by ``SPIKE_MARGIN_CHI2``.
        """
        rows = np.arange(sub.shape[0])[:, None, None, None]
        centre = np.rint(sub[..., None] / ls.SUBPIXEL + ls.REST_PIXEL[None, None, :]).astype(np.int64)
        offs = np.arange(-SPIKE_WINDOW_PX, SPIKE_WINDOW_PX + 1)
        pos = np.clip(centre[..., None] + offs, 0, grid.N_PIXELS - 2)
        c0 = np.maximum(sr.chi[rows, pos], 0.0)
        c1 = np.maximum(sr.chi[rows, pos + 1], 0.0)
        spike = np.max(c0 * c0 + c1 * c1, axis=-1)
        sub_pos = centre[..., None] * ls.SUBPIXEL + np.arange(-SPIKE_WINDOW_PX * ls.SUBPIXEL,
                                                              SPIKE_WINDOW_PX * ls.SUBPIXEL + 1)
        p, f = np.floor_divide(sub_pos, ls.SUBPIXEL), np.mod(sub_pos, ls.SUBPIXEL)
        pc = np.clip(p, 0, grid.N_PIXELS - 1)
        F = sr.F[rows, 0, f, pc]
        N = sr.N[rows, 0, f, pc]
        with np.errstate(divide="ignore", invalid="ignore"):
            line = np.max(np.where(N > 0, np.maximum(F, 0.0) ** 2 / np.where(N > 0, N, 1.0), 0.0), axis=-1)
        return spike > line + SPIKE_MARGIN_CHI2

    @staticmethod
    def _covered(sr, sub, lines):
        """True where each [OII] component has an unmasked pixel within 1 px of its centre and at
        least ``OII_MIN_COVERAGE`` of the pixels across the doublet (+-2 px) are unmasked."""
        shift = sub / ls.SUBPIXEL
        ok = np.ones(sub.shape, dtype=bool)
        for key in lines:
            core = np.floor(shift + ls.REST_PIXEL[LINE_INDEX[key]]).astype(np.int64)[..., None] + np.arange(0, 2)
            good = sr.good[np.arange(sub.shape[0])[:, None, None], np.clip(core, 0, grid.N_PIXELS - 1)]
            ok &= np.any(good & (core >= 0) & (core < grid.N_PIXELS), axis=-1)
        lo = float(min(ls.REST_PIXEL[LINE_INDEX[k]] for k in lines)) - 2
        hi = float(max(ls.REST_PIXEL[LINE_INDEX[k]] for k in lines)) + 2
        pos = np.floor(shift + lo).astype(np.int64)[..., None] + np.arange(int(np.ceil(hi - lo)) + 1)
        inside = (pos >= 0) & (pos < grid.N_PIXELS)
        good = sr.good[np.arange(sub.shape[0])[:, None, None], np.clip(pos, 0, grid.N_PIXELS - 1)] & inside
        return ok & (good.mean(axis=-1) >= OII_MIN_COVERAGE)

    @staticmethod
    def _best_single(sr, sub, lines):
        """Largest chi^2 gain of one Gaussian (any trial width) between the group's lines, +-3 px."""
        lo = int(min(ls.REST_SUB[LINE_INDEX[k]] for k in lines)) - BLEND_MARGIN_PX * ls.SUBPIXEL
        hi = int(max(ls.REST_SUB[LINE_INDEX[k]] for k in lines)) + BLEND_MARGIN_PX * ls.SUBPIXEL
        pos = sub[..., None] + np.arange(lo, hi + 1)
        p, f = np.floor_divide(pos, ls.SUBPIXEL), np.mod(pos, ls.SUBPIXEL)
        inside = (p >= 0) & (p < grid.N_PIXELS)
        pc = np.clip(p, 0, grid.N_PIXELS - 1)
        rows3 = np.arange(sub.shape[0])[:, None, None]
        best = np.zeros(sub.shape, dtype=np.float32)
        for si in range(len(ls.TRIAL_SIGMAS_PX)):
            F = sr.F[rows3, si, f, pc]
            N = sr.N[rows3, si, f, pc]
            with np.errstate(divide="ignore", invalid="ignore"):
                power = np.where(inside & (N > 0), np.maximum(F, 0) ** 2 / np.where(N > 0, N, 1), 0.0)
            best = np.maximum(best, power.max(axis=-1) / sr.noise_scale[:, si, None] ** 2)
        return best

    @staticmethod
    def _parabolic_offsets(s2: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Sub-column offset of the parabola through each peak and its neighbours, (n, m) in [-0.5, 0.5];
        0 at the edges, where a neighbour is outside the searched range, or where the peak is not a maximum."""
        rows = np.arange(s2.shape[0])[:, None]
        inner = (cols > 0) & (cols < s2.shape[1] - 1)
        ym = s2[rows, np.clip(cols - 1, 0, s2.shape[1] - 1)].astype(np.float64)
        y0 = s2[rows, cols].astype(np.float64)
        yp = s2[rows, np.clip(cols + 1, 0, s2.shape[1] - 1)].astype(np.float64)
        den = ym - 2 * y0 + yp
        ok = inner & (ym >= 0) & (yp >= 0) & (den < 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            offset = np.where(ok, 0.5 * (ym - yp) / np.where(ok, den, -1.0), 0.0)
        return np.clip(offset, -0.5, 0.5)

    @staticmethod
    def _detection_fields(z, evidence, fl, nl, sigma_px, noise_scale) -> dict:
        """Detection fields for m candidates at once: z (m,), evidence (m,), fl/nl (m, 12), sigma_px (m,)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = nl > 0
            root = np.sqrt(np.where(ok, nl, 1.0))
            snr = np.where(ok, fl / root / noise_scale[:, None], np.nan).astype(np.float64)
            amp = np.where(ok, fl / np.where(ok, nl, 1.0), np.nan).astype(np.float64)
        centres = grid.LOGLAM0 + grid.DLOGLAM * (ls.REST_PIXEL[None, :] + ls.shift_of_redshift(z)[:, None])
        filled = np.where(np.isfinite(snr), snr, -np.inf)
        strongest = np.argmax(filled, axis=1)
        sigma_a = 10.0 ** centres[np.arange(len(z)), strongest] * grid.LN10 * grid.DLOGLAM * sigma_px
        return {
            "z": np.asarray(z, dtype=np.float64), "score": scoring.lens_score(evidence), "snr": snr,
            "amp": amp, "prob": scoring.line_probability(snr),
            "n_lines": count_lines(snr), "sigma_a": sigma_a,
        }

    @staticmethod
    def _detection_from(fields: dict, i: int, alternatives) -> Detection:
        return Detection(
            z_bg=float(fields["z"][i]), z_bg_err=float("nan"), score=float(fields["score"][i]),
            n_lines=int(fields["n_lines"][i]), line_probability=fields["prob"][i], line_snr=fields["snr"][i],
            detector=DETECTOR_NAME, model_version="", alternatives=list(alternatives),
            line_amplitude=fields["amp"][i], line_sigma_a=float(fields["sigma_a"][i]),
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
        evidence, _, fl, nl, scale, _, _ = self._evidence(sr, sub, sig_idx)
        fields = self._detection_fields(np.array([z]), evidence[:, 0], fl[:, 0], nl[:, 0],
                                        np.array([ls.TRIAL_SIGMAS_PX[sig_idx[0, 0]]]), scale[:, 0])
        return self._detection_from(fields, 0, [])



def refine_detection(det: Detection, residual, ivar, wdisp=None) -> None:
    """Refit ``det``'s z_bg by least squares (:func:`.refine.refine_redshift`) and take the fit's redshift,
    error and line SNRs where it succeeds; unchanged where it fails."""
    res = refine_redshift(residual, ivar, det.z_bg, wdisp=wdisp)
    if res.success:
        copy_refinement(det, res)


def copy_refinement(det: Detection, res: RefineResult) -> None:
    """Put a successful refinement's z_bg, z_bg_err and per-line measurements into ``det``."""
    det.z_bg = res.z_bg
    det.z_bg_err = res.z_bg_err
    fitted = np.isfinite(res.snr)
    snr = np.where(fitted, res.snr, det.line_snr)
    det.line_snr = snr
    det.line_probability = scoring.line_probability(snr)
    det.n_lines = count_lines(snr)
    det.line_amplitude = np.where(fitted, res.amplitude, det.line_amplitude)
    if np.any(fitted):
        strongest = int(np.nanargmax(np.where(fitted, res.snr, np.nan)))
        det.line_sigma_a = float(res.sigma_a[strongest])


@dataclass
class Candidates:
    """Physics evidence of m candidate redshifts for each of n spectra (arrays (n, m[, 12])).

    ``evidence`` is the partner evidence x (SNR units); ``oii_deficit`` (chi^2, <= 0) how much better
    one Gaussian explains the [OII] position than a physical doublet; ``ratio_deficit`` (chi^2, <= 0) how
    badly the lines break physically fixed ratios (:mod:`.ratios`); ``chi2_evidence`` combines them.
    """

    z: np.ndarray
    evidence: np.ndarray
    s2: np.ndarray
    valid: np.ndarray
    oii_deficit: np.ndarray
    ratio_deficit: np.ndarray
    snr: np.ndarray
    amp: np.ndarray
    n_lines: np.ndarray
    sigma_a: np.ndarray
    has_extra: bool = False

    @classmethod
    def concatenate(cls, parts: list["Candidates"]) -> "Candidates":
        names = ("z", "evidence", "s2", "valid", "oii_deficit", "ratio_deficit", "snr", "amp", "n_lines", "sigma_a")
        return cls(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names},
                   has_extra=parts[0].has_extra)

    @property
    def chi2_evidence(self) -> np.ndarray:
        """Signed chi^2 evidence: x^2 plus the [OII] shape and tied-ratio deficits; -inf where not a candidate."""
        x = np.where(np.isfinite(self.evidence), np.maximum(self.evidence, 0.0), 0.0)
        return np.where(self.valid, x * x + self.oii_deficit + self.ratio_deficit, -np.inf)

    def solution(self, i: int, k: int) -> Solution:
        return Solution(z_bg=float(self.z[i, k]), score=float(scoring.lens_score(self.evidence[i, k])),
                        evidence=float(self.chi2_evidence[i, k]), n_lines=int(self.n_lines[i, k]),
                        line_probability=scoring.line_probability(self.snr[i, k]), line_snr=self.snr[i, k])
