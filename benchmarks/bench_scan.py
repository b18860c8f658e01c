"""End-to-end `casiglo scan` throughput (spectra/s from spec-*.fits) and peak memory.

Usage:
    PYTHONPATH=. python benchmarks/bench_scan.py [--n 10000] [--workers 2] [--detector physics]
        [--source DIR] [--batch-size 32] [--chunk-size 64] [--stages]

Inputs: the 90 real BOSS spec-lite files of /work/shared/data/real/sdss_spec/boss_plates_3650_3651 (or
``--source DIR``; the repo's tests/data/sdss BOSS files otherwise), replicated to ``--n`` inputs with
symlinks in a temporary folder (the OS page cache holds them, as it would on a warm survey disk).
Runs the real scan (`run_scan`: reading with the default FITS back-end, preprocessing, detection,
ordered resumable CSV writing) and prints spectra/s, the time split per stage (summed over workers),
and peak memory: the main process's peak RSS and the largest worker's peak RSS (getrusage).
"""
from __future__ import annotations

import argparse
import glob
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from casiglo_gui.core.scan import expand_inputs, resolve_spec, run_scan  # noqa: E402

SHARED = "/work/shared/data/real/sdss_spec/boss_plates_3650_3651"
REPO = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "sdss")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--detector", choices=("physics", "cnn", "combined"), default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--source", default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--chunk-size", type=int, default=64)
    args = ap.parse_args()

    source = args.source or (SHARED if os.path.isdir(SHARED) else REPO)
    files = sorted(glob.glob(os.path.join(source, "spec-3*.fits")) or glob.glob(os.path.join(source, "spec-*.fits")))
    if not files:
        print(f"no spec-*.fits in {source}", file=sys.stderr)
        return 1
    spec, sentence = resolve_spec(args.detector, args.model)
    with tempfile.TemporaryDirectory(prefix="bench_scan_") as tmp:
        folder = os.path.join(tmp, "inputs")
        os.mkdir(folder)
        for i in range(args.n):
            os.symlink(os.path.abspath(files[i % len(files)]), os.path.join(folder, f"spec-{i:07d}.fits"))
        inputs = expand_inputs([folder]).files
        out = os.path.join(tmp, "scan.csv")
        t0 = time.perf_counter()
        summary = run_scan(inputs, out, spec, workers=args.workers, batch_size=args.batch_size,
                           chunk_size=args.chunk_size, progress=False)
        wall = time.perf_counter() - t0
        table_mb = os.path.getsize(out) / 1e6
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{sentence}")
    print(f"inputs: {args.n} (from {len(files)} real files in {source}), workers {args.workers}, "
          f"batch {args.batch_size}, chunk {args.chunk_size}, cpus {os.cpu_count()}, "
          f"load avg {os.getloadavg()[0]:.1f}")
    print(f"rows: {summary.n_rows} ({summary.n_ok} ok), table {table_mb:.1f} MB")
    print(f"end to end: {wall:.2f} s -> {summary.n_rows / wall:.0f} spectra/s")
    stages = {k: v for k, v in summary.seconds.items() if k != "cpu"}
    split = ", ".join(f"{k} {v:.1f} s ({1e3 * v / max(summary.n_rows, 1):.2f} ms/spec)"
                      for k, v in sorted(stages.items()))
    print(f"worker wall time by stage (summed over workers): {split}; total {sum(stages.values()):.1f} s")
    cpu_ms = 1e3 * summary.seconds.get("cpu", 0.0) / max(summary.n_rows, 1)
    if cpu_ms > 0:
        print(f"worker CPU time: {cpu_ms:.2f} ms/spectrum -> {1e3 / cpu_ms:.0f} spectra/s per fully available "
              f"core, {args.workers * 1e3 / cpu_ms:.0f}/s on {args.workers} (excludes the main process's writing)")
    print(f"peak RSS: main process {main_peak:.0f} MB, largest worker {child_peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
