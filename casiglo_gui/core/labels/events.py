"""One grading as an immutable event: the unit the label store appends and never changes.

Vocabulary (SILO's grades, in increasing confidence that the object is a lens):
``none`` (0), ``possible`` (1), ``probable`` (2), ``likely`` (3).

A :class:`LabelEvent` records who graded which object when, the grade, the background redshift as the
inspector confirmed it (float64, or None when not confirmed), per-line confirmations over the 12
contract lines (``True`` = seen, ``False`` = rejected, absent = not stated), quality flags, a free-text
comment, the model version and score the inspector was shown, and the coordinates needed for a target
list. An *adjudication* event (``adjudicated=True``) is an expert's final word on an object and wins
over the inspectors' consensus.

Two kinds of event (:data:`EVENT_KINDS`): a ``grading`` states a grade; a ``withdrawal`` takes back the
inspector's standing grading of the object (an undo of a first grade), so that inspector has no grading
of it from then on, as if never graded, until a later grading. A withdrawal carries the fields of the
grading it withdraws (its ``grade`` names the grade taken back), so the log says what was withdrawn.
:func:`standing_gradings` is the one rule every reader applies.

Normalisation done here (so that every export format round-trips the same text): comments are
stripped of leading/trailing whitespace, ``\\r\\n`` and ``\\r`` become ``\\n``, and control characters
other than newline and tab are refused (XML, hence VOTable, cannot carry them).
"""
from __future__ import annotations

import dataclasses
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from casiglo_gui.core.errors import CasigloError
from casiglo_gui.core.lines import LINE_KEYS

GRADES: tuple[str, ...] = ("none", "possible", "probable", "likely")
GRADE_VALUE: dict[str, int] = {grade: i for i, grade in enumerate(GRADES)}

GRADING = "grading"
WITHDRAWAL = "withdrawal"
EVENT_KINDS: tuple[str, ...] = (GRADING, WITHDRAWAL)

FLAGS: tuple[str, ...] = (
    "sky_residual",          # the "line" is a sky-subtraction residual
    "bad_foreground_model",  # the foreground model is wrong, so the residual is not trustworthy
    "foreground_emission",   # emission of the foreground galaxy itself at z_fg
    "cosmic_ray",
    "low_snr",
    "artefact",              # any other instrumental artefact (bad column, dichroic edge...)
    "other",                 # explained in the comment
)

# Control characters (XML, hence VOTable, cannot carry them) and U+E000 (a private-use character the
# CSV/ECSV reader uses internally for newlines inside quoted values).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ue000]")


class LabelValueError(CasigloError, ValueError):
    """A label event (or an imported row) holds a value outside the vocabulary or of the wrong type."""


def utc_now_iso() -> str:
    """The current time as the store writes it: ISO 8601, UTC, microseconds, ``Z`` suffix."""
    return format_time(datetime.now(timezone.utc))


def format_time(value: datetime | str) -> str:
    """Normalise a time to ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (sortable as text).

    Parameters
    ----------
    value : datetime or str
        An aware datetime, or an ISO 8601 string. Naive values (no offset) are taken as UTC;
        a bare date means midnight UTC.

    Raises
    ------
    LabelValueError
        When the string is not ISO 8601.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise LabelValueError(f"time {value!r} is not ISO 8601 (e.g. 2024-05-01T12:30:00Z)") from None
    if not isinstance(value, datetime):
        raise LabelValueError(f"time must be a datetime or an ISO 8601 string, not {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_comment(text: str | None) -> str:
    """Comment text as stored: newlines unified, outer whitespace stripped, control characters refused."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise LabelValueError(f"comment must be text, not {type(text).__name__}")
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    bad = _CONTROL.search(text)
    if bad:
        raise LabelValueError(f"comment holds the control character {bad.group()!r}")
    return text


