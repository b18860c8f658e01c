"""``casiglo labels import|export`` as a user runs them: exit codes, stderr, files."""
from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from casiglo_gui.cli import main
from casiglo_gui.core.labels import LabelEvent, LabelStore, default_db_path
from casiglo_gui.core.labels.export import read_table

GOOD_AND_BAD = (
    "object_id,grade,z_bg,ra,dec,z_fg,comment,flags,lines,time\n"
    'spec-1,likely,0.5123456789,146.62404,-0.5,0.12,"multi\nline, ""quoted""",cosmic_ray,halpha oiii_5008,'
    "2024-01-01T00:00:00Z\n"
    "spec-2,maybe,0.4,,,,,,,\n"                            # line 4: bad grade
    "spec-3,probable,not-a-number,,,,,,,\n"                # line 5: bad z_bg
    "spec-4,2,,,,,'=SUM(A1),sky_residual,,\n"             # grade as a number; neutralised formula
    "spec-5,none,,,,,,aliens,,\n"                          # line 7: unknown flag
    "spec-6,possible,,,,,,,halpha_6563,\n"                 # line 8: unknown line
    ",likely,,,,,,,,\n"                                    # line 9: no object id
    "spec-7,likely,,10.0,,,,,,\n"                          # line 10: ra without dec
    "spec-8,likely,,,\n"                                   # line 11: wrong number of cells
    "\n"
    "spec-9,probable,,,,,,,,2024-13-45\n"                  # line 13: bad time
)


def test_import_keeps_good_rows_and_reports_bad_ones_with_line_numbers(tmp_path, capsys):
    src = tmp_path / "old.csv"
    src.write_text(GOOD_AND_BAD, encoding="utf-8")
    db = tmp_path / "labels.sqlite3"
    code = main(["labels", "import", str(src), "--db", str(db), "--inspector", "alice"])
    err = capsys.readouterr().err
    assert code == 1
    for line, word in [(4, "grade"), (5, "z_bg"), (7, "flag"), (8, "line"), (9, "object_id"),
                       (10, "ra and dec"), (11, "cells"), (13, "ISO 8601")]:
        assert f"{src}:{line}: " in err and word in err.split(f"{src}:{line}: ")[1].splitlines()[0], line
    assert f"{src}:2:" not in err and f"{src}:6:" not in err
    assert "10 rows, 2 stored, 0 already in the database, 8 bad" in err
    with LabelStore.open(db) as store:
        assert store.objects() == ["spec-1", "spec-4"]
        first = store.latest("spec-1", "alice")
        assert first.comment == 'multi\nline, "quoted"'
        assert first.z_bg == 0.5123456789 and first.lines_seen == ("oiii_5008", "halpha")
        assert first.time == "2024-01-01T00:00:00.000000Z"
        fourth = store.latest("spec-4", "alice")
        assert fourth.grade == "probable" and fourth.comment == "=SUM(A1)"

    # Importing the same file again stores nothing twice.
    assert main(["labels", "import", str(src), "--db", str(db), "--inspector", "alice"]) == 1
    assert "0 stored, 2 already in the database" in capsys.readouterr().err


def test_import_of_a_clean_file_exits_zero(tmp_path, capsys):
    src = tmp_path / "ok.csv"
    src.write_text("\ufeffObject_ID,Grade,Inspector\nspec-1,likely,\nspec-2,none,bob\n", encoding="utf-8")
    db = tmp_path / "labels.sqlite3"
    assert main(["labels", "import", str(src), "--db", str(db), "--inspector", "alice"]) == 0
    with LabelStore.open(db) as store:
        assert store.current("spec-1").keys() == {"alice"}
        assert store.current("spec-2").keys() == {"bob"}  # the row's inspector wins


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("object_id,z_bg\nspec-1,0.5\n", "has no grade column"),
    ("object_id,grade\nspec-1,likely\n", None),
])
def test_import_of_an_unusable_file_stores_nothing(tmp_path, capsys, content, message):
    src = tmp_path / "bad.csv"
    src.write_text(content, encoding="utf-8")
    db = tmp_path / "labels.sqlite3"
    if message is None:  # a good file, but nobody said who graded it
        assert main(["labels", "import", str(src), "--db", str(db)]) == 2
        assert "has no inspector column: say who graded with --inspector" in capsys.readouterr().err
    else:
        assert main(["labels", "import", str(src), "--db", str(db), "--inspector", "a"]) == 2
        assert message in capsys.readouterr().err
    with LabelStore.open(db) as store:
        assert store.count() == 0


