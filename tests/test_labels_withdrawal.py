"""Withdrawn gradings (schema 2): the undo of a first grade. Every reader of the store must treat the object
as never graded by that inspector; a schema-1 store written by the old code migrates without losing anything."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

import casiglo_gui.core.labels.export  # noqa: F401  (astropy.io.ascii at collection, see test_labels_store)
from casiglo_gui.cli import main as casiglo
from casiglo_gui.core.inspection.queue import latest_grades
from casiglo_gui.core.labels import LabelEvent, LabelStore, LabelValueError, withdrawal_of
from casiglo_gui.core.labels.dataset import rejected_lines
from casiglo_gui.core.labels.export import consensus_table, inspector_table, read_table

SCHEMA1_STORE = "labels/labels-schema1.sqlite3"   # written by the schema-1 code, see tests/data/ORIGIN.md


@pytest.fixture
def store(tmp_path):
    with LabelStore.open(tmp_path / "labels.sqlite3") as opened:
        yield opened


def _raw_rows(path):
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
        rows = conn.execute("SELECT * FROM events ORDER BY event_id").fetchall()
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    finally:
        conn.close()
    return [dict(zip(columns, row)) for row in rows], versions


def test_a_schema1_store_of_the_old_code_migrates_and_reads_the_same(tmp_path, data_dir):
    path = tmp_path / "old.sqlite3"
    shutil.copy(data_dir / SCHEMA1_STORE, path)
    before, versions = _raw_rows(path)
    assert versions == [1] and "kind" not in before[0] and len(before) == 5
    with LabelStore.open(path) as store:
        assert store.schema_version() == 2
        events = store.events()
        assert [e.kind for e in events] == ["grading"] * 5
        first = events[0]
        assert (first.object_id, first.grade, first.inspector, first.time) == \
            ("spec-0266-51602-0013", "probable", "alice", "2024-05-01T12:30:00.000000Z")
        assert first.z_bg == 0.512345678901234 and first.lines == {"hbeta": False, "oiii_5008": True}
        assert first.comment == 'first look, "maybe"\nsecond line ✓' and first.flags == {"sky_residual"}
        assert (first.model_version, first.score, first.ra, first.dec, first.z_fg) == \
            ("casiglo-cnn-v3", 0.948, 146.62404, -0.5, 0.12132)
        assert store.latest("spec-0266-51602-0013", "alice").uid == "v1event0002"
        assert store.adjudication("spec-0266-51602-0013").comment == "clear doublet"
        assert store.consensus("spec-0266-51602-0013").grade == "likely"
        assert store.graded_count() == 2
        store.add_event(withdrawal_of(events[4]))          # the migrated store takes withdrawals
        assert store.latest("SYNTHETIC-9001", "alice") is None
    after, versions = _raw_rows(path)
    assert versions == [1, 2]
    for old, new in zip(before, after):                    # every stored value unchanged, byte for byte
        assert {k: v for k, v in new.items() if k != "kind"} == old and new["kind"] == "grading"
    assert after[5]["kind"] == "withdrawal"


def test_a_withdrawn_first_grading_leaves_the_object_ungraded_for_every_reader(store, tmp_path):
    graded = store.add_event(LabelEvent("a", "likely", "alice", z_bg=0.61, lines={"halpha": False},
                                        ra=10.0, dec=5.0))
    store.add_event(LabelEvent("b", "probable", "alice", z_bg=0.42, ra=11.0, dec=6.0))
    withdrawal = store.add_event(withdrawal_of(graded))
    assert withdrawal.withdraws and withdrawal.grade == "likely" and withdrawal.uid != graded.uid
    assert [e.kind for e in store.history("a")] == ["grading", "withdrawal"]    # nothing is lost
    assert store.latest("a", "alice") is None and store.current("a") == {}
    assert store.consensus("a") is None
    assert [c.object_id for c in store.consensus_table()] == ["b"]
    assert store.graded_count() == 1 and store.graded_count(["a"], inspector="alice") == 0
    assert latest_grades(store.events("alice")) == {"b": "probable"}
    assert list(inspector_table(store.iter_events_by_object())["object_id"]) == ["b"]
    assert list(consensus_table(store.consensus_table())["object_id"]) == ["b"]
    assert rejected_lines(store) == {}
    regraded = store.add_event(LabelEvent("a", "possible", "alice"))   # a later grading stands again
    assert store.latest("a", "alice") == regraded and store.consensus("a").grade == "possible"
    assert latest_grades(store.events("alice"))["a"] == "possible"


def test_a_withdrawal_takes_back_one_inspectors_grading_only(store):
    alice = store.add_event(LabelEvent("a", "likely", "alice", z_bg=0.5, model_version="v2", score=0.9))
    store.add_event(LabelEvent("a", "possible", "bob", z_bg=0.7, model_version="v1", score=0.4,
                               time="2000-01-01T00:00:00Z"))
    store.add_event(withdrawal_of(alice))
    consensus = store.consensus("a")
    assert consensus.grades == {"bob": "possible"} and consensus.n_inspectors == 1
    assert consensus.z_bg == 0.7 and consensus.model_version == "v1" and consensus.score == 0.4
    adjudication = store.add_event(LabelEvent("a", "none", "boss", adjudicated=True))
    assert store.consensus("a").grade == "none"
    store.add_event(withdrawal_of(adjudication))
    assert store.adjudication("a") is None and store.consensus("a").grade == "possible"


def test_an_older_withdrawal_does_not_take_back_a_newer_grading(store):
    old = LabelEvent("a", "likely", "alice", time="2024-01-01T00:00:00Z")
    store.add_event(LabelEvent("a", "probable", "alice", time="2024-03-01T00:00:00Z"))
    store.add_event(LabelEvent("a", "likely", "alice", kind="withdrawal", time="2024-02-01T00:00:00Z",
                               uid=old.uid + "w"))
    assert store.latest("a", "alice").grade == "probable"


def test_event_kinds_are_checked(store):
    with pytest.raises(LabelValueError, match="kind 'erased'"):
        LabelEvent("a", "likely", "alice", kind="erased")
    withdrawal = withdrawal_of(LabelEvent("a", "likely", "alice"))
    with pytest.raises(LabelValueError, match="cannot itself be withdrawn"):
        withdrawal_of(withdrawal)
    conn = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("INSERT INTO events (uid, object_id, inspector, time_utc, grade, recorded_utc, kind) "
                     "VALUES ('u', 'a', 'x', 't', 'likely', 't', 'erased')")
    conn.close()


def test_labels_export_leaves_withdrawn_gradings_out(tmp_path):
    db = tmp_path / "labels.sqlite3"
    with LabelStore.open(db) as store:
        store.add_event(LabelEvent("kept", "probable", "alice", ra=1.0, dec=2.0))
        store.add_event(withdrawal_of(store.add_event(LabelEvent("withdrawn", "likely", "alice", ra=3.0, dec=4.0))))
    for extra, out in ((["--consensus"], tmp_path / "targets.ecsv"), ([], tmp_path / "labels.csv"),
                       ([], tmp_path / "labels.fits")):
        assert casiglo(["labels", "export", "--db", str(db), "--out", str(out), *extra]) == 0
        assert list(read_table(out)["object_id"]) == ["kept"], out.name
