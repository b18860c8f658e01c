"""Issue 14.7: no two texts on the spectrum plot overlap, for every sample spectrum, at the window size a
1920x1080 screen gave (1120x720) and full screen; the caption and legend sit outside the data area."""
import pytest
from PyQt6.QtCore import QPointF, QRectF

from test_app import db, open_window, wait_shown  # noqa: F401 (fixtures)
from casiglo_gui.core.inspection.label_layout import Placement, place_labels


def text_rects(view) -> list[tuple[str, QRectF]]:
    items = [label for label in view.line_labels + view.fg_labels if label.isVisible()]
    return [(label.text(), label.mapRectToScene(label.boundingRect())) for label in items]


def each_sample_spectrum(window, qtbot, size):
    """Show every spectrum of the queue in turn at ``size``; yields where it is, for messages."""
    window.resize(*size)
    qtbot.wait(50)
    for _ in range(len(window.queue)):
        qtbot.wait(30)                                # what the user sees: after Qt has settled the layout
        yield f"{window.state.spectrum.object_id} at {size}"
        window.go_next()
        wait_shown(qtbot, window)


def assert_apart(rects, where: str) -> None:
    """No two of ``[(text, rect)]`` overlap by a pixel or more."""
    for i, (text, rect) in enumerate(rects):
        for other, other_rect in rects[i + 1:]:
            overlap = rect.intersected(other_rect)
            assert overlap.width() < 1 or overlap.height() < 1, f"{text!r} overlaps {other!r} ({where})"


@pytest.mark.parametrize("size", [(1120, 720), (1920, 1080)])
def test_no_label_overlaps_another_or_leaves_the_plot_for_the_sample_set(open_window, qtbot, size):
    window = open_window()
    view = window.spectrum_view
    for where in each_sample_spectrum(window, qtbot, size):
        rects = text_rects(view)
        assert len(rects) >= 6
        plot_area = view.plot.getViewBox().sceneBoundingRect().adjusted(-1, -1, 1, 1)
        for text, rect in rects:
            assert plot_area.contains(rect), f"{text!r} leaves the plot ({where})"
        assert_apart(rects, where)
        caption = view.caption.sceneBoundingRect()
        legend = view.legend.sceneBoundingRect()
        assert not caption.intersects(plot_area) and not legend.intersects(plot_area)


def test_crowded_labels_are_staggered_then_shortened_then_the_least_probable_hidden():
    # Five lines within 20 px, two rows: the most probable go first, the crowded rest are hidden.
    x = [100.0, 105.0, 110.0, 115.0, 120.0]
    placements = place_labels(x, [80.0] * 5, [30.0] * 5, [0.9, 0.1, 0.8, 0.7, 0.6], n_rows=2, width_px=400.0)
    assert placements[0] == Placement(0, 102.0, False) and placements[2] == Placement(1, 112.0, False)
    assert placements[3] is None and placements[4] is None
    # Room for the short form only: "[OIII] 5008" instead of "[OIII] 5008 p=0.99 S/N=13.6".
    assert place_labels([10.0, 100.0], [80.0, 80.0], [30.0, 30.0], [0.9, 0.8], 1, 150.0)[1] == Placement(0, 102.0, True)
    rows = {}
    for p, w in zip(placements, [80.0] * 5):
        if p is not None:
            span = (p.left_px, p.left_px + (30.0 if p.short else w))
            assert all(span[1] + 4 <= a or b + 4 <= span[0] for a, b in rows.get(p.row, []))
            rows.setdefault(p.row, []).append(span)
    assert place_labels([390.0], [80.0], [30.0], [0.5], 1, 400.0)[0].left_px == pytest.approx(308.0)  # left side
    assert place_labels([-5.0], [80.0], [30.0], [0.5], 1, 400.0) == [None]                            # off the plot


