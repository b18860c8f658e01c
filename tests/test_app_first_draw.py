"""Launch: the first spectrum is drawn before the detectors have judged it; until their verdict arrives the
info panel says so and no grade is recorded (a grade records the verdict on show)."""
import threading

from test_app import db, make_args  # noqa: F401 (fixtures)
from casiglo_gui import app as app_module
from casiglo_gui.core.labels import LabelStore


def test_first_spectrum_is_drawn_before_its_verdict_and_graded_only_after_it(qtbot, db, data_dir):
    _app, window = app_module.build_window(make_args([data_dir / "sdss" / "spec-0266-51602-0013.fits"],
                                                     labels=str(db)))
    release = threading.Event()
    judge = window.detectors.detect

    def held_detect(gridded):
        release.wait(20)   # the verdict is held back until the pending state has been checked
        return judge(gridded)

    window.detectors.detect = held_detect
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.loaded is not None and window.loaded.item is window.queue.current,
                        timeout=20000)
        assert window.loaded.detection_pending and window.state.detection is None
        assert window.spectrum_view.flux_curve.getData()[0] is not None   # the spectrum is drawn
        assert "detecting" in window.info_label.text()
        assert not window.wait_until_shown(0.2)            # "shown" for tests and --screenshot waits for it
        window.grade("likely", advance=False)
        assert "still judging" in window.statusBar().currentMessage()
        assert LabelStore.open(str(db)).events("tester") == []
    finally:
        release.set()
    with qtbot.waitSignal(window.verdict_shown, timeout=20000):
        pass
    assert not window.loaded.detection_pending and window.state.detection is not None
    assert "detecting" not in window.info_label.text()
    window.grade("likely", advance=False)
    events = LabelStore.open(str(db)).events("tester")
    assert len(events) == 1 and events[0].score == window.state.detection.score
    window.workers.wait(10000)


def test_the_next_spectrum_is_prefetched_under_the_key_it_is_looked_up_with(qtbot, db, data_dir):
    """Items of a folder learn their object id when read; the prefetched spectrum must still be found."""
    _app, window = app_module.build_window(make_args([data_dir / "sdss"], labels=str(db)))
    qtbot.addWidget(window)
    window.show()
    assert window.wait_until_shown(20)
    following = window.queue.items[window.queue.visible[1]]
    qtbot.waitUntil(lambda: window._loaded_items.get(window._key(following)) is not None, timeout=20000)
    loads = []
    window.workers.finished.connect(lambda ticket, _result: loads.append(ticket[0]))
    window.go_next()
    assert window.loaded.item is following and window.state is not None   # shown at once, from the prefetch
    window.workers.wait(10000)
    qtbot.wait(50)
    assert "load" not in loads
