"""Target lists and label tables: from the store to astropy Tables and files (CSV, ECSV, FITS, VOTable).

Two shapes of table:

- **per inspector** (default): one row per object and inspector, that inspector's latest grading, plus
  one row per adjudication (``adjudicated = True``). It carries every field of the events (and their
  ``uid``), so ``casiglo labels import`` of its CSV re-creates the same labels (re-importing is harmless:
  known uids are skipped). ``agreement`` and ``n_inspectors`` are the object's consensus values.
- **consensus** (``consensus=True``): one row per object, the follow-up target list (see
  :mod:`.consensus` for the rules): ``name, object_id, source, ra, dec, z_fg, z_bg, grade, mean_grade,
  agreement, n_inspectors, needs_adjudication, adjudicated, lines_seen, flags, comments, inspectors,
  model_version, score``.

``name`` is the IAU-style name (``SDSS Jhhmmss.ss+ddmmss.s``, truncated; see :mod:`.names`), empty
when the position is unknown. Lists of line keys and flags are space-separated text.

File formats, chosen by extension: ``.csv``, ``.ecsv``, ``.fits``/``.fit``/``.fts``, ``.vot``/
``.votable``/``.xml``. Text survives every format exactly (quotes, commas, newlines, unicode):

- FITS tables hold bytes, not unicode: text columns are written as UTF-8 bytes and the header says so
  (``TXTENC = 'UTF-8'``); :func:`read_table` decodes them.
- CSV is opened by spreadsheets, which run cells beginning with ``= + - @`` (or tab/CR) as formulas
  (CSV injection). In ``.csv`` files, any text cell starting with one of those characters, or with an
  apostrophe, gets one leading apostrophe (``=SUM(A1)`` is written ``'=SUM(A1)``), which spreadsheets show
  as text (see :mod:`.cells`). :func:`read_table` and the importer remove exactly one leading
  apostrophe, so the text round-trips exactly. Numbers are never prefixed (a negative Dec
  stays a number). ECSV, FITS and VOTable are written as they are (no spreadsheet opens them as CSV
  by default, and astropy reads them back typed).
"""
from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from astropy.io import ascii
from astropy.table import MaskedColumn, Table

from casiglo_gui.core.errors import CasigloError
from casiglo_gui.core.labels.cells import FORMULA_TRIGGERS, neutralise_formula_text, restore_formula_text  # noqa: F401
from casiglo_gui.core.labels.consensus import Consensus, consensus_of
from casiglo_gui.core.labels.events import GRADE_VALUE, GRADES, LabelEvent, standing_gradings
from casiglo_gui.core.labels.names import iau_names

# Stands for a newline inside a quoted CSV/ECSV value while astropy parses the file (see
# _protect_quoted_newlines); LabelEvent refuses it in text, so it cannot occur in our own data.
NEWLINE_PLACEHOLDER = "\ue000"

FORMATS: dict[str, str] = {
    ".csv": "csv", ".ecsv": "ecsv", ".fits": "fits", ".fit": "fits", ".fts": "fits",
    ".vot": "votable", ".votable": "votable", ".xml": "votable",
}

BOOL_COLUMNS = ("needs_adjudication", "adjudicated")
TEXT_COLUMNS = ("name", "object_id", "source", "inspector", "time", "grade", "lines_seen", "lines_rejected",
                "flags", "comment", "comments", "inspectors", "model_version", "uid")
FLOAT_COLUMNS = ("ra", "dec", "z_fg", "z_bg", "score", "mean_grade", "agreement")


class ExportError(CasigloError):
    """A target list could not be written or read (unknown extension, existing file...)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def table_format(path: str | Path) -> str:
    """The astropy format name for a file's extension (raises :class:`ExportError` if unknown)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(path, f"unknown table extension {suffix!r}; use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


# ---------------------------------------------------------------------------------------------------
# Building tables
# ---------------------------------------------------------------------------------------------------

def _float_column(name: str, values: Sequence[float | None]) -> MaskedColumn:
    data = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return MaskedColumn(data, name=name, mask=np.isnan(data), dtype=np.float64)


def _text_column(name: str, values: Sequence[str]) -> np.ndarray:
    return np.array(list(values), dtype=str) if values else np.array([], dtype="U1")


def _names(positions: Sequence[tuple[float | None, float | None]], prefix: str) -> list[str]:
    """IAU-style names, "" where the position is unknown (one vectorised astropy call)."""
    known = [i for i, (ra, dec) in enumerate(positions) if ra is not None and dec is not None]
    names = [""] * len(positions)
    computed = iau_names([positions[i][0] for i in known], [positions[i][1] for i in known], prefix)
    for i, name in zip(known, computed):
        names[i] = name
    return names


