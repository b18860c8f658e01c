"""The label store: an append-only log of grading events in one SQLite file.

Usage
-----
>>> store = LabelStore.open(path)                                 # doctest: +SKIP
>>> store.add_event(LabelEvent("spec-0266-51602-0013", "probable", "ab", z_bg=0.5123))  # doctest: +SKIP
>>> store.current("spec-0266-51602-0013")        # {inspector: latest event}   # doctest: +SKIP
>>> store.consensus("spec-0266-51602-0013")      # mean grade, agreement...    # doctest: +SKIP

Guarantees
----------
- Append-only: events are only ever inserted. SQLite triggers abort any UPDATE or DELETE of an event,
  so not even a bug (or a user with the sqlite3 shell, short of dropping the triggers) can rewrite history.
  Every view (current grade per inspector, consensus, export) is derived from the log.
- One transaction per action: :meth:`LabelStore.add_event` commits one event, :meth:`add_events` commits a
  batch atomically (all or none). Writers take the lock up front (``BEGIN IMMEDIATE``) and wait up to
  ``busy_timeout_s`` for each other, so several processes (inspectors, the importer) can write at once.
- Durability: WAL journal with ``synchronous=FULL``: a committed event survives a killed process and a
  power cut.
- Opening: a missing file at the given path creates a new, empty store (parent folders included).
  A file that is not SQLite (random bytes, truncated) raises :class:`CorruptDatabaseError`; an SQLite
  file of another program raises :class:`ForeignDatabaseError`; a store from a newer CASIGLO raises
  :class:`SchemaVersionError`. An existing file is never silently replaced by a new empty store.
  (A zero-byte file holds no data and is initialised as a new store.)
- Schema: version 2, recorded in the ``schema_version`` table, marked as ours by
  ``PRAGMA application_id`` and the ``casiglo_meta`` row ``application = casiglo-labels``. Older stores
  are migrated on open, one transaction per migration step (see :data:`MIGRATIONS`). Version 2 added the
  event ``kind`` (``grading`` / ``withdrawal``, see :mod:`.events`); version-1 events read as gradings.
- Withdrawals: every view (:meth:`current`, :meth:`latest`, :meth:`adjudication`, :meth:`graded_count`,
  consensus, exports) applies :func:`~.events.standing_gradings`: a withdrawn grading is not there.

All SQL is parameterised; nothing read from the database is evaluated (lines are JSON, flags text).
"""
from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from casiglo_gui.core.labels.errors import (
    CorruptDatabaseError,
    DuplicateEventError,
    ForeignDatabaseError,
    LabelStoreError,
    SchemaVersionError,
)
from casiglo_gui.core.labels.events import GRADING, LabelEvent, standing_gradings, utc_now_iso

APPLICATION_NAME = "casiglo-labels"
# PRAGMA application_id: a 32-bit marker in the SQLite header ("CSLB"), readable by `file(1)`.
APPLICATION_ID = 0x43534C42
DB_FILENAME = "labels.sqlite3"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_HEADER_BYTES = 100  # the database header; application_id is at bytes 68-71


def default_db_path() -> Path:
    """The per-user default store: ``user_data_dir('casiglo')/labels.sqlite3`` (platformdirs).

    On Linux ``~/.local/share/casiglo/labels.sqlite3`` (or under ``$XDG_DATA_HOME``), on macOS
    ``~/Library/Application Support/casiglo/``, on Windows ``%LOCALAPPDATA%\\casiglo\\``.
    """
    import platformdirs

    return Path(platformdirs.user_data_dir("casiglo", appauthor=False)) / DB_FILENAME


