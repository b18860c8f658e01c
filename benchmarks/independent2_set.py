"""Write the second independent test set: synthetic SDSS/BOSS spec-lite files made from scratch.

Usage:
    PYTHONPATH=. python benchmarks/independent2_set.py --out /tmp/indep2 --n 2000 --seed 20261129
        [--eigen spEigenGal-56436.fits] [--skylines skylines.dat]

Writes ``spec-150NN-MJD-FFFF.fits`` (HDU1 COADD: flux, loglam, ivar, and_mask, or_mask, wdisp, sky, model;
HDU2 SPALL for the BOSS layout, SPECOBJ for the SDSS-I layout), ``truth.csv`` and ``set.json``. The recipe
(benchmarks/independent2, docs/independent_eval.md) shares no code with training/synthetic nor
benchmarks/independent. Score it with ``benchmarks/eval_three_sets.py --set indep2=DIR``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.independent2.build import build_set, write_manifest  # noqa: E402
from benchmarks.independent2.foreground import EigenBasis  # noqa: E402
from benchmarks.independent2.population import Recipe  # noqa: E402
from benchmarks.independent2.sky import SkyLineList  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--n", type=int, default=2000, help="files to write (default 2000)")
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--eigen", default=None, help="spEigenGal FITS file (default: the shared copy, else tests/data)")
    ap.add_argument("--skylines", default=None, help="idlspec2d skylines.dat (default: the shared copy, else tests/data)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be at least 1")
    t0 = time.perf_counter()
    try:
        recipe = Recipe(EigenBasis.load(args.eigen), SkyLineList.load(args.skylines))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def progress(done: int) -> None:
        if not args.quiet and (done % 500 == 0 or done == args.n):
            print(f"  {done}/{args.n} files", file=sys.stderr, flush=True)

    counts = build_set(args.out, args.n, args.seed, recipe, progress)
    wall = time.perf_counter() - t0
    command = "PYTHONPATH=. python benchmarks/independent2_set.py " + " ".join(sys.argv[1:] if argv is None else argv)
    write_manifest(args.out, recipe, {"seed": args.seed, "n": args.n, "command": command, "counts": counts,
                                      "seconds": round(wall, 1)})
    print(f"wrote {args.n} files to {args.out} in {wall:.1f} s: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
