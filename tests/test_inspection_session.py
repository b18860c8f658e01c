"""InspectionSession without a window: what a grade records, undo as an event, alternatives, line marks."""
import math
import subprocess
import sys

import numpy as np
import pytest

from casiglo_gui.core.detectors.detection import Detection, Solution
from casiglo_gui.core.inspection import GradeRefused, InspectionSession, QueueItem
from casiglo_gui.core.inspection.actions import KEYMAP, key_variants
from casiglo_gui.core.inspection.loading import LoadedItem, SyntheticOrigin
from casiglo_gui.core.labels import LabelStore
from casiglo_gui.core.lines import LINE_KEYS, N_LINES
from casiglo_gui.core.preprocessing import to_model_grid
from casiglo_gui.core.readers import read_spectra

SPEC = "spec-0266-51602-0013.fits"


def detection_with_alternatives(z=0.51234, score=0.948):
    return Detection(
        z_bg=z, z_bg_err=2e-5, score=score, n_lines=3, line_probability=np.full(N_LINES, 0.9),
        line_snr=np.full(N_LINES, 6.0), detector="combined", model_version="casiglo-cnn-v3",
        alternatives=[Solution(z_bg=0.6011, score=0.41, n_lines=2, line_probability=np.full(N_LINES, 0.4),
                               line_snr=np.full(N_LINES, 3.0)),
                      Solution(z_bg=0.7702, score=0.12, n_lines=1)])


@pytest.fixture
def store(tmp_path):
    with LabelStore.open(tmp_path / "labels.sqlite3") as opened:
        yield opened


@pytest.fixture
def spectrum(data_dir):
    return read_spectra(str(data_dir / "sdss" / SPEC))[0]


def session_on(store, spectrum, n_items=3, detection=None, synthetic=None):
    session = InspectionSession(store, "ab")
    items = [QueueItem(path=spectrum.source, object_id=f"obj{i}") for i in range(n_items)]
    session.set_items(items, {})
    changes = []
    session.subscribe(changes.append)
    session.show_loaded(LoadedItem(item=items[0], spectrum=spectrum, gridded=to_model_grid(spectrum),
                                   detection=detection or detection_with_alternatives(), synthetic=synthetic))
    return session, changes


def test_a_grade_records_the_shown_z_and_the_detectors_score_even_after_a_refit(store, spectrum):
    session, changes = session_on(store, spectrum)
    refit = Detection(z_bg=0.51301, z_bg_err=1e-5, score=0.116, n_lines=2, detector="physics")
    session.apply_refit(refit)
    assert "refit" in session.grade_record_summary() and "0.948" in session.grade_record_summary()
    event = session.grade("probable")
    assert event.z_bg == pytest.approx(0.51301) and event.score == pytest.approx(0.948)
    assert event.model_version == "casiglo-cnn-v3" and event.object_id == "obj0"
    assert event.ra == pytest.approx(spectrum.ra) and changes[-1] == "grades"
    session.reset_redshift()
    assert session.state.z == 0.51234 and session.state.z_origin == "detector"
    assert session.state.detection.score == 0.948       # the refit never replaced the verdict


def test_grade_none_and_an_unproposed_redshift_record_no_z(store, spectrum):
    session, _ = session_on(store, spectrum)
    assert session.grade("none").z_bg is None
    nothing = Detection(z_bg=float("nan"), z_bg_err=float("nan"), score=0.02, n_lines=0)
    session, _ = session_on(store, spectrum, detection=nothing)
    assert session.state.z_origin == "none" and session.grade("possible").z_bg is None
    session.nudge(1)
    assert session.grade("possible").z_bg == pytest.approx(session.state.z)


def test_alternatives_cycle_and_the_grade_records_the_confirmed_one(store, spectrum):
    session, _ = session_on(store, spectrum)
    assert [s.z_bg for s in session.state.solutions()] == [0.51234, 0.6011, 0.7702]
    assert session.cycle_solution() == 1
    assert session.state.z == 0.6011 and session.state.z_origin == "alternative 1"
    np.testing.assert_array_equal(session.state.line_probabilities(), np.full(N_LINES, 0.4))
    assert session.grade("possible", ).z_bg == pytest.approx(0.6011)
    session.queue.go_to(0)
    session.cycle_solution()
    assert session.cycle_solution() == 0 and session.state.z == 0.51234   # back to the best


