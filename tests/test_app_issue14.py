"""The nine problems of issue 14, each reproduced in the real window (pytest-qt, keys only where a user
would use keys). Every test here failed on the inspector before the fix."""
import re

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from scan_tables import write_scan
from test_app import _toy_models, db, make_args, open_window, wait_shown  # noqa: F401 (fixtures)
from casiglo_gui import app as app_module
from casiglo_gui.core.labels import LabelStore, default_db_path

SDSS = ("spec-0266-51602-0013.fits", "spec-0266-51602-0107.fits", "spec-3650-55244-0056.fits",
        "spec-3651-55247-0054.fits")
SNR = re.compile(r"S/N[= ]([-0-9.]+)")


def sdss(data_dir, *names):
    return [data_dir / "sdss" / name for name in (names or SDSS)]


def press(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier):
    """A key press where a user's goes: to the widget with the keyboard focus."""
    qtbot.keyClick(QApplication.focusWidget() or window, key, modifier)


def test_1_grading_with_ungraded_only_shows_the_very_next_spectrum(open_window, qtbot, data_dir):
    window = open_window(sdss(data_dir))
    window.unlabelled_box.setChecked(True)
    shown = [window.state.spectrum.object_id]
    for _ in range(3):
        press(qtbot, window, Qt.Key.Key_1)
        wait_shown(qtbot, window)
        shown.append(window.state.spectrum.object_id)
    assert shown == ["0266-51602-0013", "0266-51602-0107", "3650-55244-0056", "3651-55247-0054"]


def test_2_a_refit_is_kept_beside_the_detectors_verdict_and_x_brings_it_back(open_window, qtbot, data_dir,
                                                                              db, tmp_path):
    model = _toy_models().write_toy_model(tmp_path / "toy.onnx")
    window = open_window(sdss(data_dir, "spec-3650-55244-0056.fits"), model=str(model), no_model=False)
    detected = window.state.detection
    assert detected.model_version == "toy-1"
    z_detector, score = window.state.z, detected.score
    with qtbot.waitSignal(window.refit_done, timeout=20000):
        press(qtbot, window, Qt.Key.Key_Z)
    assert window.state.z_origin == "refit"
    assert f"{score:.3f}" in window.info_label.text() and "toy-1" in window.info_label.text()
    assert "Refit" in window.info_label.text()
    press(qtbot, window, Qt.Key.Key_X)
    assert window.state.z == z_detector and window.state.z_origin == "detector"
    assert window.state.probability_source == "model"
    with qtbot.waitSignal(window.refit_done, timeout=20000):
        press(qtbot, window, Qt.Key.Key_Z)
    refit_z = window.state.z
    press(qtbot, window, Qt.Key.Key_3)
    with LabelStore.open(db) as store:
        event = store.latest("3650-55244-0056", "tester")
    assert event.model_version == "toy-1" and event.score == pytest.approx(score)
    assert event.z_bg == pytest.approx(refit_z)       # the grade records the refit's z, said in the panel


def test_3_after_a_nudge_the_plot_labels_and_the_stamps_show_the_same_snr(open_window, qtbot):
    window = open_window(start="9001")                # a synthetic lens: strong lines at the detector's z
    window.resize(1400, 900)                          # stamps wide enough for their full subtitles
    qtbot.wait(50)
    for _ in range(2):
        press(qtbot, window, Qt.Key.Key_BracketRight)
    assert window.state.z_origin == "manual"
    compared = 0
    for label_item, full_text, info in zip(window.spectrum_view.line_labels, window.state.marker_labels(),
                                           window.stamps_view.infos):
        stamp_text = info.text()
        assert "p=" not in full_text                  # probabilities belong to the detector's z
        on_stamp, in_label = SNR.search(stamp_text), SNR.search(full_text)
        if on_stamp:
            assert in_label and in_label.group(1) == on_stamp.group(1)
            compared += 1
        shown = label_item.text()
        if label_item.isVisible() and SNR.search(shown):
            assert SNR.search(shown).group(1) == on_stamp.group(1)
    assert compared >= 4


def test_4_an_unreadable_item_clears_the_view_and_cannot_be_graded(open_window, qtbot, data_dir, db):
    window = open_window(sdss(data_dir, "spec-0266-51602-0013.fits", "spec-0269-51581-0003.fits"))
    press(qtbot, window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: window.state is None, timeout=20000)
    assert window.spectrum_view.flux_curve.xData is None or len(window.spectrum_view.flux_curve.xData) == 0
    assert not any(marker.isVisible() for marker in window.spectrum_view.markers)
    assert window.spectrum_view.caption_text() == ""
    assert window.stamps_view.resid.xData is None or len(window.stamps_view.resid.xData) == 0
    assert "spec-0269-51581-0003" in window.info_label.text() and "Could not read" in window.info_label.text()
    press(qtbot, window, Qt.Key.Key_3)
    assert "not graded" in window.statusBar().currentMessage()
    assert "could not be read" in window.statusBar().currentMessage()
    with LabelStore.open(db) as store:
        assert store.count() == 0


