"""The real inspector window, driven offscreen with pytest-qt: open, move, grade, refit, scan tables, cubes."""
import argparse
import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from scan_tables import write_scan
from casiglo_gui import app as app_module
from casiglo_gui.core.labels import LabelStore
from casiglo_gui.core.lines import REST_WAVELENGTHS_A
from casiglo_gui.core.inspection.actions import KEYMAP

SAMPLE_COUNT = len([p for p in app_module.SAMPLE_DIR.iterdir() if p.name.endswith(".fits")])


def make_args(paths=(), **extra):
    values = dict(paths=[str(p) for p in paths], labels=None, inspector="tester", model=None, no_model=True,
                  screenshot=None, screenshot_part="window", size="1200x800", start=None)
    values.update(extra)
    return argparse.Namespace(**values)


@pytest.fixture
def db(tmp_path):
    # astropy warns (an error here) when XDG_CONFIG_HOME names a missing folder: make the isolated one exist.
    Path(os.environ["XDG_CONFIG_HOME"]).mkdir(parents=True, exist_ok=True)
    return tmp_path / "labels.sqlite3"


@pytest.fixture
def open_window(qtbot, db):
    windows = []

    def _open(paths=(), **extra):
        _app, window = app_module.build_window(make_args(paths, labels=str(db), **extra))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        wait_shown(qtbot, window)
        windows.append(window)
        return window

    yield _open
    for window in windows:
        window.workers.wait(10000)


def wait_shown(qtbot, window, timeout=20000):
    """Until the current item is on show with the detectors' verdict (the first one is drawn before it)."""
    qtbot.waitUntil(lambda: window.loaded is not None and window.loaded.item is window.queue.current
                    and not window.loaded.detection_pending, timeout=timeout)


def assert_markers_follow(window):
    expected = REST_WAVELENGTHS_A * (1.0 + window.state.z)
    np.testing.assert_allclose(window.spectrum_view.marker_positions(), expected, rtol=1e-12)
    assert f"{window.state.z:.5f}" in window.spectrum_view.top_axis.labelText


def test_no_arguments_opens_the_sample_set_and_keys_move_through_it(open_window, qtbot):
    window = open_window()
    assert len(window.queue) == SAMPLE_COUNT >= 4
    first = window.queue.current.object_id
    assert window.state is not None and first in window.info_label.text()
    assert_markers_follow(window)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    wait_shown(qtbot, window)
    assert window.queue.position == 1 and window.state.spectrum.object_id != first
    assert_markers_follow(window)
    qtbot.keyClick(window, Qt.Key.Key_J)
    wait_shown(qtbot, window)
    assert window.queue.position == 2
    qtbot.keyClick(window, Qt.Key.Key_Left)
    wait_shown(qtbot, window)
    assert window.queue.position == 1
    qtbot.keyClick(window, Qt.Key.Key_Home)
    wait_shown(qtbot, window)
    assert window.state.spectrum.object_id == first


def test_grade_key_writes_to_the_label_store_and_advances(open_window, qtbot, db, data_dir):
    window = open_window([data_dir / "sdss" / "spec-0266-51602-0013.fits",
                          data_dir / "sdss" / "spec-0266-51602-0107.fits"])
    shown = window.state
    qtbot.keyClick(window, Qt.Key.Key_S)           # flag: sky residual
    qtbot.keyClick(window, Qt.Key.Key_2)           # grade: probable
    wait_shown(qtbot, window)
    assert window.queue.position == 1
    assert window.progress_label.text().startswith("1 of 2 graded")
    with LabelStore.open(db) as store:
        event = store.latest("0266-51602-0013", "tester")
        assert event.grade == "probable" and event.flags == frozenset({"sky_residual"})
        assert event.z_bg == pytest.approx(shown.z) and event.source.endswith("spec-0266-51602-0013.fits")
        assert store.latest("0266-51602-0107", "tester") is None
    qtbot.keyClick(window, Qt.Key.Key_0)           # the second: none; the queue is now fully graded
    assert window.progress_label.text().startswith("2 of 2 graded")
    qtbot.keyClick(window, Qt.Key.Key_U)
    assert "every spectrum" in window.statusBar().currentMessage()


