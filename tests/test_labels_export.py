"""Consensus rules, IAU-style names, and target lists that round-trip through every file format."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from casiglo_gui.core.labels import LabelEvent, LabelStore
from casiglo_gui.core.labels.export import (
    ExportError,
    consensus_table,
    inspector_table,
    neutralise_formula_text,
    read_table,
    restore_formula_text,
    write_table,
)
from casiglo_gui.core.labels.names import iau_name

NASTY_COMMENTS = [
    'He said "maybe, maybe not"',
    "comma, separated, text",
    "first line\nsecond line\n\nfourth, with \"quotes\"",
    "# heading\n#2 a line starting with a hash\n\n\n  indented, after blank lines",
    "unicode: Hα λ6563 Å ✓ 日本語 — naïve",
    "=SUM(A1)",
    "+1",
    "-2",
    "@x",
    "=HYPERLINK(\"http://evil\",\"click\")",
    "'already quoted",
    "''two apostrophes",
    "tab\tinside",
    "<xml> & ampersand </VOTABLE>",
    "",
]
FORMATS = ["csv", "ecsv", "fits", "vot"]


@pytest.mark.parametrize("ra, dec, expected", [
    (146.62404, -0.5, "SDSS J094629.76-003000.0"),        # 29.7696 s truncated, not rounded to .77
    (202.4695, 47.1952, "SDSS J132952.68+471142.7"),
    (359.99999999, 89.9999999, "SDSS J235959.99+895959.9"),  # never rounds up to 24h / 90 deg
    (0.0, -0.00001, "SDSS J000000.00-000000.0"),           # the sign of a dec just south of 0 is kept
    (10.0, -0.0, "SDSS J004000.00+000000.0"),
    (150.0, 2.5, "SDSS J100000.00+023000.0"),              # exact values are not truncated one digit down
])
def test_iau_names_truncate_like_the_iau_convention(ra, dec, expected):
    assert iau_name(ra, dec) == expected


def test_iau_name_prefix():
    assert iau_name(202.4695, 47.1952, prefix="") == "J132952.68+471142.7"
    assert iau_name(202.4695, 47.1952, prefix="BOSS") == "BOSS J132952.68+471142.7"


def test_formula_neutralisation_is_exactly_reversible():
    for text in NASTY_COMMENTS + ["'", "''", "=", "a=b"]:
        cell = neutralise_formula_text(text)
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert restore_formula_text(cell) == text
    assert neutralise_formula_text("normal text") == "normal text"


def _grade(store, object_id, grade, inspector, **kw):
    return store.add_event(LabelEvent(object_id, grade, inspector, **kw))


def test_consensus_mean_agreement_and_adjudication(tmp_path):
    with LabelStore.open(tmp_path / "l.sqlite3") as store:
        _grade(store, "a", "likely", "x", z_bg=0.50, lines={"halpha": True, "hbeta": True})
        _grade(store, "a", "likely", "y", z_bg=0.52, lines={"halpha": True, "hbeta": False})
        _grade(store, "a", "probable", "z", z_bg=0.54, lines={"halpha": True})
        _grade(store, "a", "none", "w", z_bg=9.0)  # 'none' does not vote for z_bg or lines
        c = store.consensus("a")
        assert c.n_inspectors == 4
        assert c.mean_grade == pytest.approx(2.0)
        assert c.agreement == pytest.approx(0.5)
        assert c.grade == "probable"
        assert c.z_bg == pytest.approx(0.52)
        assert c.lines_seen == ("halpha",)  # hbeta: one yes, one no
        assert c.needs_adjudication  # none vs likely: 3 steps
        _grade(store, "a", "likely", "boss", adjudicated=True, comment="clear [OIII] doublet")
        c = store.consensus("a")
        assert c.grade == "likely" and c.adjudicated and not c.needs_adjudication
        assert c.n_inspectors == 4  # the adjudicator is not counted as an inspector
        assert c.comments.endswith("boss: clear [OIII] doublet")

        _grade(store, "b", "possible", "x")
        _grade(store, "b", "probable", "y")
        c = store.consensus("b")
        assert c.grade == "possible"  # halves round down: conservative
        assert c.agreement == 0.5 and not c.needs_adjudication  # one step apart
        assert store.consensus("unknown") is None


def _store_with_labels(path):
    store = LabelStore.open(path)
    for i, comment in enumerate(NASTY_COMMENTS):
        grade = ("none", "possible", "probable", "likely")[i % 4]
        _grade(store, f"spec-{i:04d}", grade, "alice", z_bg=0.3 + i * 0.0123456789, ra=10.0 + 20 * i,
               dec=-30.0 + 4.5 * i, z_fg=0.1 + i * 0.01, comment=comment, lines={"halpha": True},
               flags={"cosmic_ray"} if i % 3 == 0 else set(), model_version="cnn-1.0", score=i / 20)
    _grade(store, "spec-0003", "likely", "bob", comment="=1+1, \"agreed\"\nok")
    _grade(store, "no-position", "probable", "bob")  # no ra/dec/z: empty name, masked numbers
    return store


def _assert_tables_equal(original: Table, back: Table):
    assert back.colnames == original.colnames
    assert len(back) == len(original)
    for name in original.colnames:
        a, b = original[name], back[name]
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(np.ma.filled(a, np.nan), np.ma.filled(b, np.nan), err_msg=name)
            assert list(np.ma.getmaskarray(a)) == list(np.ma.getmaskarray(b)), name
        else:
            assert list(a) == list(b), name


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("consensus", [False, True])
def test_tables_round_trip_through_every_format(tmp_path, fmt, consensus):
    with _store_with_labels(tmp_path / "l.sqlite3") as store:
        if consensus:
            table = consensus_table(store.consensus_table())
        else:
            table = inspector_table(list(store.iter_events_by_object()))
    path = write_table(table, tmp_path / f"targets.{fmt}")
    back = read_table(path)
    _assert_tables_equal(table, back)
    column = "comments" if consensus else "comment"
    texts = list(back[column])
    for comment in NASTY_COMMENTS[1:]:
        assert any(comment in text for text in texts), comment


def test_csv_cells_never_start_a_formula(tmp_path):
    import csv

    with _store_with_labels(tmp_path / "l.sqlite3") as store:
        table = inspector_table(list(store.iter_events_by_object()))
    path = write_table(table, tmp_path / "targets.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for name, cell in row.items():
            if name in ("ra", "dec", "z_fg", "z_bg", "score", "agreement"):
                continue  # numbers are numbers, a negative dec stays one
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    assert any(row["comment"] == "'=SUM(A1)" for row in rows)
    assert any(row["dec"].startswith("-") for row in rows)


def test_target_list_content_order_and_min_grade(tmp_path):
    with _store_with_labels(tmp_path / "l.sqlite3") as store:
        table = consensus_table(store.consensus_table(), min_grade="probable")
    grades = list(table["grade"])
    assert set(grades) <= {"probable", "likely"}
    assert grades == sorted(grades, key=["likely", "probable"].index)  # best first
    row = table[list(table["object_id"]).index("spec-0003")]
    assert row["n_inspectors"] == 2 and row["agreement"] == 1.0 and row["grade"] == "likely"
    assert row["name"] == iau_name(70.0, -16.5)
    assert row["lines_seen"] == "halpha"
    assert row["z_bg"] == pytest.approx(0.3 + 3 * 0.0123456789)
    assert f"alice: {NASTY_COMMENTS[3]}" in row["comments"] and "bob: =1+1" in row["comments"]
    no_position = table[list(table["object_id"]).index("no-position")]
    assert no_position["name"] == "" and np.ma.is_masked(no_position["ra"])


def test_per_inspector_table_filters(tmp_path):
    with _store_with_labels(tmp_path / "l.sqlite3") as store:
        bob = inspector_table(list(store.iter_events_by_object()), inspector="bob")
        likely = inspector_table(list(store.iter_events_by_object()), min_grade="likely")
    assert list(bob["object_id"]) == ["spec-0003", "no-position"]
    assert set(likely["grade"]) == {"likely"}


def test_write_refuses_unknown_extension_and_existing_file(tmp_path):
    table = consensus_table([])
    with pytest.raises(ExportError, match="unknown table extension '.xlsx'"):
        write_table(table, tmp_path / "t.xlsx")
    write_table(table, tmp_path / "t.csv")
    with pytest.raises(ExportError, match="already exists"):
        write_table(table, tmp_path / "t.csv")
    write_table(table, tmp_path / "t.csv", overwrite=True)
    assert len(read_table(tmp_path / "t.csv")) == 0


def _reference_name(ra, dec):
    """An independent IAU name: integer arithmetic on truncated centiseconds / deciarcseconds."""
    import math

    cs = math.floor(ra / 15.0 * 360000.0 + 1e-6)
    ds = math.floor(abs(dec) * 36000.0 + 1e-6)
    ra_text = f"{cs // 360000:02d}{cs // 6000 % 60:02d}{cs // 100 % 60:02d}.{cs % 100:02d}"
    dec_text = f"{ds // 36000:02d}{ds // 600 % 60:02d}{ds // 10 % 60:02d}.{ds % 10:d}"
    return f"SDSS J{ra_text}{'-' if dec < 0 else '+'}{dec_text}"


def test_vectorised_names_match_an_independent_truncation():
    from casiglo_gui.core.labels.names import iau_names

    rng = np.random.default_rng(5)
    ra, dec = rng.uniform(0, 360, 500), rng.uniform(-90, 90, 500)
    assert iau_names(ra, dec) == [_reference_name(r, d) for r, d in zip(ra, dec)]
    assert iau_names([], []) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_target_list_is_still_a_valid_table(tmp_path, fmt):
    table = consensus_table([])
    back = read_table(write_table(table, tmp_path / f"empty.{fmt}"))
    assert len(back) == 0 and back.colnames == table.colnames
