"""``casiglo scan INPUT... --out FILE.csv|.parquet``: rank many spectra into a candidate table.

See docs/scan.md for the input order, MaNGA rows, resuming and the Dask engine.
"""
from __future__ import annotations

import argparse
import os
import sys

from .core.errors import CasigloError, ModelMismatchError
from .core.readers.options import ReadOptions
from .core.detectors.spec import DETECTOR_KINDS, DetectorSpec, cached_detector, resolve_spec
from .core.scan.inputs import expand_inputs
from .core.scan.pipeline import DEFAULT_BATCH_SIZE, DEFAULT_CHUNK_SIZE, ENGINES, run_scan


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="spectrum files, folders (searched recursively for *.fits[.gz]) or globs")
    parser.add_argument("--out", "-o", required=True, help="output table, .csv or .parquet")
    parser.add_argument("--detector", choices=DETECTOR_KINDS, default=None,
                        help="default: combined when a CNN model is present, physics otherwise")
    parser.add_argument("--model", default=None, help="ONNX model for the cnn/combined detectors")
    parser.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                        help="worker processes for the local engine (default: number of CPUs)")
    parser.add_argument("--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE,
                        help=f"spectra per detector call (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--chunk-size", type=_positive, default=DEFAULT_CHUNK_SIZE,
                        help=f"inputs per unit of work and per commit (default {DEFAULT_CHUNK_SIZE})")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted scan of the same inputs into the same table")
    parser.add_argument("--maps", metavar="DIR", default=None,
                        help="write a detection-map FITS (score, best-line SNR, z_bg) per MaNGA cube into DIR")
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local process pool (default) or a Dask distributed cluster")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address for --engine dask")
    parser.add_argument("--z-fg", type=float, default=None, metavar="Z",
                        help="foreground redshift for inputs that give none (a MaNGA cube without redshift "
                             "keywords, MAPS file or DRPall beside it); their foreground model is fitted at Z")
    parser.add_argument("--redshifts", default=None, metavar="FILE",
                        help="where the redshifts are when they are not beside the inputs: a DESI Redrock file "
                             "for coadds (default: the redrock-*.fits beside each), a MaNGA DAP MAPS file or "
                             "DRPall catalogue for cubes (default: one beside the cube)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    err = sys.stderr
    try:
        return _scan(args, err)
    except KeyboardInterrupt:
        if _resumable(args.out):
            print(f"\ninterrupted: committed rows are in {args.out}; rerun the same command with --resume "
                  "to continue", file=err)
        else:
            print("\ninterrupted before any row was written", file=err)
        return 130
    except CasigloError as exc:
        print(f"error: {exc}", file=err)
        return 2
    except OSError as exc:  # the output: unwritable folder or file, disk full, I/O error
        where = exc.filename or args.out
        hint = ("; the rows committed so far are kept: fix this and rerun the same command with --resume"
                if _resumable(args.out) else "")
        print(f"error: cannot write {where}: {exc.strerror or exc}{hint}", file=err)
        return 2


def _physics_if_refused(spec: DetectorSpec, sentence: str) -> tuple[DetectorSpec, str]:
    """The default detector (the installed model), or physics-only (saying why) when that model is
    refused. A model or detector the user named is not replaced: the scan stops with the message."""
    try:
        cached_detector(spec)
    except ModelMismatchError as exc:
        return DetectorSpec("physics"), f"warning: model refused: {exc}\ndetector: physics (physics-only mode)"
    return spec, sentence


def _resumable(out: str) -> bool:
    staging = out if out.lower().endswith(".csv") else out + ".partial.csv"
    return os.path.exists(staging + ".progress.json")


def _scan(args: argparse.Namespace, err) -> int:
    expanded = expand_inputs(args.inputs)
    for argument in expanded.missing:
        print(f"warning: {argument}: no such file, folder or glob match", file=err)
    for folder, reason in expanded.unreadable:
        print(f"warning: {folder}: folder not scanned ({reason})", file=err)
    if expanded.skipped:
        print(f"note: {len(expanded.skipped)} non-spectrum file(s) inside the folders were not scanned "
              f"(e.g. {expanded.skipped[0]}); name them explicitly to include them", file=err)
    if not expanded.files:
        print("error: no input files", file=err)
        return 2
    spec, sentence = resolve_spec(args.detector, args.model, threads=1)
    if args.detector is None and args.model is None and spec.kind != "physics":
        spec, sentence = _physics_if_refused(spec, sentence)
    print(sentence, file=err, flush=True)
    summary = run_scan(expanded.files, args.out, spec, workers=args.workers, batch_size=args.batch_size,
                       chunk_size=args.chunk_size, resume=args.resume, engine=args.engine,
                       scheduler=args.scheduler, maps_dir=args.maps,
                       progress=not args.no_progress, stream=err,
                       read_options=ReadOptions(
                           z_fg=args.z_fg, redshifts=os.path.abspath(args.redshifts) if args.redshifts else None))
    print(summary.format(), file=err)
    if expanded.unreadable:
        print(f"error: {len(expanded.unreadable)} folder(s) could not be read; their files are not in the "
              "table", file=err)
        return 1
    return 0
