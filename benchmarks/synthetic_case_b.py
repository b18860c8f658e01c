"""How many bright synthetic lenses break the tied line ratios, with and without ``balmer_case_b``.

Usage:
    PYTHONPATH=. python benchmarks/synthetic_case_b.py [--n 1000] [--seed 20261124] [--root /tmp/casiglo_case_b]

Builds two synthetic sets with ``benchmarks/independent2/sets.build_synthetic`` from v3's recipe
(``training/configs/casiglo-cnn-v3.json``), one as it is and one with ``balmer_case_b`` on, same seed, and prints
for the lenses of total line SNR >= 15 the share whose tied-ratio deficit at their true z_bg is below -9 (the
measure of ``benchmarks/physical_lenses.py``: the lens breaks physics at 3 sigma).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.independent2 import sets  # noqa: E402
from benchmarks.physical_lenses import BREAKS_PHYSICS_CHI2, deficit_at_true_redshift  # noqa: E402

V3_RECIPE = os.path.join(sets.REPO, "training", "configs", "casiglo-cnn-v3.json")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--root", default="/tmp/casiglo_case_b")
    args = ap.parse_args(argv)
    with open(V3_RECIPE, encoding="utf-8") as handle:
        v3 = json.load(handle)["data"]
    os.makedirs(args.root, exist_ok=True)
    for label, recipe in (("v3 recipe", v3), ("v3 recipe + balmer_case_b", {**v3, "balmer_case_b": True})):
        tag = "caseb" if recipe.get("balmer_case_b") else "v3"
        recipe_path = os.path.join(args.root, f"recipe-{tag}.json")
        with open(recipe_path, "w", encoding="utf-8") as handle:
            json.dump({"data": recipe}, handle)
        set_dir = os.path.join(args.root, f"synthetic-{tag}-n{args.n}-s{args.seed}")
        if not os.path.exists(os.path.join(set_dir, "set.json")):
            sets.build_synthetic(set_dir, args.n, args.seed, recipe_path=recipe_path)
        truth = sets.load_truth("synthetic", set_dir)
        bright = truth[(truth["kind"] == "lens") & (truth["snr_total"] >= 15.0)]
        deficit = deficit_at_true_redshift([os.path.join(set_dir, f) for f in bright["file"]],
                                           bright["z_bg"].to_numpy(np.float64))
        broken = int(np.sum(deficit < BREAKS_PHYSICS_CHI2))
        print(f"{label}: {broken} of {len(bright)} lenses with total SNR >= 15 break the tied ratios "
              f"({100.0 * broken / max(len(bright), 1):.1f}%; n {args.n}, seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