# ---------------------------------------------------------------------------------------------------
# Schema and migrations
# ---------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Migration:
    """One schema step: ``apply(connection)`` takes the store from ``version - 1`` to ``version``.

    It runs inside the store's transaction (do not commit in it); if it raises, the step is rolled back
    and the store stays at the previous version.
    """

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def _create_v1(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE casiglo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO casiglo_meta (key, value) VALUES ('application', ?)", (APPLICATION_NAME,))
    conn.execute("INSERT INTO casiglo_meta (key, value) VALUES ('created_utc', ?)", (utc_now_iso(),))
    conn.execute(
        """CREATE TABLE events (
            event_id      INTEGER PRIMARY KEY AUTOINCREMENT,
            uid           TEXT NOT NULL UNIQUE,
            object_id     TEXT NOT NULL,
            source        TEXT NOT NULL DEFAULT '',
            inspector     TEXT NOT NULL,
            time_utc      TEXT NOT NULL,
            adjudicated   INTEGER NOT NULL DEFAULT 0 CHECK (adjudicated IN (0, 1)),
            grade         TEXT NOT NULL CHECK (grade IN ('none', 'possible', 'probable', 'likely')),
            z_bg          REAL,
            lines_json    TEXT NOT NULL DEFAULT '{}',
            flags         TEXT NOT NULL DEFAULT '',
            comment       TEXT NOT NULL DEFAULT '',
            model_version TEXT,
            score         REAL,
            ra            REAL,
            dec           REAL,
            z_fg          REAL,
            recorded_utc  TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX events_by_object ON events (object_id, time_utc, event_id)")
    conn.execute("CREATE INDEX events_by_inspector ON events (inspector, object_id)")
    conn.execute(
        "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'label events are append-only: UPDATE refused'); END"
    )
    conn.execute(
        "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'label events are append-only: DELETE refused'); END"
    )


def _add_event_kind(conn: sqlite3.Connection) -> None:
    # ADD COLUMN rewrites no row (the append-only triggers stay silent) and every event of a version-1
    # store, all gradings, reads with the default kind.
    conn.execute(
        "ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT 'grading' "
        "CHECK (kind IN ('grading', 'withdrawal'))")


# Version N is reached by applying MIGRATIONS[N - 1]; a new store runs them all from version 0 (empty).
MIGRATIONS: list[Migration] = [
    Migration(1, "events log, meta marker, append-only triggers", _create_v1),
    Migration(2, "event kind: grading or withdrawal (undo of a first grade)", _add_event_kind),
]


def schema_version_supported() -> int:
    """The newest schema version this program knows."""
    return len(MIGRATIONS)


# ---------------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------------

_COLUMNS = (
    "event_id, uid, object_id, source, inspector, time_utc, adjudicated, grade, z_bg, lines_json, "
    "flags, comment, model_version, score, ra, dec, z_fg, kind"
)


def _event_from_row(row: Sequence) -> LabelEvent:
    (event_id, uid, object_id, source, inspector, time_utc, adjudicated, grade, z_bg, lines_json,
     flags, comment, model_version, score, ra, dec, z_fg, kind) = row
    return LabelEvent(
        object_id=object_id, grade=grade, inspector=inspector, source=source, time=time_utc,
        z_bg=z_bg, lines=json.loads(lines_json), flags=frozenset(flags.split()), comment=comment,
        model_version=model_version, score=score, ra=ra, dec=dec, z_fg=z_fg,
        adjudicated=bool(adjudicated), kind=kind, uid=uid, event_id=event_id,
    )


def _sort_key(event: LabelEvent) -> tuple[str, int]:
    # "Latest" is by grading time, then by storage order: an old grading imported today must not
    # override what the inspector decided since.
    return (event.time, event.event_id or 0)


class LabelStore:
    """An append-only label store in one SQLite file (see the module docstring for the guarantees).

    Parameters
    ----------
    path : str or Path
        The database file. Missing: a new store is created there.
    busy_timeout_s : float
        How long a writer waits for another process's transaction before giving up.

    Raises
    ------
    CorruptDatabaseError, ForeignDatabaseError, SchemaVersionError
        When ``path`` exists but is not a usable CASIGLO label store.
    """

    def __init__(self, path: str | Path, busy_timeout_s: float = 30.0):
        self.path = Path(path).expanduser()
        self._lock = threading.RLock()
        self._conn = self._connect(busy_timeout_s)
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, path: str | Path | None = None, busy_timeout_s: float = 30.0) -> "LabelStore":
        """Open (or create) the store at ``path``; ``None`` means :func:`default_db_path`."""
        return cls(default_db_path() if path is None else path, busy_timeout_s=busy_timeout_s)

    # -- opening -------------------------------------------------------------------------------------

    def _connect(self, busy_timeout_s: float) -> sqlite3.Connection:
        path = self.path
        if path.is_dir():
            raise LabelStoreError(path, "is a folder, not a label database file")
        if path.exists():
            with open(path, "rb") as handle:
                head = handle.read(_SQLITE_HEADER_BYTES)
            if head and not head.startswith(_SQLITE_MAGIC):
                raise CorruptDatabaseError(path, "is not an SQLite database (wrong file header); "
                                                 "refusing to replace it with a new label store")
            if head:
                self._refuse_foreign(head)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per action.
            conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise LabelStoreError(path, f"cannot open: {exc}") from exc
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        return conn

    def _refuse_foreign(self, head: bytes) -> None:
        """Refuse another program's SQLite file before any read-write connection exists.

        A read-write connection may change a file merely by closing (SQLite checkpoints a WAL into the
        database), so the checks use the raw header and, if that is not conclusive, a read-only
        connection: a file that is not ours is left byte-for-byte untouched.
        """
        application_id = int.from_bytes(head[68:72], "big") if len(head) >= 72 else 0
        if application_id not in (0, APPLICATION_ID):
            raise ForeignDatabaseError(self.path, f"is an SQLite database of another program (application_id "
                                                  f"{application_id}, a CASIGLO label store has {APPLICATION_ID})")
        if application_id == APPLICATION_ID:
            return
        try:
            probe = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise LabelStoreError(self.path, f"cannot open: {exc}") from exc
        try:
            tables = {row[0] for row in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables:
                self._check_marker(tables, probe)
        except sqlite3.DatabaseError as exc:
            raise CorruptDatabaseError(self.path, f"is not a readable SQLite database ({exc})") from exc
        finally:
            probe.close()

    def _prepare(self) -> None:
        path = self.path
        try:
            tables = self._table_names()
            if tables:
                # Check before changing anything: another program's database must be left untouched.
                problems = [row[0] for row in self._conn.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise CorruptDatabaseError(path, "the database is damaged: " + "; ".join(problems[:5]))
                self._check_marker(tables)
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LabelStoreError(path, f"cannot switch to WAL journal (got {mode!r}); "
                                            "is the folder on a network file system?")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except sqlite3.OperationalError as exc:  # locked, read-only, I/O error: the file may be fine
            raise LabelStoreError(path, f"cannot be used: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise CorruptDatabaseError(path, f"is not a readable SQLite database ({exc})") from exc

    def _table_names(self) -> set[str]:
        return {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _check_marker(self, tables: set[str], conn: sqlite3.Connection | None = None) -> None:
        found = ", ".join(sorted(t for t in tables if not t.startswith("sqlite_"))[:8]) or "none"
        if "casiglo_meta" not in tables:
            raise ForeignDatabaseError(self.path, "is an SQLite database but not a CASIGLO label store "
                                                  f"(no casiglo_meta table; tables: {found})")
        conn = self._conn if conn is None else conn
        row = conn.execute("SELECT value FROM casiglo_meta WHERE key = 'application'").fetchone()
        if row is None or row[0] != APPLICATION_NAME:
            raise ForeignDatabaseError(self.path, f"casiglo_meta says application={row and row[0]!r}, "
                                                  f"not {APPLICATION_NAME!r}")

    def schema_version(self) -> int:
        """The schema version recorded in the store (0 for a new, empty file)."""
        with self._lock:
            if "schema_version" not in self._table_names():
                return 0
            row = self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            return int(row[0] or 0)

    def _migrate(self) -> None:
        newest = schema_version_supported()
        while True:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")  # a lock timeout here is reported by _prepare
                try:
                    # Re-read inside the write lock: another process may have created or migrated it.
                    tables = self._table_names()
                    if tables:
                        self._check_marker(tables)
                    version = self.schema_version()
                    if version > newest:
                        raise SchemaVersionError(self.path, f"schema version {version} was written by a "
                                                            f"newer CASIGLO (this one knows up to {newest})")
                    if version == newest:
                        self._conn.execute("COMMIT")
                        return
                    step = MIGRATIONS[version]
                    if step.version != version + 1:
                        raise SchemaVersionError(self.path, f"migration list out of order at {step.version}")
                    try:
                        step.apply(self._conn)
                    except Exception as exc:
                        raise SchemaVersionError(self.path, f"migration to schema version {step.version} "
                                                            f"failed and was rolled back: {exc}") from exc
                    if version == 0:
                        self._conn.execute(
                            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                            "applied_utc TEXT NOT NULL, description TEXT NOT NULL)")
                        self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self._conn.execute(
                        "INSERT INTO schema_version (version, applied_utc, description) VALUES (?, ?, ?)",
                        (step.version, utc_now_iso(), step.description))
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._rollback()  # sqlite errors go on to _prepare, which names them
                    raise

    # -- writing -------------------------------------------------------------------------------------

    def add_event(self, event: LabelEvent) -> LabelEvent:
        """Append one event in its own transaction; return it with its ``event_id`` set.

        Raises
        ------
        DuplicateEventError
            When an event with the same ``uid`` is already stored.
        """
        stored = self.add_events([event])
        return stored[0]

    def add_events(self, events: Iterable[LabelEvent], skip_duplicates: bool = False) -> list[LabelEvent]:
        """Append several events in one transaction (all or none); return the stored ones.

        Parameters
        ----------
        events : iterable of LabelEvent
        skip_duplicates : bool
            If True, events whose ``uid`` is already stored are skipped (re-importing a file is
            harmless); if False they raise :class:`DuplicateEventError` and nothing is stored.
        """
        stored: list[LabelEvent] = []
        self._insert(events, skip_duplicates,
                     lambda event, event_id: stored.append(dataclasses.replace(event, event_id=event_id)))
        return stored

    def append_events(self, events: Iterable[LabelEvent], skip_duplicates: bool = False) -> int:
        """:meth:`add_events` for streams: the events are consumed one by one (memory does not grow
        with their number) in one transaction; returns how many were stored. An exception raised by
        the iterable rolls the whole transaction back."""
        count = 0

        def counted(_event: LabelEvent, _event_id: int) -> None:
            nonlocal count
            count += 1

        self._insert(events, skip_duplicates, counted)
        return count

    def _insert(self, events: Iterable[LabelEvent], skip_duplicates: bool, on_stored) -> None:
        recorded = utc_now_iso()
        verb = "INSERT OR IGNORE" if skip_duplicates else "INSERT"
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:  # e.g. still locked by another writer after busy_timeout
                raise LabelStoreError(self.path, f"could not start writing: {exc}") from exc
            try:
                for event in events:
                    if not isinstance(event, LabelEvent):
                        raise TypeError(f"expected a LabelEvent, got {type(event).__name__}")
                    cursor = self._conn.execute(
                        f"{verb} INTO events (uid, object_id, source, inspector, time_utc, adjudicated, "
                        "grade, z_bg, lines_json, flags, comment, model_version, score, ra, dec, z_fg, "
                        "recorded_utc, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (event.uid, event.object_id, event.source, event.inspector, event.time,
                         int(event.adjudicated), event.grade, event.z_bg, json.dumps(event.lines),
                         " ".join(sorted(event.flags)), event.comment, event.model_version, event.score,
                         event.ra, event.dec, event.z_fg, recorded, event.kind),
                    )
                    if cursor.rowcount == 1:
                        on_stored(event, cursor.lastrowid)
                self._conn.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                self._rollback()
                if "uid" in str(exc):
                    raise DuplicateEventError(self.path, f"event already stored ({exc})") from exc
                raise LabelStoreError(self.path, f"event refused: {exc}") from exc
            except sqlite3.Error as exc:  # disk full, I/O error, lock lost...: nothing of the batch stored
                self._rollback()
                raise LabelStoreError(self.path, f"could not store the grading: {exc}") from exc
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    # -- reading -------------------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence = ()) -> list[LabelEvent]:
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [_event_from_row(row) for row in rows]

    def events(self, inspector: str | None = None) -> list[LabelEvent]:
        """Every stored event in storage order (optionally one inspector's)."""
        if inspector is None:
            return self._query(f"SELECT {_COLUMNS} FROM events ORDER BY event_id")
        return self._query(f"SELECT {_COLUMNS} FROM events WHERE inspector = ? ORDER BY event_id",
                           (inspector,))

    def iter_events_by_object(self, batch: int = 500) -> Iterator[tuple[str, list[LabelEvent]]]:
        """``(object_id, events in time order)`` for every object, objects in order of first grading.

        Streamed: SQLite orders the events and they are fetched ``batch`` rows at a time, so memory holds
        one object's events, not the store's (an export of a million events stays flat).
        """
        columns = ", ".join(f"e.{name.strip()}" for name in _COLUMNS.split(","))
        cursor = self._conn.cursor()
        with self._lock:
            cursor.execute(
                f"SELECT {columns} FROM events e JOIN (SELECT object_id, MIN(event_id) AS first_id FROM events "
                "GROUP BY object_id) f ON e.object_id = f.object_id ORDER BY f.first_id, e.time_utc, e.event_id")
        try:
            current: str | None = None
            group: list[LabelEvent] = []
            while True:
                with self._lock:
                    rows = cursor.fetchmany(batch)
                if not rows:
                    break
                for row in rows:
                    event = _event_from_row(row)
                    if event.object_id != current and group:
                        yield current, group
                        group = []
                    current = event.object_id
                    group.append(event)
            if group:
                yield current, group
        finally:
            cursor.close()

    def history(self, object_id: str) -> list[LabelEvent]:
        """All events of one object (every inspector, adjudications included), oldest first."""
        events = self._query(f"SELECT {_COLUMNS} FROM events WHERE object_id = ?", (object_id,))
        return sorted(events, key=_sort_key)

    def current(self, object_id: str, inspector: str | None = None) -> dict[str, LabelEvent]:
        """The standing grading per inspector of one object: ``{inspector: event}``.

        Adjudications are not gradings and are left out (see :meth:`adjudication`); an inspector whose
        grading was withdrawn is absent. With ``inspector`` given, the dict holds at most that inspector.
        """
        latest, _ = standing_gradings(self.history(object_id))
        return {name: event for name, event in latest.items() if inspector is None or name == inspector}

    def latest(self, object_id: str, inspector: str) -> LabelEvent | None:
        """One inspector's latest grading of one object, or None (what the app shows on re-opening)."""
        return self.current(object_id, inspector).get(inspector)

    def adjudication(self, object_id: str) -> LabelEvent | None:
        """The standing (latest, not withdrawn) adjudication of an object, or None."""
        return standing_gradings(self.history(object_id))[1]

    def objects(self) -> list[str]:
        """Ids of every object with at least one event, in order of first grading."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT object_id FROM events GROUP BY object_id ORDER BY MIN(event_id)").fetchall()
        return [row[0] for row in rows]

    def inspectors(self) -> list[str]:
        """Names of every inspector with at least one event, sorted."""
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT inspector FROM events ORDER BY inspector").fetchall()
        return [row[0] for row in rows]

    def graded_count(self, object_ids: Iterable[str] | None = None, inspector: str | None = None) -> int:
        """How many of ``object_ids`` (all objects if None) have a standing grading or adjudication (by
        ``inspector`` if given); withdrawn ones do not count."""
        # Each (object, inspector, adjudication or not) counts by its latest event, as standing_gradings.
        latest_kinds = (
            "SELECT object_id, kind, ROW_NUMBER() OVER (PARTITION BY object_id, inspector, adjudicated "
            "ORDER BY time_utc DESC, event_id DESC) AS newest FROM events WHERE (? IS NULL OR inspector = ?)")
        with self._lock:
            rows = self._conn.execute(
                f"SELECT DISTINCT object_id FROM ({latest_kinds}) WHERE newest = 1 AND kind = ?",
                (inspector, inspector, GRADING)).fetchall()
        graded = {row[0] for row in rows}
        if object_ids is None:
            return len(graded)
        return len(graded.intersection(object_ids))

    def count(self) -> int:
        """The number of stored events."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def consensus(self, object_id: str):
        """The consensus of every inspector on one object (see :mod:`.consensus`); None if ungraded (or every
        grading of it was withdrawn)."""
        from casiglo_gui.core.labels.consensus import consensus_of

        events = self.history(object_id)
        return consensus_of(object_id, events) if events else None

    def consensus_table(self) -> list:
        """:class:`~.consensus.Consensus` of every object with a standing grading, in order of first grading."""
        from casiglo_gui.core.labels.consensus import consensus_of

        table = (consensus_of(object_id, events) for object_id, events in self.iter_events_by_object())
        return [c for c in table if c is not None]

    # -- maintenance ---------------------------------------------------------------------------------

    def integrity_check(self) -> list[str]:
        """SQLite's full ``PRAGMA integrity_check``: ``['ok']`` for a sound database."""
        with self._lock:
            return [row[0] for row in self._conn.execute("PRAGMA integrity_check")]

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite when the last connection closes)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "LabelStore":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LabelStore({str(self.path)!r})"
