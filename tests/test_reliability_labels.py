"""Issue 16, labels: imported values are stored as written or refused as row errors (3), a database that
is not ours is refused and left byte-for-byte untouched (4), imports stream (12)."""
from __future__ import annotations

import hashlib
import sqlite3
import tracemalloc

import pytest

from casiglo_gui import cli
from casiglo_gui.core.labels import LabelStore
from casiglo_gui.core.labels.errors import ForeignDatabaseError
from casiglo_gui.core.labels.events import LabelEvent, LabelValueError
from casiglo_gui.core.labels.importer import LabelImportError, import_csv


def _import(tmp_path, text: str):
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    with LabelStore.open(tmp_path / "labels.sqlite3") as store:
        report = import_csv(store, path, inspector="ab")
        events = store.events()
    return report, events


# -- 3: values as written, or a row error -----------------------------------------------------------

@pytest.mark.parametrize("cells, column", [
    ("400,10", "ra"), ("-1e308,10", "ra"), ("-0.5,10", "ra"), ("360,10", "ra"), ("10,91", "dec"),
    ("1_000,10", "ra"), ("0x10,10", "ra"), ("inf,10", "ra"), ("1e999,10", "ra"), (" 1e5,10", "ra"),
])
def test_out_of_range_or_malformed_numbers_are_row_errors(tmp_path, cells, column):
    report, events = _import(tmp_path, f"object_id,grade,ra,dec\ngood,likely,10,20\nbad,likely,{cells}\n")
    assert [e.object_id for e in events] == ["good"]
    assert [(e.ra, e.dec) for e in events] == [(10.0, 20.0)]
    assert len(report.bad_rows) == 1 and report.bad_rows[0][0] == 3
    assert column in report.bad_rows[0][1]


@pytest.mark.parametrize("cells", ["z_bg=-1.5", "z_fg=-2", "score=1.5", "score=-0.1", "z_bg=1_0"])
def test_redshift_and_score_out_of_range_are_row_errors(tmp_path, cells):
    name, value = cells.split("=")
    report, events = _import(tmp_path, f"object_id,grade,{name}\na,likely,{value}\n")
    assert events == [] and report.bad_rows[0][0] == 2 and name in report.bad_rows[0][1]


def test_label_event_refuses_instead_of_wrapping_ra():
    with pytest.raises(LabelValueError, match="ra"):
        LabelEvent("x", "likely", "ab", ra=400.0, dec=10.0)
    assert LabelEvent("x", "likely", "ab", ra=359.5, dec=-10.0).ra == 359.5


