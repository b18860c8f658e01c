"""An inspection session: the queue, what is on show, the inspector's draft and the rules of grading.

Qt-free, so every rule is tested without a window. The window is a thin view: it binds keys to the
session's named actions (:mod:`.actions`), loads items on workers and hands them to :meth:`show_loaded`
or :meth:`show_unreadable`, and redraws when the session calls its listeners with what changed:

- ``"item"``: another item (or the no-spectrum state) is on show;
- ``"redshift"``: the shown redshift or solution changed (markers, stamps, info);
- ``"draft"``: flags, comment, line marks or the selected line changed;
- ``"grades"``: a grade (or an undo) was stored: progress, queue marks;
- ``"queue"``: the queue's items or filter changed.

What a grade records (:meth:`InspectionSession.grading_event`): the redshift on show as the confirmed
z_bg (the detector's best, an alternative, a manual or refit one; none for grade ``none`` or when no
redshift was ever proposed), the *detector's* score and model version (what ranked the object, even
after a refit), the flags, comment and per-line marks. Synthetic objects are stored under
``SYNTHETIC-<id>`` and without sky position, so they never take a real galaxy's IAU name in a target list.
"""
from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import CasigloError
from ..lines import LINE_KEYS
from .loading import LoadedItem
from .opening import first_index
from .queue import InspectionQueue, QueueFilter, QueueItem
from .view import ViewState

SYNTHETIC_PREFIX = "SYNTHETIC-"


class GradeRefused(CasigloError):
    """A grade (or an undo) that cannot be recorded; the message says why, for the status bar."""


def stored_object_id(item: QueueItem, synthetic: bool) -> str:
    return SYNTHETIC_PREFIX + item.label_id if synthetic else item.label_id


def queue_label_id(object_id: str) -> str:
    """The queue's id of a stored object id (synthetic objects are stored with a prefix)."""
    return object_id[len(SYNTHETIC_PREFIX):] if object_id.startswith(SYNTHETIC_PREFIX) else object_id


@dataclass
class Draft:
    """What the inspector has chosen for the item on show, saved with the next grade."""

    flags: set[str] = field(default_factory=set)
    comment: str = ""
    lines: dict[str, bool] = field(default_factory=dict)   # line key -> True seen / False rejected
    selected_line: int = 0


@dataclass(frozen=True)
class UndoEntry:
    queue_index: int
    graded: object          # the LabelEvent stored by the grade
    before: object | None   # the inspector's grading of that object before it, if any


