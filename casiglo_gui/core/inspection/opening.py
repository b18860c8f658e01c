"""Opening a queue (Qt-free): expand the paths, sort by score, read the inspector's grades, and read the
first item to show, all in one step that runs off the GUI thread (one worker round trip, not two).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CasigloError
from .loading import DetectorSet, LoadedItem, SpectrumCache, load_item, read_item
from .queue import QueueBuildError, QueueItem, expand_paths, latest_grades, sort_by_score


@dataclass
class OpenedQueue:
    items: list[QueueItem]
    errors: list[QueueBuildError]
    grades: dict[str, str]
    first: LoadedItem | None = None   # the item shown first, already read (None: read it when shown)
    notes: list[str] = field(default_factory=list)


def first_index(items: list[QueueItem], start: str | None) -> int | None:
    """The item shown first: the first whose object id or file name contains ``start``, else the first one;
    None when the queue is empty or nothing matches ``start``."""
    if not items:
        return None
    if not start:
        return 0
    for i, item in enumerate(items):
        if start in item.object_id or start in Path(item.path).name:
            return i
    return None


def open_queue(paths: list[str], store, inspector: str, detectors: DetectorSet | None = None,
               cache: SpectrumCache | None = None, start: str | None = None,
               detect_first: bool = True) -> OpenedQueue:
    """Everything needed to show a new queue; problems with paths are returned, not raised.

    ``detect_first=False``: the first item is only read (``detection_pending``), so it can be drawn before
    the detectors have judged it."""
    items, errors = expand_paths(paths)
    grades = latest_grades(store.events(inspector)) if store is not None else {}
    opened = OpenedQueue(sort_by_score(items), errors, grades)
    index = first_index(opened.items, start)
    if index is not None and detectors is not None:
        try:
            read = load_item if detect_first else read_item
            opened.first = read(opened.items[index], detectors, cache)
        except CasigloError:
            pass  # read again when shown, on the normal path that reports the error
    return opened
