"""Twelve small panels, one per line, zoomed around its redshifted position: residual, fit, noise band.

Drawn in ONE plot with a fixed range: each stamp is scaled into its own panel cell (its own y-scale,
like an auto-ranged small plot). Twelve separate plots would each re-layout and re-range on every
spectrum; here a new spectrum is four ``setData`` calls and 24 text updates.

Each cell's texts (title, subtitle, seen/rejected mark) are fitted to the cell's size in pixels
(:func:`fit_cell_texts`): the subtitle sits just under the title, a mark that does not fit beside the
title is shortened to its symbol, a subtitle too wide loses its wavelength, then is elided; so no text
runs into another or into the next cell at any window size.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QFont, QFontMetricsF

from ..core.inspection.view import Stamp
from .plain_label import PlainLabel
from ..core.lines import LINE_KEYS, LINE_LABELS

COLUMNS = 6
ROWS = 2
MARGIN_X = 0.04      # of a cell, each side
DATA_TOP = 0.55      # data occupy y in [-DATA_TOP, DATA_TOP] of a cell's half-height 1.0
STRONG_SNR = 3.0
TEXT_PAD_PX = 3.0    # between a text and its cell's edge
TEXT_GAP_PX = 6.0    # between a title and its mark
MARK_TEXTS = {True: ("✓ seen", "✓"), False: ("✗ rejected", "✗")}   # full, short
TITLE_FONT = ("DejaVu Sans", 8, QFont.Weight.Bold)
SUBTITLE_FONT = ("DejaVu Sans", 7, QFont.Weight.Normal)


def cell_origin(index: int) -> tuple[float, float]:
    """(x0, y_centre) of panel ``index``: cells are 1 wide and 2 high, row 0 on top."""
    return float(index % COLUMNS), -2.0 * (index // COLUMNS)


def set_colour(item: PlainLabel, colour) -> None:
    """``setColor`` only when the colour changes: it re-renders the text, and 36 items change per spectrum."""
    if getattr(item, "_casiglo_colour", None) != colour:
        item.setColor(colour)
        item._casiglo_colour = colour


def set_pen(item, colour, width: float) -> None:
    """``setPen`` only when colour or width change (a new pen repaints the item; 12 markers per spectrum)."""
    key = (pg.mkColor(colour).rgba(), width)
    if getattr(item, "_casiglo_pen", None) != key:
        item.setPen(pg.mkPen(colour, width=width))
        item._casiglo_pen = key


def set_text(item: PlainLabel, text: str) -> None:
    if getattr(item, "_casiglo_text", None) != text:
        item.setText(text)
        item._casiglo_text = text


def fitted(metrics: QFontMetricsF, candidates: tuple[str, ...], width_px: float) -> str:
    """The first of ``candidates`` (longest first) that fits ``width_px``, else the last one elided."""
    for text in candidates:
        if metrics.horizontalAdvance(text) <= width_px:
            return text
    return metrics.elidedText(candidates[-1], Qt.TextElideMode.ElideRight, max(width_px, 0.0))


def fit_cell_texts(title: str, subtitles: tuple[str, ...], marks: tuple[str, ...], cell_width_px: float,
                   title_metrics: QFontMetricsF, subtitle_metrics: QFontMetricsF) -> tuple[str, str, str]:
    """(title, subtitle, mark) as drawn in a cell ``cell_width_px`` wide; ``subtitles`` and ``marks`` are
    the forms to try, longest first. The mark shares the title's row, so the title gets what it leaves."""
    inner = cell_width_px - 2 * TEXT_PAD_PX
    mark = ""
    if marks:
        room_for_mark = inner - title_metrics.horizontalAdvance(title) - TEXT_GAP_PX
        mark = fitted(title_metrics, marks, max(room_for_mark, title_metrics.horizontalAdvance(marks[-1])))
        inner_title = inner - title_metrics.horizontalAdvance(mark) - TEXT_GAP_PX
    else:
        inner_title = inner
    title = fitted(title_metrics, (title,), inner_title)
    subtitle = fitted(subtitle_metrics, subtitles, inner) if subtitles else ""
    return title, subtitle, mark


def cell_at(x: float, y: float) -> int | None:
    """The panel index under plot coordinates (x, y), None outside the grid."""
    column, row = math.floor(x), math.floor((1.0 - y) / 2.0)
    if 0 <= column < COLUMNS and 0 <= row < ROWS:
        return row * COLUMNS + column
    return None


