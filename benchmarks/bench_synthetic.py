"""Synthetic generation speed, single process: spectra per CPU-second into model-ready arrays.

Target (DESIGN.md): >= 5,000 spectra/s per core. Run from the repository root:

    PYTHONPATH=. python benchmarks/bench_synthetic.py [--n 8192] [--batch 256]

Prints, for each background kind, spectra per CPU-second (process time: what one core delivers, less
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


def measure(fn, n):
    fn()  # warm caches
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return n / (time.process_time() - cpu), n / (time.perf_counter() - wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=256, help="stream batch size")
    parser.add_argument("--real-dir", default=str(TESTS_DATA_DIR))
    args = parser.parse_args()
    real = RealResidualBackground.from_files(args.real_dir)
    pca = PCABackground.fit(real)
    sources = {
        "parametric": ParametricBackground(), "real": real, "pca": pca,
        "mixed (parametric+real+pca)": [ParametricBackground(), real, pca],
        "flat (no noise: line injection only)": FlatBackground(),
    }
    config = SyntheticConfig()
    print(f"synthetic generation, single process, n={args.n}, config=default (50% lenses + 6 negative kinds)")
    print(f"{'backgrounds':<40}{'spectra/CPU-s':>15}{'spectra/wall-s':>16}")
    for name, backgrounds in sources.items():
        cpu, wall = measure(lambda: generate(args.n, seed=1, config=config, backgrounds=backgrounds), args.n)
        print(f"{name:<40}{cpu:>15.0f}{wall:>16.0f}")
    it = stream(args.batch, seed=1, config=config, backgrounds=ParametricBackground())
    n_batches = max(args.n // args.batch, 1)
    cpu, wall = measure(lambda: [next(it) for _ in range(n_batches)], n_batches * args.batch)
    print(f"{'stream(batch=' + str(args.batch) + '), parametric':<40}{cpu:>15.0f}{wall:>16.0f}")

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
