"""Issue 13's detection and redshift metrics of a scan table against a set's truth (pure functions, no I/O).

The truth table has one row per file with the columns of ``TRUTH_REQUIRED``: ``kind`` among ``lens``,
``plain``, ``fg_emission``, ``lone_line``, ``cosmic``, ``sky_residual`` (a set may have other negative kinds),
``snr_<key>`` the true SNR of each background line (0 when absent or not observable), ``snr_total`` their
quadrature sum, ``snr_max`` the strongest (for ``lone_line``: that line's SNR, NaN when unknown) and
``cr_sigma_z`` the Cramer-Rao bound on z_bg.

- Threshold: the lowest score with at most 1% of the set's negatives (every kind) above it;
  detected = score > threshold. Rows that failed to scan score 0.
- Per-line recall: in detected lenses, lines of true SNR >= 4 with ``p_<key> >= 0.5``; absent lines (true
  SNR 0) of detected lenses with ``p_<key> >= 0.5`` is the false-line fraction.
- Redshift: among detected lenses, ``|dz| > 1e-3`` (or no z_bg) is a wrong identification; for the rest
  the pulls dz / cr_sigma_z (robust spread 1.4826 MAD and RMS: 1 at the bound; also against
  ``cr_sigma_z_free_fluxes``, the bound with unknown line fluxes, where the truth has it) and dz / z_bg_err
  (median |dz| / z_bg_err is 0.674 when the errors are Gaussian and z_bg_err is right).
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from benchmarks.independent.metrics import roc_auc, threshold_at_fpr

from .spectral_lines import LINE_KEYS

LENS_FPR = 0.01
LINE_SNR_MIN = 4.0
LINE_P_MIN = 0.5
CATASTROPHIC_DZ = 1e-3
TOTAL_SNR_BINS = ((10.0, 15.0), (15.0, 25.0), (25.0, np.inf))
LONE_LINE_SNR = (6.0, 30.0)
GAUSSIAN_MEDIAN_ABS = 0.6745  # median |x| of a unit normal
TRUTH_REQUIRED = ("file", "kind", "z_bg", "snr_total", "snr_max", "cr_sigma_z") + tuple(f"snr_{k}" for k in LINE_KEYS)


def join(truth: pd.DataFrame, scan: pd.DataFrame) -> pd.DataFrame:
    """Truth rows with their scan row, matched on the file's base name; a file missing from the scan fails."""
    missing = [c for c in TRUTH_REQUIRED if c not in truth]
    if missing:
        raise ValueError(f"truth table lacks column(s) {', '.join(missing)}")
    scan = scan.copy()
    scan["file"] = [os.path.basename(str(s)) for s in scan["source"]]
    keep = ["file", "status", "score", "z_bg", "z_bg_err"] + [f"p_{k}" for k in LINE_KEYS]
    scan = scan.drop_duplicates("file")[keep].rename(columns={"z_bg": "z_bg_scan"})
    merged = truth.merge(scan, on="file", how="left")
    merged["status"] = merged["status"].fillna("error: not in scan table")
    return merged


def _rate(mask: np.ndarray) -> dict:
    return {"n": int(mask.size), "k": int(np.sum(mask)), "rate": float(np.mean(mask)) if mask.size else float("nan")}


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)


def scores(t: pd.DataFrame) -> np.ndarray:
    ok = (t["status"] == "ok").to_numpy()
    return np.where(ok, np.nan_to_num(_numbers(t, "score"), nan=0.0), 0.0)


def detection(t: pd.DataFrame) -> dict:
    """Threshold, completeness by population, ROC AUC and false positives by negative kind."""
    score = scores(t)
    kind = t["kind"].astype(str).to_numpy()
    lens = kind == "lens"
    thr = threshold_at_fpr(score[~lens], LENS_FPR)
    detected = score > thr
    total, peak = _numbers(t, "snr_total"), _numbers(t, "snr_max")
    out = {"threshold": thr, "n_lenses": int(lens.sum()), "n_negatives": int((~lens).sum()),
           "n_failed": int((t["status"] != "ok").sum()), "achieved_fpr": _rate(detected[~lens]),
           "roc_auc": roc_auc(score[lens], score[~lens]),
           "completeness_all": _rate(detected[lens]),
           "completeness_total_snr_ge_15": _rate(detected[lens & (total >= 15.0)]),
           "completeness_strongest_snr_ge_6": _rate(detected[lens & (peak >= 6.0)]),
           "completeness_by_total_snr": {f"{lo:g}-{hi:g}": _rate(detected[lens & (total >= lo) & (total < hi)])
                                         for lo, hi in TOTAL_SNR_BINS},
           "fpr_by_kind": {k: _rate(detected[kind == k]) for k in sorted(set(kind) - {"lens"})}}
    lone = kind == "lone_line"
    known = np.isfinite(peak)
    in_range = (peak >= LONE_LINE_SNR[0]) & (peak <= LONE_LINE_SNR[1])
    out["lone_lines_snr_6_30_above"] = _rate(detected[lone & (in_range | ~known)])
    out["lone_line_snr_known"] = bool(np.all(known[lone])) if lone.any() else False
    out["fg_emission_above"] = _rate(detected[kind == "fg_emission"])
    out["_detected"] = detected
    return out