def test_per_line_marks_are_recorded_and_toggle(store, spectrum):
    session, _ = session_on(store, spectrum)
    session.choose_line(LINE_KEYS.index("oiii_5008"))
    session.mark_line(True)
    session.select_line(-2)                             # hbeta
    session.mark_line(False)
    session.select_line(+1)
    session.mark_line(True)
    session.mark_line(True)                             # the same mark again removes it
    event = session.grade("likely")
    assert event.lines == {"hbeta": False, "oiii_5008": True}


def test_undo_appends_an_event_restating_the_previous_grading(store, spectrum):
    session, _ = session_on(store, spectrum)
    session.toggle_flag("low_snr")
    first = session.grade("possible")
    second = session.grade("likely")
    restated = session.undo()
    assert restated.grade == "possible" and restated.flags == frozenset({"low_snr"})
    assert restated.uid not in (first.uid, second.uid)
    assert [e.grade for e in store.events("ab")] == ["possible", "likely", "possible"]
    assert store.latest("obj0", "ab").grade == "possible" and session.queue.grade(0) == "possible"
    withdrawal = session.undo()                         # the first grading: withdrawn, as if never graded
    assert withdrawal.withdraws and withdrawal.grade == "possible" and withdrawal.uid != first.uid
    assert [e.kind for e in store.events("ab")] == ["grading"] * 3 + ["withdrawal"]
    assert store.latest("obj0", "ab") is None and session.queue.grade(0) is None
    assert session.latest_event() is None and session.queue.position == 0
    with pytest.raises(GradeRefused, match="nothing to undo"):
        session.undo()
    assert store.count() == 4


def test_undo_of_a_first_grade_offers_the_item_again_under_ungraded_only(store, spectrum):
    from casiglo_gui.core.inspection.queue import QueueFilter

    session, _ = session_on(store, spectrum)
    session.set_filter(QueueFilter(unlabelled_only=True))
    session.grade("likely")
    assert session.advance_after_grade().object_id == "obj1" and 0 not in session.queue.visible
    session.undo()
    assert session.queue.current.object_id == "obj0" and 0 in session.queue.visible
    assert session.queue.progress() == (0, 3)


def test_unreadable_items_and_a_missing_store_refuse_grades(store, spectrum):
    session, _ = session_on(store, spectrum)
    session.show_unreadable(session.queue.go_to(1), "ivar is zero at every pixel")
    with pytest.raises(GradeRefused, match="could not be read"):
        session.grade("likely")
    nobody = InspectionSession(None, "ab", "label store could be opened: disk full")
    with pytest.raises(GradeRefused, match="disk full"):
        nobody.grade("likely")
    assert store.count() == 0


def test_synthetic_objects_are_stored_as_synthetic_without_a_position(store, spectrum):
    session, _ = session_on(store, spectrum, synthetic=SyntheticOrigin(0.6234, "spec-3650-55244-0007.fits"))
    event = session.grade("likely")
    assert event.object_id == "SYNTHETIC-obj0" and event.ra is None and event.dec is None
    again = InspectionSession(store, "ab")
    again.set_items([QueueItem(path="x.fits", object_id="obj0")], {"SYNTHETIC-obj0": "likely"})
    assert again.queue.grade(0) == "likely"


def test_every_key_action_is_a_session_or_window_action_and_keys_are_unique():
    window_actions = {"grade", "undo", "focus_comment", "refit", "cycle_solution", "toggle_flux", "toggle_model",
                      "toggle_residual", "toggle_foreground_markers", "smooth", "fetch_cutout",
                      "open_dialog", "export_dialog", "toggle_ungraded_filter", "toggle_help", "escape", "close",
                      "go_next", "go_previous", "go_next_ungraded", "go_first", "go_last"}
    for binding in KEYMAP:
        assert binding.action in window_actions or callable(getattr(InspectionSession, binding.action, None))
    keys = [variant for binding in KEYMAP for key in binding.keys for variant in key_variants(key)]
    assert len(keys) == len(set(keys))
    assert key_variants("S") == ("S", "Shift+S") and key_variants("[") == ("[",)