def test_a_grade_the_store_refuses_is_reported_and_the_spectrum_stays(open_window, qtbot, db, data_dir):
    window = open_window([data_dir / "sdss" / "spec-0266-51602-0013.fits",
                          data_dir / "sdss" / "spec-0266-51602-0107.fits"])
    window.grading.comment.setText("bell\x07 in a comment")   # a control character the store refuses
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert window.queue.position == 0                        # not advanced past an unsaved grade
    assert "NOT saved" in window.statusBar().currentMessage()
    assert window.progress_label.text().startswith("0 of 2 graded")
    with LabelStore.open(db) as store:
        assert store.latest("0266-51602-0013", "tester") is None


def test_comment_is_typed_without_triggering_keys_and_saved(open_window, qtbot, db, data_dir):
    window = open_window([data_dir / "sdss" / "spec-0266-51602-0013.fits",
                          data_dir / "sdss" / "spec-0266-51602-0107.fits"])
    qtbot.keyClick(window, Qt.Key.Key_Slash)
    assert window.grading.comment.hasFocus()
    qtbot.keyClicks(window.grading.comment, "arc 2 lines")
    for key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_Space, Qt.Key.Key_Backspace):   # editing, not moving
        qtbot.keyClick(window.grading.comment, key)
    assert window.queue.position == 0
    qtbot.keyClick(window.grading.comment, Qt.Key.Key_Return)
    assert not window.grading.comment.hasFocus()
    assert not window.grading.flags["artefact"].isChecked()   # the 'a' went into the comment
    qtbot.keyClick(window, Qt.Key.Key_3)
    with LabelStore.open(db) as store:
        event = store.latest("0266-51602-0013", "tester")
    assert event.grade == "likely" and event.comment == "arc 2 lines"


def test_manual_redshift_then_refit(open_window, qtbot, data_dir):
    window = open_window([data_dir / "sdss" / "spec-0266-51602-0107.fits"])
    z0 = window.state.z
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.state.z_origin == "manual" and window.state.z > z0
    assert math.isclose(np.log10((1 + window.state.z) / (1 + z0)), 3e-4, rel_tol=1e-6)
    assert_markers_follow(window)
    marker = window.spectrum_view.markers[6]       # drag [OIII] 5008 to z = 0.3: every marker follows
    marker.setValue(5008.24 * 1.3)
    marker.sigDragged.emit(marker)
    assert window.state.z == pytest.approx(0.3, abs=1e-9) and window.state.z_origin == "manual"
    assert_markers_follow(window)
    with qtbot.waitSignal(window.refit_done, timeout=20000):
        qtbot.keyClick(window, Qt.Key.Key_Z)
    assert window.state.z_origin == "refit" and math.isfinite(window.state.z_err)
    assert abs(window.state.z - 0.3) < 0.01
    assert_markers_follow(window)
    assert "±" in window.spectrum_view.caption_text()
    assert "p from: fit" in window.spectrum_view.caption_text()
    qtbot.keyClick(window, Qt.Key.Key_X)
    assert window.state.z_origin == "detector"


