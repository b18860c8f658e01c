"""From the line search's numbers to a lens score in [0, 1] and per-line presence probabilities.

A line search is fooled by one strong feature that it can call any of the 12 lines (a lone emission
line, a cosmic ray, a sky residual): the significance at the best redshift is then all in one feature.
So the score rests on *partner evidence*: the quadrature sum of the SNRs of every feature except the
strongest one,

    x = sqrt(sum_f max(SNR_f, 0)^2 - max_f SNR_f^2),

where the features are the 9 fixed-ratio templates of :mod:`.linesearch` plus the [OII] doublet's
*shape*: the chi^2 gain of fitting two components 3.25 px apart over the best single Gaussian of any
trial width nearby (sqrt of it, so that a resolved doublet counts as a partner and a lone Gaussian does
not). Lines of the foreground galaxy (at z_fg) and mostly-masked positions never enter (see
:func:`.linesearch.usable_pixels`), and spikes narrower than the resolution gain nothing from the
narrowest kernel (sigma = 1 px). The score is a logistic of x:

    score = 1 / (1 + exp(-(x - SCORE_CENTRE) / SCORE_SCALE)),

with the centre set where pure-noise spectra are rare (their x is the largest chance alignment of
noise at the ~6,000 trial redshifts: ~2.5-4; see benchmarks/eval_physics.py).
"""
from __future__ import annotations

import numpy as np

SCORE_CENTRE = 5.0
SCORE_SCALE = 0.6
# A line counts in ``n_lines`` when its SNR at z_bg reaches this.
LINE_DETECTION_SNR = 4.0
# Per-line presence probability: logistic in the line's SNR (0.5 at SNR 3.5; 0.96 at SNR 5). Chosen so
# that the ~1% of noise positions above SNR ~2.3 get p < 0.15.
LINE_P_CENTRE = 3.5
LINE_P_SCALE = 0.6


def partner_evidence(feature_snr: np.ndarray, doublet_snr: np.ndarray) -> np.ndarray:
    """Quadrature sum of all positive feature SNRs but the strongest (last axis = features)."""
    f = np.concatenate([np.maximum(feature_snr, 0.0), np.maximum(doublet_snr, 0.0)[..., None]], axis=-1)
    sq = f * f
    return np.sqrt(np.maximum(np.sum(sq, axis=-1) - np.max(sq, axis=-1), 0.0))


def lens_score(evidence: np.ndarray) -> np.ndarray:
    """Logistic map of partner evidence to [0, 1]."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(evidence, dtype=np.float64) - SCORE_CENTRE) / SCORE_SCALE))


def line_probability(snr: np.ndarray) -> np.ndarray:
    """Presence probability of each line from its SNR at z_bg (0 where the SNR is NaN: off the spectrum)."""
    s = np.asarray(snr, dtype=np.float64)
    p = 1.0 / (1.0 + np.exp(-(np.where(np.isfinite(s), s, -np.inf) - LINE_P_CENTRE) / LINE_P_SCALE))
    return p
