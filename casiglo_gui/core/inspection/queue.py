"""The inspection queue: what the inspector goes through, in which order, and how far they got.

Qt-free so it is tested without a window. A queue is built from files, folders (recursive) and
``casiglo scan`` tables; scan tables bring a score per row and the queue is sorted by it (highest
first). Filters (unlabelled only, grades, score range) choose which items are visited; the current
position always stays on a visible item when there is one.
"""
from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CasigloError
from ..lines import LINE_KEYS

SPECTRUM_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fts")
TABLE_SUFFIXES = (".csv",)
SCAN_REQUIRED_COLUMNS = ("source", "object_id", "score")


class QueueBuildError(CasigloError):
    """A path given to the queue could not be used (missing, or a table that is not a scan table)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class QueueItem:
    """One thing to inspect: a spectrum in a file (or a spaxel of a cube), with what a scan said of it.

    Attributes
    ----------
    path : str
        File to read.
    index : int
        Which spectrum of the file (multi-spectrum files); 0 for spec files.
    object_id : str
        Known id (from a scan table) or "" until the file has been read.
    score : float
        Scan score in [0, 1]; NaN when the item did not come from a scan table.
    spaxel : (int, int) or None
        Spaxel of a MaNGA cube named by a scan row (``PLATE-IFU/x,y``).
    scan : dict
        The scan row's values (z_bg, z_bg_err, p_<key>, snr_<key>, ...), floats where numeric.
    """

    path: str
    index: int = 0
    object_id: str = ""
    score: float = float("nan")
    spaxel: tuple[int, int] | None = None
    scan: dict = field(default_factory=dict)

    @property
    def label_id(self) -> str:
        """The id grades are stored under: the object id, else the file name."""
        return self.object_id or Path(self.path).name

    @property
    def display_name(self) -> str:
        name = self.object_id or Path(self.path).name
        if self.index and not self.object_id:
            name += f" #{self.index}"
        return name


def _is_spectrum_file(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in SPECTRUM_SUFFIXES)


def _is_table(path: Path) -> bool:
    return path.name.lower().endswith(TABLE_SUFFIXES)


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def _parse_spaxel(object_id: str) -> tuple[int, int] | None:
    """``PLATE-IFU/x,y`` -> (x, y); None for ids without a spaxel part."""
    if "/" not in object_id:
        return None
    tail = object_id.rsplit("/", 1)[1]
    try:
        x_text, y_text = tail.split(",")
        return int(x_text), int(y_text)
    except ValueError:
        return None


def read_scan_table(path: str | Path) -> list[QueueItem]:
    """Items of a ``casiglo scan`` CSV table, in file order (rows with status other than ``ok`` are kept).

    Relative ``source`` paths are resolved against the current folder first, then the table's folder.

    Raises
    ------
    QueueBuildError
        When the file cannot be read or lacks the contract columns.
    """
    path = Path(path)
    try:
        # surrogateescape: a source path that is not UTF-8 (the scan writes file names byte for byte)
        # stays that path instead of failing the whole table.
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in SCAN_REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise QueueBuildError(path, f"not a scan table: missing column(s) {', '.join(missing)}")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise QueueBuildError(path, f"cannot read table ({exc})") from None
    items = []
    for row in rows:
        source = Path(row["source"])
        if not source.is_absolute() and not source.exists():
            candidate = path.parent / source
            if candidate.exists():
                source = candidate
        values: dict = {}
        for key, text in row.items():
            if key in ("source", "object_id", "status"):
                values[key] = text
            else:
                values[key] = _number(text)
        object_id = row.get("object_id") or ""
        items.append(QueueItem(path=str(source), object_id=object_id, score=_number(row["score"]),
                               spaxel=_parse_spaxel(object_id), scan=values))
    return items


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[QueueItem], list[QueueBuildError]]:
    """Queue items for files, folders (recursive, sorted) and scan tables; problems are returned, not raised."""
    items: list[QueueItem] = []
    errors: list[QueueBuildError] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            errors.append(QueueBuildError(path, "no such file or folder"))
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and (_is_spectrum_file(p) or _is_table(p)))
            if not found:
                errors.append(QueueBuildError(path, "folder holds no spectrum files (*.fits, *.fits.gz) or tables"))
            sub_items, sub_errors = expand_paths(found)
            items.extend(sub_items)
            errors.extend(sub_errors)
        elif _is_table(path):
            try:
                items.extend(read_scan_table(path))
            except QueueBuildError as exc:
                errors.append(exc)
        else:
            items.append(QueueItem(path=str(path)))
    return items, errors


def sort_by_score(items: list[QueueItem]) -> list[QueueItem]:
    """Highest score first; items without a score keep their order after the scored ones (stable)."""
    return sorted(items, key=lambda it: (0, -it.score) if math.isfinite(it.score) else (1, 0.0))


@dataclass
class QueueFilter:
    """Which items are visited. ``grades`` holds grade names ('none'...'likely') and/or 'ungraded'."""

    unlabelled_only: bool = False
    grades: frozenset[str] | None = None
    score_min: float | None = None
    score_max: float | None = None

    def accepts(self, item: QueueItem, grade: str | None) -> bool:
        if self.unlabelled_only and grade is not None:
            return False
        if self.grades is not None and (grade or "ungraded") not in self.grades:
            return False
        if self.score_min is not None or self.score_max is not None:
            if not math.isfinite(item.score):
                return False
            if self.score_min is not None and item.score < self.score_min:
                return False
            if self.score_max is not None and item.score > self.score_max:
                return False
        return True

    @property
    def active(self) -> bool:
        return self.unlabelled_only or self.grades is not None or self.score_min is not None \
            or self.score_max is not None


class InspectionQueue:
    """Items, the current position, filters and grading progress.

    Parameters
    ----------
    items : list of QueueItem
        Already in the order to visit (see :func:`sort_by_score`).
    grade_of : callable(label_id) -> str or None
        The current grade of an object (from the label store) or None when ungraded.
    """

    def __init__(self, items: list[QueueItem], grade_of: Callable[[str], str | None] | None = None):
        self.items = list(items)
        self._grade_of = grade_of or (lambda _id: None)
        self._grades: dict[str, str | None] = {}
        self.filter = QueueFilter()
        self.position = 0 if self.items else -1
        self._visible: list[int] = list(range(len(self.items)))

    # --- grades -------------------------------------------------------------------------------
    def grade(self, index: int) -> str | None:
        label_id = self.items[index].label_id
        if label_id not in self._grades:
            self._grades[label_id] = self._grade_of(label_id)
        return self._grades[label_id]

    def record_grade(self, index: int, grade: str) -> None:
        """Remember a grade just written to the store (keeps progress and filters current)."""
        self._grades[self.items[index].label_id] = grade

    def forget_grades(self) -> None:
        """Re-read every grade from the store on next use (after the store changed elsewhere)."""
        self._grades.clear()

    def progress(self) -> tuple[int, int]:
        """(graded, total) over the whole queue."""
        graded = sum(1 for i in range(len(self.items)) if self.grade(i) is not None)
        return graded, len(self.items)

    # --- filtering -----------------------------------------------------------------------------
    def set_filter(self, queue_filter: QueueFilter) -> None:
        self.filter = queue_filter
        self.refresh()

    def refresh(self) -> None:
        """Recompute the visible items; keep the position on a visible item (the next one after it)."""
        self._visible = [i for i, item in enumerate(self.items) if self.filter.accepts(item, self.grade(i))]
        if not self._visible:
            return
        if self.position not in self._visible:
            after = [i for i in self._visible if i > self.position]
            self.position = after[0] if after else self._visible[-1]

    @property
    def visible(self) -> list[int]:
        return list(self._visible)

    # --- movement -------------------------------------------------------------------------------
    @property
    def current(self) -> QueueItem | None:
        return self.items[self.position] if 0 <= self.position < len(self.items) else None

    def go_to(self, index: int) -> QueueItem | None:
        if 0 <= index < len(self.items):
            self.position = index
        return self.current

    def _step(self, direction: int) -> int | None:
        later = [i for i in self._visible if (i - self.position) * direction > 0]
        if not later:
            return None
        return min(later) if direction > 0 else max(later)

    def next(self) -> QueueItem | None:
        """Move to the next visible item; stay at the end (returns None) when there is none."""
        target = self._step(+1)
        if target is None:
            return None
        self.position = target
        return self.current

    def previous(self) -> QueueItem | None:
        target = self._step(-1)
        if target is None:
            return None
        self.position = target
        return self.current

    def next_unlabelled(self) -> QueueItem | None:
        """The next ungraded visible item after the current one, wrapping around; None when all are graded."""
        n = len(self.items)
        for k in range(1, n + 1):
            i = (self.position + k) % n
            if i in self._visible and self.grade(i) is None:
                self.position = i
                return self.current
        return None

    def insert_siblings(self, index: int, count: int) -> None:
        """After reading a multi-spectrum file at ``index``, add its spectra 1..count-1 right after it."""
        item = self.items[index]
        if count <= 1 or item.index != 0 or any(it.path == item.path and it.index > 0 for it in self.items):
            return
        siblings = [QueueItem(path=item.path, index=k, score=item.score) for k in range(1, count)]
        self.items[index + 1:index + 1] = siblings
        if self.position > index:
            self.position += len(siblings)
        self.refresh()

    def __len__(self) -> int:
        return len(self.items)


def latest_grades(events) -> dict[str, str]:
    """``{object_id: grade}`` of one inspector's latest grading per object, from label-store events.

    Events are ordered by (time, event_id) as the store orders history; adjudications are skipped
    (they are not this inspector's grading).
    """
    latest: dict[str, str] = {}
    for event in sorted(events, key=lambda e: (e.time, e.event_id or 0)):
        if not event.adjudicated:
            latest[event.object_id] = event.grade
    return latest


def scan_line_arrays(scan: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(probability, snr) arrays over the 12 lines from a scan row; None when the row has no p_ columns."""
    if not any(f"p_{key}" in scan for key in LINE_KEYS):
        return None
    prob = np.array([scan.get(f"p_{key}", np.nan) for key in LINE_KEYS], dtype=np.float64)
    snr = np.array([scan.get(f"snr_{key}", np.nan) for key in LINE_KEYS], dtype=np.float64)
    return prob, snr


def resolve_user_path(text: str) -> str:
    """Expand ``~`` and make a path absolute (for recent-file lists)."""
    return os.path.abspath(os.path.expanduser(text))