def line_recall(t: pd.DataFrame, detected: np.ndarray) -> dict:
    """Per-line recall at p >= 0.5 in detected lenses, and absent lines at p >= 0.5 (there and everywhere)."""
    lens = (t["kind"] == "lens").to_numpy()
    ok = (t["status"] == "ok").to_numpy()
    per_line, hit_all, present_all, false_det, absent_det, false_any, absent_any = {}, 0, 0, 0, 0, 0, 0
    for key in LINE_KEYS:
        p = np.where(ok, np.nan_to_num(_numbers(t, f"p_{key}"), nan=0.0), 0.0)
        snr = np.nan_to_num(_numbers(t, f"snr_{key}"), nan=0.0)
        present = lens & detected & (snr >= LINE_SNR_MIN)
        absent = snr <= 0.0
        hits = p[present] >= LINE_P_MIN
        per_line[key] = _rate(hits)
        hit_all += int(hits.sum())
        present_all += int(present.sum())
        false_det += int(np.sum(p[absent & lens & detected] >= LINE_P_MIN))
        absent_det += int(np.sum(absent & lens & detected))
        false_any += int(np.sum(p[absent] >= LINE_P_MIN))
        absent_any += int(absent.sum())
    return {"line_recall": {"n": present_all, "k": hit_all, "rate": hit_all / present_all if present_all else float("nan")},
            "per_line": per_line,
            "absent_lines_detected_lenses": {"n": absent_det, "k": false_det,
                                             "rate": false_det / absent_det if absent_det else float("nan")},
            "absent_lines_all_files": {"n": absent_any, "k": false_any,
                                       "rate": false_any / absent_any if absent_any else float("nan")}}


def robust_sigma(x: np.ndarray) -> float:
    """1.4826 x the median absolute deviation from the median (the sigma of a normal sample)."""
    x = x[np.isfinite(x)]
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else float("nan")


def redshift(t: pd.DataFrame, detected: np.ndarray) -> dict:
    """Wrong identifications and the spread of the others against the Cramer-Rao bound and z_bg_err."""
    lens = (t["kind"] == "lens").to_numpy()
    sel = lens & detected
    dz = (_numbers(t, "z_bg_scan") - _numbers(t, "z_bg"))[sel]
    wrong = ~(np.abs(dz) <= CATASTROPHIC_DZ)  # NaN (no z_bg) counts as wrong
    good = ~wrong
    bound = _numbers(t, "cr_sigma_z")[sel][good]
    free_bound = (_numbers(t, "cr_sigma_z_free_fluxes")[sel][good] if "cr_sigma_z_free_fluxes" in t
                  else np.full(bound.size, np.nan))
    pull_free = dz[good] / free_bound
    err = _numbers(t, "z_bg_err")[sel][good]
    pull_cr = dz[good] / bound
    finite = np.isfinite(pull_cr)
    with np.errstate(divide="ignore", invalid="ignore"):
        pull_err = np.abs(dz[good]) / err
    usable_err = np.isfinite(pull_err)
    return {"n_detected": int(sel.sum()), "wrong_dz_gt_1e-3": _rate(wrong),
            "n_fine": int(good.sum()),
            "pull_cr_robust_sigma": robust_sigma(pull_cr),
            "pull_cr_rms": float(np.sqrt(np.mean(pull_cr[finite] ** 2))) if finite.any() else float("nan"),
            "pull_cr_median_abs_over_0.674": float(np.median(np.abs(pull_cr[finite])) / GAUSSIAN_MEDIAN_ABS)
            if finite.any() else float("nan"),
            "pull_cr_median": float(np.median(pull_cr[finite])) if finite.any() else float("nan"),
            "pull_free_fluxes_robust_sigma": robust_sigma(pull_free),
            "pull_free_fluxes_rms": float(np.sqrt(np.mean(pull_free[np.isfinite(pull_free)] ** 2)))
            if np.isfinite(pull_free).any() else float("nan"),
            "median_abs_dz": float(np.median(np.abs(dz[good]))) if good.any() else float("nan"),
            "median_cr_sigma_z": float(np.median(bound[finite])) if finite.any() else float("nan"),
            "median_abs_dz_over_z_bg_err": float(np.median(pull_err[usable_err])) if usable_err.any() else float("nan"),
            "n_with_z_bg_err": int(usable_err.sum())}


def evaluate(truth: pd.DataFrame, scan: pd.DataFrame) -> dict:
    """Every metric of one detector's scan table against ``truth``."""
    t = join(truth, scan)
    out = detection(t)
    detected = out.pop("_detected")
    out.update(line_recall(t, detected))
    out["redshift"] = redshift(t, detected)
    return out