def test_import_of_binary_or_missing_file_is_a_clear_error(tmp_path, capsys):
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"object_id,grade\n\xff\xfe\x00junk\n")
    assert main(["labels", "import", str(binary), "--db", str(tmp_path / "l.db"), "--inspector", "a"]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert main(["labels", "import", str(tmp_path / "nope.csv"), "--db", str(tmp_path / "l.db")]) == 2
    assert "nope.csv: cannot be opened" in capsys.readouterr().err


def test_import_into_a_foreign_database_is_refused(tmp_path, capsys):
    db = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    src = tmp_path / "ok.csv"
    src.write_text("object_id,grade\nspec-1,likely\n", encoding="utf-8")
    assert main(["labels", "import", str(src), "--db", str(db), "--inspector", "a"]) == 2
    assert "not a CASIGLO label store" in capsys.readouterr().err


def _graded_db(path):
    with LabelStore.open(path) as store:
        store.add_event(LabelEvent("spec-1", "likely", "alice", ra=146.62404, dec=-0.5, z_fg=0.12, z_bg=0.51,
                                   lines={"halpha": True}, comment="=cmd|' /C calc'!A0, \"x\"\ny"))
        store.add_event(LabelEvent("spec-1", "probable", "bob", ra=146.62404, dec=-0.5, z_bg=0.5102))
        store.add_event(LabelEvent("spec-2", "none", "alice", ra=10.0, dec=10.0))
        store.add_event(LabelEvent("spec-3", "possible", "bob", ra=20.0, dec=-10.0, comment="-faint"))
        store.add_event(LabelEvent("spec-2", "probable", "carol", adjudicated=True, comment="decided"))


@pytest.mark.parametrize("fmt", ["csv", "ecsv", "fits", "vot"])
def test_export_consensus_target_list(tmp_path, capsys, fmt):
    db = tmp_path / "labels.sqlite3"
    _graded_db(db)
    out = tmp_path / f"targets.{fmt}"
    assert main(["labels", "export", "--db", str(db), "--out", str(out), "--consensus",
                 "--min-grade", "possible"]) == 0
    assert "3 objects written" in capsys.readouterr().err
    table = read_table(out)
    assert list(table["object_id"]) == ["spec-2", "spec-1", "spec-3"]  # best first; 'none' ones dropped
    adjudicated, disputed, faint = table[0], table[1], table[2]
    assert adjudicated["grade"] == "probable" and adjudicated["adjudicated"]
    assert disputed["name"] == "SDSS J094629.76-003000.0"
    assert disputed["grade"] == "probable" and disputed["n_inspectors"] == 2
    assert disputed["agreement"] == 0.5
    assert disputed["comments"] == "alice: =cmd|' /C calc'!A0, \"x\"\ny"
    assert faint["comments"] == "bob: -faint"


def test_export_then_import_recreates_the_same_labels(tmp_path, capsys):
    db = tmp_path / "labels.sqlite3"
    _graded_db(db)
    out = tmp_path / "labels.csv"
    assert main(["labels", "export", "--db", str(db), "--out", str(out)]) == 0
    copy = tmp_path / "copy.sqlite3"
    assert main(["labels", "import", str(out), "--db", str(copy)]) == 0
    with LabelStore.open(db) as a, LabelStore.open(copy) as b:
        assert a.objects() == b.objects()
        for object_id in a.objects():
            assert a.consensus(object_id) == b.consensus(object_id)
            original, copied = a.current(object_id), b.current(object_id)
            assert original.keys() == copied.keys()
            for name, event in original.items():
                # Identical events apart from the storage sequence number.
                assert copied[name] == dataclasses.replace(event, event_id=copied[name].event_id)
    # and re-importing into the original store adds nothing
    assert main(["labels", "import", str(out), "--db", str(db)]) == 0
    assert "0 stored, 5 already in the database" in capsys.readouterr().err


def test_export_per_inspector_and_filters(tmp_path):
    db = tmp_path / "labels.sqlite3"
    _graded_db(db)
    out = tmp_path / "bob.ecsv"
    assert main(["labels", "export", "--db", str(db), "--out", str(out), "--inspector", "bob"]) == 0
    table = read_table(out)
    assert list(table["inspector"]) == ["bob", "bob"]
    assert list(table["agreement"]) == [0.5, 1.0]


def test_export_errors(tmp_path, capsys):
    db = tmp_path / "labels.sqlite3"
    assert main(["labels", "export", "--db", str(db), "--out", str(tmp_path / "t.csv")]) == 2
    assert "no label database there" in capsys.readouterr().err
    assert not db.exists()  # export never creates an empty store
    _graded_db(db)
    assert main(["labels", "export", "--db", str(db), "--out", str(tmp_path / "t.xlsx")]) == 2
    assert "unknown table extension" in capsys.readouterr().err
    (tmp_path / "t.csv").write_text("precious", encoding="utf-8")
    assert main(["labels", "export", "--db", str(db), "--out", str(tmp_path / "t.csv")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "t.csv").read_text(encoding="utf-8") == "precious"
    assert main(["labels", "export", "--db", str(db), "--out", str(tmp_path / "t.csv"), "--overwrite"]) == 0
    assert main(["labels", "export", "--db", str(db), "--out", str(tmp_path / "u.csv"), "--consensus",
                 "--inspector", "bob"]) == 2
    assert main(["labels"]) == 2


def test_db_defaults_to_the_per_user_store(tmp_path):
    src = tmp_path / "ok.csv"
    src.write_text("object_id,grade\nspec-1,likely\n", encoding="utf-8")
    assert main(["labels", "import", str(src), "--inspector", "alice"]) == 0
    assert default_db_path().exists()
    out = tmp_path / "t.vot"
    assert main(["labels", "export", "--out", str(out), "--consensus"]) == 0
    assert list(read_table(out)["object_id"]) == ["spec-1"]
