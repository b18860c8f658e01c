"""Candidates, then evidence: the network proposes, physics judges.

For each spectrum the candidate redshifts are the physics line search's best peaks (of the total
significance and of the significance beside the strongest feature) and the CNN's z_bg. Each candidate
gets a signed chi^2 evidence E from physics (:class:`casiglo_gui.core.physics.detector.Candidates`):
E = x^2 + d + t, with x the *partner evidence* (what the multi-line model with tied ratios explains beyond
the best single isolated line, the [OII] doublet judged by its shape, foreground lines vetoed, spikes
discounted), d <= 0 the [OII] shape deficit (how much better one Gaussian explains the line than
any physical doublet: evidence against calling it [OII]) and t <= 0 the tied-ratio deficit (how badly
the lines break ratios physics fixes: [OIII] and [NII] pairs, the case-B Balmer decrement; a lone
line read as H-gamma or [OIII] 5008 whose partner is missing, :mod:`..physics.ratios`). E / 2 is a
log-likelihood ratio. The lens
score of a candidate is

    score = sigmoid(w_x * E / 2 + w_cnn * L + w_0),

with ``L`` the CNN's lens logit clipped to [``CNN_LOGIT_MIN``, ``CNN_LOGIT_MAX``] where the candidate agrees
with the CNN's redshift (within ``AGREE_PX``) and ``CNN_LOGIT_MIN`` elsewhere. The upper limit is low enough
that the network alone, with no physics evidence, stays below the 1% threshold. ``w_x > 0``, so the score never
falls as physics evidence grows, and because ``L`` is bounded, overwhelming multi-line evidence drives
the score to 1 whatever the network says (chi^2 evidence 150, e.g. partner lines adding up to SNR 12,
already gives a logit of +6.2 with the network's most negative term). The best-scoring candidate is the detection;
the next ones (at other redshifts) are its alternatives.

The weights are fitted by logistic regression on a mixture of two generators, never one alone (our
training generator and ``benchmarks/independent_set.py``, calibration seeds distinct from every test
seed): ``PYTHONPATH=. python benchmarks/fit_evidence_fusion.py``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from .. import preprocessing
from .detection import Detection, Solution, as_batch_of_one, count_lines, detector_inputs
from ..lines import N_LINES
from ..physics import PhysicsDetector, shift_of_redshift
from ..physics.detector import refine_detection
from ..physics.linesearch import usable_pixels
from ..physics import scoring

DETECTOR_NAME = "combined"
AGREE_PX = 2.0           # a candidate within this many pixels of the CNN's z_bg is the CNN's candidate
# The network can lower a candidate's logit by at most 4 and raise it by at most 2.5: with no physics
# evidence (E = 0) its most confident "lens" scores sigmoid(w_cnn 2.5 + w_0), below the 1% threshold.
CNN_LOGIT_MIN = -4.0
CNN_LOGIT_MAX = 2.5
N_ALTERNATIVES = 2
# Least-squares refit of z_bg (~1 ms) for detections scoring at least this: well below the 1%-false-
# positive threshold (0.82-0.88 on the calibration sets), and 6-8% of ordinary galaxies there.
REFINE_ABOVE = 0.5
DISTINCT_PX = 3.0        # alternatives differ from the chosen solution and each other by more than this
CNN_LINE_HINT_SNR = 2.5  # the network may raise a line's probability only where the fit sees SNR >= this
# The physics search (~1 ms) runs where it can change the verdict: a line-like feature (three neighbouring
# pixels each >= GATE_PIXEL_SNR, together >= GATE_BOX_SNR: any line of SNR >~ 6), or a network that leans
# towards a lens (logit >= GATE_CNN_LOGIT). Elsewhere the evidence is taken as neutral (E = 0), which with
# a logit below -1 scores <= 0.21, far below the 1% threshold.
GATE_BOX_SNR = 5.0
GATE_PIXEL_SNR = 1.5
GATE_CNN_LOGIT = -1.0


@dataclass(frozen=True)
class EvidenceFusion:
    """Weights of the candidate score ``sigmoid(w_x * E / 2 + w_cnn * L + w_0)`` (see module docstring).

    Defaults: fitted by ``benchmarks/fit_evidence_fusion.py`` (synthetic seed 777, 4,000 spectra, and the
    independent set seed 777, 2,000 files, weighted equally) for casiglo-cnn-v3.
    """

    w_x: float = 0.1381
    w_cnn: float = 0.913
    w_0: float = -0.444
    # The higher of the two calibration sets' 99th percentiles of negative scores (0.866 independent,
    # 0.843 synthetic): the score above which about 1% of ordinary spectra lie.
    lens_threshold_1pct: float = 0.866

    def __post_init__(self):
        if not (self.w_x > 0 and self.w_cnn >= 0 and all(np.isfinite([self.w_x, self.w_cnn, self.w_0]))):
            raise ValueError(f"evidence fusion needs w_x > 0 and w_cnn >= 0, finite; got {self}")

    def logit(self, chi2_evidence: np.ndarray, cnn_term: np.ndarray) -> np.ndarray:
        return self.w_x * 0.5 * np.asarray(chi2_evidence, np.float64) + self.w_cnn * cnn_term + self.w_0

    def score(self, chi2_evidence: np.ndarray, cnn_term: np.ndarray) -> np.ndarray:
        z = np.clip(np.nan_to_num(self.logit(chi2_evidence, cnn_term), nan=-700.0), -700.0, 700.0)
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    def to_json(self) -> str:
        return json.dumps({"w_x": self.w_x, "w_cnn": self.w_cnn, "w_0": self.w_0,
                           "lens_threshold_1pct": self.lens_threshold_1pct})

    @classmethod
    def from_json(cls, text: str) -> "EvidenceFusion":
        d = json.loads(text)
        return cls(float(d["w_x"]), float(d["w_cnn"]), float(d["w_0"]),
                   float(d.get("lens_threshold_1pct", cls.lens_threshold_1pct)))


def fusion_from_metadata(model) -> EvidenceFusion:
    """The model's ``evidence_fusion`` metadata, or a refusal of the model naming what is wrong."""
    from ..errors import ModelMismatchError

    try:
        return EvidenceFusion.from_json(model.metadata["evidence_fusion"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelMismatchError(getattr(model, "path", "model"),
                                 f"invalid evidence_fusion metadata ({type(exc).__name__}: {exc})") from None


def cnn_terms(candidate_z: np.ndarray, z_cnn: np.ndarray, lens_logit: np.ndarray) -> np.ndarray:
    """(n, m) network term of each candidate: its bounded logit where it agrees with the CNN's z_bg."""
    logit = bounded_logit(lens_logit)
    with np.errstate(invalid="ignore"):
        gap = np.abs(shift_of_redshift(np.nan_to_num(candidate_z, nan=-0.5))
                     - shift_of_redshift(np.nan_to_num(z_cnn, nan=-0.5))[:, None])
    agree = np.isfinite(candidate_z) & np.isfinite(np.asarray(z_cnn))[:, None] & (gap <= AGREE_PX)
    return np.where(agree, logit[:, None], CNN_LOGIT_MIN)


def with_network_view(probability: np.ndarray, line_snr: np.ndarray, network_probability: np.ndarray) -> np.ndarray:
    """Line probabilities at the network's own redshift: the network may raise a line's probability
    (it sees line shapes a single width misses) where the fit measures at least a hint of the line."""
    hint = np.nan_to_num(np.asarray(line_snr, np.float64), nan=0.0) >= CNN_LINE_HINT_SNR
    return np.where(hint, np.maximum(probability, network_probability), probability)


def something_found(n_lines: int, score: float) -> bool:
    """False when no line reaches the detection SNR and the score is below the refit level: then the
    best candidate's z_bg (often the edge of the searched range) would mislead, and none is reported."""
    return n_lines > 0 or score >= REFINE_ABOVE


def bounded_logit(lens_logit: np.ndarray) -> np.ndarray:
    """The network's lens logit within [CNN_LOGIT_MIN, CNN_LOGIT_MAX] (no network: the minimum)."""
    return np.clip(np.nan_to_num(np.asarray(lens_logit, np.float64), nan=CNN_LOGIT_MIN), CNN_LOGIT_MIN, CNN_LOGIT_MAX)


class EvidenceDetector:
    """The default detector of ``casiglo scan`` and the app (``detector="combined"``).

    Parameters
    ----------
    model : OnnxLineModel or None
        The CNN proposer; None gives the physics candidates alone, scored with ``L = CNN_LOGIT_MIN``.
    fusion : EvidenceFusion, optional
        Score weights; default: the model's ``evidence_fusion`` metadata when present, else the defaults.
    physics : PhysicsDetector, optional
    """

    name = DETECTOR_NAME

    def __init__(self, model=None, fusion: EvidenceFusion | None = None, physics: PhysicsDetector | None = None):
        self.model = model
        self.physics = physics or PhysicsDetector(refine_above=None)
        if fusion is None and model is not None and getattr(model, "metadata", {}).get("evidence_fusion"):
            fusion = fusion_from_metadata(model)
        self.fusion = fusion or EvidenceFusion()

    @property
    def lens_threshold_1pct(self) -> float:
        """Score above which about 1% of ordinary spectra lie (measured on the calibration sets)."""
        return self.fusion.lens_threshold_1pct

    @property
    def model_version(self) -> str:
        return "" if self.model is None else self.model.version

    def detect(self, g) -> Detection:
        residual, ivar, z_fg, wdisp = as_batch_of_one(g)
        return self.detect_batch(residual, ivar, z_fg, wdisp=wdisp)[0]

    def propose(self, residual: np.ndarray, ivar: np.ndarray, z_fg: np.ndarray) -> dict[str, np.ndarray]:
        """The CNN's lens logit, z_bg and line probabilities (NaN / zeros without a model)."""
        n = residual.shape[0]
        if self.model is None:
            return {"lens_logit": np.full(n, np.nan), "z_bg": np.full(n, np.nan),
                    "line_prob": np.zeros((n, N_LINES))}
        x = preprocessing.network_input(residual, ivar)
        out = self.model.predict_raw(x, np.nan_to_num(z_fg, nan=0.0))
        z_cnn = np.asarray(out["z_bg"], np.float64)
        z_cnn = np.where(np.isfinite(z_fg) & (z_cnn <= z_fg), np.nan, z_cnn)
        return {"lens_logit": np.asarray(out["lens_logit"], np.float64), "z_bg": z_cnn,
                "line_prob": np.asarray(out["line_prob"], np.float64)}

    def detect_batch(self, residual: np.ndarray, ivar: np.ndarray, z_fg: np.ndarray,
                     wdisp: np.ndarray | None = None) -> list[Detection]:
        """Detections for a batch of cleaned model-grid residuals (see :class:`PhysicsDetector`)."""
        residual, ivar, z_fg = detector_inputs(residual, ivar, z_fg)
        proposal = self.propose(residual, ivar, z_fg)
        searched = np.flatnonzero(self.needs_physics(residual, ivar, proposal["lens_logit"], z_fg))
        out: list[Detection | None] = [None] * residual.shape[0]
        if searched.size:
            cands = self.physics.candidates_batch(residual[searched], ivar[searched], z_fg[searched],
                                                  extra_z=proposal["z_bg"][searched])
            terms = cnn_terms(cands.z, proposal["z_bg"][searched], proposal["lens_logit"][searched])
            score = np.where(cands.valid, self.fusion.score(cands.chi2_evidence, terms), -1.0)
            for j, i in enumerate(searched):
                out[i] = self._detection(j, i, cands, score[j], proposal, residual[i], ivar[i],
                                         None if wdisp is None else np.asarray(wdisp[i]))
        rest = [i for i in range(residual.shape[0]) if out[i] is None]
        if rest:
            for i, det in zip(rest, self._unsearched(residual[rest], ivar[rest], z_fg[rest], proposal, rest)):
                out[i] = det
        return out

    def needs_physics(self, residual: np.ndarray, ivar: np.ndarray, lens_logit: np.ndarray,
                      z_fg: np.ndarray) -> np.ndarray:
        """(n,) True where the physics search can change the verdict (see ``GATE_BOX_SNR``); the
        foreground's own lines, which the search vetoes, do not count."""
        chi = residual * np.sqrt(np.maximum(ivar, 0)) * usable_pixels(ivar, z_fg)
        left, mid, right = chi[:, :-2], chi[:, 1:-1], chi[:, 2:]
        box = (left + mid + right) / np.sqrt(3.0)
        # A line (sigma >= 1 px) lights up three neighbouring pixels; a 1-2 pixel spike does not.
        line_like = np.minimum(np.minimum(left, mid), right) >= GATE_PIXEL_SNR
        feature = np.any((box >= GATE_BOX_SNR) & line_like, axis=1)
        logit = np.nan_to_num(np.asarray(lens_logit, np.float64), nan=np.inf)  # no network: always search
        return feature | (logit >= GATE_CNN_LOGIT)

    def _unsearched(self, residual, ivar, z_fg, proposal, rows) -> list[Detection]:
        """Verdicts where the physics search was not needed: the network's candidate, neutral evidence."""
        from .cnn import line_snr_at

        z_cnn = proposal["z_bg"][rows]
        term = bounded_logit(proposal["lens_logit"][rows])
        score = self.fusion.score(np.zeros(len(rows)), term)
        snr = line_snr_at(residual, ivar, z_cnn)
        out = []
        for k in range(len(rows)):
            n_lines = count_lines(snr[k])
            found = something_found(n_lines, score[k])
            out.append(Detection(
                z_bg=float(z_cnn[k]) if found else float("nan"), z_bg_err=float("nan"), score=float(score[k]),
                n_lines=n_lines if found else 0,
                line_probability=(with_network_view(scoring.line_probability(snr[k]), snr[k],
                                                    proposal["line_prob"][rows[k]]) if found else np.zeros(N_LINES)),
                line_snr=snr[k] if found else np.full(N_LINES, np.nan),
                detector=self.name, model_version=self.model_version))
        return out

    def _detection(self, i, row, cands, score, proposal, residual, ivar, wdisp) -> Detection:
        """Verdict for spectrum ``row`` of the batch, candidate row ``i`` of ``cands``."""
        order = np.argsort(-score, kind="stable")
        best = int(order[0])
        if score[best] < 0:  # no usable candidate (e.g. every pixel masked)
            return Detection(z_bg=float("nan"), z_bg_err=float("nan"), score=0.0, n_lines=0,
                             detector=self.name, model_version=self.model_version)
        snr = cands.snr[i, best]
        det = Detection(z_bg=float(cands.z[i, best]), z_bg_err=float("nan"), score=float(score[best]),
                        n_lines=int(cands.n_lines[i, best]), line_probability=scoring.line_probability(snr),
                        line_snr=snr, detector=self.name, model_version=self.model_version,
                        line_amplitude=cands.amp[i, best], line_sigma_a=float(cands.sigma_a[i, best]))
        det.alternatives = self._alternatives(i, cands, score, order)
        if det.score >= REFINE_ABOVE:
            refine_detection(det, residual, ivar, wdisp)
        if not something_found(det.n_lines, det.score):
            det.z_bg = float("nan")
            det.line_snr = np.full(N_LINES, np.nan)
            det.line_probability = np.zeros(N_LINES)
            return det
        if cands.has_extra and np.isfinite(proposal["z_bg"][row]) and \
                abs(float(shift_of_redshift(det.z_bg)) - float(shift_of_redshift(proposal["z_bg"][row]))) <= AGREE_PX:
            # Elsewhere the network's probabilities describe another redshift and are ignored.
            det.line_probability = with_network_view(det.line_probability, det.line_snr, proposal["line_prob"][row])
        return det

    def _alternatives(self, i, cands, score, order) -> list[Solution]:
        kept_shifts = [float(shift_of_redshift(cands.z[i, order[0]]))]
        alternatives = []
        for k in order[1:]:
            if score[k] < 0 or len(alternatives) >= N_ALTERNATIVES:
                break
            s = float(shift_of_redshift(cands.z[i, k]))
            if min(abs(s - t) for t in kept_shifts) <= DISTINCT_PX:
                continue
            kept_shifts.append(s)
            snr = cands.snr[i, k]
            alternatives.append(Solution(z_bg=float(cands.z[i, k]), score=float(score[k]),
                                         evidence=float(cands.chi2_evidence[i, k]), n_lines=int(cands.n_lines[i, k]),
                                         line_probability=scoring.line_probability(snr), line_snr=snr))
        return alternatives
