"""Throughput of the shipped CNN (onnxruntime) and of the combined detector, on synthetic spectra.

Usage: PYTHONPATH=. python benchmarks/bench_inference.py [--model FILE.onnx] [--n 4096] [--threads 2]
Prints spectra per second for several batch sizes, and for the combined detector (CNN + physics refit).
Figures on the shared 2-core machine are noisy: say so when quoting them.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from casiglo_gui.core.detectors import EvidenceDetector
from casiglo_gui.core.inference import OnnxLineModel, default_model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=99)
    args = parser.parse_args()

    from training import synthetic

    t0 = time.perf_counter()
    batch = synthetic.generate(args.n, args.seed)
    print(f"generated {args.n} synthetic spectra in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    model = OnnxLineModel(args.model, threads=args.threads)
    print(f"model load: {1e3 * (time.perf_counter() - t0):.0f} ms ({args.model}, version {model.version})")
    model.predict(batch.x[:64], batch.z_fg[:64])  # warm-up
    for bs in (1, 8, 32, 128):
        n = min(args.n, 512) if bs == 1 else args.n
        t0 = time.perf_counter()
        model.predict(batch.x[:n], batch.z_fg[:n], batch_size=bs)
        dt = time.perf_counter() - t0
        print(f"CNN onnxruntime, batch {bs:4d}: {n / dt:9.0f} spectra/s ({args.threads} threads)")
    det = EvidenceDetector(model)
    n = min(args.n, 2048)
    t0 = time.perf_counter()
    out = det.detect_batch(batch.residual[:n], batch.ivar[:n], batch.z_fg[:n])
    dt = time.perf_counter() - t0
    refined = sum(np.isfinite(d.z_bg_err) for d in out)
    print(f"combined detector: {n / dt:9.0f} spectra/s ({refined}/{n} refined by the physics fit; "
          f"half of the synthetic spectra are lenses)")


if __name__ == "__main__":
    main()