def _words(items) -> str:
    return " ".join(items)


def consensus_table(consensuses: Sequence[Consensus], min_grade: str | None = None,
                    name_prefix: str = "SDSS") -> Table:
    """The follow-up target list: one row per object, best first (grade, then agreement).

    Parameters
    ----------
    consensuses : sequence of Consensus
    min_grade : str or None
        Keep objects whose consensus grade is at least this (``probable`` keeps probable and likely).
    name_prefix : str
        Survey acronym in the IAU-style names.
    """
    rows = list(consensuses)
    if min_grade is not None:
        rows = [c for c in rows if c.grade_value >= GRADE_VALUE[_check_grade(min_grade)]]
    rows.sort(key=lambda c: (-c.grade_value, -c.agreement, -c.mean_grade, c.object_id))
    table = Table()
    table["name"] = _text_column("name", _names([(c.ra, c.dec) for c in rows], name_prefix))
    table["object_id"] = _text_column("object_id", [c.object_id for c in rows])
    table["source"] = _text_column("source", [c.source for c in rows])
    for name in ("ra", "dec", "z_fg", "z_bg"):
        table[name] = _float_column(name, [getattr(c, name) for c in rows])
    table["grade"] = _text_column("grade", [c.grade for c in rows])
    table["mean_grade"] = np.array([c.mean_grade for c in rows], dtype=np.float64)
    table["agreement"] = np.array([c.agreement for c in rows], dtype=np.float64)
    table["n_inspectors"] = np.array([c.n_inspectors for c in rows], dtype=np.int32)
    table["needs_adjudication"] = np.array([c.needs_adjudication for c in rows], dtype=bool)
    table["adjudicated"] = np.array([c.adjudicated for c in rows], dtype=bool)
    table["lines_seen"] = _text_column("lines_seen", [_words(c.lines_seen) for c in rows])
    table["flags"] = _text_column("flags", [_words(sorted(c.flags)) for c in rows])
    table["comments"] = _text_column("comments", [c.comments for c in rows])
    table["inspectors"] = _text_column("inspectors", [_words(c.inspectors) for c in rows])
    table["model_version"] = _text_column("model_version", [c.model_version or "" for c in rows])
    table["score"] = _float_column("score", [c.score for c in rows])
    _describe(table, consensus=True)
    return table


def inspector_table(events_by_object: Sequence[tuple[str, Sequence[LabelEvent]]],
                    min_grade: str | None = None, inspector: str | None = None,
                    name_prefix: str = "SDSS") -> Table:
    """One row per object and inspector (latest grading) plus one per adjudication.

    Parameters
    ----------
    events_by_object : sequence of (object_id, events oldest first)
        As :meth:`LabelStore.iter_events_by_object` yields.
    min_grade : str or None
        Keep rows whose own grade is at least this.
    inspector : str or None
        Keep only this inspector's rows.
    name_prefix : str
        Survey acronym in the IAU-style names.
    """
    rows = list(_inspector_rows(events_by_object, min_grade, inspector))
    table = Table()
    table["name"] = _text_column("name", _names([(e.ra, e.dec) for e, _ in rows], name_prefix))
    table["object_id"] = _text_column("object_id", [e.object_id for e, _ in rows])
    table["source"] = _text_column("source", [e.source for e, _ in rows])
    table["inspector"] = _text_column("inspector", [e.inspector for e, _ in rows])
    table["time"] = _text_column("time", [e.time for e, _ in rows])
    for name in ("ra", "dec", "z_fg", "z_bg"):
        table[name] = _float_column(name, [getattr(e, name) for e, _ in rows])
    table["grade"] = _text_column("grade", [e.grade for e, _ in rows])
    table["adjudicated"] = np.array([e.adjudicated for e, _ in rows], dtype=bool)
    table["agreement"] = np.array([c.agreement for _, c in rows], dtype=np.float64)
    table["n_inspectors"] = np.array([c.n_inspectors for _, c in rows], dtype=np.int32)
    table["lines_seen"] = _text_column("lines_seen", [_words(e.lines_seen) for e, _ in rows])
    table["lines_rejected"] = _text_column("lines_rejected", [_words(e.lines_rejected) for e, _ in rows])
    table["flags"] = _text_column("flags", [_words(sorted(e.flags)) for e, _ in rows])
    table["comment"] = _text_column("comment", [e.comment for e, _ in rows])
    table["model_version"] = _text_column("model_version", [e.model_version or "" for e, _ in rows])
    table["score"] = _float_column("score", [e.score for e, _ in rows])
    table["uid"] = _text_column("uid", [e.uid for e, _ in rows])
    _describe(table, consensus=False)
    return table


