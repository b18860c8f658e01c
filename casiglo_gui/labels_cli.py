"""``casiglo labels``: import earlier gradings from CSV, export labels and follow-up target lists.

    casiglo labels import FILE.csv [--db DB] [--inspector NAME]
    casiglo labels export --out FILE.{csv,ecsv,fits,vot} [--db DB] [--min-grade G] [--consensus]
                          [--inspector NAME] [--name-prefix SDSS] [--overwrite]

``--db`` defaults to the per-user store (``casiglo_gui.core.labels.default_db_path()``). Import creates
the database if it does not exist; export refuses a missing one (it would only write an empty list).

Exit codes: 0 success; 1 import finished but some rows were bad (good rows kept, bad ones listed on
stderr as ``FILE:LINE: reason``); 2 nothing done (unreadable file or database, bad arguments).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from casiglo_gui.core.errors import CasigloError

GRADE_CHOICES = ("none", "possible", "probable", "likely")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``import`` and ``export`` sub-commands to ``casiglo labels``."""
    sub = parser.add_subparsers(dest="labels_command", metavar="{import,export}")
    imp = sub.add_parser("import", help="import earlier gradings from a CSV file")
    imp.add_argument("file", type=Path, help="CSV with columns object_id, grade and optional others")
    imp.add_argument("--db", type=Path, default=None, help="label database (default: per-user store)")
    imp.add_argument("--inspector", default=None,
                     help="inspector for rows without an inspector column value")
    exp = sub.add_parser("export", help="write labels or the follow-up target list")
    exp.add_argument("--out", type=Path, required=True, help="output .csv, .ecsv, .fits or .vot")
    exp.add_argument("--db", type=Path, default=None, help="label database (default: per-user store)")
    exp.add_argument("--min-grade", choices=GRADE_CHOICES, default=None,
                     help="keep rows graded at least this")
    exp.add_argument("--consensus", action="store_true",
                     help="one row per object with the inspectors' consensus (the target list)")
    exp.add_argument("--inspector", default=None, help="only this inspector's labels")
    exp.add_argument("--name-prefix", default="SDSS", help="survey acronym in IAU-style names")
    exp.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def _db_path(args) -> Path:
    from casiglo_gui.core.labels import default_db_path

    return args.db if args.db is not None else default_db_path()


def _run_import(args) -> int:
    from casiglo_gui.core.labels import LabelStore
    from casiglo_gui.core.labels.importer import import_csv

    with LabelStore.open(_db_path(args)) as store:
        report = import_csv(store, args.file, inspector=args.inspector)
    for line, reason in report.bad_rows:
        print(f"{args.file}:{line}: {reason}", file=sys.stderr)
    if report.ignored_columns:
        print(f"{args.file}: ignored columns: {', '.join(report.ignored_columns)}", file=sys.stderr)
    print(f"{args.file}: {report.rows} rows, {report.stored} stored, {report.duplicates} already in the "
          f"database, {len(report.bad_rows)} bad", file=sys.stderr)
    return 0 if report.ok else 1


def _run_export(args) -> int:
    from casiglo_gui.core.labels import LabelStore
    from casiglo_gui.core.labels.export import (
        ExportError,
        consensus_table,
        inspector_table,
        table_format,
        write_inspector_csv,
        write_table,
    )

    db = _db_path(args)
    if args.consensus and args.inspector:
        print("casiglo labels export: --consensus and --inspector exclude each other", file=sys.stderr)
        return 2
    table_format(args.out)  # fail on a bad extension before reading anything
    if args.out.exists() and not args.overwrite:
        raise ExportError(args.out, "already exists (use --overwrite to replace it)")
    if not db.is_file():
        print(f"{db}: no label database there", file=sys.stderr)
        return 2
    with LabelStore.open(db) as store:
        if not args.consensus and table_format(args.out) == "csv":  # streamed: flat memory at any size
            count = write_inspector_csv(store.iter_events_by_object(), args.out, min_grade=args.min_grade,
                                        inspector=args.inspector, name_prefix=args.name_prefix,
                                        overwrite=args.overwrite)
            print(f"{args.out}: {count} labels written", file=sys.stderr)
            return 0
        if args.consensus:
            table = consensus_table(store.consensus_table(), min_grade=args.min_grade,
                                    name_prefix=args.name_prefix)
        else:
            table = inspector_table(store.iter_events_by_object(), min_grade=args.min_grade,
                                    inspector=args.inspector, name_prefix=args.name_prefix)
    write_table(table, args.out, overwrite=args.overwrite)
    kind = "objects" if args.consensus else "labels"
    print(f"{args.out}: {len(table)} {kind} written", file=sys.stderr)
    return 0


def run(args) -> int:
    """Run ``casiglo labels import|export``; errors are reported on stderr, never as tracebacks."""
    command = getattr(args, "labels_command", None)
    if command is None:
        print("casiglo labels: choose 'import' or 'export' (see --help)", file=sys.stderr)
        return 2
    try:
        return _run_import(args) if command == "import" else _run_export(args)
    except CasigloError as exc:
        print(f"casiglo labels {command}: {exc}", file=sys.stderr)
        return 2
