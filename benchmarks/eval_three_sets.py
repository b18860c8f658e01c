"""Score issue 13's three test sets through the real ``casiglo scan`` pipeline and print its metrics.

Usage:
    PYTHONPATH=. python benchmarks/eval_three_sets.py [--sets indep2 independent synthetic] [--n 2000]
        [--detector physics combined] [--model FILE.onnx] [--workers 2] [--root /tmp/casiglo_three_sets] [--reuse]

Sets (benchmarks/independent2/sets.py): ``indep2`` (benchmarks/independent2_set.py), ``independent``
(benchmarks/independent_set.py) and ``synthetic`` (our generator with the model card's recipe), each built
by its own code into ``ROOT/<set>-n<N>-s<seed>`` when absent (seeds: ``--seed-indep2`` etc.). Each detector
scans every file with ``run_scan`` (FITS reader -> grid -> preprocessing -> detector -> contract table);
``combined`` is what ``casiglo scan`` runs by default. Metrics (benchmarks/independent2/metrics.py) are printed
per set with the detectors side by side and written to ``<set dir>/<tag>/metrics_three_sets.json`` (``--tag``,
default ``eval``: one folder per code version being compared).
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

from benchmarks.independent2 import metrics, sets  # noqa: E402
from casiglo_gui.core.scan import resolve_spec, run_scan  # noqa: E402

DETECTORS = ("physics", "cnn", "combined")
DEFAULT_SEEDS = {"indep2": 20261129, "independent": 20261124, "synthetic": 20261124}


def _pct(r: dict) -> str:
    return "n/a" if r["n"] == 0 else f"{100 * r['rate']:.1f}% of {r['n']}"


def _num(value: float, fmt: str) -> str:
    return "n/a" if value != value else format(value, fmt)


def table(results: dict[str, dict]) -> str:
    """One metric per line, one column per detector."""
    first = next(iter(results.values()))
    rows: list[tuple[str, list[str]]] = []

    def add(label, get):
        rows.append((label, [get(r) for r in results.values()]))

    add("completeness @1% FPR, total line SNR >= 15", lambda r: _pct(r["completeness_total_snr_ge_15"]))
    add("completeness @1% FPR, strongest line SNR >= 6", lambda r: _pct(r["completeness_strongest_snr_ge_6"]))
    add("completeness @1% FPR, all lenses", lambda r: _pct(r["completeness_all"]))
    for b in first["completeness_by_total_snr"]:
        add(f"  completeness, total SNR {b}", lambda r, b=b: _pct(r["completeness_by_total_snr"][b]))
    add("ROC AUC", lambda r: _num(r["roc_auc"], ".3f"))
    add("threshold (achieved FPR)", lambda r: f"{r['threshold']:.4g} ({100 * r['achieved_fpr']['rate']:.1f}%)")
    add("lone lines SNR 6-30 above threshold" + ("" if first["lone_line_snr_known"] else " (SNR unknown: all)"),
        lambda r: _pct(r["lone_lines_snr_6_30_above"]))
    add("foreground emission above threshold", lambda r: _pct(r["fg_emission_above"]))
    for k in first["fpr_by_kind"]:
        add(f"  above threshold: {k}", lambda r, k=k: _pct(r["fpr_by_kind"][k]))
    add("per-line recall, SNR >= 4, p >= 0.5 (detected lenses)", lambda r: _pct(r["line_recall"]))
    for k, v in first["per_line"].items():
        if v["n"] >= 20:
            add(f"  recall {k}", lambda r, k=k: _pct(r["per_line"][k]))
    add("absent lines at p >= 0.5 (detected lenses)", lambda r: _pct(r["absent_lines_detected_lenses"]))
    add("absent lines at p >= 0.5 (all files)", lambda r: _pct(r["absent_lines_all_files"]))
    add("detected lenses", lambda r: str(r["redshift"]["n_detected"]))
    add("wrong redshift |dz| > 1e-3", lambda r: _pct(r["redshift"]["wrong_dz_gt_1e-3"]))
    add("dz / Cramer-Rao sigma: 1.4826 MAD (1 = at the bound)", lambda r: _num(r["redshift"]["pull_cr_robust_sigma"], ".2f"))
    add("dz / Cramer-Rao sigma: RMS", lambda r: _num(r["redshift"]["pull_cr_rms"], ".2f"))
    add("dz / Cramer-Rao sigma: median (bias)", lambda r: _num(r["redshift"]["pull_cr_median"], "+.2f"))
    add("dz / bound with unknown line fluxes: 1.4826 MAD / RMS",
        lambda r: f"{_num(r['redshift']['pull_free_fluxes_robust_sigma'], '.2f')} / "
                  f"{_num(r['redshift']['pull_free_fluxes_rms'], '.2f')}")
    add("median |dz| / median Cramer-Rao sigma_z",
        lambda r: f"{_num(r['redshift']['median_abs_dz'], '.2e')} / {_num(r['redshift']['median_cr_sigma_z'], '.2e')}")
    add("median |dz| / z_bg_err (0.674 if consistent)",
        lambda r: f"{_num(r['redshift']['median_abs_dz_over_z_bg_err'], '.3f')} (n={r['redshift']['n_with_z_bg_err']})")
    add("failed rows", lambda r: str(r["n_failed"]))
    add("scan wall time", lambda r: _num(r.get("scan_seconds", float("nan")), ".0f") + " s")
    width = max(len(label) for label, _ in rows) + 2
    cols = [max(len(n), *(len(v[i]) for _, v in rows)) + 2 for i, n in enumerate(results)]
    out = ["metric".ljust(width) + "".join(n.rjust(c) for n, c in zip(results, cols))]
    out += [label.ljust(width) + "".join(v.rjust(c) for v, c in zip(values, cols)) for label, values in rows]
    return "\n".join(out)


def evaluate_set(name: str, set_dir: str, detectors: list[str], model: str | None, workers: int,
                 reuse: bool, tag: str = "eval") -> dict[str, dict]:
    truth = sets.load_truth(name, set_dir)
    files = sets.spec_files(name, set_dir, truth)
    out_dir = os.path.join(set_dir, tag)
    os.makedirs(out_dir, exist_ok=True)
    results = {}
    for detector in detectors:
        spec, sentence = resolve_spec(detector, model)
        model_tag = os.path.splitext(os.path.basename(spec.model_path))[0] if spec.model_path else "none"
        scan_path = os.path.join(out_dir, f"scan_{detector}_{model_tag}.csv")
        seconds = float("nan")
        if not (reuse and os.path.exists(scan_path)):
            print(f"{name}: {sentence}; scanning {len(files)} files with {workers} worker(s)", file=sys.stderr)
            t0 = time.perf_counter()
            run_scan(files, scan_path, spec, workers=workers, progress=False)
            seconds = time.perf_counter() - t0
        scan = pd.read_csv(scan_path, keep_default_na=False,
                           na_values={c: [""] for c in ("score", "z_bg", "z_bg_err")})
        results[detector] = metrics.evaluate(truth, scan)
        results[detector]["scan_seconds"] = seconds
        results[detector]["detector"] = sentence
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", choices=sets.SET_NAMES, default=list(sets.SET_NAMES))
    ap.add_argument("--n", type=int, default=2000, help="files per set (default 2000)")
    for name, seed in DEFAULT_SEEDS.items():
        ap.add_argument(f"--seed-{name}", type=int, default=seed)
    ap.add_argument("--set-dir", action="append", default=[], metavar="NAME=DIR",
                    help="score an existing set folder instead of ROOT/<set>-n<N>-s<seed> (repeatable)")
    ap.add_argument("--detector", nargs="+", choices=DETECTORS, default=["physics", "combined"])
    ap.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--root", default="/tmp/casiglo_three_sets")
    ap.add_argument("--reuse", action="store_true", help="score existing scan tables instead of scanning again")
    ap.add_argument("--tag", default="eval", help="folder in each set for scan tables and metrics (default eval): "
                    "one per code version, since tables are named by detector and model only")
    args = ap.parse_args(argv)
    if not args.tag or os.sep in args.tag or args.tag.startswith("."):
        ap.error(f"--tag {args.tag!r}: a plain folder name")
    explicit = {}
    for item in args.set_dir:
        name, sep, folder = item.partition("=")
        if not sep or name not in sets.SET_NAMES or not folder:
            ap.error(f"--set-dir {item!r}: expected NAME=DIR with NAME one of {', '.join(sets.SET_NAMES)}")
        explicit[name] = folder
    command = "PYTHONPATH=. python benchmarks/eval_three_sets.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"command: {command}")
    print(f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}")
    for name in args.sets:
        seed = getattr(args, f"seed_{name}")
        set_dir = explicit.get(name) or os.path.join(args.root, f"{name}-n{args.n}-s{seed}")
        if name not in explicit and not os.path.exists(os.path.join(set_dir, "set.json")):
            print(f"building the {name} set: n {args.n}, seed {seed} -> {set_dir}", file=sys.stderr)
            t0 = time.perf_counter()
            sets.build(name, set_dir, args.n, seed)
            print(f"  built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        results = evaluate_set(name, set_dir, args.detector, args.model, args.workers, args.reuse, args.tag)
        print(f"\n== set {name}: {set_dir} (n {args.n}, seed {seed}) ==")
        print(table(results))
        with open(os.path.join(set_dir, args.tag, "metrics_three_sets.json"), "w", encoding="utf-8") as handle:
            json.dump({"command": command, "set": name, "seed": seed, "results": results}, handle, indent=2)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