def _inspector_rows(events_by_object: Iterable[tuple[str, Sequence[LabelEvent]]], min_grade: str | None,
                    inspector: str | None) -> Iterator[tuple[LabelEvent, Consensus]]:
    """The (event, its object's consensus) of every row of the per-inspector table, lazily."""
    threshold = GRADE_VALUE[_check_grade(min_grade)] if min_grade is not None else 0
    for object_id, events in events_by_object:
        summary = consensus_of(object_id, events)
        if summary is None:  # every grading of it withdrawn
            continue
        latest, adjudication = standing_gradings(events)
        for event in list(latest.values()) + ([adjudication] if adjudication is not None else []):
            if inspector is not None and event.inspector != inspector:
                continue
            if event.grade_value >= threshold:
                yield event, summary


INSPECTOR_COLUMNS = ("name", "object_id", "source", "inspector", "time", "ra", "dec", "z_fg", "z_bg", "grade",
                     "adjudicated", "agreement", "n_inspectors", "lines_seen", "lines_rejected", "flags",
                     "comment", "model_version", "score", "uid")


def write_inspector_csv(events_by_object: Iterable[tuple[str, Sequence[LabelEvent]]], path: str | Path,
                        min_grade: str | None = None, inspector: str | None = None, name_prefix: str = "SDSS",
                        overwrite: bool = False, batch: int = 1000) -> int:
    """:func:`inspector_table` written as CSV (same file as :func:`write_table` of it), streamed.

    Memory holds ``batch`` rows, not the table: a store of a million events exports in flat memory.
    The file is written to a temporary name and renamed, so a failed export leaves no partial table.
    Returns the number of rows written.
    """
    path = Path(path)
    if table_format(path) != "csv":
        raise ExportError(path, "streamed export writes .csv only")
    if path.exists() and not overwrite:
        raise ExportError(path, "already exists (pass overwrite to replace it)")
    tmp = path.with_name(path.name + ".partial")
    count = 0
    rows = _inspector_rows(events_by_object, min_grade, inspector)
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(INSPECTOR_COLUMNS)
            while True:
                chunk = list(itertools.islice(rows, batch))
                if not chunk:
                    break
                names = _names([(e.ra, e.dec) for e, _ in chunk], name_prefix)
                writer.writerows(_csv_row(name, event, summary) for name, (event, summary) in zip(names, chunk))
                count += len(chunk)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return count


def _csv_row(name: str, event: LabelEvent, summary: Consensus) -> list[str]:
    """One per-inspector row as the CSV writer of :func:`write_table` writes it."""
    def number(value) -> str:
        return "" if value is None else repr(float(value))

    def text(value: str) -> str:
        return neutralise_formula_text(value)

    return [text(name), text(event.object_id), text(event.source), text(event.inspector), text(event.time),
            number(event.ra), number(event.dec), number(event.z_fg), number(event.z_bg), text(event.grade),
            str(bool(event.adjudicated)), repr(float(summary.agreement)), str(int(summary.n_inspectors)),
            text(_words(event.lines_seen)), text(_words(event.lines_rejected)), text(_words(sorted(event.flags))),
            text(event.comment), text(event.model_version or ""), number(event.score), text(event.uid)]


def _check_grade(grade: str) -> str:
    if grade not in GRADE_VALUE:
        raise ValueError(f"grade {grade!r} is not one of {', '.join(GRADES)}")
    return grade


_UNITS = {"ra": "deg", "dec": "deg"}
_DESCRIPTIONS = {
    "name": "IAU-style name (truncated sexagesimal J2000)",
    "ra": "right ascension (ICRS)", "dec": "declination (ICRS)",
    "z_fg": "foreground (deflector) redshift", "z_bg": "background (source) redshift, as confirmed",
    "grade": "none < possible < probable < likely",
    "mean_grade": "mean grade over inspectors, none=0 ... likely=3",
    "agreement": "fraction of inspectors giving the modal grade",
    "n_inspectors": "number of inspectors who graded the object",
    "lines_seen": "background lines confirmed (space-separated line keys)",
}