def test_scan_table_opens_sorted_by_score_with_its_probabilities(open_window, qtbot, data_dir, tmp_path):
    table = write_scan(tmp_path / "scan.csv", [
        {"source": str(data_dir / "sdss" / "spec-0266-51602-0013.fits"), "object_id": "0266-51602-0013",
         "score": "0.15", "z_bg": "0.4", "status": "ok"},
        {"source": str(data_dir / "sdss" / "spec-3650-55244-0056.fits"), "object_id": "3650-55244-0056",
         "score": "0.95", "z_bg": "0.51234", "z_bg_err": "2e-5", "p_oiii_5008": "0.97", "snr_oiii_5008": "8.1",
         "status": "ok"},
    ])
    window = open_window([table])
    assert [it.object_id for it in window.queue.items] == ["3650-55244-0056", "0266-51602-0013"]
    assert window.state.z == pytest.approx(0.51234) and window.state.probability_source == "scan table"
    assert_markers_follow(window)
    label = window.state.marker_labels()[6]                     # what the plot labels (when there is room)
    assert "p=0.97" in label and "S/N=8.1" in label
    window.score_min.setValue(0.5)                 # filter: score >= 0.5 leaves one
    assert window.queue.visible == [0] and window.queue_model.rowCount() == 1


def test_manga_cube_shows_a_map_and_a_picked_spaxel(open_window, qtbot, data_dir, tmp_path):
    spec = importlib.util.spec_from_file_location("make_test_logcube", data_dir / "manga" / "make_test_logcube.py")
    factory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(factory)
    cube_path = factory.write_logcube(tmp_path / "manga-8131-6102-LOGCUBE.fits")
    window = open_window([cube_path])
    assert window.cube_dock.isVisible()
    assert window.cube_view.maps["white light"].shape == (5, 5)
    window.cube_view.pick(3, 1)
    qtbot.waitUntil(lambda: window.state is not None and window.state.spectrum.object_id.endswith("/3,1"),
                    timeout=20000)
    assert window.cube_view.selected == (3, 1)
    window.cube_view.radius.setValue(1)
    window.cube_view.sum_button.click()
    qtbot.waitUntil(lambda: window.state.spectrum.object_id.endswith("/3,1/r1"), timeout=20000)
    assert window.state.spectrum.meta["n_spaxels"] >= 4       # the spaxel and its neighbours with data
    assert window.cube_view.aperture_circle.isVisible()


def test_help_overlay_lists_every_key(open_window, qtbot):
    window = open_window()
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.help_overlay.isVisible()
    text = window.help_overlay.label.text()
    for binding in KEYMAP:
        assert binding.description.split(" (")[0].replace("'", "&#x27;") in text
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.help_overlay.isVisible()


def test_view_toggles_and_smoothing_persist(open_window, qtbot, db):
    window = open_window()
    qtbot.keyClick(window, Qt.Key.Key_F)
    assert not window.spectrum_view.flux_curve.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_Equal)
    assert window.state.smoothing_half_width == 3
    window.close()
    again = open_window()
    assert not again.spectrum_view.show_flux and again.smoothing_half_width == 3


def test_unreadable_file_is_reported_not_fatal(open_window, qtbot, data_dir):
    window = open_window([data_dir / "sdss" / "spec-0266-51602-0013.fits",
                          data_dir / "sdss" / "spec-0269-51581-0003.fits"])
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: "dead fibre" in window.info_label.text() or "ivar is zero" in window.info_label.text(),
                    timeout=20000)
    assert "spec-0269-51581-0003.fits" in window.statusBar().currentMessage()
    qtbot.keyClick(window, Qt.Key.Key_Left)
    wait_shown(qtbot, window)
    assert window.state.spectrum.object_id == "0266-51602-0013"


def test_recent_files_are_remembered(open_window, data_dir):
    path = data_dir / "sdss" / "spec-0266-51602-0013.fits"
    window = open_window([path])
    assert window.recent_files()[0] == str(path.resolve())
    assert window.recent_menu.actions()[0].text() == str(path.resolve())


def test_screenshot_option_writes_a_png(qtbot, tmp_path, db, data_dir):
    out = tmp_path / "shot.png"
    args = make_args([data_dir / "sdss" / "spec-0266-51602-0013.fits"], labels=str(db), screenshot=str(out),
                     size="900x600")
    assert app_module.run(args) == 0
    from PyQt6.QtGui import QImage

    image = QImage(str(out))
    assert image.width() == 900 and image.height() == 600


