"""The inspector's Qt-free state: queue building, movement, filters, progress, redshift, smoothing, stamps."""
import math
import subprocess
import sys

import numpy as np
import pytest

from scan_tables import write_scan
from casiglo_gui.core import grid
from casiglo_gui.core.detectors.detection import Detection
from casiglo_gui.core.inspection import (
    InspectionQueue, QueueBuildError, QueueFilter, QueueItem, ViewState, expand_paths, fit_line, ivar_smooth,
    read_scan_table, redshift_nudged, sort_by_score,
)
from casiglo_gui.core.inspection.loading import DetectorSet, SpectrumCache, detection_from_scan, load_item
from casiglo_gui.core.lines import LINE_KEYS, REST_WAVELENGTHS_A
from casiglo_gui.core.spectrum import GriddedSpectrum

SPEC = "spec-0266-51602-0013.fits"


def items(n):
    return [QueueItem(path=f"f{i}.fits", object_id=f"obj{i}") for i in range(n)]


def test_folder_expands_to_sorted_spectrum_files_and_reports_missing_paths(data_dir, tmp_path):
    found, errors = expand_paths([data_dir / "sdss", tmp_path / "nope.fits"])
    names = [QueueItem(path=it.path).display_name for it in found]
    assert names == sorted(names) and SPEC in names and len(names) == 11
    assert len(errors) == 1 and "nope.fits" in str(errors[0]) and "no such file" in str(errors[0])


def test_scan_table_is_sorted_by_score_and_keeps_line_columns(data_dir, tmp_path):
    table = write_scan(tmp_path / "scan.csv", [
        {"source": str(data_dir / "sdss" / SPEC), "object_id": "a", "score": "0.2", "z_bg": "0.5", "status": "ok"},
        {"source": "spec-0266-51602-0107.fits", "object_id": "b", "score": "0.9", "z_bg": "0.61",
         "p_oiii_5008": "0.8", "snr_oiii_5008": "7.5", "status": "ok"},
    ])
    (tmp_path / "spec-0266-51602-0107.fits").write_bytes((data_dir / "sdss" / "spec-0266-51602-0107.fits").read_bytes())
    queue_items = sort_by_score(read_scan_table(table))
    assert [it.object_id for it in queue_items] == ["b", "a"]
    assert queue_items[0].path == str(tmp_path / "spec-0266-51602-0107.fits")  # resolved next to the table
    det = detection_from_scan(queue_items[0])
    assert det.detector == "scan" and det.z_bg == 0.61
    assert det.line_probability[LINE_KEYS.index("oiii_5008")] == 0.8
    assert det.line_snr[LINE_KEYS.index("oiii_5008")] == 7.5


def test_table_without_contract_columns_is_refused(tmp_path):
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(QueueBuildError, match="missing column"):
        read_scan_table(bad)
    _found, errors = expand_paths([bad])
    assert "not a scan table" in str(errors[0])


def test_next_previous_stop_at_the_ends():
    queue = InspectionQueue(items(3))
    assert queue.current.object_id == "obj0"
    assert queue.previous() is None and queue.position == 0
    assert queue.next().object_id == "obj1"
    assert queue.next().object_id == "obj2"
    assert queue.next() is None and queue.position == 2
    assert queue.previous().object_id == "obj1"


def test_progress_filters_and_next_unlabelled():
    grades = {"obj1": "likely", "obj3": "none"}
    queue = InspectionQueue(items(5), grades)
    assert queue.progress() == (2, 5)
    assert queue.next_unlabelled().object_id == "obj2"
    queue.record_grade(2, "possible")
    assert queue.progress() == (3, 5)
    assert queue.next_unlabelled().object_id == "obj4"
    assert queue.next_unlabelled().object_id == "obj0"  # wraps around
    queue.set_filter(QueueFilter(unlabelled_only=True))
    assert queue.visible == [0, 4]
    assert queue.next().object_id == "obj4"
    queue.set_filter(QueueFilter(grades=frozenset({"likely", "possible"})))
    assert queue.visible == [1, 2]


def test_grading_with_the_ungraded_filter_on_goes_to_the_very_next_item():
    # Issue 14.1: the graded item left the filter, the queue stepped past it, then "next" stepped again.
    queue = InspectionQueue(items(4))
    queue.set_filter(QueueFilter(unlabelled_only=True))
    visited = [queue.current.object_id]
    for i in range(3):
        queue.record_grade(queue.position, "none")
        visited.append(queue.advance_after_grade().object_id)
    assert visited == ["obj0", "obj1", "obj2", "obj3"]
    queue.record_grade(queue.position, "none")
    assert queue.advance_after_grade() is None and queue.current.object_id == "obj3"


