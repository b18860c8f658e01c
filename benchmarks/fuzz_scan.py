"""The large fuzz run of issue 16: >= 2,000 seeded damaged files through the readers and `casiglo scan`.

Usage:
    PYTHONPATH=. python benchmarks/fuzz_scan.py [--n 2200] [--seed 16] [--workers 1] [--chunk-size 16]

Builds the cases with tests/fuzz_inputs.py (seeded mutations of the repo's real spec files: cuts,
block-boundary cuts, cut or corrupted gzip streams, byte flips, structural card edits, absurd pixel
values, garbage), scans them with the physics detector, checks every row as the test suite's fuzz test
does (one row per input, in order; ``ok`` with finite score, probabilities and z fields, or ``error:
<reason>``; a truncated file never ``ok``) and prints the counts per mutation kind, the most frequent
reasons, and the readers' own verdicts (spectra / SpectrumReadError / any other exception = bug).
Exit status 1 when any check fails.
"""
from __future__ import annotations

import argparse
import collections
import csv
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fuzz_inputs import KINDS, damaged_inputs  # noqa: E402

from casiglo_gui.core.errors import SpectrumReadError  # noqa: E402
from casiglo_gui.core.readers import read_spectra  # noqa: E402
from casiglo_gui.core.detectors.spec import DetectorSpec  # noqa: E402
from casiglo_gui.core.scan.pipeline import run_scan  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2200)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=16)
    args = parser.parse_args()
    from test_reliability_fuzz import check_row  # the very checks of the test suite

    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cases = damaged_inputs(Path(tmp) / "cases", args.n, args.seed)
        t1 = time.perf_counter()
        readers = collections.Counter()
        for case in cases:
            try:
                read_spectra(case.path)
                verdict = "spectra"
                if case.truncated:
                    failures.append(f"reader: truncated file read: {case.path}")
            except SpectrumReadError:
                verdict = "SpectrumReadError"
            except Exception as exc:  # a reader bug: counted and reported
                verdict = f"BUG {type(exc).__name__}"
                failures.append(f"reader: {case.path}: {type(exc).__name__}: {exc}")
            readers[verdict] += 1
        t2 = time.perf_counter()
        out = Path(tmp) / "fuzz.csv"
        run_scan([c.path for c in cases], str(out), DetectorSpec("physics"), workers=args.workers,
                 chunk_size=args.chunk_size, progress=False)
        t3 = time.perf_counter()
        with open(out, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    if [r["source"] for r in rows] != [c.path for c in cases]:
        failures.append(f"scan: {len(rows)} rows for {len(cases)} inputs, or not in input order")
    per_kind = {kind: collections.Counter() for kind in KINDS}
    reasons = collections.Counter()
    for row, case in zip(rows, cases):
        try:
            verdict = check_row(row, case.truncated)
        except AssertionError as exc:
            verdict = "BROKEN"
            failures.append(f"scan: {case.path}: {exc}")
        per_kind[case.kind][verdict] += 1
        if row["status"] != "ok":
            reasons[row["status"][:90]] += 1

    print(f"fuzz_scan: {len(cases)} cases (seed {args.seed}); built in {t1 - t0:.1f} s, read in {t2 - t1:.1f} s, "
          f"scanned in {t3 - t2:.1f} s ({args.workers} worker(s))")
    print(f"readers: {dict(readers)}")
    print(f"{'kind':<12} {'ok':>6} {'error':>6} {'broken':>7}")
    for kind, counts in per_kind.items():
        print(f"{kind:<12} {counts['ok']:>6} {counts['error']:>6} {counts['BROKEN']:>7}")
    total = sum(per_kind.values(), collections.Counter())
    print(f"{'all':<12} {total['ok']:>6} {total['error']:>6} {total['BROKEN']:>7}")
    print(f"truncated cases: {sum(c.truncated for c in cases)}, read as ok: "
          f"{sum(1 for r, c in zip(rows, cases) if c.truncated and r['status'] == 'ok')}")
    print("most frequent error rows:")
    for reason, count in reasons.most_common(15):
        print(f"  {count:5d}  {reason}")
    for failure in failures[:20]:
        print(f"FAIL {failure}")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
