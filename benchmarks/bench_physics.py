"""Throughput of the physics detector, single-threaded.

Prints spectra/s (wall clock, and per CPU-second of this process, which is the per-core figure on a
shared machine) of ``PhysicsDetector.detect_batch`` on toy spectra (pure noise: the common case in a
survey, where nothing reaches the refinement; and lenses, which are all refined), and the time of one
``refine_redshift`` call.

Run:  OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_physics.py [--n 512] [--seed 0]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from casiglo_gui.core.physics import PhysicsDetector, refine_redshift, toy  # noqa: E402


def _batch(rng, kind, n):
    spectra = [toy.make(rng, kind, peak_snr=10.0) for _ in range(n)]
    return (np.stack([s.residual for s in spectra]), np.stack([s.ivar for s in spectra]),
            np.array([s.z_fg for s in spectra]), spectra)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"threads: OMP={os.environ['OMP_NUM_THREADS']}; n={args.n}; seed={args.seed}")
    for label, kind, refine_above in (("noise, scan+score (default refine_above)", "noise", 0.2),
                                      ("noise, scan only (no refinement at all)", "noise", None),
                                      ("lenses ('five'), all refined", "five", 0.2)):
        r, w, z, _ = _batch(rng, kind, args.n)
        det = PhysicsDetector(refine_above=refine_above)
        det.detect_batch(r[:32], w[:32], z[:32])  # warm-up
        best = np.inf
        best_cpu = np.inf
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            c0 = time.process_time()
            det.detect_batch(r, w, z)
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        print(f"{label:45s} {args.n / best:8.0f} spectra/s wall, {args.n / best_cpu:8.0f} per CPU-second "
              f"({1e3 * best / args.n:.3f} ms each, best of {args.repeat})")
    r, w, z, spectra = _batch(rng, "five", 64)
    t0 = time.perf_counter()
    c0 = time.process_time()
    for i, s in enumerate(spectra):
        refine_redshift(r[i], w[i], s.z_bg + 3e-4)
    dt = (time.perf_counter() - t0) / len(spectra)
    dc = (time.process_time() - c0) / len(spectra)
    print(f"{'refine_redshift (5 lines, start 3e-4 off)':45s} {1e3 * dt:8.2f} ms per spectrum wall, "
          f"{1e3 * dc:.2f} ms CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
