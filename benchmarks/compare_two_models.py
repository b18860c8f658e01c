"""Paired comparison of two scans of one test set: which lenses only one of two models finds.

Usage:
    PYTHONPATH=. python benchmarks/compare_two_models.py SET SET_DIR SCAN_A.csv SCAN_B.csv

``SET`` is one of ``benchmarks/independent2/sets.SET_NAMES`` (how ``SET_DIR``'s truth is read); the scans are
``casiglo scan`` tables of the same files, e.g. the ``scan_combined_<model>.csv`` that
``benchmarks/eval_three_sets.py --model ... --tag ...`` writes. Each scan is thresholded at its own 1% false
positive rate on the set's negatives (as ``eval_three_sets.py``). The two completeness figures of the issue-13
tables come from the same lenses, so their difference is judged by the discordant lenses (found by one model
only) with McNemar's exact test: a difference of a few lenses out of a few hundred is noise.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.independent2 import metrics, sets  # noqa: E402


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value of ``only_a`` vs ``only_b`` discordant pairs (1 when there are none)."""
    if only_a + only_b == 0:
        return 1.0
    return float(stats.binomtest(int(only_a), int(only_a + only_b)).pvalue)


def discordant(found_a: np.ndarray, found_b: np.ndarray, selection: np.ndarray) -> tuple[int, int]:
    """Lenses of ``selection`` found by A but not B, and by B but not A."""
    found_a, found_b, selection = (np.asarray(v, dtype=bool) for v in (found_a, found_b, selection))
    return int(np.sum(found_a & ~found_b & selection)), int(np.sum(found_b & ~found_a & selection))


def detections(truth: pd.DataFrame, scan_path: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The truth joined with one scan, and which files score above the scan's own 1%-FPR threshold."""
    scan = pd.read_csv(scan_path, keep_default_na=False, na_values={c: [""] for c in ("score", "z_bg", "z_bg_err")})
    joined = metrics.join(truth, scan)
    score = metrics.scores(joined)
    lens = (joined["kind"] == "lens").to_numpy()
    return joined, score > metrics.threshold_at_fpr(score[~lens], metrics.LENS_FPR)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 4 or argv[0] not in sets.SET_NAMES:
        print(__doc__, file=sys.stderr)
        return 2
    name, set_dir, scan_a, scan_b = argv
    truth = sets.load_truth(name, set_dir)
    joined, found_a = detections(truth, scan_a)
    _, found_b = detections(truth, scan_b)
    lens = (joined["kind"] == "lens").to_numpy()
    print(f"{name} ({set_dir}): A = {os.path.basename(scan_a)}, B = {os.path.basename(scan_b)}")
    for label, selection in (("total line SNR >= 15", lens & (metrics._numbers(joined, "snr_total") >= 15.0)),
                             ("strongest line SNR >= 6", lens & (metrics._numbers(joined, "snr_max") >= 6.0)),
                             ("all lenses", lens)):
        only_a, only_b = discordant(found_a, found_b, selection)
        print(f"  {label:24s} {int(selection.sum()):5d} lenses: A {int(np.sum(found_a & selection)):4d}, "
              f"B {int(np.sum(found_b & selection)):4d}; A only {only_a:3d}, B only {only_b:3d}, "
              f"McNemar p = {mcnemar_p(only_a, only_b):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