def _optional_float(name: str, value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LabelValueError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise LabelValueError(f"{name} must be finite, not {value!r}")
    return number


@dataclasses.dataclass(frozen=True)
class LabelEvent:
    """One grading of one object by one inspector (or one adjudication). Immutable.

    Parameters
    ----------
    object_id : str
        The object's id as the scan table / reader gives it (``Spectrum.object_id``).
    grade : str
        One of :data:`GRADES`.
    inspector : str
        Who graded (free text, non-empty; e.g. a login or initials).
    source : str
        The file the spectrum came from (may be empty for imported gradings).
    time : str
        UTC ISO 8601 (see :func:`format_time`); defaults to now.
    z_bg : float or None
        Background redshift as confirmed by the inspector (float64); None when not confirmed.
    lines : mapping of str to bool
        Per-line confirmations, keys from ``LINE_KEYS``: True = seen, False = rejected.
    flags : iterable of str
        Quality flags from :data:`FLAGS`.
    comment : str
        Free text (see the module docstring for normalisation).
    model_version, score : str or None, float or None
        The model version and score the inspector was shown.
    ra, dec, z_fg : float or None
        Position (degrees, ICRS) and foreground redshift, for target lists.
    adjudicated : bool
        True for an adjudication: the final grade for the object, winning over the consensus.
    kind : str
        ``grading`` (default) or ``withdrawal`` (see the module docstring).
    uid : str
        A unique id (uuid4 hex) so that the same event is never stored twice, even across databases.
    event_id : int or None
        The store's sequence number; None until stored.
    """

    object_id: str
    grade: str
    inspector: str
    source: str = ""
    time: str = dataclasses.field(default_factory=utc_now_iso)
    z_bg: float | None = None
    lines: Mapping[str, bool] = dataclasses.field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    comment: str = ""
    model_version: str | None = None
    score: float | None = None
    ra: float | None = None
    dec: float | None = None
    z_fg: float | None = None
    adjudicated: bool = False
    kind: str = GRADING
    uid: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    event_id: int | None = None

    def __post_init__(self):
        set_ = object.__setattr__  # frozen dataclass: normalise in place once, at construction
        for name in ("object_id", "inspector"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise LabelValueError(f"{name} must be non-empty text, not {value!r}")
            if _CONTROL.search(value) or "\n" in value:
                raise LabelValueError(f"{name} {value!r} holds control characters")
            set_(self, name, value.strip())
        if not isinstance(self.source, str):
            raise LabelValueError(f"source must be text, not {self.source!r}")
        set_(self, "source", self.source.strip())
        grade = self.grade.strip().lower() if isinstance(self.grade, str) else self.grade
        if grade not in GRADE_VALUE:
            raise LabelValueError(f"grade {self.grade!r} is not one of {', '.join(GRADES)}")
        set_(self, "grade", grade)
        set_(self, "time", format_time(self.time))
        for name in ("z_bg", "score", "ra", "dec", "z_fg"):
            set_(self, name, _optional_float(name, getattr(self, name)))
        # Out-of-range values are refused, never wrapped or clipped: a label must say what was given.
        if self.dec is not None and not -90.0 <= self.dec <= 90.0:
            raise LabelValueError(f"dec {self.dec!r} is outside [-90, 90] degrees")
        if self.ra is not None and not 0.0 <= self.ra < 360.0:
            raise LabelValueError(f"ra {self.ra!r} is outside [0, 360) degrees")
        for name in ("z_bg", "z_fg"):
            value = getattr(self, name)
            if value is not None and not value > -1.0:
                raise LabelValueError(f"{name} {value!r} is not a redshift (1 + z must be positive)")
        if self.score is not None and not 0.0 <= self.score <= 1.0:
            raise LabelValueError(f"score {self.score!r} is outside [0, 1]")
        if (self.ra is None) != (self.dec is None):
            raise LabelValueError("ra and dec must be given together")
        lines = {}
        for key, seen in dict(self.lines).items():
            if key not in LINE_KEYS:
                raise LabelValueError(f"line {key!r} is not one of {', '.join(LINE_KEYS)}")
            if not isinstance(seen, bool):
                raise LabelValueError(f"line {key!r} confirmation must be True/False, not {seen!r}")
            lines[key] = seen
        set_(self, "lines", dict(sorted(lines.items(), key=lambda kv: LINE_KEYS.index(kv[0]))))
        flags = frozenset([self.flags] if isinstance(self.flags, str) else self.flags)
        unknown = sorted(flags - set(FLAGS))
        if unknown:
            raise LabelValueError(f"unknown flag(s) {', '.join(unknown)}; known: {', '.join(FLAGS)}")
        set_(self, "flags", flags)
        set_(self, "comment", normalise_comment(self.comment))
        if self.model_version is not None:
            set_(self, "model_version", str(self.model_version))
        set_(self, "adjudicated", bool(self.adjudicated))
        if self.kind not in EVENT_KINDS:
            raise LabelValueError(f"event kind {self.kind!r} is not one of {', '.join(EVENT_KINDS)}")
        if not isinstance(self.uid, str) or not re.fullmatch(r"[0-9A-Za-z_.:-]{1,64}", self.uid):
            raise LabelValueError(f"uid {self.uid!r} is not a short identifier")

    @property
    def withdraws(self) -> bool:
        """True for a withdrawal: this event takes back a grading instead of stating one."""
        return self.kind == WITHDRAWAL

    @property
    def grade_value(self) -> int:
        """The grade as a number: none=0, possible=1, probable=2, likely=3."""
        return GRADE_VALUE[self.grade]

    @property
    def lines_seen(self) -> tuple[str, ...]:
        """Keys of the lines confirmed as seen, in contract order."""
        return tuple(key for key, seen in self.lines.items() if seen)

    @property
    def lines_rejected(self) -> tuple[str, ...]:
        """Keys of the lines the inspector rejected, in contract order."""
        return tuple(key for key, seen in self.lines.items() if not seen)


def withdrawal_of(grading: LabelEvent) -> LabelEvent:
    """A new event (now, new uid) withdrawing ``grading``: its inspector's grading of the object stands no more."""
    if grading.withdraws:
        raise LabelValueError(f"{grading.object_id}: a withdrawal cannot itself be withdrawn; grade it again")
    return dataclasses.replace(grading, kind=WITHDRAWAL, time=utc_now_iso(), uid=uuid.uuid4().hex,
                               event_id=None)


def standing_by(events: Iterable[LabelEvent], key) -> dict:
    """``{key(event): latest grading}`` over ``events`` (oldest first), withdrawals applied: a withdrawal
    removes its key's grading, a later grading stands again."""
    latest: dict = {}
    for event in events:
        if event.withdraws:
            latest.pop(key(event), None)
        else:
            latest[key(event)] = event
    return latest


def standing_gradings(events: Iterable[LabelEvent]) -> tuple[dict[str, LabelEvent], LabelEvent | None]:
    """What stands of one object's events (oldest first): ``({inspector: latest grading}, latest adjudication)``.

    An inspector whose latest event is a withdrawal is absent (ungraded); a withdrawn adjudication leaves
    no adjudication.
    """
    events = list(events)
    latest = standing_by((e for e in events if not e.adjudicated), key=lambda e: e.inspector)
    adjudication = standing_by((e for e in events if e.adjudicated), key=lambda e: True).get(True)
    return latest, adjudication


def parse_flags(text: str | Iterable[str] | None) -> frozenset[str]:
    """Flags from text separated by spaces, commas, semicolons or ``|`` (as exports write them)."""
    if text is None:
        return frozenset()
    if isinstance(text, str):
        return frozenset(part for part in re.split(r"[\s,;|]+", text.strip()) if part)
    return frozenset(text)


def parse_lines(seen: str | None, rejected: str | None = None) -> dict[str, bool]:
    """Per-line confirmations from two texts of line keys (seen, rejected), separated like flags."""
    lines = {key: True for key in parse_flags(seen)}
    for key in parse_flags(rejected):
        if lines.get(key):
            raise LabelValueError(f"line {key!r} is both seen and rejected")
        lines[key] = False
    return lines


def _finite_or_none(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def grading_event(spectrum, grade: str, inspector: str, detection=None, z_bg: float | None = None,
                  lines: Mapping[str, bool] | None = None, flags: Iterable[str] = (), comment: str = "",
                  adjudicated: bool = False) -> LabelEvent:
    """A :class:`LabelEvent` for a spectrum the app shows, filling in what the app already knows.

    Parameters
    ----------
    spectrum : Spectrum or GriddedSpectrum
        Gives ``object_id``, ``source`` and, where present and finite, ``ra``, ``dec``, ``z_fg``.
    grade, inspector : str
    detection : Detection or None
        The detector's proposal the inspector was shown: its ``model_version`` and ``score`` are
        recorded. Its ``z_bg`` is *not* copied: pass ``z_bg`` for the redshift the inspector confirms.
    z_bg, lines, flags, comment, adjudicated
        As in :class:`LabelEvent`.
    """
    ra = _finite_or_none(getattr(spectrum, "ra", None))
    dec = _finite_or_none(getattr(spectrum, "dec", None))
    if ra is None or dec is None:
        ra = dec = None
    model_version = score = None
    if detection is not None:
        model_version = getattr(detection, "model_version", "") or getattr(detection, "detector", None)
        score = _finite_or_none(getattr(detection, "score", None))
    return LabelEvent(
        object_id=str(spectrum.object_id), grade=grade, inspector=inspector,
        source=str(getattr(spectrum, "source", "") or ""), z_bg=z_bg, lines=dict(lines or {}),
        flags=frozenset(flags), comment=comment, model_version=model_version, score=score,
        ra=ra, dec=dec, z_fg=_finite_or_none(getattr(spectrum, "z_fg", None)), adjudicated=adjudicated)
