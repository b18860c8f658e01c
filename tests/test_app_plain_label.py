"""The cheap plot labels (``PlainLabel``) and the y range rounded outward (fewer flux-axis re-layouts)."""
import math

import pyqtgraph as pg
import pytest
from PyQt6.QtCore import QPointF
from PyQt6.QtGui import QFont, QFontMetricsF

from casiglo_gui.ui.plain_label import PlainLabel
from casiglo_gui.ui.spectrum_view import rounded_outward


@pytest.mark.parametrize("anchor", [(0, 0), (1, 0), (0.5, 0.5)])
def test_a_label_sits_at_its_anchor_upright_and_unscaled_in_a_flipped_zoomed_view(qtbot, anchor):
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    plot = widget.addPlot()
    plot.setRange(xRange=(4000.0, 9000.0), yRange=(-3.0, 250.0), padding=0)
    font = QFont("DejaVu Sans", 8)
    label = PlainLabel("[OIII] 5008 p=0.99", anchor=anchor, color=(60, 0, 60), fill=(255, 255, 255), font=font,
                       margin_px=1)
    plot.addItem(label, ignoreBounds=True)
    label.setPos(5000.0, 100.0)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.wait(50)                                  # a paint: the view lays out, the label follows it

    metrics = QFontMetricsF(font)
    rect = label.mapRectToScene(label.boundingRect())
    assert rect.width() == pytest.approx(metrics.horizontalAdvance("[OIII] 5008 p=0.99") + 2, abs=0.5)
    assert rect.height() == pytest.approx(metrics.height() + 2, abs=0.5)     # pixels: the zoom does not scale it
    point = plot.getViewBox().mapViewToScene(QPointF(5000.0, 100.0))
    assert rect.left() + anchor[0] * rect.width() == pytest.approx(point.x(), abs=0.5)
    assert rect.top() + anchor[1] * rect.height() == pytest.approx(point.y(), abs=0.5)   # top down: not flipped

    label.setText("x")
    assert label.text() == "x" and label.boundingRect().width() < rect.width() / 5
    label.setColor((200, 0, 0))
    assert label.colour().getRgb()[:3] == (200, 0, 0)
    label.setText("")
    assert label.boundingRect().width() == 0


@pytest.mark.parametrize("lo, hi, expected", [
    (-0.37, 8.9, (-1.0, 9.0)),          # span 9.27: step 1
    (-0.12, 8.3, (-1.0, 9.0)),          # a similar spectrum shares the range
    (12.3, 1234.0, (0.0, 1400.0)),      # span 1221.7: step 200
    (0.0213, 0.0871, (0.02, 0.09)),     # step 0.01 (>= 0.00658)
])
def test_the_y_range_is_rounded_outward_to_a_one_two_five_step(lo, hi, expected):
    got = rounded_outward(lo, hi)
    assert got == pytest.approx(expected)
    assert got[0] <= lo and got[1] >= hi and (got[1] - got[0]) <= 1.5 * (hi - lo) + 1e-12


def test_a_degenerate_y_range_is_left_alone():
    assert rounded_outward(1.0, 1.0) == (1.0, 1.0)
    assert rounded_outward(0.0, math.inf) == (0.0, math.inf)
