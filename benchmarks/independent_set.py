"""Write the independent evaluation set: real SDSS/BOSS spectra with background lines in their FLUX.

Usage:
    PYTHONPATH=. python benchmarks/independent_set.py --out /tmp/indep --n 2000 --seed 20261124
        [--bases DIR] [--linelist FILE.par]

Writes ``spec-indep-NNNNN.fits`` (spec-lite: COADD with the changed flux, HDU2 and SPZLINE copied from
the base file), ``truth.csv`` and ``set.json`` into ``--out``. The recipe (docs/independent_eval.md)
shares nothing with training/synthetic but the 12 line keys. Score it with
``benchmarks/eval_independent.py --set DIR``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.independent.build import (  # noqa: E402
    KIND_PROBABILITIES, RECIPE_VERSION, build_set, select_bases, write_manifest)
from benchmarks.independent.linelist import load_line_list  # noqa: E402

SHARED_BASES = "/work/shared/data/real/sdss_spec"
REPO_BASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "sdss")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--n", type=int, default=2000, help="files to write (default 2000)")
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--bases", default=None,
                    help=f"folder of real spec files, searched recursively (default {SHARED_BASES} when "
                         "present, else tests/data/sdss)")
    ap.add_argument("--linelist", default=None, help="MaNGA DAP DAPEML par file (vacuum); default: the "
                    "shared mangadap_elpmpl11.par when present, else the built-in copy")
    ap.add_argument("--keep-all-bases", action="store_true",
                    help="do not leave out the bases listed in EXCLUDED_BASES (possible real background sources)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be at least 1")
    folder = args.bases or (SHARED_BASES if os.path.isdir(SHARED_BASES) else REPO_BASES)
    t0 = time.perf_counter()
    bases, skipped = select_bases(folder, {} if args.keep_all_bases else None)
    lines = load_line_list(args.linelist)
    if not args.quiet:
        print(f"bases: {len(bases)} kept from {folder}, {len(skipped)} left out", file=sys.stderr)
        for path, reason in skipped:
            print(f"  left out {os.path.relpath(path, folder)}: {reason}", file=sys.stderr)
        print(f"line list: {lines.source}", file=sys.stderr)
    if not bases:
        print(f"error: no usable base spectra in {folder}", file=sys.stderr)
        return 1

    def progress(done: int) -> None:
        if not args.quiet and (done % 250 == 0 or done == args.n):
            print(f"  {done}/{args.n} files", file=sys.stderr, flush=True)

    counts = build_set(bases, lines, args.out, args.n, args.seed, progress=progress)
    wall = time.perf_counter() - t0
    command = "PYTHONPATH=. python benchmarks/independent_set.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    write_manifest(args.out, {
        "recipe": RECIPE_VERSION, "seed": args.seed, "n": args.n, "command": command,
        "bases_folder": os.path.abspath(folder), "bases": [os.path.relpath(b.path, folder) for b in bases],
        "left_out": {os.path.relpath(p, folder): r for p, r in skipped},
        "line_list": lines.source, "rest_wavelengths_vacuum_a": lines.wavelengths,
        "kind_probabilities": KIND_PROBABILITIES, "counts": counts})
    print(f"wrote {args.n} files to {args.out} in {wall:.1f} s: "
          + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
