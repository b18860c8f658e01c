"""eval_three_sets end to end on tiny sets: each set's truth in the common layout, scanned by the real pipeline."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from benchmarks import eval_three_sets
from benchmarks.independent2 import sets
from benchmarks.independent2.build import build_set
from benchmarks.independent2.foreground import EigenBasis
from benchmarks.independent2.population import Recipe
from benchmarks.independent2.sky import SkyLineList
from benchmarks.independent2.spectral_lines import LINE_KEYS
from benchmarks.independent_set import main as independent_main

DATA = os.path.join(os.path.dirname(__file__), "data")
COMMON = ("file", "kind", "z_bg", "snr_total", "snr_max", "cr_sigma_z")


def _check_common_layout(truth):
    for column in COMMON + tuple(f"snr_{k}" for k in LINE_KEYS):
        assert column in truth, column
    lens = truth["kind"] == "lens"
    assert lens.any() and (~lens).any()
    assert np.all(np.isfinite(truth.loc[lens, "cr_sigma_z"])) and np.all(truth.loc[lens, "cr_sigma_z"] > 0)
    assert np.all(truth.loc[lens, "snr_total"] >= truth.loc[lens, "snr_max"])
    ratio = truth.loc[lens, "cr_sigma_z_free_fluxes"] / truth.loc[lens, "cr_sigma_z"]
    assert np.all((ratio > 0.5) & (ratio < 50.0))


def test_independent_set_truth_in_common_layout(tmp_path):
    out = str(tmp_path / "independent")
    assert independent_main(["--out", out, "--n", "16", "--seed", "4", "--bases", os.path.join(DATA, "sdss"),
                             "--quiet"]) == 0
    truth = sets.load_truth("independent", out)
    _check_common_layout(truth)
    assert "untouched" not in set(truth["kind"]) and "single_line" not in set(truth["kind"])
    assert len(sets.spec_files("independent", out, truth)) == 16


def test_synthetic_set_truth_in_common_layout(tmp_path):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"data": {"background_sources": ["parametric"]}}))
    out = str(tmp_path / "synthetic")
    assert sets.build_synthetic(out, 24, 5, str(recipe)) == 0
    truth = sets.load_truth("synthetic", out)
    _check_common_layout(truth)
    assert set(truth["kind"]) <= {"lens", "plain", "fg_emission", "lone_line", "sky_residual", "cosmic", "fg_mismatch"}
    assert len(sets.spec_files("synthetic", out, truth)) == 24


def test_eval_three_sets_scores_a_set_through_the_scan(tmp_path, capsys):
    out = str(tmp_path / "indep2")
    build_set(out, 12, seed=2, recipe=Recipe(EigenBasis.load(os.path.join(DATA, "idlspec2d", "spEigenGal-56436.fits")),
                                             SkyLineList.load(os.path.join(DATA, "idlspec2d", "skylines.dat"))))
    assert eval_three_sets.main(["--sets", "indep2", "--set-dir", f"indep2={out}", "--detector", "physics",
                                 "--workers", "1", "--n", "12"]) == 0
    printed = capsys.readouterr().out
    assert "completeness @1% FPR, strongest line SNR >= 6" in printed and "physics" in printed
    with open(os.path.join(out, "eval", "metrics_three_sets.json"), encoding="utf-8") as handle:
        saved = json.load(handle)
    assert saved["results"]["physics"]["n_failed"] == 0
    assert saved["results"]["physics"]["n_lenses"] + saved["results"]["physics"]["n_negatives"] == 12


def test_unknown_set_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown set"):
        sets.load_truth("mystery", str(tmp_path))


def test_malformed_set_dir_is_refused(capsys):
    with pytest.raises(SystemExit):
        eval_three_sets.main(["--set-dir", "mystery=/tmp/x"])
    assert "expected NAME=DIR" in capsys.readouterr().err
