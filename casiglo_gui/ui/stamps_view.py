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
        self.names, self.infos = [], []
        for i, key in enumerate(LINE_KEYS):
            if i and i % COLUMNS == 0:
                self.nextRow()
            # No axes (24 axes cost more to paint than all the data): the title names the line, the text
            # inside gives its observed wavelength and fit S/N, the band shows the noise scale.
            plot = self.addPlot()
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.hideAxis("left")
            plot.hideAxis("bottom")
            plot.setMouseEnabled(x=False, y=False)
            plot.setMinimumWidth(40)
            plot.getViewBox().setBorder(pg.mkPen((190, 190, 190)))
            name = pg.TextItem(LINE_LABELS[key], anchor=(0, 0), color=(40, 40, 40))
            name.setFont(QFont("DejaVu Sans", 8, QFont.Weight.Bold))
            info = pg.TextItem("", anchor=(1, 0), color=(40, 40, 40))
            info.setFont(QFont("DejaVu Sans", 7))
            plot.addItem(name, ignoreBounds=True)
            plot.addItem(info, ignoreBounds=True)
            self.names.append(name)
            self.infos.append(info)
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

    def show_stamps(self, stamps: list[Stamp]) -> None:
        for i, stamp in enumerate(stamps):
            plot = self.plots[i]
            name, info = self.names[i], self.infos[i]
            w = stamp.wavelength
            if not stamp.covered or w.size < 2:
                for curve in (self.resid[i], self.fit[i], *self.band[i]):
                    curve.setData([], [])
                plot.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)
                self.centre[i].setValue(-10.0)
                name.setColor((160, 160, 160))
                name.setPos(-1, 1)
                info.setText("not covered")
                info.setColor((160, 160, 160))
                info.setPos(1, 0.2)
                continue
            strong = math.isfinite(stamp.snr) and stamp.snr >= 3
            colour = (176, 0, 122) if strong else (40, 40, 40)
            name.setColor(colour)
            info.setColor(colour)
            info.setText(f"{stamp.centre_a:.0f} Å\nfit S/N {stamp.snr:.1f}" if math.isfinite(stamp.snr)
                         else f"{stamp.centre_a:.0f} Å")
            edges = np.concatenate([[w[0] - 0.5 * (w[1] - w[0])], 0.5 * (w[1:] + w[:-1]),
                                    [w[-1] + 0.5 * (w[-1] - w[-2])]])
            self.resid[i].setData(edges, np.nan_to_num(stamp.residual, nan=0.0))
            self.fit[i].setData(w, stamp.fit)
            self.band[i][0].setData(w, np.nan_to_num(-stamp.sigma, nan=0.0))
            self.band[i][1].setData(w, np.nan_to_num(stamp.sigma, nan=0.0))
            self.centre[i].setValue(stamp.centre_a)
            finite = stamp.residual[np.isfinite(stamp.residual)]
            span = max(float(np.max(np.abs(finite))) if finite.size else 1.0,
                       float(np.nanmax(stamp.sigma)) if np.any(np.isfinite(stamp.sigma)) else 1.0, 1e-3)
            top = 1.6 * span  # room above the data for the two text items
            plot.setRange(xRange=(w[0], w[-1]), yRange=(-1.1 * span, top), padding=0)
            name.setPos(w[0], top)
            info.setPos(w[-1], top)