def test_score_filter_needs_a_score():
    its = items(3)
    its[0].score, its[1].score = 0.9, 0.3
    queue = InspectionQueue(its)
    queue.set_filter(QueueFilter(score_min=0.5))
    assert queue.visible == [0]


def test_siblings_of_a_multi_spectrum_file_are_inserted_once():
    queue = InspectionQueue(items(2))
    queue.insert_siblings(0, 3)
    assert [(it.path, it.index) for it in queue.items] == [("f0.fits", 0), ("f0.fits", 1), ("f0.fits", 2),
                                                           ("f1.fits", 0)]
    queue.insert_siblings(0, 3)
    assert len(queue) == 4


def _gridded(residual=None, ivar=None, z_fg=0.1):
    residual = np.zeros(grid.N_PIXELS, np.float32) if residual is None else residual
    ivar = np.ones(grid.N_PIXELS, np.float32) if ivar is None else ivar
    return GriddedSpectrum(residual=residual, ivar=ivar, mask=ivar <= 0, z_fg=z_fg)


class _Spec:
    z_fg = 0.1
    flux = np.zeros(10)


def test_markers_sit_at_rest_times_one_plus_z_and_nudge_moves_one_pixel():
    det = Detection(z_bg=0.5, z_bg_err=1e-5, score=0.9, n_lines=3, detector="physics")
    state = ViewState(_Spec(), _gridded(), det)
    assert state.z_origin == "detector" and state.probability_source == "fit"
    np.testing.assert_allclose(state.marker_wavelengths(), REST_WAVELENGTHS_A * 1.5, rtol=1e-15)
    state.nudge(1)
    assert state.z_origin == "manual"
    assert math.isclose(np.log10(1 + state.z) - np.log10(1.5), grid.DLOGLAM, rel_tol=1e-9)
    np.testing.assert_allclose(state.marker_wavelengths(), REST_WAVELENGTHS_A * (1 + state.z), rtol=1e-15)
    state.reset_z()
    assert state.z == 0.5 and state.z_origin == "detector"
    assert redshift_nudged(0.5, -1) < 0.5


def test_without_detection_markers_start_above_the_foreground():
    state = ViewState(_Spec(), _gridded(), None)
    assert state.z > _Spec.z_fg and state.probability_source == "none"
    assert all("p=" not in label for label in state.marker_labels())


def test_ivar_smoothing_ignores_zero_weight_pixels():
    values = np.array([1.0, 100.0, 3.0, 5.0])
    ivar = np.array([1.0, 0.0, 1.0, 4.0])
    smooth, sigma = ivar_smooth(values, ivar, 1)
    assert smooth[1] == pytest.approx(2.0)            # the 100 has no weight
    assert smooth[2] == pytest.approx((3 + 20) / 5)   # weights 1 and 4
    assert sigma[2] == pytest.approx(1 / np.sqrt(5))
    unsmoothed, _ = ivar_smooth(values, ivar, 0)
    assert np.isnan(unsmoothed[1]) and unsmoothed[3] == 5.0


def test_line_fit_recovers_an_injected_line():
    rng = np.random.default_rng(1)
    centre_a = 5008.24 * 1.4
    centre_px = float(grid.pixel_of_wavelength(centre_a))
    pix = np.arange(grid.N_PIXELS)
    residual = (4.0 * np.exp(-0.5 * ((pix - centre_px) / 1.5) ** 2) + rng.normal(0, 1, grid.N_PIXELS)).astype(np.float32)
    stamp = fit_line(_gridded(residual), centre_a, 1.5)
    assert stamp.covered and stamp.amplitude == pytest.approx(4.0, abs=0.8) and stamp.snr > 5
    ivar = np.ones(grid.N_PIXELS, np.float32)
    ivar[int(centre_px) - 10:int(centre_px) + 10] = 0
    assert not fit_line(_gridded(residual, ivar), centre_a, 1.5).covered


def test_load_item_reads_detects_and_refits(data_dir):
    detectors = DetectorSet(model_path="")
    assert "physics-only" in detectors.status and "model disabled" in detectors.status
    loaded = load_item(QueueItem(path=str(data_dir / "sdss" / SPEC)), detectors, SpectrumCache())
    assert loaded.item.object_id == "0266-51602-0013"
    assert loaded.detection is not None and loaded.detection.detector == "physics"
    refit = detectors.refine(loaded.gridded, loaded.detection.z_bg)
    assert math.isfinite(refit.z_bg)