class StampsView(pg.GraphicsLayoutWidget):
    """Line stamps in a fixed grid of cells; item count does not grow with the number of lines.

    Emits ``stamp_clicked(index)`` when a stamp is clicked (it selects the line for seen/rejected marks).
    """

    stamp_clicked = pyqtSignal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.plot = self.addPlot()
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.getViewBox().setDefaultPadding(0)
        self.plot.setRange(xRange=(0, COLUMNS), yRange=(-2 * ROWS + 1, 1), padding=0)
        self.band = pg.BarGraphItem(x=[0], height=[0], width=0, y0=[0], brush=pg.mkBrush(20, 90, 200, 45),
                                    pen=pg.mkPen(None))
        self.resid = pg.PlotDataItem(pen=pg.mkPen((20, 60, 160), width=1), connect="finite")
        self.fit = pg.PlotDataItem(pen=pg.mkPen((220, 0, 140), width=1.5), connect="finite")
        self.centres = pg.PlotDataItem(pen=pg.mkPen((150, 150, 150), width=1, style=pg.QtCore.Qt.PenStyle.DotLine),
                                       connect="pairs")
        self.zero = pg.PlotDataItem(pen=pg.mkPen((200, 200, 200), width=1), connect="pairs")
        frame_x, frame_y = [], []
        for i in range(COLUMNS * ROWS):
            x0, yc = cell_origin(i)
            frame_x += [x0 + 0.01, x0 + 0.99, x0 + 0.99, x0 + 0.99, x0 + 0.99, x0 + 0.01, x0 + 0.01, x0 + 0.01]
            frame_y += [yc - 0.98, yc - 0.98, yc - 0.98, yc + 0.98, yc + 0.98, yc + 0.98, yc + 0.98, yc - 0.98]
        frames = pg.PlotDataItem(np.array(frame_x), np.array(frame_y), pen=pg.mkPen((200, 200, 200)), connect="pairs")
        for item in (frames, self.band, self.zero, self.centres, self.resid, self.fit):
            self.plot.addItem(item)
        self.selection = pg.PlotDataItem(pen=pg.mkPen((30, 110, 220), width=2.5))
        self.plot.addItem(self.selection)
        self.names, self.infos, self.marks = [], [], []
        for i, key in enumerate(LINE_KEYS):
            name = PlainLabel(LINE_LABELS[key], anchor=(0, 0), color=(40, 40, 40), font=QFont(*TITLE_FONT))
            info = PlainLabel("", anchor=(0, 0), color=(40, 40, 40), font=QFont(*SUBTITLE_FONT))
            mark = PlainLabel("", anchor=(1, 0), color=(30, 120, 40), font=QFont(*TITLE_FONT))
            for item in (name, info, mark):
                self.plot.addItem(item)
            self.names.append(name)
            self.infos.append(info)
            self.marks.append(mark)
        self._title_metrics = QFontMetricsF(QFont(*TITLE_FONT))
        self._subtitle_metrics = QFontMetricsF(QFont(*SUBTITLE_FONT))
        self._subtitles: list[tuple[str, ...]] = [()] * len(LINE_KEYS)   # forms to try, longest first
        self._marks: list[tuple[str, ...]] = [()] * len(LINE_KEYS)
        self._fitted_for: tuple[float, float] | None = None            # the cell size texts were placed for
        self.plot.getViewBox().sigResized.connect(lambda _box: self._fit_texts())
        self.stamps: list[Stamp] = []
        self.message = PlainLabel("", anchor=(0.5, 0.5), color=(120, 120, 120), font=QFont("DejaVu Sans", 11))
        self.message.setPos(COLUMNS / 2, -ROWS + 1)
        self.plot.addItem(self.message)
        self.scene().sigMouseClicked.connect(self._clicked)

    def _clicked(self, event) -> None:
        point = self.plot.getViewBox().mapSceneToView(event.scenePos())
        index = cell_at(point.x(), point.y())
        if index is not None:
            self.stamp_clicked.emit(index)

    def show_marks(self, lines: dict[str, bool], selected: int) -> None:
        """Seen / rejected marks per line and a frame around the selected stamp."""
        for i, (key, mark) in enumerate(zip(LINE_KEYS, self.marks)):
            state = lines.get(key)
            self._marks[i] = () if state is None else MARK_TEXTS[state]
            set_colour(mark, (30, 120, 40) if state else (190, 30, 30))
        self._fit_texts()
        x0, yc = cell_origin(selected)
        self.selection.setData([x0 + 0.005, x0 + 0.995, x0 + 0.995, x0 + 0.005, x0 + 0.005],
                               [yc - 0.99, yc - 0.99, yc + 0.99, yc + 0.99, yc - 0.99])

    def show_nothing(self, message: str = "no spectrum") -> None:
        """Nothing on show: empty cells and a message (no stamp of a previous item stays)."""
        self.show_stamps([], [])
        for name in self.names:
            set_colour(name, (170, 170, 170))
        self._subtitles = [()] * len(LINE_KEYS)
        self._marks = [()] * len(LINE_KEYS)
        self._fit_texts()
        self.selection.setData([], [])
        self.message.setText(message)

    def show_stamps(self, stamps: list[Stamp], snrs) -> None:
        """Draw ``stamps``; the S/N written in each is ``snrs`` (the same numbers as the plot's labels)."""
        self.stamps = stamps
        self.message.setText("")
        self._subtitles = [()] * len(LINE_KEYS)
        rx, ry, fx, fy, bx, by0, bh, cx, cy, zx, zy = ([] for _ in range(11))
        bar_width = 1.0
        for i, stamp in enumerate(stamps):
            x0, yc = cell_origin(i)
            name, info = self.names[i], self.infos[i]
            w = stamp.wavelength
            if not stamp.covered or w.size < 2:
                set_colour(name, (160, 160, 160))
                set_colour(info, (160, 160, 160))
                self._subtitles[i] = ("not covered",)
                continue
            # Map wavelength into the cell's width and flux into its height (own scale per stamp).
            scale_x = (1 - 2 * MARGIN_X) / (w[-1] - w[0])
            px = x0 + MARGIN_X + (w - w[0]) * scale_x
            finite = stamp.residual[np.isfinite(stamp.residual)]
            span = max(float(np.max(np.abs(finite))) if finite.size else 1.0,
                       float(np.nanmax(stamp.sigma)) if np.any(np.isfinite(stamp.sigma)) else 1.0, 1e-6)
            scale_y = DATA_TOP / span
            rx.append(px)
            ry.append(yc - 0.2 + np.nan_to_num(stamp.residual, nan=0.0) * scale_y)
            fx.append(px)
            fy.append(yc - 0.2 + stamp.fit * scale_y)
            rx.append([np.nan])
            ry.append([np.nan])
            fx.append([np.nan])
            fy.append([np.nan])
            sigma = np.nan_to_num(stamp.sigma, nan=0.0) * scale_y
            bx.append(px)
            by0.append(yc - 0.2 - sigma)
            bh.append(2 * sigma)
            bar_width = (px[1] - px[0])
            centre = x0 + MARGIN_X + (stamp.centre_a - w[0]) * scale_x
            cx += [centre, centre]
            cy += [yc - 0.95, yc + 0.45]   # stops under the stamp's title and S/N text
            zx += [px[0], px[-1]]
            zy += [yc - 0.2, yc - 0.2]
            snr = float(snrs[i])
            strong = math.isfinite(snr) and snr >= STRONG_SNR
            colour = (176, 0, 122) if strong else (40, 40, 40)
            set_colour(name, colour)
            set_colour(info, colour)
            self._subtitles[i] = ((f"{stamp.centre_a:.0f} Å · S/N {snr:.1f}", f"S/N {snr:.1f}")
                                  if math.isfinite(snr) else (f"{stamp.centre_a:.0f} Å",))
        self._fit_texts()

        def joined(parts):
            return np.concatenate(parts) if parts else np.zeros(0)

        self.resid.setData(joined(rx), joined(ry))
        self.fit.setData(joined(fx), joined(fy))
        if bx:
            self.band.setOpts(x=joined(bx), y0=joined(by0), height=joined(bh), width=bar_width)
        else:
            self.band.setOpts(x=[0], y0=[0], height=[0], width=0)
        self.centres.setData(np.asarray(cx), np.asarray(cy))
        self.zero.setData(np.asarray(zx), np.asarray(zy))

    def _fit_texts(self) -> None:
        """Fit every cell's texts to the cell's present size in pixels (see the module docstring)."""
        box = self.plot.getViewBox()
        cell_w, cell_h = box.width() / COLUMNS, box.height() / ROWS
        if cell_w <= 0 or cell_h <= 0:
            return
        if self._fitted_for != (cell_w, cell_h):
            self._place_texts(cell_h)
            self._fitted_for = (cell_w, cell_h)
        for i, key in enumerate(LINE_KEYS):
            title, subtitle, mark = fit_cell_texts(LINE_LABELS[key], self._subtitles[i], self._marks[i], cell_w,
                                                   self._title_metrics, self._subtitle_metrics)
            set_text(self.names[i], title)
            set_text(self.infos[i], subtitle)
            set_text(self.marks[i], mark)

    def _place_texts(self, cell_h: float) -> None:
        """Title and mark at the cell's top, the subtitle one title height under it (in pixels)."""
        units_per_px_x = COLUMNS / self.plot.getViewBox().width()
        units_per_px_y = 2.0 / cell_h                 # a cell is 2 units high
        pad_x, pad_y = TEXT_PAD_PX * units_per_px_x, TEXT_PAD_PX * units_per_px_y
        below_title = (TEXT_PAD_PX + self._title_metrics.height() + 1.0) * units_per_px_y
        for i in range(len(LINE_KEYS)):
            x0, yc = cell_origin(i)
            self.names[i].setPos(x0 + pad_x, yc + 1.0 - pad_y)
            self.marks[i].setPos(x0 + 1.0 - pad_x, yc + 1.0 - pad_y)
            self.infos[i].setPos(x0 + pad_x, yc + 1.0 - below_title)
