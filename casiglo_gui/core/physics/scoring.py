"""From the line search's numbers to a lens score in [0, 1] and per-line presence probabilities.

A line search is fooled by one strong feature that it can call any of the 12 lines (a lone emission
line, a cosmic ray, a sky residual): the significance at the best redshift is then all in one feature.
So the score rests on *partner evidence*: the quadrature sum of the evidence terms e_t except the
strongest one,

    x = sqrt(sum_t max(e_t, 0)^2 - max_t e_t^2),

where the terms are the SNRs of the fixed-ratio templates of :mod:`.linesearch`, except that lines close
enough to blend (the [OII] doublet, Halpha with [NII], the [SII] pair) are judged by their *shape*:
the group's chi^2 gain over the best single Gaussian of any trial width anywhere in the group (sqrt
of it), so that a resolved doublet counts as a partner and a lone broad line lying between two
members does not. Lines of the foreground galaxy (at z_fg) and mostly-masked positions never enter (see
:func:`.linesearch.usable_pixels`), and a line whose signal is a 1-2 pixel spike (its two brightest
pixels explain more than the narrowest real line, sigma = 1 px, by chi^2 > 9: a cosmic ray) gives no
evidence. The score is a logistic of x:

    score = 1 / (1 + exp(-(x - SCORE_CENTRE) / SCORE_SCALE)),

with the centre set where pure-noise spectra are rare (their x is the largest chance alignment of
noise at the ~6,000 trial redshifts: mostly 2.5-4; on the held-out toy set of benchmarks/eval_physics.py
the 1%-false-positive threshold falls at score ~0.3, x ~ 4.5).
"""
from __future__ import annotations

import numpy as np

SCORE_CENTRE = 5.0
SCORE_SCALE = 0.6
from ..detectors.detection import LINE_DETECTION_SNR  # noqa: F401  (partner evidence and n_lines agree)
# Per-line presence probability: logistic in the line's SNR (0.5 at SNR 3.5; 0.96 at SNR 5). Chosen so
# that the ~1% of noise positions above SNR ~2.3 get p < 0.15.
LINE_P_CENTRE = 3.5
LINE_P_SCALE = 0.6


# Features far (> 25 px) from every other feature: their SNRs count as they are.
UNBLENDED_FEATURES = ("hdelta", "hgamma", "hbeta", "oiii")
# Groups of lines close enough (< 25 px) that one broad line between them lights up several members:
# (name, member features, member lines). Each group contributes two terms: the best single Gaussian
# anywhere in the group (its "primary"), and sqrt(max(group chi^2 gain - that, 0)): what the
# group's lines explain beyond one line (its "partner": a resolved [OII] doublet, [SII] pair,
# or Halpha with [NII]).
BLEND_GROUPS = (
    ("oii", ("oii",), ("oii_3727", "oii_3730")),
    ("halpha_nii", ("nii", "halpha"), ("nii_6550", "halpha", "nii_6585")),
    ("sii", ("sii_6718", "sii_6733"), ("sii_6718", "sii_6733")),
)


def partner_evidence(terms: np.ndarray) -> np.ndarray:
    """Quadrature sum of all positive evidence terms but the strongest (last axis = terms)."""
    f = np.maximum(terms, 0.0)
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