def test_unreadable_item_raises_a_read_error_naming_the_file(data_dir):
    from casiglo_gui.core.errors import SpectrumReadError

    path = data_dir / "sdss" / "spec-0269-51581-0003.fits"
    with pytest.raises(SpectrumReadError, match="spec-0269-51581-0003.fits"):
        load_item(QueueItem(path=str(path)), None)


def test_inspection_state_imports_without_qt():
    code = ("import sys; sys.modules['PyQt6'] = None; sys.modules['pyqtgraph'] = None; "
            "import casiglo_gui.core.inspection")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_latest_grades_takes_the_last_grading_and_skips_adjudications():
    from casiglo_gui.core.inspection import latest_grades
    from casiglo_gui.core.labels import LabelEvent

    events = [
        LabelEvent("a", "possible", "me", time="2026-01-01T00:00:00Z", event_id=1),
        LabelEvent("b", "none", "me", time="2026-01-01T00:00:01Z", event_id=2),
        LabelEvent("a", "likely", "me", time="2026-01-02T00:00:00Z", event_id=3),
        LabelEvent("b", "likely", "boss", time="2026-01-03T00:00:00Z", event_id=4, adjudicated=True),
    ]
    assert latest_grades(list(reversed(events))) == {"a": "likely", "b": "none"}


def test_scan_rows_of_a_multi_spectrum_file_point_at_their_own_spectrum(data_dir, tmp_path):
    source = str(data_dir / "manga" / "MaNGA_test_spectra.fits.gz")
    table = write_scan(tmp_path / "scan.parquet.csv", [
        {"source": source, "object_id": f"MaNGA_test_spectra[{i}]", "score": "0.5", "status": "ok"}
        for i in (0, 3)])
    queue_items = read_scan_table(table)
    assert [it.index for it in queue_items] == [0, 3]
    loaded = load_item(queue_items[1], None)
    assert loaded.spectrum.object_id == "MaNGA_test_spectra[3]"


def test_parquet_scan_tables_read_like_csv(data_dir, tmp_path):
    import pandas as pd

    csv_table = write_scan(tmp_path / "scan.csv", [
        {"source": str(data_dir / "sdss" / SPEC), "object_id": "0266-51602-0013", "score": "0.7", "z_bg": "0.4",
         "status": "ok"}])
    frame = pd.read_csv(csv_table, keep_default_na=True)
    frame.to_parquet(tmp_path / "scan.parquet")
    from_csv, from_parquet = read_scan_table(csv_table)[0], read_scan_table(tmp_path / "scan.parquet")[0]
    assert from_parquet.path == from_csv.path and from_parquet.score == from_csv.score == 0.7
    assert from_parquet.scan["z_bg"] == from_csv.scan["z_bg"] == 0.4
    assert math.isnan(from_parquet.scan["p_oiii_5008"]) and math.isnan(from_csv.scan["p_oiii_5008"])


def test_the_queue_knows_the_scan_readers_table_suffixes():
    from casiglo_gui.core.inspection import queue
    from casiglo_gui.core.scan import tableread

    assert queue.TABLE_SUFFIXES == tableread.TABLE_SUFFIXES


def test_a_scan_table_keeps_a_non_utf8_file_name_byte_for_byte(tmp_path):
    import os

    table = tmp_path / "scan.csv"
    table.write_bytes(b"source,object_id,score\n/data/spec-caf\xe9.fits,caf,0.5\n")
    (item,) = read_scan_table(table)
    assert os.fsencode(item.path) == b"/data/spec-caf\xe9.fits" and item.score == 0.5


def test_open_queue_reads_the_first_item_to_show(data_dir):
    from casiglo_gui.core.inspection.opening import first_index, open_queue

    detectors = DetectorSet(model_path="")
    opened = open_queue([str(data_dir / "sdss" / SPEC), str(data_dir / "sdss" / "spec-0266-51602-0107.fits")],
                        None, "ab", detectors, SpectrumCache(), start="0107")
    assert opened.first is not None and opened.first.item is opened.items[1]
    assert opened.first.spectrum.object_id == "0266-51602-0107" and opened.grades == {}
    dead = open_queue([str(data_dir / "sdss" / "spec-0269-51581-0003.fits")], None, "ab", detectors)
    assert dead.first is None and len(dead.items) == 1          # read (and reported) again when shown
    assert first_index([], None) is None and first_index(opened.items, "nothing like it") is None
