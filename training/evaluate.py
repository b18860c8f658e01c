"""``casiglo-train evaluate``: metrics of an exported model on a held-out synthetic test set.

The test set is generated with its own seed (never the training or validation seed). Metrics, for the
combined detector (CNN + physics refinement), the CNN alone and the physics detector alone:

- per-line recall for lines with SNR >= 4 at a threshold giving <= 2% per-line false positives;
- lens completeness at 1% false positives, for lenses whose strongest line has SNR >= 6 and overall;
- redshift accuracy of detected lenses: fraction with |dz| < 1e-4 and the median |dz|.

``--calibrate`` first fits the lens-score calibration (Platt scaling of the CNN's lens logit) on a
separate calibration set (its own seed) and writes it to ``calibration.json``; ``casiglo-train export
--calibration`` puts it in the ONNX metadata. Plots (PNG) are written when matplotlib is installed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from casiglo_gui.core import lines

LINE_SNR_MIN = 4.0
LINE_FPR = 0.02
LENS_SNR_MIN = 6.0
LENS_FPR = 0.01
DZ_GOOD = 1e-4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", required=True, type=Path, help="exported model (casiglo-train export)")
    parser.add_argument("--out", required=True, type=Path, help="folder for metrics.json and plots")
    parser.add_argument("--n", type=int, default=20000, help="test spectra (default 20000)")
    parser.add_argument("--seed", type=int, default=20261124, help="test-set seed (not a training seed)")
    parser.add_argument("--data-config", type=Path,
                        help="synthetic data configuration JSON (default: the model's training data)")
    parser.add_argument("--calibrate", action="store_true",
                        help="fit the lens-score calibration on a separate set first (writes calibration.json)")
    parser.add_argument("--calibration-n", type=int, default=5000)
    parser.add_argument("--calibration-seed", type=int, default=777)
    parser.add_argument("--no-physics", action="store_true", help="skip the physics-alone comparison")
    parser.add_argument("--chunk", type=int, default=2000, help="spectra per generation/inference chunk")


# ----------------------------------------------------------------------------- metric functions
def threshold_at_fpr(negative_scores: np.ndarray, fpr: float) -> float:
    """Smallest threshold ``t`` such that at most ``fpr`` of the negatives score strictly above ``t``."""
    neg = np.sort(np.asarray(negative_scores, dtype=np.float64))
    if neg.size == 0:
        return -np.inf
    k = int(np.floor(fpr * neg.size))  # number of negatives allowed above the threshold
    return float(neg[neg.size - 1 - k]) if k < neg.size else -np.inf


def completeness_at_fpr(scores: np.ndarray, is_positive: np.ndarray, is_negative: np.ndarray,
                        fpr: float) -> tuple[float, float, float]:
    """(completeness, achieved FPR, threshold): positives scoring above the negatives' ``fpr`` quantile."""
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    t = threshold_at_fpr(scores[is_negative], fpr)
    pos = scores[is_positive]
    completeness = float(np.mean(pos > t)) if pos.size else float("nan")
    achieved = float(np.mean(scores[is_negative] > t)) if np.any(is_negative) else float("nan")
    return completeness, achieved, t


def per_line_recall(line_prob: np.ndarray, present: np.ndarray, snr: np.ndarray,
                    snr_min: float = LINE_SNR_MIN, fpr: float = LINE_FPR) -> dict:
    """Per-line recall of lines with SNR >= ``snr_min`` at the threshold giving ``fpr`` per-line false positives.

    Negatives for line ``c`` are all spectra where line ``c`` is absent (non-lenses included).
    """
    out = {}
    n_hit = n_pos = 0
    for c, key in enumerate(lines.LINE_KEYS):
        positive = present[:, c] & (snr[:, c] >= snr_min)
        negative = ~present[:, c]
        rec, achieved, t = completeness_at_fpr(line_prob[:, c], positive, negative, fpr)
        out[key] = {"recall": rec, "fpr": achieved, "threshold": t, "n_positive": int(positive.sum())}
        if positive.any():
            n_hit += int(round(rec * positive.sum()))
            n_pos += int(positive.sum())
    recalls = [v["recall"] for v in out.values() if v["n_positive"] > 0]
    return {"per_line": out, "pooled_recall": n_hit / n_pos if n_pos else float("nan"),
            "min_recall": float(min(recalls)) if recalls else float("nan"),
            "mean_recall": float(np.mean(recalls)) if recalls else float("nan")}


