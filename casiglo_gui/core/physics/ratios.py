"""Evidence against a redshift from line ratios that physics fixes: the tied-ratio deficit.

Reading one bright line as a line of the list at some z_bg also predicts its partners: [OIII] 4960 at
1/2.98 of 5008 and [NII] 6550 at 1/2.95 of 6585 (atomic physics), and a Balmer series whose fluxes,
divided by their case-B ratios to H-beta (H-alpha 2.86, H-gamma 0.468, H-delta 0.259; Osterbrock &
Ferland 2006, 10^4 K), never rise towards the blue (dust only steepens the decrement). A lone line read
as H-gamma (its H-beta missing), as [OIII] 5008 (4960 missing) or as H-beta (H-alpha missing) breaks
these. The deficit is the likelihood-ratio statistic of the constraints,

    deficit = chi^2 gain of the best constrained model - chi^2 gain of free non-negative amplitudes <= 0,

per line group, from the matched-filter numbers F, N of each line at the candidate (amplitude F / N,
variance 1 / N): 0 when the lines obey physics (or a partner is off the spectrum, masked or vetoed:
N = 0 there), about -SNR_partner_expected^2 when the partner is missing. For a real lens it is chi^2 with
one degree of freedom at most, so a small allowance (``RATIO_SLACK``) covers stellar absorption under
the Balmer lines and the one trial width that all lines share.
"""
from __future__ import annotations

import numpy as np

from ..lines import LINE_INDEX, NII_6585_TO_6550, OIII_5008_TO_4960, REST_WAVELENGTHS_A
from .linesearch import line_power

# Pairs whose ratio is atomic physics: (stronger, weaker, flux ratio).
TIED_PAIRS = (("oiii_5008", "oiii_4960", OIII_5008_TO_4960), ("nii_6585", "nii_6550", NII_6585_TO_6550))
# Case-B Balmer ratios to H-beta, red to blue.
BALMER_CASE_B = (("halpha", 2.86), ("hbeta", 1.0), ("hgamma", 0.468), ("hdelta", 0.259))
# Each step of the Balmer series may exceed case B by this factor before it counts against a reading:
# Balmer absorption of the background galaxy's own stars, flux calibration, the shared trial width.
RATIO_SLACK = 1.25


def pair_deficit(F: np.ndarray, N: np.ndarray) -> np.ndarray:
    """Deficit of the tied pairs. ``F``, ``N``: (..., 12) noise-scaled matched-filter numbers."""
    total = np.zeros(F.shape[:-1], dtype=np.float64)
    for strong, weak, ratio in TIED_PAIRS:
        i, j = LINE_INDEX[strong], LINE_INDEX[weak]
        both = (N[..., i] > 0) & (N[..., j] > 0)
        num = F[..., i] + F[..., j] / ratio
        den = N[..., i] + N[..., j] / ratio ** 2
        tied = line_power(num, den)
        free = line_power(F[..., i], N[..., i]) + line_power(F[..., j], N[..., j])
        total += np.where(both, np.minimum(tied - free, 0.0), 0.0)
    return total


def balmer_deficit(F: np.ndarray, N: np.ndarray) -> np.ndarray:
    """Deficit of the Balmer series: weighted isotonic fit of flux / case-B ratio, non-increasing to the blue."""
    keys = [k for k, _ in BALMER_CASE_B]
    # Allowed ratio of each line to H-beta, with the slack applied once per step away from H-beta.
    steps = np.arange(len(keys)) - keys.index("hbeta")
    allowed = np.array([r for _, r in BALMER_CASE_B]) * RATIO_SLACK ** steps
    idx = [LINE_INDEX[k] for k in keys]
    lam = REST_WAVELENGTHS_A[idx] / REST_WAVELENGTHS_A[LINE_INDEX["hbeta"]]
    # Amplitude a_i = c_i u_i, with u the flux relative to the allowed ratio (flux ~ amplitude x wavelength
    # on the log grid, lines sharing one velocity width).
    c = allowed / lam
    Fb, Nb = F[..., idx].astype(np.float64), N[..., idx].astype(np.float64)
    w = Nb * c * c
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(Nb > 0, Fb / np.where(Nb > 0, Nb, 1.0) / c, 0.0)
    fit = _isotonic_non_increasing(u, np.maximum(w, 1e-12))
    fit = np.maximum(fit, 0.0)
    free = np.maximum(u, 0.0)
    constrained = np.sum(w * (2.0 * fit * u - fit * fit), axis=-1)
    unconstrained = np.sum(w * free * free, axis=-1)
    return np.minimum(constrained - unconstrained, 0.0)


def _isotonic_non_increasing(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares fit non-increasing along the last axis (few points: the min-max formula).

    ``w`` must be > 0; the range means are summed directly, not as differences of cumulative sums,
    which cancel when a tiny weight sits beside large ones.
    """
    n = y.shape[-1]
    mean = {}
    for j in range(n):
        for k in range(j, n):
            mean[j, k] = np.sum(w[..., j:k + 1] * y[..., j:k + 1], axis=-1) / np.sum(w[..., j:k + 1], axis=-1)
    out = np.empty_like(y)
    for i in range(n):
        # Non-increasing fit: f_i = min over j <= i of max over k >= i of mean(y[j..k]).
        out[..., i] = np.min([np.max([mean[j, k] for k in range(i, n)], axis=0) for j in range(i + 1)], axis=0)
    return out


def ratio_deficit(F: np.ndarray, N: np.ndarray, balmer: bool = True) -> np.ndarray:
    """chi^2 (<= 0) by which the lines at a candidate break the physically fixed ratios."""
    d = pair_deficit(F, N)
    if balmer:
        d = d + balmer_deficit(F, N)
    return d