def test_start_option_opens_at_the_matching_spectrum(open_window):
    window = open_window(start="9001")
    assert window.state.spectrum.object_id.endswith("-9001")
    # the synthetic lens: the physics search finds the injected redshift
    assert window.state.z == pytest.approx(0.6234, abs=2e-3)


def _toy_models():
    spec = importlib.util.spec_from_file_location("cnn_onnx_toy", Path(__file__).parent / "cnn_onnx_toy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_with_a_model_probabilities_are_labelled_as_the_models(open_window, tmp_path, data_dir):
    toy = _toy_models()
    model = toy.write_toy_model(tmp_path / "toy.onnx")
    window = open_window([data_dir / "sdss" / "spec-3650-55244-0056.fits"], model=str(model), no_model=False)
    assert "model toy-1" in window.model_status.text()
    assert window.state.detection.detector == "combined"
    assert window.state.probability_source == "model"
    assert "toy-1" in window.info_label.text()
    assert "p from: model" in window.spectrum_view.caption_text()


def test_a_mismatched_model_is_refused_and_the_app_runs_physics_only(open_window, tmp_path, data_dir):
    toy = _toy_models()
    model = toy.write_toy_model(tmp_path / "bad.onnx", toy.good_metadata(npix="4000"))
    window = open_window([data_dir / "sdss" / "spec-0266-51602-0013.fits"], model=str(model), no_model=False)
    status = window.model_status.text()
    assert "physics-only" in status and "model refused" in status
    assert window.state.probability_source == "fit"


def test_grade_filter_and_drag_and_drop(open_window, qtbot, data_dir):
    from PyQt6.QtCore import QMimeData, QPointF, QUrl
    from PyQt6.QtGui import QDropEvent

    window = open_window([data_dir / "sdss" / "spec-0266-51602-0013.fits"])
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(data_dir / "sdss" / name))
                  for name in ("spec-0266-51602-0107.fits", "spec-3650-55244-0056.fits")])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.queue_loaded, timeout=20000):
        window.dropEvent(event)
    wait_shown(qtbot, window)
    assert len(window.queue) == 2 and window.state.spectrum.object_id == "0266-51602-0107"
    qtbot.keyClick(window, Qt.Key.Key_1)            # possible, then on to the second
    wait_shown(qtbot, window)
    window.grade_filter.setCurrentText("graded possible or better")
    assert window.queue.visible == [0] and window.queue_model.rowCount() == 1
    window.grade_filter.setCurrentText("ungraded")
    assert window.queue.visible == [1]


def test_every_grade_and_flag_of_the_label_store_has_a_key():
    from casiglo_gui.core.labels import FLAGS, GRADES

    actions = {binding.name for binding in KEYMAP}
    assert {f"grade_{grade}" for grade in GRADES} <= actions
    assert {f"toggle_flag_{flag}" for flag in FLAGS} <= actions


def test_a_large_scan_table_opens_on_a_worker(open_window, qtbot, data_dir, tmp_path):
    source = str(data_dir / "sdss" / "spec-0266-51602-0013.fits")
    rows = [{"source": source, "object_id": f"obj{i}", "score": f"{(i * 37 % 1000) / 1000:.3f}", "z_bg": "0.4",
             "status": "ok"} for i in range(5000)]
    table = write_scan(tmp_path / "big.csv", rows)
    window = open_window([data_dir / "sdss" / "spec-0266-51602-0107.fits"])
    with qtbot.waitSignal(window.queue_loaded, timeout=30000):
        window.open_paths([str(table)])
        assert len(window.queue) == 1          # the call returned before the table was read
    assert len(window.queue) == 5000 and window.queue_model.rowCount() == 5000
    scores = [item.score for item in window.queue.items]
    assert scores == sorted(scores, reverse=True)
    wait_shown(qtbot, window)
    assert window.state.spectrum.source == source
