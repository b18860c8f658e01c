"""How many of a test set's lenses obey the line ratios physics fixes, and how the detector does on each part.

Usage:
    PYTHONPATH=. python benchmarks/physical_lenses.py [--root /tmp/casiglo_three_sets] [--n 2000]
        [--sets indep2 independent synthetic] [--tag eval]

For every lens of total line SNR >= 15 in each set built by ``benchmarks/eval_three_sets.py``, the physics
search is read at the lens's true z_bg and its tied-ratio deficit (:mod:`casiglo_gui.core.physics.ratios`:
[OIII] and [NII] pairs, case-B Balmer decrement) is measured on the noisy data. A deficit below -9 (3 sigma)
means the lens's lines break physics: a generator that makes many such lenses tests something real galaxies
never show. With the scan table of ``--tag`` (written by eval_three_sets), completeness at the set's 1%
false-positive threshold is printed for the lenses that obey physics and for those that do not.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from benchmarks.evidence_bound import SEEDS  # noqa: E402
from benchmarks.independent2 import metrics, sets  # noqa: E402
from casiglo_gui.core.physics import PhysicsDetector  # noqa: E402
from casiglo_gui.core.preprocessing import to_model_grid  # noqa: E402
from casiglo_gui.core.readers import read_spectra  # noqa: E402

BREAKS_PHYSICS_CHI2 = -9.0


def deficit_at_true_redshift(files: list[str], z_bg: np.ndarray) -> np.ndarray:
    grids = [to_model_grid(read_spectra(f)[0]) for f in files]
    candidates = PhysicsDetector().candidates_batch(
        np.stack([g.residual for g in grids]), np.stack([g.ivar for g in grids]),
        np.array([g.z_fg for g in grids]), extra_z=z_bg)
    return candidates.ratio_deficit[:, -1]


def detected(truth: pd.DataFrame, scan_csv: str) -> np.ndarray:
    joined = metrics.join(truth, pd.read_csv(scan_csv))
    score = metrics.scores(joined)
    return score > metrics.threshold_at_fpr(score[joined["kind"] != "lens"], metrics.LENS_FPR)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="/tmp/casiglo_three_sets")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--sets", nargs="+", default=list(SEEDS))
    ap.add_argument("--tag", default="eval")
    args = ap.parse_args(argv)
    print("command: PYTHONPATH=. python benchmarks/physical_lenses.py " + " ".join(sys.argv[1:] if argv is None else argv))
    for name in args.sets:
        set_dir = os.path.join(args.root, f"{name}-n{args.n}-s{SEEDS[name]}")
        if not os.path.isdir(set_dir):
            print(f"{name}: {set_dir} not built (run benchmarks/eval_three_sets.py first)")
            continue
        truth = sets.load_truth(name, set_dir)
        files = sets.spec_files(name, set_dir, truth)
        chosen = np.nonzero(((truth["kind"] == "lens") & (truth["snr_total"] >= 15)).to_numpy())[0]
        breaks = deficit_at_true_redshift([files[i] for i in chosen],
                                          truth["z_bg"].to_numpy(np.float64)[chosen]) < BREAKS_PHYSICS_CHI2
        line = (f"{name:12s} {chosen.size} lenses of total SNR >= 15; their lines break the fixed ratios "
                f"(chi^2 deficit < {BREAKS_PHYSICS_CHI2:g} at the true z_bg) in {breaks.mean():.1%}")
        scan_csv = os.path.join(set_dir, args.tag, "scan_combined_casiglo-cnn-v3.csv")
        if os.path.exists(scan_csv):
            found = detected(truth, scan_csv)[chosen]
            line += (f"; completeness {found[~breaks].mean():.1%} where they obey physics, "
                     f"{found[breaks].mean():.1%} where they do not")
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
