"""Experts' labels: an append-only SQLite event store, consensus, target-list export, CSV import.

Public API (what the app and the command line use)::

    from casiglo_gui.core.labels import LabelStore, LabelEvent, default_db_path, GRADES, FLAGS
    store = LabelStore.open(path_or_None)          # None: default_db_path()
    store.add_event(LabelEvent(object_id, grade, inspector, source=..., z_bg=..., lines={...},
                               flags={...}, comment=..., model_version=..., score=...,
                               ra=..., dec=..., z_fg=...))
    store.add_event(grading_event(spectrum, grade, inspector, detection=shown, z_bg=confirmed, ...))
    store.latest(object_id, inspector)   # LabelEvent | None
    store.current(object_id)             # {inspector: LabelEvent}
    store.history(object_id)             # [LabelEvent], oldest first
    store.consensus(object_id)           # Consensus | None
    store.graded_count(object_ids)       # int

See :mod:`.store` for the guarantees, :mod:`.consensus` for the consensus rules, :mod:`.export` and
:mod:`.importer` for the file formats.
"""
from casiglo_gui.core.labels.consensus import Consensus, consensus_of
from casiglo_gui.core.labels.errors import (
    CorruptDatabaseError,
    DuplicateEventError,
    ForeignDatabaseError,
    LabelStoreError,
    SchemaVersionError,
)
from casiglo_gui.core.labels.events import (
    FLAGS,
    GRADE_VALUE,
    GRADES,
    LabelEvent,
    LabelValueError,
    format_time,
    grading_event,
    standing_gradings,
    utc_now_iso,
    withdrawal_of,
)
from casiglo_gui.core.labels.store import LabelStore, default_db_path

__all__ = [
    "Consensus", "consensus_of", "CorruptDatabaseError", "DuplicateEventError", "ForeignDatabaseError",
    "LabelStoreError", "SchemaVersionError", "FLAGS", "GRADE_VALUE", "GRADES", "LabelEvent",
    "LabelValueError", "format_time", "grading_event", "standing_gradings", "utc_now_iso", "withdrawal_of",
    "LabelStore", "default_db_path",
]