def _describe(table: Table, consensus: bool) -> None:
    for name, unit in _UNITS.items():
        table[name].unit = unit
    for name, text in _DESCRIPTIONS.items():
        if name in table.colnames:
            table[name].description = text
    table.meta["CASIGLO"] = "consensus target list" if consensus else "labels per inspector"


# ---------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------

def write_table(table: Table, path: str | Path, overwrite: bool = False) -> Path:
    """Write a label table to ``path`` in the format its extension names (see the module docstring).

    Raises
    ------
    ExportError
        Unknown extension, or ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    fmt = table_format(path)
    if path.exists() and not overwrite:
        raise ExportError(path, "already exists (pass overwrite to replace it)")
    out = table.copy(copy_data=True)
    text_columns = [name for name in out.colnames if out[name].dtype.kind == "U"]
    if fmt == "csv":
        for name in text_columns:
            out[name] = _text_column(name, [neutralise_formula_text(str(v)) for v in out[name]])
        out.write(path, format="ascii.csv", overwrite=True)
    elif fmt == "fits":
        for name in text_columns:
            encoded = [str(v).encode("utf-8") for v in out[name]]
            width = max([len(b) for b in encoded] + [1])
            out[name] = np.array(encoded, dtype=f"S{width}")
        out.meta["TXTENC"] = "UTF-8"
        out.write(path, format="fits", overwrite=True)
    else:
        out.write(path, format="ascii.ecsv" if fmt == "ecsv" else fmt, overwrite=True)
    return path


def _protect_quoted_newlines(path: Path, header_comments: bool) -> list[str]:
    """The file's lines, with newlines inside quoted values replaced by :data:`NEWLINE_PLACEHOLDER`.

    astropy's text readers split the file into lines first and drop empty lines and, in ECSV, lines
    starting with ``#`` -- even inside a quoted value -- so a comment with a blank line or a line
    starting with ``#`` would come back changed (or not at all). Python's csv module writes such
    values correctly; this reads them back correctly.
    """
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    n_header = 0
    if header_comments:
        while n_header < len(lines) and lines[n_header].lstrip().startswith("#"):
            n_header += 1
    body = "\n".join(lines[n_header:])
    out, quoted = [], False
    for char in body:
        if char == '"':
            quoted = not quoted  # a doubled quote "" toggles twice: still inside
        elif char == "\n" and quoted:
            char = NEWLINE_PLACEHOLDER
        out.append(char)
    return lines[:n_header] + "".join(out).split("\n")


def read_table(path: str | Path) -> Table:
    """Read a table written by :func:`write_table` back to the same values (any of the 4 formats).

    Text columns come back as ``str`` (missing text as ""), FITS UTF-8 bytes decoded, CSV formula
    neutralisation undone, boolean columns as bool.
    """
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise ExportError(path, "no such file")
    try:
        if fmt == "csv":
            # Text columns stay text (an object id "1234" or a model version "1.2" must not become a number).
            converters = {name: [ascii.convert_numpy(str)] for name in TEXT_COLUMNS}
            table = Table.read(_protect_quoted_newlines(path, header_comments=False), format="ascii.csv",
                               converters=converters)
        elif fmt == "ecsv":
            table = Table.read(_protect_quoted_newlines(path, header_comments=True), format="ascii.ecsv")
        else:
            table = Table.read(path, format=fmt)
    except Exception as exc:  # astropy raises many types for unreadable input
        raise ExportError(path, f"cannot be read as a {fmt} table: {exc}") from exc
    for name in table.colnames:
        column = table[name]
        if column.dtype.kind in "SUO" or name in BOOL_COLUMNS:
            values = column.filled("") if hasattr(column, "filled") and column.dtype.kind in "SU" else column
            texts = [v.decode("utf-8") if isinstance(v, bytes) else ("" if v is np.ma.masked else str(v))
                     for v in values]
            if fmt == "csv":
                texts = [restore_formula_text(t) for t in texts]
            if name in BOOL_COLUMNS:
                table[name] = np.array([t.strip().lower() in ("true", "1", "t") for t in texts], dtype=bool)
            elif name in FLOAT_COLUMNS:  # an all-empty numeric column read as text
                table[name] = _float_column(name, [float(t) if t else None for t in texts])
            else:
                table[name] = _text_column(name, [t.replace(NEWLINE_PLACEHOLDER, "\n") for t in texts])
        elif name in FLOAT_COLUMNS:
            data = np.ma.filled(np.ma.asarray(column).astype(np.float64), np.nan)
            table[name] = MaskedColumn(data, name=name, mask=np.isnan(data))
    return table
