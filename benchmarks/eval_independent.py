"""Score the independent set (benchmarks/independent_set.py) with the real scan and compare detectors.

Usage:
    PYTHONPATH=. python benchmarks/eval_independent.py --set DIR [--detector physics cnn combined]
        [--model FILE.onnx] [--workers 1] [--out-dir DIR/eval] [--reuse]

For each detector: ``run_scan`` (the real reading path: FITS -> reader -> grid -> preprocessing ->
detector -> contract table) over the set's spec files into ``OUT_DIR/scan_<detector>.csv``, joined with
``truth.csv``; metrics (benchmarks/independent/metrics.py) printed as one comparison table and written to
``OUT_DIR/metrics.json`` with the command, set manifest and timings. ``--reuse`` scores existing scan
tables instead of scanning again.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import pandas as pd  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.independent.metrics import common_redshift, evaluate, lens_outcomes  # noqa: E402
from casiglo_gui.core.lines import LINE_KEYS  # noqa: E402
from casiglo_gui.core.scan import expand_inputs, resolve_spec, run_scan  # noqa: E402

DETECTORS = ("physics", "cnn", "combined")


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.1f}%"


def comparison_table(results: dict[str, dict]) -> str:
    """The metrics of several detectors side by side, one metric per line."""
    names = list(results)
    first = results[names[0]]
    rows: list[tuple[str, list[str]]] = [
        ("lens completeness @1% FPR, strongest SNR>=6", [_pct(r["completeness_snr6"]) for r in results.values()]),
        ("lens completeness @1% FPR, all lenses", [_pct(r["completeness_all"]) for r in results.values()]),
        ("ROC AUC lens vs negatives", [f"{r['roc_auc']:.3f}" for r in results.values()]),
        ("achieved FPR (threshold)", [f"{_pct(r['achieved_fpr'])} ({r['lens_threshold']:.3g})"
                                      for r in results.values()]),
    ]
    for b in first["completeness_by_snr"]:
        rows.append((f"  completeness, SNR {b} (n={first['completeness_by_snr'][b]['n']})",
                     [_pct(r["completeness_by_snr"][b]["completeness"]) for r in results.values()]))
    for b in first["completeness_by_z_bg"]:
        rows.append((f"  completeness, z_bg {b} (n={first['completeness_by_z_bg'][b]['n']})",
                     [_pct(r["completeness_by_z_bg"][b]["completeness"]) for r in results.values()]))
    for k in first["completeness_by_strongest_line"]:
        rows.append((f"  completeness, strongest line {k} (n={first['completeness_by_strongest_line'][k]['n']})",
                     [_pct(r["completeness_by_strongest_line"].get(k, {}).get("completeness", float("nan")))
                      for r in results.values()]))
    for k in first["fpr_by_kind"]:
        rows.append((f"  FPR {k} (n={first['fpr_by_kind'][k]['n']})",
                     [_pct(r["fpr_by_kind"][k]["fpr"]) for r in results.values()]))
    rows += [
        ("per-line recall SNR>=4 @<=2% FPR, pooled", [_pct(r["line_recall_pooled"]) for r in results.values()]),
        ("per-line recall, worst line (n>=20)", [f"{_pct(r['line_recall_worst']['recall'])} "
                                                f"{r['line_recall_worst']['key']}" for r in results.values()]),
    ]
    for k in LINE_KEYS:
        rows.append((f"  recall {k} (n={first['per_line'][k]['n_present']})",
                     [_pct(r["per_line"][k]["recall"]) for r in results.values()]))
    rows += [
        ("detected lenses", [str(r["redshift"]["n_detected"]) for r in results.values()]),
        ("  |dz| < 1e-4", [_pct(r["redshift"]["frac_dz_lt_1e-4"]) for r in results.values()]),
        ("  median |dz|", [f"{r['redshift']['median_abs_dz']:.2e}" for r in results.values()]),
        ("  catastrophic |dz| > 1e-3", [_pct(r["redshift"]["catastrophic_frac_dz_gt_1e-3"])
                                        for r in results.values()]),
    ]
    if "redshift_common" in first:
        n_common = first["redshift_common"]["n_detected"]
        rows += [
            (f"  |dz| < 1e-4 on lenses all detect (n={n_common})",
             [_pct(r["redshift_common"]["frac_dz_lt_1e-4"]) for r in results.values()]),
            ("  median |dz| on lenses all detect",
             [f"{r['redshift_common']['median_abs_dz']:.2e}" for r in results.values()]),
        ]
    if "redshift_by_sigma_v" in first:
        for b in first["redshift_by_sigma_v"]:
            rows.append((f"  |dz| < 1e-4, sigma_v {b}",
                         [f"{_pct(r['redshift_by_sigma_v'][b]['frac_dz_lt_1e-4'])} "
                          f"(n={r['redshift_by_sigma_v'][b]['n_detected']})" for r in results.values()]))
    rows += [
        ("error rows", [str(r["n_error_rows"]) for r in results.values()]),
        ("scan wall time", [f"{r.get('scan_seconds', float('nan')):.0f} s" for r in results.values()]),
    ]
    width = max(len(label) for label, _ in rows) + 2
    cols = [max(len(n), *(len(v[i]) for _, v in rows)) + 2 for i, n in enumerate(names)]
    lines = ["metric".ljust(width) + "".join(n.rjust(c) for n, c in zip(names, cols))]
    lines += [label.ljust(width) + "".join(v.rjust(c) for v, c in zip(values, cols)) for label, values in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", required=True, dest="set_dir", help="folder written by independent_set.py")
    ap.add_argument("--detector", nargs="+", choices=DETECTORS, default=list(DETECTORS))
    ap.add_argument("--model", default=None, help="ONNX model (default: the shipped one, via resolve_spec)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out-dir", default=None, help="scan tables and metrics.json (default SET/eval)")
    ap.add_argument("--reuse", action="store_true", help="score existing scan tables, do not scan")
    args = ap.parse_args(argv)
    out_dir = args.out_dir or os.path.join(args.set_dir, "eval")
    os.makedirs(out_dir, exist_ok=True)
    truth = pd.read_csv(os.path.join(args.set_dir, "truth.csv"), keep_default_na=False,
                        na_values={"z_bg": [""], "z_fg": [""]})
    files = [f for f in expand_inputs([args.set_dir]).files if os.path.basename(f).startswith("spec-indep-")]
    if len(files) != len(truth):
        print(f"warning: {len(files)} spec files in {args.set_dir} but {len(truth)} truth rows",
              file=sys.stderr)
    results: dict[str, dict] = {}
    outcomes = {}
    for name in args.detector:
        table = os.path.join(out_dir, f"scan_{name}.csv")
        spec, sentence = resolve_spec(name, args.model)
        seconds = float("nan")
        if not (args.reuse and os.path.exists(table)):
            print(f"{sentence}; scanning {len(files)} files with {args.workers} worker(s)", file=sys.stderr)
            t0 = time.perf_counter()
            run_scan(files, table, spec, workers=args.workers, progress=False)
            seconds = time.perf_counter() - t0
        scan = pd.read_csv(table, keep_default_na=False, na_values={c: [""] for c in ("score", "z_bg")})
        results[name] = evaluate(truth, scan)
        outcomes[name] = lens_outcomes(truth, scan)
        results[name]["scan_seconds"] = seconds
        results[name]["detector"] = sentence
    if len(outcomes) > 1:
        for name, summary in common_redshift(outcomes).items():
            results[name]["redshift_common"] = summary
    manifest_path = os.path.join(args.set_dir, "set.json")
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    command = "PYTHONPATH=. python benchmarks/eval_independent.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    print(f"independent set {args.set_dir}: seed {manifest.get('seed')}, n {len(truth)}, "
          f"recipe {manifest.get('recipe')}; {os.cpu_count()} cpus, load avg {os.getloadavg()[0]:.1f}")
    print(comparison_table(results))
    with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as handle:
        json.dump({"command": command, "set": manifest, "results": results}, handle, indent=2)
        handle.write("\n")
    print(f"metrics: {os.path.join(out_dir, 'metrics.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
