"""Bulk import of earlier gradings from a CSV file into the label store.

Columns (header names are case-insensitive; unknown columns are ignored and listed in the report):

- required: ``object_id``, ``grade`` (``none``/``possible``/``probable``/``likely``, or 0-3);
- optional: ``inspector`` (a non-empty cell wins over the ``--inspector`` default), ``source``, ``time``
  (ISO 8601; naive = UTC; missing = the time of the import), ``z_bg``, ``ra``, ``dec``, ``z_fg``,
  ``score`` (numbers; empty/``nan`` = missing), ``comment`` (or ``comments``), ``flags``, ``lines``
  (or ``lines_seen``) and ``lines_rejected`` (keys separated by spaces, commas, semicolons or ``|``),
  ``model_version``, ``adjudicated`` (true/false/1/0/yes/no), ``uid``.

Exports of :mod:`.export` are valid input: one leading apostrophe in text cells (the CSV formula
neutralisation) is removed, so a text that really starts with an apostrophe must be written with two.

Each row becomes one :class:`LabelEvent`. Rows without a ``uid`` get one derived from the inspector and
the row's text, so importing the same file twice stores nothing new. Bad rows are reported with their
line number in the file (the first line of a row that spans several lines) and skipped; the good
rows are stored together in one transaction, streamed (memory does not grow with the file).

Values are taken as written or refused, never rewritten: numbers must be plain decimal numbers
(``1_000``, ``0x10``, ``inf`` are refused), positions and redshifts must be in range (``ra=400`` is a
bad row, not 40), a header naming a column twice is refused as a whole (which one would count?), and a
cell over ``MAX_CELL_CHARS`` is a bad row, not a failed file.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import math
import re
from collections.abc import Iterator
from pathlib import Path

from casiglo_gui.core.errors import CasigloError
from casiglo_gui.core.labels.events import GRADES, LabelEvent, parse_flags, parse_lines
from casiglo_gui.core.labels.cells import restore_formula_text
from casiglo_gui.core.labels.store import LabelStore

REQUIRED = ("object_id", "grade")
KNOWN = REQUIRED + (
    "inspector", "source", "time", "z_bg", "ra", "dec", "z_fg", "score", "comment", "comments", "flags",
    "lines", "lines_seen", "lines_rejected", "model_version", "adjudicated", "uid",
)
# Columns of our own exports that are derived, not labels: ignored without comment.
DERIVED = ("name", "agreement", "n_inspectors", "mean_grade", "needs_adjudication", "inspectors")
_MISSING = {"", "nan", "--", "null", "none"}
# A plain decimal number (Python's float() would also take '1_000', 'inf', ' 1e5 ' and 'infinity').
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# Longest cell accepted (a comment of a few pages); longer cells make a bad row, not a failed import.
MAX_CELL_CHARS = 128 * 1024
# The csv module's own limit, above MAX_CELL_CHARS so that a long cell is reported by its row.
_CSV_FIELD_LIMIT = 16 * 1024 * 1024
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n", ""}


class LabelImportError(CasigloError):
    """The import file as a whole cannot be read (missing, not UTF-8 text, no header, missing columns)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclasses.dataclass
