"""A 200-item grading run of a scan table with keys only: grades, flags, a comment, undos (of a regrade and of
a first grade), alternatives confirmed, lines marked; the store must hold exactly those events, in order."""
import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from scan_tables import write_scan
from test_app import db, make_args, wait_shown  # noqa: F401 (fixtures)
from casiglo_gui import app as app_module
from casiglo_gui.core.detectors.detection import Detection, Solution
from casiglo_gui.core.labels import GRADES, LabelStore
from casiglo_gui.core.lines import LINE_KEYS, N_LINES

N_ITEMS = 200
BEST_Z, ALTERNATIVE_Z = 0.71234, 0.80111
DIGITS = [Qt.Key.Key_0, Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3]


def detection_with_an_alternative(_gridded):
    """What the detector will give: a best solution and next-best ones (built here, the detector is not tested)."""
    return Detection(z_bg=BEST_Z, z_bg_err=3e-5, score=0.9, n_lines=3, line_probability=np.full(N_LINES, 0.8),
                     line_snr=np.full(N_LINES, 5.0), detector="combined", model_version="test-model",
                     alternatives=[Solution(z_bg=ALTERNATIVE_Z, score=0.3, n_lines=1)])


@pytest.fixture
def grading_window(qtbot, db, data_dir, tmp_path):
    files = sorted((data_dir / "sdss").glob("spec-*.fits"))
    readable = [f for f in files if "0269-51581-0003" not in f.name]   # that one is a dead fibre
    rows = [{"source": str(readable[i % len(readable)]), "object_id": f"obj{i:03d}",
             "score": f"{1 - i / 1000:.3f}", "status": "ok"} for i in range(N_ITEMS)]
    table = write_scan(tmp_path / "scan.csv", rows)
    _app, window = app_module.build_window(make_args([table], labels=str(db)))
    window.detectors.detect = detection_with_an_alternative
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    wait_shown(qtbot, window)
    yield window
    window.workers.wait(10000)


