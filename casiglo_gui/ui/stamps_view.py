"""Twelve small panels, one per line, zoomed around its redshifted position: residual, fit, noise band."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtGui import QFont

from ..core.inspection.view import Stamp
from ..core.lines import LINE_KEYS, LINE_LABELS

COLUMNS = 6


class StampsView(pg.GraphicsLayoutWidget):
    """Line stamps; plot items are created once and updated per spectrum."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.ci.layout.setSpacing(2)
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.plots, self.resid, self.fit, self.band, self.centre = [], [], [], [], []
        for i, key in enumerate(LINE_KEYS):
            if i and i % COLUMNS == 0:
                self.nextRow()
            plot = self.addPlot(title=LINE_LABELS[key])
            self._title(plot, LINE_LABELS[key])
            plot.setMenuEnabled(False)
            plot.hideButtons()
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setStyle(tickFont=QFont("DejaVu Sans", 6), tickLength=-4)
            plot.getAxis("left").setWidth(26)
            plot.setMinimumWidth(40)
            plot.getAxis("bottom").setHeight(16)
            low = pg.PlotDataItem(pen=None)
            high = pg.PlotDataItem(pen=None)
            band = pg.FillBetweenItem(low, high, brush=pg.mkBrush(20, 90, 200, 45))
            plot.addItem(band)
            resid = pg.PlotDataItem(pen=pg.mkPen((20, 60, 160), width=1), stepMode="center")
            fit = pg.PlotDataItem(pen=pg.mkPen((220, 0, 140), width=1.5))
            centre = pg.InfiniteLine(angle=90, pen=pg.mkPen((150, 150, 150), style=pg.QtCore.Qt.PenStyle.DotLine))
            plot.addItem(resid)
            plot.addItem(fit)
            plot.addItem(centre, ignoreBounds=True)
            self.plots.append(plot)
            self.resid.append(resid)
            self.fit.append(fit)
            self.band.append((low, high))
            self.centre.append(centre)

    def _title(self, plot, text: str, colour: str = "#333333") -> None:
        plot.titleLabel.setText(text, size="8pt", color=colour)
        # A long title must not widen its column past the window: let it be clipped instead.
        plot.titleLabel.setMinimumWidth(10)
        plot.titleLabel.setMaximumHeight(16)

    def show_stamps(self, stamps: list[Stamp]) -> None:
        for i, stamp in enumerate(stamps):
            plot = self.plots[i]
            label = LINE_LABELS[stamp.key]
            if not stamp.covered:
                self._title(plot, f"{label}: not covered", "#999999")
                self.resid[i].setData([], [])
                self.fit[i].setData([], [])
                self.band[i][0].setData([], [])
                self.band[i][1].setData([], [])
                self.centre[i].setValue(stamp.centre_a)
                plot.hideAxis("left")
                plot.hideAxis("bottom")
                continue
            plot.showAxis("left")
            plot.showAxis("bottom")
            snr_text = f"fit S/N {stamp.snr:.1f}" if math.isfinite(stamp.snr) else ""
            colour = "#b0007a" if math.isfinite(stamp.snr) and stamp.snr >= 3 else "#333333"
            self._title(plot, f"{label}  {snr_text}", colour)
            w = stamp.wavelength
            edges = np.concatenate([[w[0] - 0.5 * (w[1] - w[0])], 0.5 * (w[1:] + w[:-1]),
                                    [w[-1] + 0.5 * (w[-1] - w[-2])]]) if w.size > 1 else np.array([w[0] - 1, w[0] + 1])
            self.resid[i].setData(edges, np.nan_to_num(stamp.residual, nan=0.0))
            self.fit[i].setData(w, stamp.fit)
            self.band[i][0].setData(w, np.nan_to_num(-stamp.sigma, nan=0.0))
            self.band[i][1].setData(w, np.nan_to_num(stamp.sigma, nan=0.0))
            self.centre[i].setValue(stamp.centre_a)
            finite = stamp.residual[np.isfinite(stamp.residual)]
            span = max(float(np.max(np.abs(finite))) if finite.size else 1.0,
                       float(np.nanmax(stamp.sigma)) if np.any(np.isfinite(stamp.sigma)) else 1.0, 1e-3)
            plot.setRange(xRange=(w[0], w[-1]), yRange=(-1.1 * span, 1.1 * span), padding=0)
