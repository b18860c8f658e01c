"""The inspection queue: what the inspector goes through, in which order, and how far they got.

Qt-free so it is tested without a window. A queue is built from files, folders (recursive) and
``casiglo scan`` tables; scan tables bring a score per row and the queue is sorted by it (highest
first). Filters (unlabelled only, grades, score range) choose which items are visited; the current
position always stays on a visible item when there is one.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CasigloError
from ..labels.events import standing_by
from ..lines import LINE_KEYS

SPECTRUM_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fts")
# = scan.tableread.TABLE_SUFFIXES (tested); that module is imported only when a table is read, since
# importing the scan package costs the app's launch a quarter of a second.
TABLE_SUFFIXES = (".csv", ".parquet")
OPEN_DIALOG_PATTERNS = ("Spectra and scan tables (*.fits *.fits.gz *.fit *.fts *.csv *.parquet);;"
                        "All files (*)")


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


def _parse_index(object_id: str) -> int:
    """``name[3]`` -> 3: the scan's id of the 4th spectrum of a multi-spectrum file; 0 otherwise."""
    match = re.search(r"\[(\d+)\]$", object_id)
    return int(match.group(1)) if match else 0


def read_scan_table(path: str | Path) -> list[QueueItem]:
    """Items of a ``casiglo scan`` table (CSV or Parquet), in file order (rows with status other than ``ok``
    are kept), read by the scan's own table reader.

    Relative ``source`` paths are resolved against the current folder first, then the table's folder.

    Raises
    ------
    QueueBuildError
        When the file cannot be read or lacks the contract columns.
    """
    from ..scan.tableread import ScanTableError, read_scan_frame

    path = Path(path)
    try:
        frame = read_scan_frame(path)
    except ScanTableError as exc:
        raise QueueBuildError(path, exc.reason) from None
    items = []
    for values in frame.to_dict("records"):
        source = Path(values["source"])
        if not source.is_absolute() and not source.exists():
            candidate = path.parent / source
            if candidate.exists():
                source = candidate
        object_id = values.get("object_id") or ""
        items.append(QueueItem(path=str(source), index=_parse_index(object_id), object_id=object_id,
                               score=float(values["score"]), spaxel=_parse_spaxel(object_id), scan=values))
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
    grades : dict of label_id -> grade, optional
        The session's one grade cache (the inspector's latest grade per object); the queue reads it and
        :meth:`record_grade` writes it, so the queue, its filters and the window never disagree.
    """

    def __init__(self, items: list[QueueItem], grades: dict[str, str] | None = None):
        self.items = list(items)
        self.grades: dict[str, str] = grades if grades is not None else {}
        self.filter = QueueFilter()
        self.position = 0 if self.items else -1
        self._visible: list[int] = list(range(len(self.items)))

    # --- grades -------------------------------------------------------------------------------
    def grade(self, index: int) -> str | None:
        return self.grades.get(self.items[index].label_id)

    def record_grade(self, index: int, grade: str | None) -> None:
        """Remember a grade just written to the store (None = ungraded again, after an undo)."""
        label_id = self.items[index].label_id
        if grade is None:
            self.grades.pop(label_id, None)
        else:
            self.grades[label_id] = grade

    def progress(self) -> tuple[int, int]:
        """(graded, total) over the whole queue."""
        graded = sum(1 for item in self.items if item.label_id in self.grades)
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

    def advance_after_grade(self) -> QueueItem | None:
        """Move on after the current item was graded: to the item that was next *before* the grade, even when
        the grade makes the current item leave the filter (which would otherwise skip one); None at the end."""
        here, target = self.position, self._step(+1)
        self.refresh()
        if target is None or target not in self._visible:
            self.position = here  # stay on the graded item: the end of the queue is said, not jumped past
            return None
        self.position = target
        return self.current

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
    (they are not this inspector's grading); a withdrawn grading leaves its object ungraded.
    """
    gradings = sorted((e for e in events if not e.adjudicated), key=lambda e: (e.time, e.event_id or 0))
    return {object_id: event.grade for object_id, event in standing_by(gradings, key=lambda e: e.object_id).items()}


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