def test_a_column_named_twice_refuses_the_file(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("object_id,grade,grade\na,likely,none\n")
    with LabelStore.open(tmp_path / "labels.sqlite3") as store:
        with pytest.raises(LabelImportError, match="grade"):
            import_csv(store, path, inspector="ab")
        assert store.count() == 0


def test_a_huge_cell_is_a_row_error_not_a_failed_file(tmp_path):
    huge = "x" * (200 * 1024)
    report, events = _import(tmp_path, f"object_id,grade,comment\na,likely,short\nb,likely,{huge}\nc,none,\n")
    assert [e.object_id for e in events] == ["a", "c"]
    assert report.bad_rows == [(3, "comment is 204,800 characters long (at most 131,072)")]


def test_cli_reports_row_errors_as_file_line_reason(tmp_path, capsys):
    path = tmp_path / "in.csv"
    path.write_text("object_id,grade,ra,dec\na,likely,400,10\n")
    code = cli.main(["labels", "import", str(path), "--db", str(tmp_path / "l.sqlite3"), "--inspector", "ab"])
    assert code == 1
    assert f"{path}:2: ra 400.0 is outside [0, 360) degrees" in capsys.readouterr().err


# -- 4: a database that is not ours -----------------------------------------------------------------

def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_empty_sqlite_file_of_another_program_is_refused_untouched(tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    path = folder / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.close()
    before = _sha(path)
    with pytest.raises(ForeignDatabaseError, match="1234"):
        LabelStore.open(path)
    assert _sha(path) == before
    assert sorted(p.name for p in folder.iterdir()) == ["other.sqlite3"]


def test_foreign_database_in_wal_mode_is_refused_untouched(tmp_path):
    # Another program's WAL database as a crash leaves it: committed rows still in the -wal file.
    live, folder = tmp_path / "live", tmp_path / "db"
    live.mkdir()
    folder.mkdir()
    writer = sqlite3.connect(live / "other.sqlite3")
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE notes (x TEXT)")
    writer.execute("INSERT INTO notes VALUES ('in the WAL only')")
    writer.commit()
    for name in ("other.sqlite3", "other.sqlite3-wal"):
        (folder / name).write_bytes((live / name).read_bytes())
    writer.close()
    path = folder / "other.sqlite3"
    before = {p.name: _sha(p) for p in folder.iterdir()}
    with pytest.raises(ForeignDatabaseError, match="notes"):
        LabelStore.open(path)
    after = {p.name: _sha(p) for p in folder.iterdir() if not p.name.endswith("-shm")}
    assert after == before


def test_our_own_store_still_opens_and_keeps_its_events(tmp_path):
    path = tmp_path / "labels.sqlite3"
    with LabelStore.open(path) as store:
        store.add_event(LabelEvent("x", "likely", "ab", ra=10.0, dec=20.0))
    with LabelStore.open(path) as store:
        assert store.count() == 1


# -- 12: imports stream --------------------------------------------------------------------------------

def test_import_memory_does_not_grow_with_the_file(tmp_path):
    def peak_for(rows: int) -> int:
        path = tmp_path / f"rows{rows}.csv"
        with open(path, "w") as out:
            out.write("object_id,grade,ra,dec,comment\n")
            for i in range(rows):
                out.write(f"obj-{i},likely,{i % 360},{(i % 180) - 90},a comment of some length {i}\n")
        with LabelStore.open(tmp_path / f"db{rows}.sqlite3") as store:
            tracemalloc.start()
            report = import_csv(store, path, inspector="ab")
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert report.stored == rows
        return peak

    small, large = peak_for(400), peak_for(4_000)
    assert large < 2 * small + 500_000, (small, large)  # a list of events would be ~10x


# -- 12: exports stream (CSV per inspector), byte-identical to the table writer -------------------------

def _store_with(path, n: int) -> None:
    with LabelStore.open(path) as store:
        store.append_events(LabelEvent(f"obj-{i // 2}", ("none", "likely")[i % 2], ("ab", "cd")[i % 2],
                                       ra=float(i % 360), dec=float(i % 90), comment=f"=comment {i}",
                                       z_bg=0.1 + i / 1e6, score=(i % 100) / 100)
                            for i in range(n))


def test_streamed_csv_export_is_the_table_writers_file(tmp_path):
    from casiglo_gui.core.labels.export import inspector_table, write_inspector_csv, write_table

    db = tmp_path / "labels.sqlite3"
    _store_with(db, 300)
    with LabelStore.open(db) as store:
        write_table(inspector_table(list(store.iter_events_by_object()), min_grade="likely"), tmp_path / "a.csv")
        count = write_inspector_csv(store.iter_events_by_object(), tmp_path / "b.csv", min_grade="likely",
                                    batch=7)
    assert count == 150
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_export_memory_does_not_grow_with_the_store(tmp_path):
    def peak_for(n: int) -> int:
        db = tmp_path / f"db{n}.sqlite3"
        _store_with(db, n)
        tracemalloc.start()
        code = cli.main(["labels", "export", "--db", str(db), "--out", str(tmp_path / f"out{n}.csv")])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert code == 0
        assert len((tmp_path / f"out{n}.csv").read_text().splitlines()) == n + 1
        return peak

    peak_for(20)  # imports and first-use caches out of the way
    small, large = peak_for(1_500), peak_for(6_000)  # both above the fetch and write batches
    assert large < 2 * small + 1_000_000, (small, large)  # the whole table in memory would be ~10x
