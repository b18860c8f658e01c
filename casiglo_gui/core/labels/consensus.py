"""Consensus of several inspectors on one object, derived from the event log.

Rules (documented here because target lists and retraining depend on them):

- Each inspector counts once, with their latest grading (by grading time, then storage order); a withdrawn
  grading does not count (:func:`~.events.standing_gradings`), and an object with nothing standing has no
  consensus.
- ``mean_grade``: mean of the grades as numbers (none=0, possible=1, probable=2, likely=3).
- ``agreement``: the fraction of inspectors who gave the modal grade (1.0 when all agree; 0.5 for a
  2-way split). Ties for the mode go to the lower grade (the conservative reading).
- ``needs_adjudication``: two or more inspectors whose grades span two or more steps (e.g. ``none`` vs
  ``probable``), and no adjudication yet.
- ``grade``: the adjudicated grade if there is an adjudication (the latest one wins); otherwise the
  grade nearest the mean, halves rounded down (conservative: ``possible`` + ``probable`` -> ``possible``).
- ``z_bg``: the adjudication's z_bg if it gives one; otherwise the median of the confirmed z_bg of the
  inspectors who graded above ``none``.
- ``lines_seen``: lines more inspectors marked seen than rejected (among those who graded above
  ``none``), or the adjudication's lines if it states any.
- ``flags``: union of the current flags; ``comments``: every non-empty current comment (adjudication
  last), as ``inspector: text``, joined by ``" | "``.
- ``ra``, ``dec``, ``z_fg``, ``source``, ``model_version``, ``score``: from the latest standing event that has
  them; ``last_time``: the time of the latest standing event.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from collections import Counter
from collections.abc import Sequence

from casiglo_gui.core.labels.events import GRADE_VALUE, GRADES, LabelEvent, standing_gradings
from casiglo_gui.core.lines import LINE_KEYS

ADJUDICATION_SPREAD = 2  # grades this many steps apart call for an adjudicator


@dataclasses.dataclass(frozen=True)
class Consensus:
    """The derived view of one object across inspectors (see the module docstring for the rules)."""

    object_id: str
    grade: str
    mean_grade: float
    agreement: float
    n_inspectors: int
    needs_adjudication: bool
    adjudicated: bool
    z_bg: float | None
    lines_seen: tuple[str, ...]
    flags: frozenset[str]
    comments: str
    inspectors: tuple[str, ...]
    grades: dict[str, str]
    source: str
    ra: float | None
    dec: float | None
    z_fg: float | None
    model_version: str | None
    score: float | None
    last_time: str

    @property
    def grade_value(self) -> int:
        """The consensus grade as a number (none=0 ... likely=3)."""
        return GRADE_VALUE[self.grade]


def _round_half_down(value: float) -> int:
    return int(math.ceil(value - 0.5))


def _latest_with(events: Sequence[LabelEvent], name: str):
    for event in reversed(events):
        value = getattr(event, name)
        if value not in (None, ""):
            return value
    return None


def consensus_of(object_id: str, events: Sequence[LabelEvent]) -> Consensus | None:
    """Consensus of one object from its events (oldest first, as :meth:`LabelStore.history` gives).

    Parameters
    ----------
    object_id : str
    events : sequence of LabelEvent
        Every event of the object, in time order. Must not be empty.

    Returns
    -------
    Consensus, or None when every grading of the object was withdrawn.
    """
    if not events:
        raise ValueError(f"no events for {object_id!r}")
    latest, adjudication = standing_gradings(events)
    if not latest and adjudication is None:
        return None
    current = list(latest.values())
    values = [e.grade_value for e in current]
    n = len(current)
    if n:
        mean = sum(values) / n
        counts = Counter(values)
        top = max(counts.values())
        modal_count = counts[min(v for v, c in counts.items() if c == top)]
        agreement = modal_count / n
        spread = max(values) - min(values)
    else:  # only an adjudication
        mean, agreement, spread = float(adjudication.grade_value), 1.0, 0
    if adjudication is not None:
        grade = adjudication.grade
    else:
        grade = GRADES[_round_half_down(mean)]

    positive = [e for e in current if e.grade_value > 0]
    if adjudication is not None and adjudication.z_bg is not None:
        z_bg = adjudication.z_bg
    else:
        z_values = [e.z_bg for e in positive if e.z_bg is not None]
        z_bg = float(statistics.median(z_values)) if z_values else None  # Python floats are float64

    if adjudication is not None and adjudication.lines:
        lines_seen = adjudication.lines_seen
    else:
        votes = Counter()
        for e in positive:
            for key, seen in e.lines.items():
                votes[key] += 1 if seen else -1
        lines_seen = tuple(key for key in LINE_KEYS if votes[key] > 0)

    ordered = current + ([adjudication] if adjudication is not None else [])
    standing = sorted(ordered, key=lambda e: (e.time, e.event_id or 0))
    flags = frozenset().union(*(e.flags for e in ordered))
    comments = " | ".join(f"{e.inspector}: {e.comment}" for e in ordered if e.comment)
    return Consensus(
        object_id=object_id, grade=grade, mean_grade=mean, agreement=float(agreement), n_inspectors=n,
        needs_adjudication=adjudication is None and n >= 2 and spread >= ADJUDICATION_SPREAD,
        adjudicated=adjudication is not None, z_bg=z_bg, lines_seen=lines_seen, flags=flags,
        comments=comments, inspectors=tuple(sorted(latest)),
        grades={name: latest[name].grade for name in sorted(latest)},
        source=_latest_with(standing, "source") or "", ra=_latest_with(standing, "ra"),
        dec=_latest_with(standing, "dec"), z_fg=_latest_with(standing, "z_fg"),
        model_version=_latest_with(standing, "model_version"), score=_latest_with(standing, "score"),
        last_time=standing[-1].time,
    )