class InspectionSession:
    """State and actions of one inspector going through one queue.

    Parameters
    ----------
    store : LabelStore or None
        Where grades go; None = grading off (every grade is refused with the reason).
    inspector : str
        Name written with every grade.
    store_note : str
        Why there is no store (said when a grade is refused).
    """

    def __init__(self, store, inspector: str, store_note: str = ""):
        self.store = store
        self.inspector = inspector
        self.store_note = store_note or "no label store could be opened"
        self.grades: dict[str, str] = {}      # the one grade cache: queue label id -> latest grade
        self.queue = InspectionQueue([], self.grades)
        self.loaded: LoadedItem | None = None
        self.state: ViewState | None = None
        self.unreadable: str | None = None   # why the item on show could not be read
        self.draft = Draft()
        self.smoothing_half_width = 2
        self._undo: list[UndoEntry] = []
        self._latest: tuple[str, object] | None = None   # (object id, its latest event) of the item on show
        self._listeners: list[Callable[[str], None]] = []

    # --- listening ------------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def _changed(self, what: str) -> None:
        for listener in self._listeners:
            listener(what)

    # --- the queue ------------------------------------------------------------------------------
    def set_items(self, items: list[QueueItem], grades: dict[str, str], queue_filter: QueueFilter | None = None):
        self.grades.clear()
        self.grades.update({queue_label_id(k): v for k, v in grades.items()})
        self.queue = InspectionQueue(items, self.grades)
        if queue_filter is not None:
            self.queue.set_filter(queue_filter)
        self.loaded = self.state = self.unreadable = None
        self._undo.clear()
        self._changed("queue")

    def set_filter(self, queue_filter: QueueFilter) -> None:
        self.queue.set_filter(queue_filter)
        self._changed("queue")

    def go_next(self) -> QueueItem | None:
        return self.queue.next()

    def go_previous(self) -> QueueItem | None:
        return self.queue.previous()

    def go_next_ungraded(self) -> QueueItem | None:
        return self.queue.next_unlabelled()

    def go_first(self) -> QueueItem | None:
        return self.queue.go_to(self.queue.visible[0]) if self.queue.visible else None

    def go_last(self) -> QueueItem | None:
        return self.queue.go_to(self.queue.visible[-1]) if self.queue.visible else None

    def go_to_text(self, text: str) -> QueueItem | None:
        """The first item whose object id or file name contains ``text`` (None when none does)."""
        index = first_index(self.queue.items, text)
        return self.queue.go_to(index) if index is not None else None

    # --- what is on show ------------------------------------------------------------------------
    def show_loaded(self, loaded: LoadedItem) -> ViewState:
        self._latest = None   # the store may have changed since this item was last on show (another window)
        self.loaded = loaded
        self.unreadable = None
        self.state = ViewState(loaded.spectrum, loaded.gridded, loaded.detection,
                               smoothing_half_width=self.smoothing_half_width)
        self._load_draft()
        self._changed("item")
        return self.state

    def show_verdict(self, judged: LoadedItem) -> bool:
        """The detectors' verdict on the item on show has arrived (it was drawn while pending): shown,
        keeping the draft. False (nothing changed) when ``judged`` is not the item on show."""
        if self.loaded is None or judged.item is not self.loaded.item or not self.loaded.detection_pending:
            return False
        self.loaded = judged
        self.state = ViewState(judged.spectrum, judged.gridded, judged.detection,
                               smoothing_half_width=self.smoothing_half_width)
        self._changed("item")
        return True

    def show_unreadable(self, item: QueueItem, reason: str) -> None:
        """The item on show could not be read: nothing of the previous item may stay on show."""
        self.loaded = LoadedItem(item=item, spectrum=None, gridded=None, detection=None)
        self.state = None
        self.unreadable = reason
        self.draft = Draft()
        self._changed("item")

    @property
    def synthetic(self) -> bool:
        return self.loaded is not None and self.loaded.synthetic is not None

    def shown_object_id(self) -> str | None:
        if self.loaded is None:
            return None
        return stored_object_id(self.loaded.item, self.synthetic)

    def latest_event(self):
        """The inspector's latest grading of the item on show (None when ungraded or no store); read from
        the store once per item and after each grade or undo."""
        object_id = self.shown_object_id()
        if object_id is None or self.store is None:
            return None
        if self._latest is None or self._latest[0] != object_id:
            self._latest = (object_id, self.store.latest(object_id, self.inspector))
        return self._latest[1]

    def _load_draft(self) -> None:
        event = self.latest_event()
        self.draft = Draft() if event is None else Draft(set(event.flags), event.comment, dict(event.lines))
        self._changed("draft")

    # --- the draft ------------------------------------------------------------------------------
    def toggle_flag(self, flag: str) -> None:
        self.draft.flags ^= {flag}
        self._changed("draft")

    def set_comment(self, text: str) -> None:
        self.draft.comment = text
        self._changed("draft")

    def select_line(self, step: int) -> str:
        self.draft.selected_line = (self.draft.selected_line + step) % len(LINE_KEYS)
        self._changed("draft")
        return LINE_KEYS[self.draft.selected_line]

    def choose_line(self, index: int) -> None:
        self.draft.selected_line = index % len(LINE_KEYS)
        self._changed("draft")

    def mark_line(self, seen: bool) -> None:
        """Mark the selected line as seen (True) or rejected (False); the same mark again removes it."""
        key = LINE_KEYS[self.draft.selected_line]
        if self.draft.lines.get(key) is seen:
            del self.draft.lines[key]
        else:
            self.draft.lines[key] = seen
        self._changed("draft")

    # --- redshift -------------------------------------------------------------------------------
    def nudge(self, pixels: float) -> None:
        if self.state is not None:
            self.state.nudge(pixels)
            self._changed("redshift")

    def set_redshift(self, z: float) -> None:
        if self.state is not None:
            self.state.set_z(z, "manual")
            self._changed("redshift")

    def reset_redshift(self) -> None:
        if self.state is not None:
            self.state.reset_z()
            self._changed("redshift")

    def cycle_solution(self) -> int:
        """Show the detector's next solution; returns its index in ``state.labelled_solutions()`` (-1: none)."""
        if self.state is None:
            return -1
        index = self.state.cycle_solution()
        self._changed("redshift")
        return index

    def apply_refit(self, refit) -> None:
        if self.state is not None:
            self.state.apply_refit(refit)
            self._changed("redshift")

    def set_smoothing(self, half_width: int) -> int:
        self.smoothing_half_width = max(0, min(half_width, 25))
        if self.state is not None:
            self.state.smoothing_half_width = self.smoothing_half_width
        return self.smoothing_half_width

    # --- grading --------------------------------------------------------------------------------
    def _check_can_grade(self) -> None:
        if self.store is None:
            raise GradeRefused(f"grading is off: {self.store_note}")
        if self.loaded is None:
            raise GradeRefused("nothing on show to grade")
        if self.loaded.item is not self.queue.current:
            # A fast second key press while the next spectrum is still being read must not grade the
            # previous one again.
            name = self.queue.current.display_name if self.queue.current is not None else "the next item"
            raise GradeRefused(f"{name} is still being read: not graded yet")
        if self.state is None:
            raise GradeRefused(f"{self.loaded.item.display_name}: not graded: the spectrum could not be read "
                               f"({self.unreadable})")
        if self.loaded.detection_pending:
            # A grade records the verdict on show (score, z_bg, model version): none is on show yet.
            raise GradeRefused(f"{self.loaded.item.display_name}: not graded yet: the detector is still "
                               "judging it (a moment)")

    def confirmed_z(self, grade: str) -> float | None:
        """The z_bg a grade confirms: the one on show, unless the grade is ``none`` or nothing was proposed."""
        s = self.state
        if grade == "none" or s is None or s.z_origin == "none" or not math.isfinite(s.z):
            return None
        return s.z

    def grade_record_summary(self) -> str:
        """One line saying what a grade given now records (shown in the info panel)."""
        if self.state is None:
            return "nothing: no spectrum on show"
        if self.loaded is not None and self.loaded.detection_pending:
            return "nothing yet: the detector is still judging it"
        s, d = self.state, self.state.detection
        z = self.confirmed_z("likely")
        parts = [f"z_bg {z:.5f} ({s.z_origin})" if z is not None else "no z_bg (none proposed; move the markers)"]
        if d is not None and math.isfinite(d.score):
            parts.append(f"score {d.score:.3f} of {d.model_version or 'the physics search'}")
        if self.synthetic:
            parts.append("as SYNTHETIC, no sky position")
        return " · ".join(parts)

    def grading_event(self, grade: str):
        """The LabelEvent a grade of the item on show records (see the module docstring for the rules)."""
        from ..labels import LabelEvent

        self._check_can_grade()
        s, d, item = self.state.spectrum, self.state.detection, self.loaded.item
        has_position = not self.synthetic and all(v is not None and math.isfinite(v) for v in (s.ra, s.dec))
        return LabelEvent(
            object_id=stored_object_id(item, self.synthetic), grade=grade, inspector=self.inspector,
            source=s.source, z_bg=self.confirmed_z(grade), lines=dict(self.draft.lines),
            flags=frozenset(self.draft.flags), comment=self.draft.comment,
            model_version=(d.model_version or None) if d is not None else None,
            score=float(d.score) if d is not None and math.isfinite(d.score) else None,
            ra=s.ra if has_position else None, dec=s.dec if has_position else None,
            z_fg=s.z_fg if math.isfinite(s.z_fg) else None,
        )

    def grade(self, grade: str):
        """Store a grade of the item on show; returns the stored event.

        Raises
        ------
        GradeRefused
            No store, nothing readable on show, or the store refused the event (nothing was stored).
        """
        self._check_can_grade()
        before = self.latest_event()
        try:
            stored = self.store.add_event(self.grading_event(grade))
        except GradeRefused:
            raise
        except CasigloError as exc:  # a value the store refuses (e.g. a control character in the comment)
            raise GradeRefused(f"{self.loaded.item.label_id}: grade NOT saved: {exc}") from exc
        index = self.queue.items.index(self.loaded.item)
        self.queue.record_grade(index, grade)
        self._latest = (stored.object_id, stored)
        self._undo.append(UndoEntry(index, stored, before))
        self._changed("grades")
        return stored

    def advance_after_grade(self) -> QueueItem | None:
        return self.queue.advance_after_grade()

    def undo(self):
        """Undo this session's last grade and go back to that item; returns the stored event.

        The store is append-only, so the undo is a new event: one restating the grading it replaced, or,
        when it was the object's first grading by this inspector, a withdrawal (the object is ungraded
        again: offered by "ungraded only", absent from exports and training).

        Raises
        ------
        GradeRefused
            Nothing to undo, no store, or the store refused the event (the grade then still stands).
        """
        if self.store is None:
            raise GradeRefused(f"grading is off: {self.store_note}")
        if not self._undo:
            raise GradeRefused("nothing to undo in this session")
        from ..labels.events import utc_now_iso, withdrawal_of

        entry = self._undo[-1]
        self.queue.go_to(entry.queue_index)
        if entry.before is None:
            undoing = withdrawal_of(entry.graded)
        else:
            undoing = replace(entry.before, time=utc_now_iso(), uid=uuid.uuid4().hex, event_id=None,
                              source=entry.graded.source)
        try:
            stored = self.store.add_event(undoing)
        except CasigloError as exc:
            raise GradeRefused(f"{entry.graded.object_id}: undo NOT saved: {exc}") from exc
        self._undo.pop()
        self._latest = None
        self.queue.record_grade(entry.queue_index, None if stored.withdraws else stored.grade)
        self.queue.refresh()                    # an ungraded item is visible again under "ungraded only"
        self.queue.go_to(entry.queue_index)     # and the undone item is on show, visible or not
        self._changed("grades")
        return stored