def test_4_a_bad_file_opened_alone_shows_no_spectrum_not_a_nonsense_plot(qtbot, data_dir, db):
    _app, window = app_module.build_window(make_args(sdss(data_dir, "spec-0269-51581-0003.fits"), labels=str(db)))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.loaded is not None, timeout=20000)
    assert not any(marker.isVisible() for marker in window.spectrum_view.markers)
    assert "No spectrum" in window.spectrum_view.empty_message.text()
    (x0, x1), _ = window.spectrum_view.plot.getViewBox().viewRange()
    assert x0 > 3000 and x1 < 11000                   # wavelengths, not +-500 around nothing
    window.workers.wait(10000)


def test_5_scan_table_items_show_and_record_the_model(open_window, qtbot, data_dir, db, tmp_path):
    model = _toy_models().write_toy_model(tmp_path / "toy.onnx")
    table = write_scan(tmp_path / "scan.csv", [
        {"source": str(data_dir / "sdss" / "spec-3650-55244-0056.fits"), "object_id": "3650-55244-0056",
         "score": "0.95", "z_bg": "0.51234", "p_oiii_5008": "0.97", "snr_oiii_5008": "8.1", "status": "ok"}])
    window = open_window([table], model=str(model), no_model=False)
    assert "toy-1" in window.info_label.text() and "none (physics" not in window.info_label.text()
    assert "Scan table" in window.info_label.text()   # the table's own verdict stays visible
    press(qtbot, window, Qt.Key.Key_2)
    with LabelStore.open(db) as store:
        assert store.latest("3650-55244-0056", "tester").model_version == "toy-1"


def test_6_shift_letters_work_and_the_filter_box_gives_the_keys_back(open_window, qtbot, data_dir):
    window = open_window(sdss(data_dir))
    press(qtbot, window, Qt.Key.Key_S, Qt.KeyboardModifier.ShiftModifier)
    assert window.grading.flags["sky_residual"].isChecked()
    assert window.session.draft.flags == {"sky_residual"}
    window.grade_filter.setFocus()                    # chosen with the mouse
    window.grade_filter.setCurrentText("ungraded")
    window.grade_filter.activated.emit(window.grade_filter.currentIndex())
    press(qtbot, window, Qt.Key.Key_Down)
    wait_shown(qtbot, window)
    assert window.grade_filter.currentText() == "ungraded" and window.queue.position == 1


def test_8_lines_is_explained_and_no_foreground_model_is_a_banner(open_window, qtbot, data_dir):
    from casiglo_gui.core.inspection.loading import LoadedItem
    from casiglo_gui.core.spectrum import FLAG_NO_FOREGROUND_MODEL

    window = open_window(sdss(data_dir, "spec-0266-51602-0013.fits"))
    assert "S/N ≥ 4" in window.info_label.text() and "Foreground model" in window.info_label.text()
    assert not window.banner.isVisible()
    shown = window.loaded
    spectrum = shown.spectrum                         # as a MaNGA spaxel whose model could not be made
    spectrum.model, spectrum.model_source = None, "none"
    spectrum.flags.add(FLAG_NO_FOREGROUND_MODEL)
    window._display(LoadedItem(item=shown.item, spectrum=spectrum, gridded=shown.gridded,
                               detection=shown.detection))
    assert window.banner.isVisible() and "No foreground model" in window.banner.text()
    assert "not</b> evidence of a lens" in window.banner.text()


def test_9_the_demo_grades_into_its_own_store_and_marks_synthetic_objects(qtbot):
    _app, window = app_module.build_window(make_args(labels=None))
    qtbot.addWidget(window)
    window.show()
    wait_shown(qtbot, window)
    assert window.store is not None and window.store.path == app_module.demo_db_path()
    assert window.store.path != default_db_path() and "demo" in window.windowTitle()
    assert window.session.go_to_text("9001") is not None
    window.show_current()
    wait_shown(qtbot, window)
    assert window.banner.isVisible() and "SYNTHETIC" in window.banner.text()
    window.grade("likely", advance=False)
    event = window.store.events("tester")[-1]
    assert event.object_id == "SYNTHETIC-3650-55244-9001" and event.ra is None and event.dec is None
    assert not default_db_path().exists()
    assert window.queue.grade(window.queue.position) == "likely"
    window.workers.wait(10000)
