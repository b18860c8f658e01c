"""Issue 13's metrics (benchmarks/independent2/metrics.py) on hand-made truth and scan tables with known answers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.eval_three_sets import table
from benchmarks.independent2.metrics import evaluate, robust_sigma
from benchmarks.independent2.spectral_lines import LINE_KEYS

Z_TRUE = 0.8


def _tables():
    """100 negatives scored 0.00 ... 0.99 (80 plain, 10 fg_emission, 10 lone lines) and 4 lenses.

    Threshold at 1% false positives: 0.98 (one negative, 0.99, above it). Lenses:
      A score 0.995, total SNR 30, strongest 20, dz = +2e-5 with a Cramer-Rao sigma of 2e-5, z_bg_err 2e-5
      B score 0.990, total SNR 12, strongest 8,  dz = -3e-5 with sigma 1e-5, z_bg_err 1e-5
      C score 0.500, total SNR 20, strongest 5 (missed)
      D score 0.999, total SNR 40, strongest 25, dz = 2e-3 (a wrong identification)
    """
    neg_scores = np.arange(100) / 100.0
    kinds = ["plain"] * 80 + ["fg_emission"] * 10 + ["lone_line"] * 10
    # so the one negative above the threshold (0.99) is a lone line of SNR 10
    truth = pd.DataFrame({"file": [f"n{i:03d}.fits" for i in range(100)] + ["A.fits", "B.fits", "C.fits", "D.fits"],
                          "kind": kinds + ["lens"] * 4,
                          "z_bg": [np.nan] * 100 + [Z_TRUE] * 4,
                          "snr_total": [0.0] * 100 + [30.0, 12.0, 20.0, 40.0],
                          "snr_max": [10.0] * 100 + [20.0, 8.0, 5.0, 25.0],
                          "cr_sigma_z": [np.nan] * 100 + [2e-5, 1e-5, 1e-5, 1e-5]})
    for key in LINE_KEYS:
        truth[f"snr_{key}"] = 0.0
    # A has halpha (SNR 20) and hbeta (SNR 3: below 4, in neither recall nor absent); B has halpha (SNR 8)
    truth.loc[100, "snr_halpha"], truth.loc[100, "snr_hbeta"] = 20.0, 3.0
    truth.loc[101, "snr_halpha"] = 8.0
    scan = pd.DataFrame({"source": [f"/data/{f}" for f in truth["file"]],
                         "status": ["ok"] * 104,
                         "score": list(neg_scores) + [0.995, 0.990, 0.5, 0.999],
                         "z_bg": [np.nan] * 100 + [Z_TRUE + 2e-5, Z_TRUE - 3e-5, Z_TRUE, Z_TRUE + 2e-3],
                         "z_bg_err": [np.nan] * 100 + [2e-5, 1e-5, 1e-5, 1e-5]})
    for key in LINE_KEYS:
        scan[f"p_{key}"] = 0.0
    scan.loc[100, "p_halpha"] = 0.9  # A: halpha found
    scan.loc[100, "p_oiii_5008"] = 0.7  # A: an absent line claimed
    scan.loc[101, "p_halpha"] = 0.3  # B: halpha missed
    scan.loc[5, "p_sii_6718"] = 0.6  # a negative with a claimed line
    return truth, scan


def test_detection_metrics_known_answers():
    truth, scan = _tables()
    r = evaluate(truth, scan)
    assert r["threshold"] == pytest.approx(0.98)
    assert r["achieved_fpr"]["k"] == 1 and r["achieved_fpr"]["n"] == 100
    assert r["completeness_all"]["k"] == 3 and r["completeness_all"]["n"] == 4
    assert (r["completeness_total_snr_ge_15"]["k"], r["completeness_total_snr_ge_15"]["n"]) == (2, 3)
    assert (r["completeness_strongest_snr_ge_6"]["k"], r["completeness_strongest_snr_ge_6"]["n"]) == (3, 3)
    bins = r["completeness_by_total_snr"]
    assert (bins["10-15"]["k"], bins["10-15"]["n"]) == (1, 1)
    assert (bins["15-25"]["k"], bins["15-25"]["n"]) == (0, 1)
    assert (bins["25-inf"]["k"], bins["25-inf"]["n"]) == (2, 2)
    # Mann-Whitney by hand: 100 + 100 + 99.5 (a tie at 0.99) + 50.5 (a tie at 0.50), over 400 pairs
    assert r["roc_auc"] == pytest.approx(350.0 / 400.0)
    assert (r["lone_lines_snr_6_30_above"]["k"], r["lone_lines_snr_6_30_above"]["n"]) == (1, 10)
    assert r["fg_emission_above"]["k"] == 0 and r["fg_emission_above"]["n"] == 10
    assert r["fpr_by_kind"]["plain"]["n"] == 80


def test_line_metrics_known_answers():
    truth, scan = _tables()
    r = evaluate(truth, scan)
    # detected lenses A, B, D: lines with SNR >= 4 are A's and B's halpha; one of two at p >= 0.5
    assert (r["line_recall"]["k"], r["line_recall"]["n"]) == (1, 2)
    assert r["per_line"]["halpha"]["rate"] == pytest.approx(0.5)
    # absent lines in detected lenses: A 10 (12 less halpha, hbeta), B 11, D 12 = 33; one claimed (A's oiii_5008)
    assert (r["absent_lines_detected_lenses"]["k"], r["absent_lines_detected_lenses"]["n"]) == (1, 33)
    # over all files: 100 x 12 + 33 + C's 12 = 1245 absent lines, two claimed
    assert (r["absent_lines_all_files"]["k"], r["absent_lines_all_files"]["n"]) == (2, 1245)


def test_redshift_metrics_known_answers():
    truth, scan = _tables()
    z = evaluate(truth, scan)["redshift"]
    assert z["n_detected"] == 3
    assert (z["wrong_dz_gt_1e-3"]["k"], z["wrong_dz_gt_1e-3"]["n"]) == (1, 3)
    # pulls of A and B: +1 and -3; median -1, MAD 2; RMS sqrt(5); median |pull| 2
    assert z["pull_cr_robust_sigma"] == pytest.approx(1.4826 * 2.0, rel=1e-6)
    assert z["pull_cr_rms"] == pytest.approx(np.sqrt(5.0), rel=1e-6)
    assert z["pull_cr_median_abs_over_0.674"] == pytest.approx(2.0 / 0.6745, rel=1e-6)
    # |dz| / z_bg_err: 1 and 3
    assert z["median_abs_dz_over_z_bg_err"] == pytest.approx(2.0, rel=1e-6)
    assert z["median_abs_dz"] == pytest.approx(2.5e-5, rel=1e-3)


def test_failed_rows_score_zero_and_missing_rows_fail():
    truth, scan = _tables()
    scan.loc[102, "status"] = "error: unreadable"
    scan.loc[102, "score"] = 0.9999  # ignored: the row failed
    scan = scan.drop(index=3)  # a negative missing from the scan
    r = evaluate(truth, scan)
    assert r["n_failed"] == 2
    assert r["completeness_all"]["k"] == 3  # C was not detected anyway


def test_no_z_bg_is_a_wrong_redshift():
    truth, scan = _tables()
    scan.loc[100, "z_bg"] = np.nan
    assert evaluate(truth, scan)["redshift"]["wrong_dz_gt_1e-3"]["k"] == 2


def test_missing_truth_column_is_named():
    truth, scan = _tables()
    with pytest.raises(ValueError, match="cr_sigma_z"):
        evaluate(truth.drop(columns=["cr_sigma_z"]), scan)


def test_robust_sigma_of_a_normal_sample():
    x = np.random.default_rng(0).normal(0.0, 2.0, 20000)
    assert robust_sigma(x) == pytest.approx(2.0, rel=0.03)


def test_table_prints_both_detectors():
    truth, scan = _tables()
    r = evaluate(truth, scan)
    text = table({"physics": r, "combined": r})
    assert "completeness @1% FPR, total line SNR >= 15" in text and "66.7% of 3" in text
    assert text.splitlines()[0].split()[-2:] == ["physics", "combined"]
