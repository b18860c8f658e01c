"""The label store: append-only events, derived views, opening rules, schema migrations."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from casiglo_gui.core.detectors.detection import Detection
from casiglo_gui.core.errors import CasigloError
from casiglo_gui.core.labels import (
    CorruptDatabaseError,
    DuplicateEventError,
    ForeignDatabaseError,
    LabelEvent,
    LabelStore,
    LabelStoreError,
    LabelValueError,
    SchemaVersionError,
    default_db_path,
    grading_event,
)
from casiglo_gui.core.labels import store as store_module

# Imported at collection time: astropy warns when first imported under the tests' temporary
# XDG_CONFIG_HOME (which does not exist yet), and warnings are errors.
from casiglo_gui.core.readers import read_spectrum  # noqa: E402


@pytest.fixture
def store(tmp_path):
    with LabelStore.open(tmp_path / "labels.sqlite3") as s:
        yield s


def test_event_round_trips_every_field_exactly(store):
    z = np.float64(0.512345678901234)
    event = LabelEvent(
        "spec-0266-51602-0013", "Probable", "alice", source="/data/spec-0266-51602-0013.fits",
        time="2024-05-01T12:30:00+02:00", z_bg=z, lines={"halpha": True, "oiii_5008": True, "hbeta": False},
        flags={"sky_residual", "cosmic_ray"}, comment='He said "maybe", =SUM(A1)\nnext line ✓',
        model_version="cnn-1.2.0", score=0.93, ra=146.62404, dec=-0.5, z_fg=0.12132)
    stored = store.add_event(event)
    assert stored.event_id == 1
    (back,) = store.history("spec-0266-51602-0013")
    assert back == stored
    assert back.grade == "probable"
    assert back.time == "2024-05-01T10:30:00.000000Z"  # normalised to UTC
    assert back.z_bg == z  # float64 exactly, not a float32 or a rounded text
    assert back.lines_seen == ("oiii_5008", "halpha")  # contract order
    assert back.lines_rejected == ("hbeta",)


def test_later_grading_is_current_but_history_keeps_everything(store):
    store.add_event(LabelEvent("obj", "possible", "alice", time="2024-01-01T00:00:00Z"))
    store.add_event(LabelEvent("obj", "likely", "alice", time="2024-01-02T00:00:00Z"))
    store.add_event(LabelEvent("obj", "none", "bob", time="2024-01-01T06:00:00Z"))
    # An older grading imported later must not override the newer decision.
    store.add_event(LabelEvent("obj", "none", "alice", time="2023-12-31T00:00:00Z"))
    assert [e.grade for e in store.history("obj")] == ["none", "possible", "none", "likely"]
    current = store.current("obj")
    assert {name: e.grade for name, e in current.items()} == {"alice": "likely", "bob": "none"}
    assert store.latest("obj", "alice").grade == "likely"
    assert store.latest("obj", "carol") is None
    assert store.current("obj", inspector="bob")["bob"].grade == "none"
    assert store.count() == 4


def test_objects_inspectors_and_graded_count(store):
    for i in range(5):
        store.add_event(LabelEvent(f"obj{i}", "none", "alice"))
    store.add_event(LabelEvent("obj2", "likely", "bob"))
    assert store.objects() == [f"obj{i}" for i in range(5)]
    assert store.inspectors() == ["alice", "bob"]
    assert store.graded_count(["obj0", "obj2", "unknown"]) == 2
    assert store.graded_count(["obj0", "obj2"], inspector="bob") == 1
    assert store.graded_count() == 5


def test_events_cannot_be_updated_or_deleted_even_with_raw_sql(tmp_path, store):
    store.add_event(LabelEvent("obj", "likely", "alice"))
    raw = sqlite3.connect(tmp_path / "labels.sqlite3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("UPDATE events SET grade = 'none'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM events")
    raw.close()
    assert store.latest("obj", "alice").grade == "likely"


def test_the_same_event_is_never_stored_twice(store):
    event = LabelEvent("obj", "likely", "alice")
    store.add_event(event)
    with pytest.raises(DuplicateEventError):
        store.add_event(event)
    other = LabelEvent("obj2", "none", "alice")
    # A batch is all or nothing: the duplicate aborts it, obj2 is not stored either.
    with pytest.raises(DuplicateEventError):
        store.add_events([other, event])
    assert store.objects() == ["obj"]
    assert [e.object_id for e in store.add_events([other, event], skip_duplicates=True)] == ["obj2"]
    assert store.count() == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(grade="maybe"), "grade"),
    (dict(lines={"halpha_6563": True}), "line"),
    (dict(lines={"halpha": "yes"}), "True/False"),
    (dict(flags={"aliens"}), "unknown flag"),
    (dict(inspector="  "), "inspector"),
    (dict(z_bg=float("nan")), "finite"),
    (dict(z_bg="0.5x"), "number"),
    (dict(ra=10.0), "together"),
    (dict(ra=10.0, dec=91.0), "dec"),
    (dict(comment="bell\x07"), "control"),
    (dict(time="yesterday"), "ISO 8601"),
])
def test_invalid_events_are_refused_with_a_clear_error(kwargs, message):
    fields = dict(object_id="obj", grade="likely", inspector="alice") | kwargs
    with pytest.raises(LabelValueError, match=message):
        LabelEvent(**fields)


def test_missing_file_creates_a_new_store_and_reopening_keeps_data(tmp_path):
    path = tmp_path / "deep" / "folder" / "labels.sqlite3"
    with LabelStore.open(path) as s:
        s.add_event(LabelEvent("obj", "likely", "alice"))
    with LabelStore.open(path) as s:
        assert s.latest("obj", "alice").grade == "likely"
        assert s.schema_version() == store_module.schema_version_supported() == 2
        assert s.integrity_check() == ["ok"]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == store_module.APPLICATION_ID
    conn.close()


def test_default_path_is_the_per_user_data_folder(tmp_path):
    path = default_db_path()
    assert path.name == "labels.sqlite3"
    assert str(path).startswith(str(tmp_path / "home"))  # conftest points XDG_DATA_HOME there
    with LabelStore.open() as s:
        assert s.path == path
    assert path.exists()


def test_random_bytes_give_a_corrupt_database_error_and_the_file_is_untouched(tmp_path):
    path = tmp_path / "labels.sqlite3"
    content = np.random.default_rng(1).bytes(8192)
    path.write_bytes(content)
    with pytest.raises(CorruptDatabaseError, match="labels.sqlite3.*not an SQLite database") as info:
        LabelStore.open(path)
    assert isinstance(info.value, CasigloError)
    assert info.value.path == str(path)
    assert path.read_bytes() == content


def test_damaged_sqlite_pages_give_a_corrupt_database_error(tmp_path):
    path = tmp_path / "labels.sqlite3"
    with LabelStore.open(path) as s:
        s.add_events([LabelEvent(f"obj{i}", "likely", "alice", comment="x" * 200) for i in range(200)])
    data = bytearray(path.read_bytes())
    # Keep the 100-byte header valid, scramble the pages after the first one.
    rng = np.random.default_rng(2)
    data[4096:] = rng.bytes(len(data) - 4096)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptDatabaseError, match=str(path.name)):
        LabelStore.open(path)


def test_another_programs_sqlite_database_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE songs (title TEXT)")
    conn.execute("INSERT INTO songs VALUES ('x')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(ForeignDatabaseError, match=r"other.sqlite3.*not a CASIGLO label store.*songs"):
        LabelStore.open(path)
    assert path.read_bytes() == before  # not switched to WAL, no table added
    assert not (tmp_path / "other.sqlite3-wal").exists()


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "labels.sqlite3"
    LabelStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (7, '2030-01-01T00:00:00Z', 'future')")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match="newer"):
        LabelStore.open(path)


def _add_reviewed_column(conn):
    conn.execute("ALTER TABLE events ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0")


def test_an_older_store_is_migrated_on_open_keeping_its_events(tmp_path, monkeypatch):
    path = tmp_path / "labels.sqlite3"
    with LabelStore.open(path) as s:
        s.add_event(LabelEvent("obj", "likely", "alice"))
    newer = len(store_module.MIGRATIONS) + 1
    migrations = store_module.MIGRATIONS + [store_module.Migration(newer, "reviewed column", _add_reviewed_column)]
    monkeypatch.setattr(store_module, "MIGRATIONS", migrations)
    with LabelStore.open(path) as s:
        assert s.schema_version() == newer
        assert s.latest("obj", "alice").grade == "likely"
        s.add_event(LabelEvent("obj2", "none", "bob"))
        assert s.count() == 2
    conn = sqlite3.connect(path)
    assert "reviewed" in [row[1] for row in conn.execute("PRAGMA table_info(events)")]
    assert [row[0] for row in conn.execute("SELECT version FROM schema_version")] == list(range(1, newer + 1))
    conn.close()


def test_a_failing_migration_is_rolled_back_and_the_store_stays_usable(tmp_path, monkeypatch):
    path = tmp_path / "labels.sqlite3"
    with LabelStore.open(path) as s:
        s.add_event(LabelEvent("obj", "likely", "alice"))

    def broken(conn):
        _add_reviewed_column(conn)
        raise RuntimeError("disk full (simulated)")

    current = len(store_module.MIGRATIONS)
    monkeypatch.setattr(store_module, "MIGRATIONS",
                        store_module.MIGRATIONS + [store_module.Migration(current + 1, "broken", broken)])
    with pytest.raises(SchemaVersionError, match=f"version {current + 1} failed and was rolled back.*disk full"):
        LabelStore.open(path)
    monkeypatch.undo()
    with LabelStore.open(path) as s:
        assert s.schema_version() == current
        assert s.latest("obj", "alice").grade == "likely"
    conn = sqlite3.connect(path)
    assert "reviewed" not in [row[1] for row in conn.execute("PRAGMA table_info(events)")]
    conn.close()


def test_the_label_modules_import_without_qt_or_tensorflow():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "for name in ('PyQt6', 'tensorflow', 'keras', 'pyqtgraph'):\n"
        "    sys.modules[name] = None  # any import of them raises ImportError\n"
        "import casiglo_gui.core.labels, casiglo_gui.core.labels.export, casiglo_gui.core.labels.importer\n"
        "import casiglo_gui.core.labels.dataset, casiglo_gui.labels_cli\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_grading_event_takes_what_the_app_knows_from_spectrum_and_detection(store, data_dir):
    spectrum = read_spectrum(data_dir / "sdss" / "spec-0266-51602-0013.fits")
    shown = Detection(z_bg=0.61, z_bg_err=1e-5, score=0.87, n_lines=3, detector="cnn", model_version="cnn-2")
    event = store.add_event(grading_event(spectrum, "likely", "alice", detection=shown, z_bg=0.6101,
                                          lines={"oiii_5008": True}, flags={"sky_residual"}, comment="ok"))
    back = store.latest("0266-51602-0013", "alice")
    assert back == event
    assert back.source.endswith("spec-0266-51602-0013.fits")
    assert back.model_version == "cnn-2" and back.score == pytest.approx(0.87)
    assert back.z_bg == 0.6101  # the confirmed value, not the detector's
    assert back.ra == pytest.approx(spectrum.ra) and back.dec == pytest.approx(spectrum.dec)
    assert back.z_fg == pytest.approx(0.12132, abs=1e-4)


def test_a_zero_byte_file_holds_nothing_and_becomes_a_new_store(tmp_path):
    path = tmp_path / "labels.sqlite3"
    path.write_bytes(b"")
    with LabelStore.open(path) as s:
        assert s.count() == 0 and s.schema_version() == 2


def test_a_store_locked_by_another_writer_gives_a_clear_error_not_a_lost_event(tmp_path):
    path = tmp_path / "labels.sqlite3"
    with LabelStore.open(path, busy_timeout_s=0.2) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock (for too long)
        with pytest.raises(LabelStoreError, match="labels.sqlite3: could not start writing.*locked"):
            store.add_event(LabelEvent("obj", "likely", "alice"))
        blocker.execute("ROLLBACK")
        blocker.close()
        store.add_event(LabelEvent("obj", "likely", "alice"))  # works again once the lock is released
        assert store.count() == 1
