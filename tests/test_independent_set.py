"""The independent evaluation set (benchmarks/independent): real files in, readable spec files with lines
where the truth says, a consistent truth table, and metrics that give known answers."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from benchmarks.independent.build import (KIND_PROBABILITIES, build_set, draw_file, select_bases,
                                          write_spec)
from benchmarks.independent.inject import snr_per_unit_flux
from benchmarks.independent.linelist import BUILTIN_VACUUM_A, DEFAULT_PAR, LineList, parse_dap_par
from benchmarks.independent.metrics import (common_redshift, evaluate, lens_outcomes, roc_auc,
                                            threshold_at_fpr)
from benchmarks.independent.nebular import ccm89_k, draw_ratios
from casiglo_gui.core.lines import LINE_KEYS, REST_WAVELENGTHS_A
from casiglo_gui.core.readers import read_spectrum

SDSS = os.path.join(os.path.dirname(__file__), "data", "sdss")
LINES = LineList(dict(BUILTIN_VACUUM_A), "built-in")


@pytest.fixture(scope="module")
def bases():
    kept, skipped = select_bases(SDSS)
    return kept, dict((os.path.basename(p), r) for p, r in skipped)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory, bases):
    out = tmp_path_factory.mktemp("indep")
    counts = build_set(bases[0], LINES, str(out), n=12, seed=7)
    return out, counts, pd.read_csv(out / "truth.csv", keep_default_na=False,
                                    na_values={"z_bg": [""]})


def test_bases_are_readable_galaxies_with_a_sure_redshift(bases):
    kept, skipped = bases
    names = {os.path.basename(b.path) for b in kept}
    assert "spec-3650-55244-0056.fits" in names and "spec-0266-51602-0107.fits" in names
    assert "dead or unplugged fibre" in skipped["spec-0269-51581-0003.fits"]
    assert skipped["spec-1931-53358-0251.fits"].startswith("class QSO")
    assert skipped["spec-3586-55181-0003.fits"] == "ZWARNING=4"
    assert "not a recognised spectrum file" in skipped["ppxf_NGC3522_SDSS_DR8.fits"]
    assert "possible real background source" in skipped["spec-3650-55244-0007.fits"]
    assert "spec-3650-55244-0007.fits" in {os.path.basename(b.path) for b in select_bases(SDSS, {})[0]}


def test_files_read_and_truth_is_consistent(small_set, bases):
    out, counts, truth = small_set
    assert len(truth) == 12 and sum(counts.values()) == 12
    assert set(truth["kind"]) <= set(KIND_PROBABILITIES)
    base_flux = {os.path.basename(b.path): b for b in bases[0]}
    for row in truth.itertuples():
        spectrum = read_spectrum(str(out / row.file))
        assert spectrum.z_fg == pytest.approx(row.z_fg, abs=1e-12)
        assert np.array_equal(spectrum.model, read_spectrum(base_flux[row.base_file].path).model)
        snr = np.array([getattr(row, f"snr_{k}") for k in LINE_KEYS])
        flux = np.array([getattr(row, f"flux_{k}") for k in LINE_KEYS])
        if row.kind == "lens":
            assert row.z_bg > row.z_fg
            assert row.snr_max == pytest.approx(snr.max(), rel=1e-4)
            assert row.strongest_line == LINE_KEYS[int(np.argmax(snr))]
            assert 3.0 <= row.snr_max <= 30.0
        else:
            assert np.isnan(row.z_bg) and not flux.any() and not snr.any()
        if row.kind == "untouched":
            assert np.array_equal(spectrum.flux, read_spectrum(base_flux[row.base_file].path).flux)


def test_lens_lines_sit_at_rest_times_one_plus_z_bg(tmp_path, bases):
    rng = np.random.default_rng(3)
    base = next(b for b in bases[0] if os.path.basename(b.path) == "spec-3650-55244-0089.fits")
    checked = 0
    for trial in range(6):
        draw, add = draw_file(rng, base, LINES, "lens")
        path = tmp_path / f"lens{trial}.fits"
        write_spec(str(path), base, add)
        injected = read_spectrum(str(path)).flux.astype(np.float64) - base.flux
        wave = 10.0 ** base.loglam
        for key in ("hbeta", "oiii_5008", "halpha", "hgamma"):
            if draw.line_flux[key] <= 0:
                continue
            expected = REST_WAVELENGTHS_A[LINE_KEYS.index(key)] * (1 + draw.z_bg)
            pixel = int(np.argmin(np.abs(wave - expected)))
            window = slice(pixel - 8, pixel + 9)
            peak = pixel - 8 + int(np.argmax(injected[window]))
            assert abs(peak - pixel) <= 1, (key, draw.z_bg)
            if key not in ("hbeta", "oiii_5008"):  # H-alpha's [NII] and H-gamma's neighbours blend in 12 px
                checked += 1
                continue
            # the injected integrated flux comes back (units: flux density x pixel width in A)
            dwave = wave * np.log(10) * 1e-4
            wide = slice(pixel - 12, pixel + 13)
            assert np.sum(injected[wide] * dwave[wide]) == pytest.approx(draw.line_flux[key], rel=0.03)
            checked += 1
    assert checked >= 4


def test_foreground_emission_and_single_line_are_not_background_truth(bases):
    base = bases[0][0]
    rng = np.random.default_rng(11)
    draw, add = draw_file(rng, base, LINES, "fg_emission")
    assert add.max() > 0 and not draw.line_flux and draw.detail.startswith("z=")
    assert float(draw.detail[2:]) == pytest.approx(base.z_fg, abs=1e-6)
    draw, add = draw_file(rng, base, LINES, "cosmic")
    assert 1 <= np.count_nonzero(add) <= 6


def test_aperture_snr_scales_with_noise_and_needs_good_pixels():
    loglam = 3.6 + 1e-4 * np.arange(400)
    wave = 10.0 ** loglam
    dwave = wave * np.log(10) * 1e-4
    ivar = np.ones_like(wave)
    center, sigma = float(wave[200]), 2.0 * float(dwave[200])
    one = snr_per_unit_flux(wave, dwave, ivar, center, sigma)
    assert snr_per_unit_flux(wave, dwave, 4 * ivar, center, sigma) == pytest.approx(2 * one)
    masked = ivar.copy()
    masked[196:205] = 0
    assert snr_per_unit_flux(wave, dwave, masked, center, sigma) == 0.0
    assert snr_per_unit_flux(wave, dwave, ivar, wave[0] - 5, sigma) == 0.0


def test_line_ratios_follow_the_physics():
    assert ccm89_k(4862.68) == pytest.approx(3.61, abs=0.02)   # CCM89 R_V=3.1 published values
    assert ccm89_k(6564.61) == pytest.approx(2.53, abs=0.02)
    rng = np.random.default_rng(5)
    for _ in range(20):
        ratios, params = draw_ratios(rng, BUILTIN_VACUUM_A)
        assert ratios["halpha"] / ratios["hbeta"] == pytest.approx(params["decrement"], rel=1e-9)
        assert 2.86 <= params["decrement"] <= 5.0
        dust = 10 ** (-0.4 * params["ebv"] * (ccm89_k(5008.24) - ccm89_k(4960.295)))
        assert ratios["oiii_5008"] / ratios["oiii_4960"] == pytest.approx(2.98 * dust, rel=1e-9)
        assert 0.1 <= params["nii_ha"] <= 0.5


def test_line_list_is_vacuum_and_matches_the_contract(tmp_path):
    for key, rest in zip(LINE_KEYS, REST_WAVELENGTHS_A):
        assert BUILTIN_VACUUM_A[key] == pytest.approx(rest, abs=0.05)
    par = tmp_path / "air.par"
    par.write_text("DAPEML  23  Hb      4861.3632   air  f  { None None }\n")
    with pytest.raises(ValueError, match="not vacuum"):
        parse_dap_par(str(par))
    if os.path.exists(DEFAULT_PAR):  # the shared copy, when this machine has it, agrees with the built-in
        assert parse_dap_par(DEFAULT_PAR).wavelengths == pytest.approx(BUILTIN_VACUUM_A, abs=1e-6)


def test_line_list_falls_back_to_the_built_in_vacuum_table(monkeypatch, tmp_path):
    from benchmarks.independent import linelist

    monkeypatch.setattr(linelist, "DEFAULT_PAR", str(tmp_path / "absent.par"))
    fallback = linelist.load_line_list()
    assert fallback.wavelengths == BUILTIN_VACUUM_A and "built-in" in fallback.source


def _hand_made_tables():
    keys = {f"flux_{k}": 0.0 for k in LINE_KEYS} | {f"snr_{k}": 0.0 for k in LINE_KEYS}
    truth = pd.DataFrame([
        {"file": "a", "kind": "lens", "z_fg": 0.3, "z_bg": 0.80000, "snr_max": 12.0, "sigma_v_kms": 40, **keys,
         "flux_halpha": 5.0, "snr_halpha": 9.0},
        {"file": "b", "kind": "lens", "z_fg": 0.3, "z_bg": 0.70000, "snr_max": 4.0, **keys,
         "flux_halpha": 1.0, "snr_halpha": 2.0},
        {"file": "c", "kind": "lens", "z_fg": 0.3, "z_bg": 0.60000, "snr_max": 25.0, "sigma_v_kms": 170, **keys,
         "flux_halpha": 5.0, "snr_halpha": 6.0},
        {"file": "d", "kind": "lens", "z_fg": 0.3, "z_bg": 0.50000, "snr_max": 8.0, **keys},
        {"file": "e", "kind": "untouched", "z_fg": 0.3, "z_bg": np.nan, "snr_max": 0.0, **keys},
        {"file": "f", "kind": "cosmic", "z_fg": 0.3, "z_bg": np.nan, "snr_max": 20.0, **keys},
        {"file": "g", "kind": "fg_emission", "z_fg": 0.3, "z_bg": np.nan, "snr_max": 9.0, **keys},
    ])
    p = {f"p_{k}": 0.0 for k in LINE_KEYS}
    scan = pd.DataFrame([
        {"source": "/x/a", "status": "ok", "score": 0.95, "z_bg": 0.80005, **p, "p_halpha": 0.8},
        {"source": "/x/b", "status": "ok", "score": 0.50, "z_bg": 0.7, **p, "p_halpha": 0.9},
        {"source": "/x/c", "status": "ok", "score": 0.99, "z_bg": 0.602, **p, "p_halpha": 0.25},
        {"source": "/x/d", "status": "error: unreadable", "score": np.nan, "z_bg": np.nan, **p},
        {"source": "/x/e", "status": "ok", "score": 0.10, "z_bg": np.nan, **p, "p_halpha": 0.1},
        {"source": "/x/f", "status": "ok", "score": 0.20, "z_bg": np.nan, **p, "p_halpha": 0.3},
        {"source": "/x/g", "status": "ok", "score": 0.90, "z_bg": np.nan, **p, "p_halpha": 0.2},
    ])
    return truth, scan


def test_metrics_give_known_answers_on_a_hand_made_table():
    truth, scan = _hand_made_tables()
    m = evaluate(truth, scan)
    assert m["n_error_rows"] == 1
    assert m["lens_threshold"] == 0.9                    # 3 negatives: 1% allows none above
    assert m["completeness_all"] == 0.5                  # a (0.95) and c (0.99); b below, d an error
    assert m["completeness_snr6"] == pytest.approx(2 / 3)  # a, c, d have snr_max >= 6
    assert m["roc_auc"] == pytest.approx(8 / 12)
    assert m["fpr_by_kind"]["fg_emission"]["fpr"] == 0.0
    z = m["redshift"]
    assert z["n_detected"] == 2 and z["frac_dz_lt_1e-4"] == 0.5
    assert z["median_abs_dz"] == pytest.approx((5e-5 + 2e-3) / 2)
    assert z["catastrophic_frac_dz_gt_1e-3"] == 0.5
    by_width = m["redshift_by_sigma_v"]
    assert by_width["30-60 km/s"]["frac_dz_lt_1e-4"] == 1.0 and by_width["150-200 km/s"]["frac_dz_lt_1e-4"] == 0.0
    assert by_width["60-100 km/s"]["n_detected"] == 0
    halpha = m["per_line"]["halpha"]
    # absent: d (error -> 0), e 0.1, f 0.3, g 0.2 -> threshold 0.3; present (SNR>=4): a 0.8, c 0.25
    assert halpha["n_present"] == 2 and halpha["threshold"] == 0.3 and halpha["recall"] == 0.5
    assert m["per_line"]["hbeta"]["n_present"] == 0
    assert m["completeness_by_z_bg"]["0.5-0.8"] == {"n": 3, "completeness": 1 / 3}  # b, c, d: only c found
    assert m["completeness_by_strongest_line"] == {}  # the hand-made truth names no strongest line


def test_redshift_is_compared_on_the_lenses_every_detector_finds():
    truth, scan = _hand_made_tables()
    other = scan.copy()
    other.loc[0, "score"] = 0.05                        # this detector misses lens a
    other.loc[2, "z_bg"] = 0.60001                      # and gets c right
    both = common_redshift({"one": lens_outcomes(truth, scan), "two": lens_outcomes(truth, other)})
    assert both["one"]["n_detected"] == both["two"]["n_detected"] == 1   # only c is found by both
    assert both["one"]["frac_dz_lt_1e-4"] == 0.0 and both["two"]["frac_dz_lt_1e-4"] == 1.0


def test_threshold_and_auc_helpers():
    negatives = np.arange(200, dtype=float)
    assert threshold_at_fpr(negatives, 0.01) == 197.0    # two of 200 above
    assert roc_auc(np.array([1.0, 1.0]), np.array([1.0, 0.0])) == 0.75


def test_scripts_end_to_end_through_the_real_scan(tmp_path, capsys):
    from benchmarks.eval_independent import main as evaluate_main
    from benchmarks.independent_set import main as build_main

    out = tmp_path / "set"
    assert build_main(["--out", str(out), "--n", "8", "--seed", "3", "--bases", SDSS, "--quiet"]) == 0
    manifest = json.loads((out / "set.json").read_text())
    assert manifest["seed"] == 3 and sum(manifest["counts"].values()) == 8
    assert evaluate_main(["--set", str(out), "--detector", "physics"]) == 0
    printed = capsys.readouterr().out
    assert "lens completeness @1% FPR" in printed and "physics" in printed
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert metrics["results"]["physics"]["n_files"] == 8
    assert metrics["results"]["physics"]["n_error_rows"] == 0
