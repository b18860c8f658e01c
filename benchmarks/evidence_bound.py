"""The completeness no detector can beat while keeping lone lines out: evidence beyond one line.

Usage:
    PYTHONPATH=. python benchmarks/evidence_bound.py [--root /tmp/casiglo_three_sets] [--n 2000]

A lens can be told from a lone emission line (any identity, any width: the hold-outs' negatives) only
by what one line cannot explain: its other lines (partner chi^2 = the sum of SNR^2 over every feature
but the strongest, [OII] counted as one feature) and, when [OII] is the strongest, the doublet's shape
(its chi^2 gain over one Gaussian, :mod:`benchmarks.oii_shape_limit`, which grows as SNR^2 and falls
steeply with width). From each set's truth (true line SNRs and widths, noiseless), the fraction of
lenses of total line SNR >= 15 whose evidence beyond one line reaches chi^2 = 9, 16 and 25 (3, 4 and 5
sigma) is an upper bound on completeness at a low false-positive rate, before any look-elsewhere cost.
The sets are the ones ``benchmarks/eval_three_sets.py`` builds (``ROOT/<set>-n<N>-s<seed>``).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from benchmarks.independent2 import sets  # noqa: E402
from benchmarks.oii_shape_limit import delta_chi2_per_snr2  # noqa: E402
from casiglo_gui.core.lines import LINE_KEYS  # noqa: E402

SEEDS = {"indep2": 20261129, "independent": 20261124, "synthetic": 20261124}


def evidence_beyond_one_line(snr: np.ndarray, oii_sigma_px: np.ndarray) -> np.ndarray:
    """Noiseless chi^2 a lens has beyond the best single line, per lens (see module docstring)."""
    widths = np.arange(0.8, 5.01, 0.1)
    per_snr2 = np.array([delta_chi2_per_snr2(s) for s in widths])
    oii = np.hypot(snr[:, 0], snr[:, 1])
    features = np.concatenate([oii[:, None], snr[:, 2:]], axis=1) ** 2
    partner = np.sort(features, axis=1)[:, :-1].sum(axis=1)
    shape = np.interp(oii_sigma_px, widths, per_snr2) * oii ** 2
    return partner + np.where(features.argmax(axis=1) == 0, shape, 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="/tmp/casiglo_three_sets")
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args(argv)
    print("command: PYTHONPATH=. python benchmarks/evidence_bound.py " + " ".join(sys.argv[1:] if argv is None else argv))
    for name, seed in SEEDS.items():
        set_dir = os.path.join(args.root, f"{name}-n{args.n}-s{seed}")
        if not os.path.isdir(set_dir):
            print(f"{name}: {set_dir} not built (run benchmarks/eval_three_sets.py first)")
            continue
        truth = sets.load_truth(name, set_dir)
        lens = (truth["kind"] == "lens").to_numpy()
        if name == "independent":
            sigma = sets.independent_line_widths(truth, set_dir)[:, 0]
        else:
            sigma = truth["sigma_px_oii_3727"].to_numpy(np.float64)
        snr = np.nan_to_num(truth[[f"snr_{k}" for k in LINE_KEYS]].to_numpy(np.float64))
        total = np.sqrt(np.sum(snr ** 2, axis=1))
        sel = lens & (total >= 15)
        ev = evidence_beyond_one_line(snr[sel], np.nan_to_num(sigma[sel], nan=1.5))
        print(f"{name:12s} lenses with total SNR >= 15: {sel.sum():4d}; evidence beyond one line "
              + ", ".join(f">= {t}: {np.mean(ev >= t):.1%}" for t in (9, 16, 25)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