def redshift_accuracy(z_pred: np.ndarray, z_true: np.ndarray, detected: np.ndarray) -> dict:
    """Fraction of detected lenses with |dz| < 1e-4 and the median |dz| (NaN predictions count as wrong)."""
    dz = np.abs(np.asarray(z_pred, np.float64) - np.asarray(z_true, np.float64))[detected]
    dz = np.where(np.isfinite(dz), dz, np.inf)
    if dz.size == 0:
        return {"n": 0, "frac_dz_lt_1e-4": float("nan"), "median_abs_dz": float("nan")}
    return {"n": int(dz.size), "frac_dz_lt_1e-4": float(np.mean(dz < DZ_GOOD)),
            "median_abs_dz": float(np.median(dz)), "frac_dz_lt_1e-3": float(np.mean(dz < 1e-3))}


def fit_platt(logit: np.ndarray, label: np.ndarray) -> dict:
    """Platt scaling ``sigmoid(a * logit + b)`` by maximum likelihood."""
    from scipy.optimize import minimize

    s = np.clip(np.asarray(logit, np.float64), -50, 50)
    y = np.asarray(label, np.float64)

    def nll(p):
        z = p[0] * s + p[1]
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    def grad(p):
        z = p[0] * s + p[1]
        r = 0.5 * (1.0 + np.tanh(0.5 * z)) - y
        return np.array([np.mean(r * s), np.mean(r)])

    res = minimize(nll, x0=[1.0, 0.0], jac=grad, method="BFGS")
    return {"method": "platt", "a": float(res.x[0]), "b": float(res.x[1]),
            "lens_fraction": float(y.mean()), "n": int(y.size), "nll": float(res.fun)}


# ----------------------------------------------------------------------------- running the detectors
def lens_truth(batch) -> np.ndarray:
    """A spectrum is a lens when background lines were injected (the lens-score target)."""
    return np.asarray(batch.line_present, bool).any(axis=1) & np.isfinite(np.asarray(batch.z_bg, np.float64))


def run_detectors(model, batch, physics, with_physics: bool) -> dict[str, np.ndarray]:
    """CNN raw outputs, combined detections and (optionally) physics detections on one chunk."""
    from casiglo_gui.core.detectors import EvidenceDetector

    t0 = time.perf_counter()
    raw = model.predict_raw(batch.x, batch.z_fg)
    t_cnn = time.perf_counter() - t0
    combined = EvidenceDetector(model)  # what casiglo scan and the app run
    t0 = time.perf_counter()
    dets = combined.detect_batch(batch.residual, batch.ivar, batch.z_fg)
    t_comb = time.perf_counter() - t0
    out = {"cnn_line_prob": raw["line_prob"], "cnn_z": raw["z_bg"], "cnn_logit": raw["lens_logit"],
           "comb_score": np.array([d.score for d in dets]), "comb_z": np.array([d.z_bg for d in dets]),
           "comb_line_prob": np.array([d.line_probability for d in dets]),
           "t_cnn": np.array([t_cnn]), "t_comb": np.array([t_comb])}
    if with_physics:
        t0 = time.perf_counter()
        pdets = physics.detect_batch(batch.residual, batch.ivar, batch.z_fg)
        out["t_phys"] = np.array([time.perf_counter() - t0])
        out["phys_score"] = np.array([d.score for d in pdets])
        out["phys_z"] = np.array([d.z_bg for d in pdets])
        out["phys_line_prob"] = np.array([d.line_probability for d in pdets])
    return out


def generate_chunks(n: int, seed: int, data_config: dict, chunk: int):
    """The test set in chunks; chunk ``k`` uses seed ``[seed, k]`` so the set depends only on (n, seed, chunk)."""
    from training import synthetic

    for k, start in enumerate(range(0, n, chunk)):
        yield synthetic.generate(min(chunk, n - start), [int(seed), k], data_config)


