"""Typed errors of the label store. Each names the database file and says what is wrong."""
from __future__ import annotations

from pathlib import Path

from casiglo_gui.core.errors import CasigloError


class LabelStoreError(CasigloError):
    """The label database at ``path`` cannot be used; ``reason`` says why in words a user can act on."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class CorruptDatabaseError(LabelStoreError):
    """The file is not a readable SQLite database (random bytes, truncated, damaged pages)."""


class ForeignDatabaseError(LabelStoreError):
    """The file is an SQLite database, but not a CASIGLO label store (another program's data)."""


class SchemaVersionError(LabelStoreError):
    """The store was written by a newer CASIGLO (schema version unknown here), or a migration failed."""


class DuplicateEventError(LabelStoreError):
    """An event with the same ``uid`` is already stored (events are never stored twice)."""