def test_the_session_imports_without_qt():
    code = ("import sys; sys.modules['PyQt6'] = None; sys.modules['pyqtgraph'] = None; "
            "import casiglo_gui.core.inspection.session, casiglo_gui.core.inspection.info, "
            "casiglo_gui.core.inspection.cutout, casiglo_gui.core.inspection.label_layout")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sky_links_need_a_finite_position():
    from casiglo_gui.core.inspection.info import sky_links

    links = sky_links(146.9341, -0.67040397)
    assert "ra=146.934100" in links["SDSS SkyServer"] and "dec=-0.670404" in links["Legacy Survey"]
    assert sky_links(None, None) == {} and sky_links(math.nan, 1.0) == {}


def test_a_grade_while_the_next_item_is_still_loading_is_refused(store, spectrum):
    session, _ = session_on(store, spectrum)
    session.grade("likely")
    assert session.advance_after_grade().object_id == "obj1"     # the window now reads obj1 on a worker
    with pytest.raises(GradeRefused, match="obj1 is still being read"):
        session.grade("likely")                                  # a second, fast key press
    assert [e.object_id for e in store.events("ab")] == ["obj0"]


def test_alternatives_are_offered_when_the_detector_found_no_best_z(store, spectrum):
    nothing = Detection(z_bg=float("nan"), z_bg_err=float("nan"), score=0.03, n_lines=0,
                        alternatives=[Solution(z_bg=0.19557, score=0.033, n_lines=0)])
    session, _ = session_on(store, spectrum, detection=nothing)
    assert session.state.z_origin == "none" and session.state.probability_source == "none (no z_bg found)"
    assert session.cycle_solution() == 0
    assert session.state.z == 0.19557 and session.state.z_origin == "alternative 1"
    assert session.grade("possible").z_bg == pytest.approx(0.19557)


def test_a_solution_repeated_by_the_detector_is_listed_once(store, spectrum):
    twice = detection_with_alternatives()
    twice.alternatives.append(Solution(z_bg=0.6011, score=0.41, n_lines=2))
    session, _ = session_on(store, spectrum, detection=twice)
    assert [s.z_bg for s in session.state.solutions()] == [0.51234, 0.6011, 0.7702]


def test_a_spectrum_drawn_before_its_verdict_refuses_grades_and_keeps_the_draft_when_it_arrives(store, spectrum):
    session = InspectionSession(store, "ab")
    item = QueueItem(path=spectrum.source, object_id="obj0")
    session.set_items([item], {})
    drawn = LoadedItem(item=item, spectrum=spectrum, gridded=to_model_grid(spectrum), detection=None,
                       detection_pending=True)
    session.show_loaded(drawn)
    session.toggle_flag("low_snr")
    assert "still judging" in session.grade_record_summary()
    with pytest.raises(GradeRefused, match="still judging"):
        session.grade("likely")
    assert store.events("ab") == []
    other = LoadedItem(item=QueueItem(path=spectrum.source, object_id="obj1"), spectrum=spectrum,
                       gridded=drawn.gridded, detection=detection_with_alternatives())
    assert not session.show_verdict(other)          # a verdict for another item changes nothing
    judged = LoadedItem(item=item, spectrum=spectrum, gridded=drawn.gridded, detection=detection_with_alternatives())
    assert session.show_verdict(judged)
    assert session.state.z == pytest.approx(0.51234) and session.draft.flags == {"low_snr"}
    event = session.grade("likely")
    assert event.score == pytest.approx(0.948) and event.model_version == "casiglo-cnn-v3"
    assert event.flags == frozenset({"low_snr"})