def evaluate(model, n: int, seed: int, data_config: dict, chunk: int = 2000, with_physics: bool = True,
             physics=None) -> tuple[dict, dict]:
    """Run everything on a fresh test set; returns (metrics, arrays for plots)."""
    from casiglo_gui.core.physics import PhysicsDetector

    physics = physics or PhysicsDetector()
    parts: dict[str, list] = {}
    t_gen = 0.0
    t0 = time.perf_counter()
    for batch in generate_chunks(n, seed, data_config, chunk):
        t_gen += time.perf_counter() - t0
        res = run_detectors(model, batch, physics, with_physics)
        res.update({"present": np.asarray(batch.line_present, bool), "snr": np.asarray(batch.line_snr, np.float64),
                    "z_bg": np.asarray(batch.z_bg, np.float64), "z_fg": np.asarray(batch.z_fg, np.float64),
                    "kind": np.asarray(batch.kind), "lens": lens_truth(batch)})
        for k, v in res.items():
            parts.setdefault(k, []).append(v)
        print(f"  evaluated {sum(len(p) for p in parts['lens'])}/{n}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
    a = {k: np.concatenate(v) for k, v in parts.items()}
    lens = a["lens"]
    strong = lens & (np.nanmax(np.where(a["present"], a["snr"], -np.inf), axis=1) >= LENS_SNR_MIN)
    negative = ~lens
    metrics: dict = {"test_set": {"generator": "training.synthetic", "n": int(n), "seed": int(seed),
                                  "chunk": int(chunk), "data_config": data_config,
                                  "n_lenses": int(lens.sum()), "n_strong_lenses": int(strong.sum()),
                                  "n_negatives": int(negative.sum())}}
    kinds = {}
    try:
        from training.synthetic import KINDS
        kinds = {name: int(np.sum(a["kind"] == i)) for i, name in enumerate(KINDS)}
    except ImportError:
        pass
    metrics["test_set"]["kinds"] = kinds
    detectors = {"combined": ("comb_score", "comb_z", "comb_line_prob"),
                 "cnn": ("cnn_logit", "cnn_z", "cnn_line_prob")}
    if with_physics:
        detectors["physics"] = ("phys_score", "phys_z", "phys_line_prob")
    for name, (score_key, z_key, lp_key) in detectors.items():
        c_strong, fpr_s, t_s = completeness_at_fpr(a[score_key], strong, negative, LENS_FPR)
        c_all, fpr_a, _ = completeness_at_fpr(a[score_key], lens, negative, LENS_FPR)
        detected = lens & (np.nan_to_num(a[score_key], nan=-np.inf) > t_s)
        metrics[name] = {
            "lens_completeness_strong_at_1pct_fpr": c_strong, "achieved_fpr": fpr_s, "threshold": t_s,
            "lens_completeness_all_at_1pct_fpr": c_all,
            "line_recall_snr4_at_2pct_fpr": per_line_recall(a[lp_key], a["present"], a["snr"]),
            "redshift_detected": redshift_accuracy(a[z_key], a["z_bg"], detected),
            "redshift_detected_strong": redshift_accuracy(a[z_key], a["z_bg"], detected & strong),
        }
    timing = {"generate_s": round(t_gen, 2), "cnn_s": round(float(a["t_cnn"].sum()), 2),
              "combined_s": round(float(a["t_comb"].sum()), 2)}
    if with_physics:
        timing["physics_s"] = round(float(a["t_phys"].sum()), 2)
    metrics["timing"] = timing
    c = metrics["combined"]
    metrics["headline"] = {
        "test_set": f"training.synthetic n={n} seed={seed}",
        "line_recall_snr4_at_2pct_fpr_pooled": c["line_recall_snr4_at_2pct_fpr"]["pooled_recall"],
        "line_recall_snr4_at_2pct_fpr_min": c["line_recall_snr4_at_2pct_fpr"]["min_recall"],
        "lens_completeness_snr6_at_1pct_fpr": c["lens_completeness_strong_at_1pct_fpr"],
        "lens_completeness_all_at_1pct_fpr": c["lens_completeness_all_at_1pct_fpr"],
        "frac_dz_lt_1e-4": c["redshift_detected"]["frac_dz_lt_1e-4"],
        "median_abs_dz": c["redshift_detected"]["median_abs_dz"],
    }
    if with_physics:
        metrics["headline"]["physics_lens_completeness_all_at_1pct_fpr"] = \
            metrics["physics"]["lens_completeness_all_at_1pct_fpr"]
        metrics["headline"]["physics_lens_completeness_snr6_at_1pct_fpr"] = \
            metrics["physics"]["lens_completeness_strong_at_1pct_fpr"]
    return metrics, a


def calibrate(model, n: int, seed: int, data_config: dict, chunk: int = 2000, physics=None) -> dict:
    """Fit, on a calibration set of its own seed, the Platt calibration of the CNN's lens logit (the
    CNN-only detector's score). The combined detector's weights are fitted on a mixture of generators,
    not on this one alone: ``benchmarks/fit_evidence_fusion.py``."""
    batches = list(generate_chunks(n, seed, data_config, chunk))
    logits = np.concatenate([model.predict_raw(b.x, b.z_fg)["lens_logit"] for b in batches])
    labels = np.concatenate([lens_truth(b) for b in batches])
    cal = fit_platt(logits, labels)
    cal.update({"seed": int(seed), "generator": "training.synthetic", "data_config": data_config})
    return cal


# ----------------------------------------------------------------------------- plots
def plots(a: dict, metrics: dict, out: Path) -> list[Path]:
    """Per-line ROC, completeness vs SNR, dz histogram (PNG); empty list without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    def save(fig, path: Path) -> Path:
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return path

    written = []
    fig, axes = plt.subplots(3, 4, figsize=(14, 9), sharex=True, sharey=True)
    for c, key in enumerate(lines.LINE_KEYS):
        ax = axes.flat[c]
        for name, lp_key in (("combined", "comb_line_prob"), ("physics", "phys_line_prob")):
            if lp_key not in a:
                continue
            pos = a["present"][:, c] & (a["snr"][:, c] >= LINE_SNR_MIN)
            neg = ~a["present"][:, c]
            s = np.nan_to_num(a[lp_key][:, c], nan=-1.0)
            thr = np.unique(np.quantile(s[neg], np.linspace(0.5, 1.0, 200)))
            fpr = [np.mean(s[neg] > t) for t in thr]
            tpr = [np.mean(s[pos] > t) if pos.any() else np.nan for t in thr]
            ax.plot(fpr, tpr, label=name)
        ax.axvline(LINE_FPR, color="grey", lw=0.5)
        ax.set_xscale("symlog", linthresh=1e-3)
        ax.set_title(key, fontsize=9)
    axes.flat[0].legend(fontsize=8)
    fig.supxlabel("per-line false-positive rate")
    fig.supylabel("recall (SNR >= 4)")
    written.append(save(fig, out / "line_roc.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    peak = np.nanmax(np.where(a["present"], a["snr"], -np.inf), axis=1)
    bins = np.arange(0, 16, 1.0)
    for name, key in (("combined", "comb_score"), ("cnn", "cnn_logit"), ("physics", "phys_score")):
        if key not in a or name not in metrics:
            continue
        t = metrics[name]["threshold"]
        det = np.nan_to_num(a[key], nan=-np.inf) > t
        comp = [np.mean(det[a["lens"] & (peak >= lo) & (peak < lo + 1)]) if np.any(a["lens"] & (peak >= lo) & (peak < lo + 1))
                else np.nan for lo in bins]
        ax.plot(bins + 0.5, comp, marker="o", label=name)
    ax.set_xlabel("SNR of the strongest injected line")
    ax.set_ylabel("completeness at 1% FPR")
    ax.legend()
    written.append(save(fig, out / "completeness_vs_snr.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    edges = np.logspace(-7, -1, 61)
    for name, zk, sk in (("combined", "comb_z", "comb_score"), ("cnn", "cnn_z", "cnn_logit"),
                         ("physics", "phys_z", "phys_score")):
        if zk not in a or name not in metrics:
            continue
        det = a["lens"] & (np.nan_to_num(a[sk], nan=-np.inf) > metrics[name]["threshold"])
        dz = np.abs(a[zk] - a["z_bg"])[det]
        ax.hist(np.clip(dz[np.isfinite(dz)], 1e-7, 1e-1), bins=edges, histtype="step", label=name)
    ax.axvline(DZ_GOOD, color="grey", lw=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("|z_bg - true z_bg| of detected lenses")
    ax.legend()
    written.append(save(fig, out / "dz_hist.png"))
    return written


def run(args: argparse.Namespace) -> int:
    from casiglo_gui.core.inference import LensCalibration, OnnxLineModel

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = OnnxLineModel(args.onnx)
    if args.data_config:
        data_config = json.loads(Path(args.data_config).read_text())
        data_config = data_config.get("data", data_config)
    else:
        data_config = json.loads(model.metadata.get("training_data", "{}"))
    t0 = time.time()
    if args.calibrate:
        cal = calibrate(model, args.calibration_n, args.calibration_seed, data_config, args.chunk)
        (out / "calibration.json").write_text(json.dumps(cal, indent=2))
        model.calibration = LensCalibration(cal["a"], cal["b"], cal["lens_fraction"])
        print(f"calibration: a={cal['a']:.3f} b={cal['b']:.3f} ({time.time() - t0:.0f} s)", file=sys.stderr)
    metrics, arrays = evaluate(model, args.n, args.seed, data_config, args.chunk, not args.no_physics)
    metrics["model"] = {"onnx": str(args.onnx), "model_version": model.version}
    metrics["command"] = "casiglo-train evaluate " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["evaluate"]
                                                             else sys.argv[1:])
    metrics["wall_s"] = round(time.time() - t0, 1)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    for p in plots(arrays, metrics, out):
        print(f"wrote {p}", file=sys.stderr)
    print(json.dumps(metrics["headline"], indent=2))
    return 0