def stamp_text_rects(view) -> list[tuple[int, str, QRectF]]:
    """(cell, text, scene rectangle) of every non-empty text of the line stamps."""
    rects = []
    for cell, items in enumerate(zip(view.names, view.infos, view.marks)):
        for item in items:
            text = item.text()
            if item.isVisible() and text:
                rects.append((cell, text, item.mapRectToScene(item.boundingRect())))
    return rects


def cell_rect(view, cell: int) -> QRectF:
    from casiglo_gui.ui.stamps_view import cell_origin

    x0, yc = cell_origin(cell)
    box = view.plot.getViewBox()
    return QRectF(box.mapViewToScene(QPointF(x0, yc + 1.0)), box.mapViewToScene(QPointF(x0 + 1.0, yc - 1.0)))


@pytest.mark.parametrize("size", [(1120, 720), (1400, 900), (1920, 1080)])
def test_stamp_titles_subtitles_and_marks_stay_in_their_cell_without_overlap(open_window, qtbot, size):
    from casiglo_gui.core.lines import LINE_KEYS

    window = open_window()
    view = window.stamps_view
    for where in each_sample_spectrum(window, qtbot, size):
        # Seen and rejected marks on every line, as an inspector may set them.
        view.show_marks({key: i % 2 == 0 for i, key in enumerate(LINE_KEYS)}, 0)
        qtbot.wait(30)
        rects = stamp_text_rects(view)
        assert len(rects) >= 2 * len(LINE_KEYS)
        for cell, text, rect in rects:
            assert cell_rect(view, cell).adjusted(-1, -1, 1, 1).contains(rect), \
                f"stamp {cell} text {text!r} leaves its cell ({where})"
        assert_apart([(text, rect) for _cell, text, rect in rects], where)


def test_stamp_texts_shorten_in_order_mark_then_wavelength_then_elide(qapp):
    from PyQt6.QtGui import QFont, QFontMetricsF

    from casiglo_gui.ui.stamps_view import MARK_TEXTS, fit_cell_texts

    metrics = QFontMetricsF(QFont("DejaVu Sans", 8))
    forms = ("6052 Å · S/N 13.5", "S/N 13.5")

    def fit(width):
        return fit_cell_texts("[OIII] 5008", forms, MARK_TEXTS[False], width, metrics, metrics)

    assert fit(400) == ("[OIII] 5008", "6052 Å · S/N 13.5", "✗ rejected")
    from casiglo_gui.ui.stamps_view import TEXT_GAP_PX, TEXT_PAD_PX

    just_short_mark = (metrics.horizontalAdvance("[OIII] 5008") + TEXT_GAP_PX + metrics.horizontalAdvance("✗")
                       + 2 * TEXT_PAD_PX + 1)
    assert metrics.horizontalAdvance(forms[0]) > just_short_mark - 2 * TEXT_PAD_PX
    title, subtitle, mark = fit(just_short_mark)
    assert (title, mark) == ("[OIII] 5008", "✗") and subtitle == "S/N 13.5"
    title, subtitle, mark = fit(50)
    assert mark == "✗" and title.endswith("…") and subtitle.endswith("…")
    for text in (title, subtitle):
        assert metrics.horizontalAdvance(text) <= 50


def test_info_table_reuses_its_labels_and_shows_rows_or_a_message(qapp):
    from PyQt6.QtWidgets import QLabel

    from casiglo_gui.ui.info_table import InfoTable

    table = InfoTable("No spectrum")
    assert table.text() == "No spectrum"
    table.set_rows([("Object", "a"), ("Score", "0.9"), ("File", "x.fits")])
    labels = table.findChildren(QLabel)
    assert "<b>Score</b> 0.9" in table.text() and "No spectrum" not in table.text()
    table.set_rows([("Object", "b"), ("Score", "0.1")])
    assert table.findChildren(QLabel) == labels          # reused, not rebuilt per spectrum
    assert table.text() == "<b>Object</b> b<br><b>Score</b> 0.1<br>"
    table.set_message("Could not read")
    assert table.text() == "Could not read"