def test_200_items_graded_with_keys_only_leave_exactly_those_events(grading_window, qtbot, db):
    window = grading_window

    def press(key, modifier=Qt.KeyboardModifier.NoModifier):
        qtbot.keyClick(QApplication.focusWidget() or window, key, modifier)

    expected = []
    for i in range(N_ITEMS):
        assert window.state.spectrum is not None and window.queue.current.object_id == f"obj{i:03d}"
        grade = GRADES[i % 4]
        flags, comment, lines, z = set(), "", {}, BEST_Z
        if i % 10 == 3:
            press(Qt.Key.Key_S)
            press(Qt.Key.Key_L, Qt.KeyboardModifier.ShiftModifier)
            flags = {"sky_residual", "low_snr"}
        if i == 5:
            press(Qt.Key.Key_Slash)
            qtbot.keyClicks(QApplication.focusWidget(), "two lines, arc?")
            press(Qt.Key.Key_Return)
            comment = "two lines, arc?"
        if i % 17 == 0:
            press(Qt.Key.Key_N)                       # the detector's next-best solution
            z = ALTERNATIVE_Z
        if i % 13 == 0:
            for key in (Qt.Key.Key_Period, Qt.Key.Key_Period, Qt.Key.Key_Y, Qt.Key.Key_Comma, Qt.Key.Key_D):
                press(key)
            lines = {LINE_KEYS[2]: True, LINE_KEYS[1]: False}
        press(DIGITS[i % 4])
        expected.append((f"obj{i:03d}", grade, flags, comment, None if grade == "none" else z, lines, "grading"))
        if i == 41:                                   # a change of mind: back, regrade, then undo it
            press(Qt.Key.Key_Left)
            wait_shown(qtbot, window)
            press(Qt.Key.Key_0)
            expected.append(("obj041", "none", flags, comment, None, lines, "grading"))
            press(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
            wait_shown(qtbot, window)
            assert window.queue.current.object_id == "obj041"
            assert "undone: obj041" in window.grading.confirmation.text()
            expected.append(("obj041", grade, flags, comment, z, lines, "grading"))
            press(Qt.Key.Key_Right)
        if i == 77:                                   # the first grade of an object undone: withdrawn
            wait_shown(qtbot, window)
            press(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
            wait_shown(qtbot, window)
            assert window.queue.current.object_id == "obj077"
            assert "undone: obj077 is ungraded again" in window.grading.confirmation.text()
            expected.append(("obj077", grade, flags, comment, z, lines, "withdrawal"))
            press(Qt.Key.Key_3)                       # and graded right
            expected.append(("obj077", "likely", set(), "", BEST_Z, {}, "grading"))
        if i < N_ITEMS - 1:
            wait_shown(qtbot, window)
    assert window.progress_label.text().startswith(f"{N_ITEMS} of {N_ITEMS} graded")
    with LabelStore.open(db) as store:
        events = store.events("tester")
    got = [(e.object_id, e.grade, set(e.flags), e.comment, e.z_bg, dict(e.lines), e.kind) for e in events]
    assert len(got) == len(expected) == N_ITEMS + 4
    for have, want in zip(got, expected):
        assert have[:4] == want[:4] and have[5:] == want[5:]
        assert (have[4] is None and want[4] is None) or have[4] == pytest.approx(want[4], abs=1e-12)
    assert all(e.model_version == "test-model" for e in events)


def test_undo_of_a_first_grade_leaves_the_object_ungraded_and_out_of_the_target_list(grading_window, qtbot, db,
                                                                                     tmp_path):
    from astropy.table import Table

    window = grading_window
    window.unlabelled_box.setChecked(True)
    for key in (Qt.Key.Key_3, Qt.Key.Key_2):
        qtbot.keyClick(window, key)
        wait_shown(qtbot, window)
    assert window.queue.current.object_id == "obj002"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait_shown(qtbot, window)
    assert window.queue.current.object_id == "obj001" and window.state.spectrum is not None
    assert "obj001 is ungraded again" in window.grading.confirmation.text()
    assert window.progress_label.text().startswith("1 of 200 graded")
    with LabelStore.open(db) as store:
        assert store.latest("obj001", "tester") is None and store.latest("obj000", "tester").grade == "likely"
    out = tmp_path / "targets.csv"
    assert window.export_target_list(str(out))
    assert list(Table.read(out)["object_id"]) == ["obj000"]
    assert window.queue.visible[:2] == [1, 2]         # "ungraded only" offers it again
    for key, shown in ((Qt.Key.Key_Right, "obj002"), (Qt.Key.Key_Left, "obj001")):
        qtbot.keyClick(window, key)
        wait_shown(qtbot, window)
        assert window.queue.current.object_id == shown


def test_clicking_a_stamp_selects_its_line_for_marking(grading_window, qtbot):
    from PyQt6.QtCore import QPointF

    from casiglo_gui.ui.stamps_view import cell_origin

    window = grading_window
    view = window.stamps_view
    x0, yc = cell_origin(8)                            # Hα's stamp, second row
    scene_point = view.plot.getViewBox().mapViewToScene(QPointF(x0 + 0.5, yc))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(scene_point))
    assert window.session.draft.selected_line == 8
    qtbot.keyClick(window, Qt.Key.Key_D)
    assert window.session.draft.lines == {LINE_KEYS[8]: False}
    assert view.marks[8].text() in ("✗ rejected", "✗")   # the short form in a narrow stamp
    assert "rejected Hα" in window.grading.lines.text()


def test_file_menu_exports_the_target_list_and_quits(grading_window, qtbot, db, tmp_path):
    from astropy.table import Table

    from casiglo_gui.core.inspection.queue import OPEN_DIALOG_PATTERNS

    window = grading_window
    file_menu = window.menuBar().actions()[0].menu()
    titles = [a.text().replace("&", "") for a in file_menu.actions() if a.text()]
    assert {"Open files or a scan table…", "Open folder…", "Export target list…", "Quit"} <= set(titles)
    assert "*.parquet" in OPEN_DIALOG_PATTERNS and "*.csv" in OPEN_DIALOG_PATTERNS
    for key in (Qt.Key.Key_3, Qt.Key.Key_2, Qt.Key.Key_0):
        qtbot.keyClick(window, key)
        wait_shown(qtbot, window)
    out = tmp_path / "targets.csv"
    assert window.export_target_list(str(out))
    table = Table.read(out, format="ascii.ecsv") if out.read_text().startswith("# %ECSV") else Table.read(out)
    assert sorted(table["object_id"]) == ["obj000", "obj001"]        # possible or better
    quit_action = next(a for a in file_menu.actions() if a.text().replace("&", "") == "Quit")
    quit_action.trigger()
    assert not window.isVisible()
