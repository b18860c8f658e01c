"""Throughput of the physics detector, single-threaded.

Prints spectra/s (wall clock, and per CPU-second of this process, which is the per-core figure on a
shared machine) of ``PhysicsDetector.detect_batch`` on toy spectra (pure noise: the common case in a
survey, where nothing reaches the refinement; and lenses, which are all refined), and the time of one
``refine_redshift`` call; and, for scale, a straightforward Python loop over trial redshifts (a weighted
Gaussian fit of the 12 lines at every half-pixel step) on a few spectra.

Run:  OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_physics.py [--n 512] [--seed 0]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from casiglo_gui.core import grid, lines  # noqa: E402
from casiglo_gui.core.physics import PhysicsDetector, refine_redshift, toy  # noqa: E402


def _batch(rng, kind, n):
    spectra = [toy.make(rng, kind, peak_snr=10.0) for _ in range(n)]
    return (np.stack([s.residual for s in spectra]), np.stack([s.ivar for s in spectra]),
            np.array([s.z_fg for s in spectra]), spectra)


def straightforward_scan(residual: np.ndarray, ivar: np.ndarray, z_fg: float, sigma_px: float = 1.5) -> float:
    """The baseline the vectorised detector replaces: loop over trial redshifts, fit each line there.

    For every trial shift (half-pixel steps from z_fg to the red end) and every line on the spectrum, the
    weighted least-squares amplitude of a Gaussian over +-4 sigma; returns the redshift with the largest
    quadrature sum of the positive line SNRs.
    """
    rest_px = (np.log10(lines.REST_WAVELENGTHS_A) - grid.LOGLAM0) / grid.DLOGLAM
    pixels = np.arange(grid.N_PIXELS)
    half = int(np.ceil(4 * sigma_px))
    s_fg = np.log10(1.0 + z_fg) / grid.DLOGLAM
    best_shift, best_total = np.nan, -np.inf
    for shift in np.arange(s_fg + 5.0, grid.N_PIXELS - rest_px.min(), 0.5):
        total = 0.0
        for centre in rest_px + shift:
            lo, hi = int(centre) - half, int(centre) + half + 1
            if lo < 0 or hi > grid.N_PIXELS:
                continue
            g = np.exp(-0.5 * ((pixels[lo:hi] - centre) / sigma_px) ** 2)
            w = ivar[lo:hi]
            den = np.sum(g * g * w)
            if den > 0:
                snr = np.sum(residual[lo:hi] * g * w) / np.sqrt(den)
                total += max(snr, 0.0) ** 2
        if total > best_total:
            best_shift, best_total = shift, total
    return float(10.0 ** (best_shift * grid.DLOGLAM) - 1.0)


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
    n_loop = 8
    t0 = time.perf_counter()
    c0 = time.process_time()
    found = [straightforward_scan(r[i], w[i], s.z_fg) for i, s in enumerate(spectra[:n_loop])]
    dt = time.perf_counter() - t0
    dc = time.process_time() - c0
    hits = sum(abs(zb - s.z_bg) < 1e-3 for zb, s in zip(found, spectra))
    print(f"{'straightforward loop over trial redshifts':45s} {n_loop / dt:8.1f} spectra/s wall, "
          f"{n_loop / dc:8.1f} per CPU-second ({hits}/{n_loop} lenses found)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
