"""Fit the combined detector's score weights (``EvidenceFusion``) on a mixture of two generators.

Usage:
    PYTHONPATH=. python benchmarks/fit_evidence_fusion.py [--seed 777] [--n-synthetic 4000]
        [--n-independent 2000] [--model models/casiglo-cnn-v3.onnx] [--workdir DIR]

Calibration data (seed 777 by default, distinct from every test seed): our training generator
(``training.evaluate.generate_chunks`` with the shipped model's data recipe) and the independent set
(``benchmarks/independent_set.py``: real SDSS/BOSS files with lines injected into their flux, read back
through the product's reader and preprocessing). Each generator gets equal total weight, so neither
dominates. Every spectrum's candidates (line-search peaks plus the CNN's z_bg) are scored with the
current weights, the best candidate's (x, L) and the truth (lens or not) enter a logistic regression
with w_x > 0 and w_cnn >= 0, and the choice of candidates is redone with the new weights (3 rounds).
The regression leaves out the tied-ratio deficit (:mod:`casiglo_gui.core.physics.ratios`): our training
generator draws H-gamma and H-delta independently of H-beta, so 31% of its lenses break case B by more than
3 sigma and a fit on it would learn that physics is unreliable. The deficit is part of the chi^2 evidence
and enters with its weight; the 1% threshold is taken from the full scores.
Prints the weights as the JSON ``EvidenceFusion.from_json`` reads; paste them into the defaults of
``casiglo_gui/core/detectors/evidence.py``.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from casiglo_gui.core.detectors.evidence import EvidenceDetector, EvidenceFusion, cnn_terms  # noqa: E402
from casiglo_gui.core.inference import OnnxLineModel, default_model_path  # noqa: E402
from casiglo_gui.core.preprocessing import to_model_grid  # noqa: E402
from casiglo_gui.core.readers import read_spectra  # noqa: E402

ROUNDS = 3


def synthetic_set(n: int, seed: int, recipe_path: str) -> dict:
    from training.evaluate import generate_chunks
    from training.synthetic import SyntheticBatch

    with open(recipe_path, encoding="utf-8") as f:
        recipe = json.load(f).get("data", {})
    b = SyntheticBatch.concatenate(list(generate_chunks(n, seed, recipe, 2000)))
    return {"residual": b.residual, "ivar": b.ivar, "z_fg": b.z_fg, "is_lens": b.is_lens}


def independent_set(n: int, seed: int, folder: str) -> dict:
    subprocess.run([sys.executable, os.path.join(HERE, "independent_set.py"), "--out", folder, "--n", str(n),
                    "--seed", str(seed), "--quiet"], check=True)
    truth = pd.read_csv(os.path.join(folder, "truth.csv"))
    grids = [to_model_grid(read_spectra(os.path.join(folder, f))[0]) for f in truth["file"]]
    return {"residual": np.stack([g.residual for g in grids]), "ivar": np.stack([g.ivar for g in grids]),
            "z_fg": np.array([g.z_fg for g in grids]), "is_lens": (truth["kind"] == "lens").to_numpy()}


def candidates(detector: EvidenceDetector, data: dict) -> dict:
    proposal = detector.propose(data["residual"], data["ivar"], data["z_fg"])
    c = detector.physics.candidates_batch(data["residual"], data["ivar"], data["z_fg"], extra_z=proposal["z_bg"])
    return {"evidence": c.chi2_evidence, "fit_evidence": c.chi2_evidence - c.ratio_deficit, "valid": c.valid,
            "cnn_term": cnn_terms(c.z, proposal["z_bg"], proposal["lens_logit"]), "is_lens": data["is_lens"]}


def best_candidate(c: dict, fusion: EvidenceFusion, key: str = "evidence") -> tuple[np.ndarray, np.ndarray]:
    logit = np.where(c["valid"], fusion.logit(c[key], c["cnn_term"]), -np.inf)
    k = np.argmax(logit, axis=1)
    rows = np.arange(k.size)
    x = c[key][rows, k]
    return 0.5 * np.where(np.isfinite(x), x, 0.0), c["cnn_term"][rows, k]


def fit(sets: list[dict], fusion: EvidenceFusion) -> EvidenceFusion:
    for _ in range(ROUNDS):
        features, labels, weights = [], [], []
        for c in sets:
            half_chi2, term = best_candidate(c, fusion, "fit_evidence")
            features.append(np.stack([half_chi2, term], axis=1))
            labels.append(c["is_lens"].astype(np.float64))
            weights.append(np.full(half_chi2.size, 1.0 / half_chi2.size))
        x, y, w = np.concatenate(features), np.concatenate(labels), np.concatenate(weights)

        def loss(p):
            z = x @ p[:2] + p[2]
            return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)))

        res = minimize(loss, [fusion.w_x, fusion.w_cnn, fusion.w_0], bounds=[(1e-4, None), (0.0, None), (None, None)])
        fusion = EvidenceFusion(*(float(v) for v in res.x))
        print(f"  round: {fusion.to_json()} (loss {res.fun:.4f})", file=sys.stderr)
    thresholds = []
    for c in sets:
        half_chi2, term = best_candidate(c, fusion)
        score = fusion.score(2.0 * half_chi2, term)
        thresholds.append(float(np.quantile(score[~c["is_lens"]], 0.99)))
    print(f"  99th percentile of negative scores per set: {[round(t, 4) for t in thresholds]}", file=sys.stderr)
    return EvidenceFusion(fusion.w_x, fusion.w_cnn, fusion.w_0, max(thresholds))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--n-synthetic", type=int, default=4000)
    ap.add_argument("--n-independent", type=int, default=2000)
    ap.add_argument("--model", default=str(default_model_path()))
    ap.add_argument("--data-config", default=os.path.join(HERE, "..", "training", "configs", "casiglo-cnn-v3.json"))
    ap.add_argument("--workdir", default=None, help="where the independent files go (default: a temporary folder)")
    args = ap.parse_args(argv)
    print("command: PYTHONPATH=. python benchmarks/fit_evidence_fusion.py " + " ".join(sys.argv[1:] if argv is None else argv))
    detector = EvidenceDetector(OnnxLineModel(args.model, threads=1))
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.workdir or os.path.join(tmp, "independent")
        sets = [candidates(detector, synthetic_set(args.n_synthetic, args.seed, args.data_config)),
                candidates(detector, independent_set(args.n_independent, args.seed, folder))]
    fusion = fit(sets, EvidenceFusion())
    print(fusion.to_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
