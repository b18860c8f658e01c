"""Synthetic generation speed, single process: spectra per CPU-second into model-ready arrays.

Target (DESIGN.md): >= 5,000 spectra/s per core. Run from the repository root:

    PYTHONPATH=. python benchmarks/bench_synthetic.py [--n 8192] [--batch 256]

Prints, for each background kind (best of --repeats runs), spectra per CPU-second (process time: what one core delivers, less
sensitive than wall time to other jobs on a shared machine) and per wall second, and how much of the
time goes to the app's preprocessing (clean + network_input), which generation must run on every spectrum.
"""
from __future__ import annotations

import os

# One BLAS/OpenMP thread: the figure is per core.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from casiglo_gui.core import preprocessing  # noqa: E402
from training.synthetic import (FlatBackground, ParametricBackground, PCABackground,  # noqa: E402
                                RealResidualBackground, SyntheticConfig, generate, stream)
from training.synthetic.backgrounds import TESTS_DATA_DIR  # noqa: E402


REPEATS = 3


def measure(fn, n, repeats=None):
    """Best of ``repeats`` timings (as timeit: other jobs only ever slow a run down)."""
    fn()  # warm caches
    cpu_best = wall_best = float("inf")
    for _ in range(repeats or REPEATS):
        cpu, wall = time.process_time(), time.perf_counter()
        fn()
        cpu_best = min(cpu_best, time.process_time() - cpu)
        wall_best = min(wall_best, time.perf_counter() - wall)
    return n / cpu_best, n / wall_best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3, help="timings per figure; the best is shown")
    parser.add_argument("--batch", type=int, default=256, help="stream batch size")
    parser.add_argument("--real-dir", default=str(TESTS_DATA_DIR))
    args = parser.parse_args()
    global REPEATS
    REPEATS = args.repeats
    real = RealResidualBackground.from_files(args.real_dir)
    pca = PCABackground.fit(real)
    sources = {
        "parametric": ParametricBackground(), "real": real, "pca": pca,
        "mixed (parametric+real+pca)": [ParametricBackground(), real, pca],
        "flat (no noise: line injection only)": FlatBackground(),
    }
    config = SyntheticConfig()
    n_batches = max(args.n // args.batch, 1)
    n = n_batches * args.batch
    print(f"synthetic generation, single process, {n} spectra per timing, best of {args.repeats}, "
          "config=default (50% lenses + 6 negative kinds)")
    print(f"{'stream(batch=' + str(args.batch) + ') with backgrounds':<44}{'spectra/CPU-s':>15}{'spectra/wall-s':>16}")
    for name, backgrounds in sources.items():
        it = stream(args.batch, seed=1, config=config, backgrounds=backgrounds)
        cpu, wall = measure(lambda: [next(it) for _ in range(n_batches)], n)
        print(f"{name:<44}{cpu:>15.0f}{wall:>16.0f}")
    # generate(n) returns one n-row array per field: allocating (page-faulting) that much fresh memory is
    # part of its cost, which the streaming path used for training does not pay.
    cpu, wall = measure(lambda: generate(n, seed=1, config=config, backgrounds=sources["parametric"]), n)
    print(f"{'generate(n) into single arrays, parametric':<44}{cpu:>15.0f}{wall:>16.0f}")

    batch = generate(args.n, seed=2)
    bad = batch.mask
    cpu_clean, _ = measure(lambda: preprocessing.clean(batch.residual, batch.ivar, bad), args.n)
    cpu_cont, _ = measure(lambda: preprocessing.continuum(batch.residual, bad), args.n)
    cpu_net, _ = measure(lambda: preprocessing.network_input(batch.residual, batch.ivar), args.n)
    print("\napp preprocessing alone (same arrays), spectra/CPU-s:")
    print(f"  preprocessing.clean          {cpu_clean:>10.0f}   (of which continuum(): {cpu_cont:.0f})")
    print(f"  preprocessing.network_input  {cpu_net:>10.0f}")
    print(f"  both                         {1 / (1 / cpu_clean + 1 / cpu_net):>10.0f}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPU(s)")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