class ImportReport:
    """What an import did: rows read, events stored, duplicates skipped, bad rows with line numbers."""

    path: str
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    bad_rows: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    ignored_columns: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row was good."""
        return not self.bad_rows


def _number(row: dict, name: str) -> float | None:
    text = row.get(name, "").strip()
    if text.lower() in _MISSING:
        return None
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{name} {text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{name} {text!r} is out of range")
    return value


def _grade(text: str) -> str:
    text = text.strip().lower()
    if text in ("0", "1", "2", "3"):
        return GRADES[int(text)]
    return text  # LabelEvent checks the vocabulary


def _boolean(name: str, text: str) -> bool:
    text = text.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} {text!r} is not true/false")


def _derived_uid(inspector: str, row: dict) -> str:
    canonical = "\x1f".join([inspector] + [f"{k}={row[k]}" for k in sorted(row)])
    return "imp-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def event_from_row(row: dict[str, str], default_inspector: str | None) -> LabelEvent:
    """One CSV row (header -> cell text, already stripped of the formula apostrophe) as an event.

    Raises
    ------
    ValueError
        (``LabelValueError`` included) when a cell is invalid; the message names the column.
    """
    inspector = row.get("inspector", "").strip() or (default_inspector or "")
    if not inspector:
        raise ValueError("no inspector (empty inspector column and no --inspector given)")
    fields = dict(
        object_id=row.get("object_id", ""), grade=_grade(row.get("grade", "")), inspector=inspector,
        source=row.get("source", ""), z_bg=_number(row, "z_bg"), ra=_number(row, "ra"),
        dec=_number(row, "dec"), z_fg=_number(row, "z_fg"), score=_number(row, "score"),
        comment=row.get("comment", "") or row.get("comments", ""), flags=parse_flags(row.get("flags", "")),
        lines=parse_lines(row.get("lines", "") or row.get("lines_seen", ""), row.get("lines_rejected", "")),
        model_version=row.get("model_version", "").strip() or None,
        adjudicated=_boolean("adjudicated", row.get("adjudicated", "")),
        uid=row.get("uid", "").strip() or _derived_uid(inspector, row),
    )
    if row.get("time", "").strip():
        fields["time"] = row["time"]
    return LabelEvent(**fields)


def _rows(path: Path, report: ImportReport, have_inspector: bool) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise LabelImportError(path, f"cannot be opened: {exc.strerror or exc}") from exc
    with handle, _csv_field_limit(_CSV_FIELD_LIMIT):
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise LabelImportError(path, "is empty (expected a CSV header with object_id, grade)")
            names = [h.strip().lower() for h in header]
            twice = sorted({name for name in names if name and names.count(name) > 1})
            if twice:
                raise LabelImportError(path, f"the header names column(s) {', '.join(twice)} more than once")
            missing = [name for name in REQUIRED if name not in names]
            if missing:
                raise LabelImportError(path, f"has no {', '.join(missing)} column (header: {', '.join(names)})")
            if "inspector" not in names and not have_inspector:
                raise LabelImportError(path, "has no inspector column: say who graded with --inspector NAME")
            report.ignored_columns = [n for n in names if n not in KNOWN and n not in DERIVED]
            start = reader.line_num + 1
            for cells in reader:
                line, start = start, reader.line_num + 1
                if not any(cell.strip() for cell in cells):
                    continue  # blank line
                report.rows += 1
                if len(cells) != len(names):
                    report.bad_rows.append((line, f"{len(cells)} cells, the header has {len(names)}"))
                    continue
                longest = max(range(len(cells)), key=lambda k: len(cells[k]))
                if len(cells[longest]) > MAX_CELL_CHARS:
                    report.bad_rows.append((line, f"{names[longest]} is {len(cells[longest]):,} characters long "
                                                  f"(at most {MAX_CELL_CHARS:,})"))
                    continue
                yield line, {n: restore_formula_text(c) for n, c in zip(names, cells)}
        except UnicodeDecodeError as exc:
            raise LabelImportError(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except csv.Error as exc:
            raise LabelImportError(path, f"is not valid CSV near line {reader.line_num}: {exc}") from exc


@contextlib.contextmanager
def _csv_field_limit(limit: int):
    """The csv module's field size limit (process-wide) raised for the duration of one import."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def import_csv(store: LabelStore, path: str | Path, inspector: str | None = None) -> ImportReport:
    """Import the gradings of a CSV file into ``store``: good rows stored, bad rows reported.

    Parameters
    ----------
    store : LabelStore
    path : str or Path
        The CSV file (UTF-8; a BOM is accepted).
    inspector : str or None
        Inspector for rows without an ``inspector`` cell.

    Returns
    -------
    ImportReport
        ``bad_rows`` lists ``(line number, reason)``; ``stored`` counts new events.

    Raises
    ------
    LabelImportError
        When the file itself cannot be read (nothing is stored then).
    """
    path = Path(path)
    report = ImportReport(path=str(path))
    good = 0

    def events() -> Iterator[LabelEvent]:
        nonlocal good
        for line, row in _rows(path, report, have_inspector=bool(inspector and inspector.strip())):
            try:
                event = event_from_row(row, inspector)
            except ValueError as exc:
                report.bad_rows.append((line, str(exc)))
                continue
            good += 1
            yield event

    report.stored = store.append_events(events(), skip_duplicates=True)
    report.bad_rows.sort()
    report.duplicates = good - report.stored
    return report
