"""Metrics of a scan table against the independent set's truth table (pure functions, no I/O).

Definitions (docs/independent_eval.md):
- Lens threshold: the score above which at most 1% of this set's negatives (all negative kinds) lie;
  a spectrum is detected when ``score > threshold``. Error rows score 0 (and are counted).
- Completeness: fraction of lenses detected; also for lenses whose strongest line has this set's
  aperture SNR >= 6, and in SNR bins. ROC AUC: threshold-free (Mann-Whitney, ties counted half).
- Per-line recall: for each line key, a threshold on ``p_<key>`` with at most 2% of the files WITHOUT
  that background line above it (negatives included, foreground emission among them), applied to files
  whose injected line has SNR >= 4. Files with the line injected below SNR 4 are left out of both sides.
- Redshift among detected lenses: |z_bg - z_true|; a detected lens without a z_bg counts as off by inf.
  Detectors detect different lenses (a weaker detector keeps the brighter ones), so
  ``common_redshift`` compares them on the lenses all of them detect.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from casiglo_gui.core.lines import LINE_KEYS

LENS_FPR = 0.01
LINE_FPR = 0.02
LINE_SNR_MIN = 4.0
LENS_SNR_MIN = 6.0
MIN_LINES_FOR_WORST = 20  # a recall from fewer present lines is too noisy to call the worst
Z_BG_BINS = ((0.0, 0.5), (0.5, 0.8), (0.8, 1.0), (1.0, 1.2), (1.2, 1.4), (1.4, 3.0))
SIGMA_V_BINS = ((30.0, 60.0), (60.0, 100.0), (100.0, 150.0), (150.0, 200.0))
SNR_BINS = ((3.0, 6.0), (6.0, 10.0), (10.0, 20.0), (20.0, 30.0001))


def threshold_at_fpr(negative_scores: np.ndarray, fpr: float) -> float:
    """Smallest threshold t with at most ``fpr`` of ``negative_scores`` strictly above t."""
    s = np.sort(np.asarray(negative_scores, dtype=np.float64))[::-1]
    if s.size == 0:
        return float("-inf")
    k = int(np.floor(fpr * s.size + 1e-9))
    return float(s[k]) if k < s.size else float("-inf")


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    both = np.concatenate([pos, neg])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(both.size, dtype=np.float64)
    sorted_values = both[order]
    # average ranks over ties
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], both.size]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = 0.5 * (a + b - 1) + 1
    u = ranks[:pos.size].sum() - pos.size * (pos.size + 1) / 2
    return float(u / (pos.size * neg.size))


def join(truth: pd.DataFrame, scan: pd.DataFrame) -> pd.DataFrame:
    """Truth rows with their scan row (matched on file name); a file missing from the scan is an error row."""
    scan = scan.copy()
    scan["file"] = [os.path.basename(str(s)) for s in scan["source"]]
    scan = scan.drop_duplicates("file", keep="first")
    keep = ["file", "status", "score", "z_bg"] + [f"p_{k}" for k in LINE_KEYS]
    merged = truth.merge(scan[keep].rename(columns={"z_bg": "z_bg_scan"}), on="file", how="left")
    merged["status"] = merged["status"].fillna("error: not in scan table")
    return merged


def _fraction(mask: np.ndarray) -> float:
    return float(np.mean(mask)) if mask.size else float("nan")


def _redshift_summary(dz: np.ndarray) -> dict:
    return {"n_detected": int(dz.size), "frac_dz_lt_1e-4": _fraction(dz < 1e-4),
            "median_abs_dz": float(np.median(dz)) if dz.size else float("nan"),
            "catastrophic_frac_dz_gt_1e-3": _fraction(dz > 1e-3)}


def lens_outcomes(truth: pd.DataFrame, scan: pd.DataFrame) -> pd.DataFrame:
    """Per lens file: ``detected`` at the 1%-FPR threshold and ``abs_dz`` (inf without a z_bg)."""
    t = join(truth, scan)
    ok = (t["status"] == "ok").to_numpy()
    score = np.where(ok, pd.to_numeric(t["score"], errors="coerce").fillna(0.0).to_numpy(), 0.0)
    lens = (t["kind"] == "lens").to_numpy()
    detected = score > threshold_at_fpr(score[~lens], LENS_FPR)
    z_scan = pd.to_numeric(t["z_bg_scan"], errors="coerce").to_numpy(dtype=np.float64)
    dz = np.abs(z_scan - t["z_bg"].to_numpy(dtype=np.float64))
    return pd.DataFrame({"file": t["file"][lens].to_numpy(), "detected": detected[lens],
                         "abs_dz": np.where(np.isfinite(dz), dz, np.inf)[lens]})


def common_redshift(outcomes: dict[str, pd.DataFrame]) -> dict:
    """Redshift accuracy of each detector on the lenses that ALL of them detect (a like-for-like set)."""
    names = list(outcomes)
    common = np.logical_and.reduce([outcomes[n]["detected"].to_numpy() for n in names])
    return {n: _redshift_summary(outcomes[n]["abs_dz"].to_numpy()[common]) for n in names}


def evaluate(truth: pd.DataFrame, scan: pd.DataFrame) -> dict:
    """All metrics of one detector's scan table against ``truth`` (see the module docstring)."""
    t = join(truth, scan)
    ok = (t["status"] == "ok").to_numpy()
    score = np.where(ok, pd.to_numeric(t["score"], errors="coerce").fillna(0.0).to_numpy(), 0.0)
    kind = t["kind"].to_numpy()
    lens = kind == "lens"
    snr_max = t["snr_max"].to_numpy(dtype=np.float64)
    thr = threshold_at_fpr(score[~lens], LENS_FPR)
    detected = score > thr
    z_true = t["z_bg"].to_numpy(dtype=np.float64)
    strongest = t["strongest_line"].to_numpy() if "strongest_line" in t else np.array([""] * len(t))
    out: dict = {
        "n_files": int(len(t)), "n_lenses": int(lens.sum()), "n_negatives": int((~lens).sum()),
        "n_error_rows": int((~ok).sum()),
        "lens_threshold": thr, "achieved_fpr": _fraction(detected[~lens]),
        "roc_auc": roc_auc(score[lens], score[~lens]),
        "completeness_all": _fraction(detected[lens]),
        "completeness_snr6": _fraction(detected[lens & (snr_max >= LENS_SNR_MIN)]),
        "n_lenses_snr6": int((lens & (snr_max >= LENS_SNR_MIN)).sum()),
        "completeness_by_snr": {
            f"{lo:g}-{min(hi, 30):g}": {"n": int((lens & (snr_max >= lo) & (snr_max < hi)).sum()),
                                        "completeness": _fraction(detected[lens & (snr_max >= lo) & (snr_max < hi)])}
            for lo, hi in SNR_BINS},
        "completeness_by_z_bg": {
            f"{lo:g}-{hi:g}": {"n": int((lens & (z_true >= lo) & (z_true < hi)).sum()),
                               "completeness": _fraction(detected[lens & (z_true >= lo) & (z_true < hi)])}
            for lo, hi in Z_BG_BINS},
        "completeness_by_strongest_line": {
            key: {"n": int((lens & (strongest == key)).sum()),
                  "completeness": _fraction(detected[lens & (strongest == key)])}
            for key in LINE_KEYS if (lens & (strongest == key)).any()},
        "fpr_by_kind": {k: {"n": int((kind == k).sum()), "fpr": _fraction(detected[kind == k])}
                        for k in sorted(set(kind) - {"lens"})},
    }
    z_scan = pd.to_numeric(t["z_bg_scan"], errors="coerce").to_numpy(dtype=np.float64)
    dz = np.abs(z_scan - z_true)[lens & detected]
    dz = np.where(np.isfinite(dz), dz, np.inf)
    out["redshift"] = _redshift_summary(dz)
    if "sigma_v_kms" in t:
        # Line width limits z precision (a 200 km/s line at SNR 6 carries ~1e-4 of statistical error).
        sigma_v = pd.to_numeric(t["sigma_v_kms"], errors="coerce").to_numpy(dtype=np.float64)[lens & detected]
        out["redshift_by_sigma_v"] = {
            f"{lo:g}-{hi:g} km/s": _redshift_summary(dz[(sigma_v >= lo) & (sigma_v < hi + 1e-9)])
            for lo, hi in SIGMA_V_BINS}
    per_line, hits, total = {}, 0, 0
    for key in LINE_KEYS:
        p = np.where(ok, pd.to_numeric(t[f"p_{key}"], errors="coerce").fillna(0.0).to_numpy(), 0.0)
        flux = t[f"flux_{key}"].to_numpy(dtype=np.float64)
        line_snr = t[f"snr_{key}"].to_numpy(dtype=np.float64)
        absent = flux <= 0
        present = line_snr >= LINE_SNR_MIN
        thr_k = threshold_at_fpr(p[absent], LINE_FPR)
        hit = p[present] > thr_k
        per_line[key] = {"n_present": int(present.sum()), "n_absent": int(absent.sum()),
                         "threshold": thr_k, "recall": _fraction(hit), "fpr": _fraction(p[absent] > thr_k)}
        hits += int(hit.sum())
        total += int(present.sum())
    out["per_line"] = per_line
    out["line_recall_pooled"] = hits / total if total else float("nan")
    measured = {k: v["recall"] for k, v in per_line.items() if v["n_present"] >= MIN_LINES_FOR_WORST}
    worst = min(measured, key=measured.get) if measured else ""
    out["line_recall_worst"] = {"key": worst, "recall": measured.get(worst, float("nan")),
                                "among_lines_with_n_present_at_least": MIN_LINES_FOR_WORST}
    return out
