"""The spectrum plot: flux, foreground model, residual, 1-sigma band, shaded masks, line markers.

Plot items are created once and updated with ``setData`` for each spectrum (pyqtgraph's fast path).
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, pyqtSignal
from PyQt6.QtGui import QColor, QFont

from ..core import grid
from ..core.inspection.view import FOREGROUND_ABSORPTION_A, ViewState
from ..core.skymask import sky_mask_on_grid
from ..core.lines import LINE_KEYS, LINE_LABELS, N_LINES, REST_WAVELENGTHS_A

FLUX_COLOUR = (90, 90, 90)
MODEL_COLOUR = (200, 40, 40)
RESIDUAL_COLOUR = (20, 90, 200)
BAND_COLOUR = (20, 90, 200, 50)
SKY_COLOUR = (120, 120, 255, 40)
MASK_COLOUR = (150, 150, 150, 45)
FG_EMISSION_COLOUR = (0, 140, 60)
FG_LABELLED_LINES = ("oii_3730", "hbeta", "oiii_5008", "halpha", "sii_6718")
FG_ABSORPTION_COLOUR = (200, 120, 0)


# Wavelengths of the shading strip's columns (linear, 0.5 A: finer than a pixel everywhere).
SHADE_WAVELENGTH_A = np.arange(3500.0, 10500.0, 0.5)


def shade_strip(wavelength_a: np.ndarray, mask: np.ndarray, mask_wavelength_a: np.ndarray) -> np.ndarray:
    """True at the strip columns whose nearest pixel of ``mask_wavelength_a`` is masked (inside its range)."""
    mask_wavelength_a = np.asarray(mask_wavelength_a, dtype=np.float64)
    idx = np.clip(np.searchsorted(mask_wavelength_a, wavelength_a), 1, mask_wavelength_a.size - 1)
    left = mask_wavelength_a[idx - 1]
    nearest = np.where(wavelength_a - left < mask_wavelength_a[idx] - wavelength_a, idx - 1, idx)
    inside = (wavelength_a >= mask_wavelength_a[0]) & (wavelength_a <= mask_wavelength_a[-1])
    return np.asarray(mask, dtype=bool)[nearest] & inside


BAND_POINTS = 1500  # the 1-sigma band is filled at this resolution: more is invisible and costly to fill


def envelope(x: np.ndarray, low: np.ndarray, high: np.ndarray, n_max: int):
    """Reduce a band to at most ~``n_max`` points, keeping its extremes (min of low, max of high per block)."""
    factor = max(1, -(-x.size // n_max))
    if factor == 1:
        return x, low, high
    n = (x.size // factor) * factor
    shape = (n // factor, factor)
    # fmin/fmax skip NaNs (a block is NaN only when all of it is), without all-NaN warnings.
    return (x[:n].reshape(shape).mean(axis=1), np.fmin.reduce(low[:n].reshape(shape), axis=1),
            np.fmax.reduce(high[:n].reshape(shape), axis=1))


def probability_colour(p: float) -> QColor:
    """Marker colour: grey when unknown, from orange (unlikely) to magenta (certain); opacity grows with p."""
    if not math.isfinite(p):
        return QColor(110, 110, 110, 150)
    p = min(max(p, 0.0), 1.0)
    red, green, blue = 230, int(150 * (1 - p)), int(40 + 180 * p)
    return QColor(red, green, blue, int(70 + 185 * p))


class RestFrameAxis(pg.AxisItem):
    """Top axis: the bottom axis's observed wavelengths divided by (1 + z_bg)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.z = 0.0

    def set_redshift(self, z: float) -> None:
        self.z = float(z)
        self.setLabel(f"Rest-frame wavelength at z_bg = {self.z:.5f} (Å, vacuum)")
        self.picture = None
        self.update()

    def tickStrings(self, values, scale, spacing):
        factor = 1.0 + self.z
        return [f"{v / factor:.0f}" for v in values]


class SpectrumView(pg.GraphicsLayoutWidget):
    """The main spectrum plot. Emits ``redshift_dragged(z)`` when the user drags a line marker."""

    redshift_dragged = pyqtSignal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.top_axis = RestFrameAxis("top")
        self.plot = self.addPlot(axisItems={"top": self.top_axis})
        self.plot.showAxis("top")
        self.plot.setLabel("bottom", "Observed wavelength (Å, vacuum)")
        self.plot.setLabel("left", "Flux (1e-17 erg/s/cm²/Å)")
        self.plot.setDownsampling(auto=True, mode="peak")
        self.plot.setClipToView(True)
        self.plot.getViewBox().setMouseMode(pg.ViewBox.RectMode)

        # Sky lines and masked pixels: one RGBA strip image stretched over the plot's height. A texture
        # is far cheaper to paint than thousands of filled polygons.
        self.shade = pg.ImageItem(axisOrder="row-major")
        self.shade.setZValue(-10)
        self.band_low = pg.PlotDataItem(pen=None)
        self.band_high = pg.PlotDataItem(pen=None)
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=pg.mkBrush(BAND_COLOUR))
        self.flux_curve = pg.PlotDataItem(pen=pg.mkPen(FLUX_COLOUR, width=1), name="flux")
        self.model_curve = pg.PlotDataItem(pen=pg.mkPen(MODEL_COLOUR, width=1), name="foreground model")
        self.residual_curve = pg.PlotDataItem(pen=pg.mkPen(RESIDUAL_COLOUR, width=1), name="residual (flux − model)")
        self.plot.addItem(self.shade, ignoreBounds=True)
        self.plot.addItem(self.band)
        self.legend = self.plot.addLegend(offset=(10, 40), labelTextSize="9pt", labelTextColor=(30, 30, 30),
                                          brush=pg.mkBrush(255, 255, 255, 200))
        for item in (self.flux_curve, self.model_curve, self.residual_curve):
            self.plot.addItem(item)
        self.legend.addItem(pg.PlotDataItem(pen=None, fillLevel=0, brush=pg.mkBrush(SKY_COLOUR)), "sky lines")
        self.legend.addItem(pg.PlotDataItem(pen=None, fillLevel=0, brush=pg.mkBrush(MASK_COLOUR)), "masked pixels")

        self.markers: list[pg.InfiniteLine] = []
        for i, key in enumerate(LINE_KEYS):
            line = pg.InfiniteLine(
                angle=90, movable=True, pen=pg.mkPen((200, 0, 150), width=1.5),
                label=LINE_LABELS[key],
                labelOpts={"position": 0.96 - 0.07 * (i % 6), "color": (60, 0, 60), "movable": False,
                           "fill": pg.mkBrush(255, 255, 255, 200), "anchors": [(0, 0), (0, 0)]},
            )
            line.label.setFont(QFont("DejaVu Sans", 8))
            line.sigDragged.connect(lambda ln, i=i: self._marker_dragged(i, ln))
            self.plot.addItem(line, ignoreBounds=True)
            self.markers.append(line)

        # Foreground (z_fg) features: two multi-segment curves and a few labels, cheaper than 17 InfiniteLines.
        dash = pg.QtCore.Qt.PenStyle.DashLine
        self.fg_emission = pg.PlotDataItem(pen=pg.mkPen(FG_EMISSION_COLOUR, width=1, style=dash), connect="pairs")
        self.fg_absorption = pg.PlotDataItem(pen=pg.mkPen(FG_ABSORPTION_COLOUR, width=1, style=dash), connect="pairs")
        self.plot.addItem(self.fg_emission, ignoreBounds=True)
        self.plot.addItem(self.fg_absorption, ignoreBounds=True)
        self.fg_labels: list[tuple[pg.TextItem, float]] = []
        for i, key in enumerate(FG_LABELLED_LINES):
            self.fg_labels.append((self._fg_label(f"fg {LINE_LABELS[key]}", FG_EMISSION_COLOUR), 0.04 * (i % 2)))
        for i, name in enumerate(FOREGROUND_ABSORPTION_A):
            self.fg_labels.append((self._fg_label(f"fg {name}", FG_ABSORPTION_COLOUR), 0.085 + 0.04 * (i % 2)))
        self.fg_markers = [self.fg_emission, self.fg_absorption] + [label for label, _ in self.fg_labels]

        self.caption = pg.TextItem(anchor=(0, 0), color=(30, 30, 30))
        self.caption.setFont(QFont("DejaVu Sans", 9))
        self.plot.addItem(self.caption, ignoreBounds=True)
        self.plot.getViewBox().sigRangeChanged.connect(self._place_caption)

        self.empty_message = pg.TextItem("", anchor=(0.5, 0.5), color=(120, 120, 120))
        self.empty_message.setFont(QFont("DejaVu Sans", 12))
        self.plot.addItem(self.empty_message, ignoreBounds=True)
        self.show_nothing("No spectrum yet")

        self.show_flux = True
        self.show_model = True
        self.show_residual = True
        self.show_foreground = True
        self._state: ViewState | None = None
        self._sky_strip = shade_strip(SHADE_WAVELENGTH_A, sky_mask_on_grid(), grid.WAVELENGTH_A)
        self._y_range = (0.0, 1.0)

    def _fg_label(self, text: str, colour) -> pg.TextItem:
        label = pg.TextItem(text, anchor=(0, 1), color=colour, fill=pg.mkBrush(255, 255, 255, 190))
        label.setFont(QFont("DejaVu Sans", 7))
        self.plot.addItem(label, ignoreBounds=True)
        return label

    # --- drawing ------------------------------------------------------------------------------------
    def show_nothing(self, message: str) -> None:
        """The no-spectrum state: no curve, marker or caption of a previous spectrum, and ``message``."""
        self._state = None
        for item in (self.flux_curve, self.model_curve, self.residual_curve, self.band_low, self.band_high,
                     self.fg_emission, self.fg_absorption):
            item.setData([], [])
        self.shade.clear()
        for line in self.markers:
            line.setVisible(False)
        for label, _ in self.fg_labels:
            label.setVisible(False)
        self.caption.setText("")
        self.top_axis.setLabel("")
        self.plot.setRange(xRange=(3600.0, 10400.0), yRange=(0.0, 1.0), padding=0)
        self.empty_message.setText(message)
        self.empty_message.setPos(7000.0, 0.5)
        self.empty_message.setVisible(True)

    def show_state(self, state: ViewState, auto_range: bool = True, keep_x: bool = False) -> None:
        self._state = state
        self.empty_message.setVisible(False)
        for line in self.markers:
            line.setVisible(True)
        wave, flux_s, sigma = state.smoothed("flux")
        _, resid_s, _ = state.smoothed("residual")
        spectrum = state.spectrum
        self.flux_curve.setData(wave, flux_s, connect="finite")
        if spectrum.model is not None:
            self.model_curve.setData(wave, spectrum.model, connect="finite")
        else:
            self.model_curve.setData([], [])
        self.residual_curve.setData(wave, resid_s, connect="finite")
        centre = resid_s if not self.show_flux else flux_s
        band_x, band_low, band_high = envelope(wave, centre - sigma, centre + sigma, BAND_POINTS)
        self.band_low.setData(band_x, band_low, connect="finite")
        self.band_high.setData(band_x, band_high, connect="finite")
        if auto_range:
            self._y_range = self._robust_y_range(flux_s, resid_s, spectrum.model)
            finite_wave = wave[np.isfinite(flux_s)]
            x_lo, x_hi = (finite_wave[0], finite_wave[-1]) if finite_wave.size else (wave[0], wave[-1])
            if keep_x:
                x_lo, x_hi = self.plot.getViewBox().viewRange()[0]
            self.plot.setRange(xRange=(x_lo, x_hi), yRange=self._y_range, padding=0)
        self._draw_shading(state)
        self._apply_visibility()
        self.update_markers(state)

    def _robust_y_range(self, flux, residual, model) -> tuple[float, float]:
        """0.5-99.7 percentile of the visible curves, with room above for the marker labels."""
        shown = [v for v, on in ((flux, self.show_flux), (residual, self.show_residual), (model, self.show_model))
                 if on and v is not None]
        values = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in shown] or [np.zeros(1)])
        values = values[np.isfinite(values)]
        lo, hi = np.percentile(values, [0.5, 99.7]) if values.size else (0.0, 1.0)
        pad = 0.08 * (hi - lo if hi > lo else 1.0)
        return float(lo - pad), float(hi + 3 * pad)

    def _draw_shading(self, state: ViewState) -> None:
        lo, hi = self._y_range
        spectrum = state.spectrum
        masked = shade_strip(SHADE_WAVELENGTH_A, spectrum.mask, spectrum.wavelength)
        rgba = np.zeros((1, SHADE_WAVELENGTH_A.size, 4), dtype=np.uint8)
        rgba[0, self._sky_strip] = SKY_COLOUR
        rgba[0, masked] = MASK_COLOUR
        self.shade.setImage(rgba, autoLevels=False)
        step = SHADE_WAVELENGTH_A[1] - SHADE_WAVELENGTH_A[0]
        self.shade.setRect(QRectF(float(SHADE_WAVELENGTH_A[0] - step / 2), lo,
                                  float(SHADE_WAVELENGTH_A.size * step), hi - lo))

    def update_markers(self, state: ViewState) -> None:
        """Place the 12 markers at rest x (1 + z) with probability, S/N and colour; foreground at z_fg."""
        self._state = state
        positions = state.marker_wavelengths()
        labels = state.marker_labels()
        probabilities = state.line_probabilities()
        (x_lo, x_hi), _ = self.plot.getViewBox().viewRange()
        flip_at = x_lo + 0.75 * (x_hi - x_lo)
        for line, x, text, p in zip(self.markers, positions, labels, probabilities):
            # Labels of lines near the right edge go on the line's left, so they are not clipped.
            anchor = (1, 0) if x > flip_at else (0, 0)
            if line.label.anchors[0] != anchor:
                line.label.anchors = [anchor, anchor]
            line.blockSignals(True)
            line.setValue(float(x))
            line.blockSignals(False)
            covered = state.spectrum.wavelength[0] <= x <= state.spectrum.wavelength[-1]
            line.label.setVisible(bool(covered))  # an off-spectrum line's label would float at the edge
            colour = probability_colour(float(p))
            line.setPen(pg.mkPen(colour, width=2 if math.isfinite(p) and p >= 0.5 else 1.2))
            line.label.setText(text)
            line.label.setColor(QColor(colour.red() // 2, colour.green() // 2, colour.blue() // 2))
        self._place_foreground(state)
        self.top_axis.set_redshift(state.z)
        err = f" ± {state.z_err:.5f}" if math.isfinite(state.z_err) else ""
        source = state.probability_source
        self.caption.setText(
            f"z_bg = {state.z:.5f}{err} ({state.z_origin})   z_fg = {state.spectrum.z_fg:.5f}   "
            f"probabilities from: {source}   smoothing: {2 * state.smoothing_half_width + 1} px   "
            f"vacuum wavelengths")
        self._place_caption()

    def _place_foreground(self, state: ViewState) -> None:
        lo, hi = self._y_range
        reach = 10 * (hi - lo)  # segments far beyond the view: zooming out keeps them full height

        def segments(xs):
            xs = np.asarray([x for x in xs if math.isfinite(x)], dtype=np.float64)
            return np.repeat(xs, 2), np.tile([lo - reach, hi + reach], xs.size)

        emission = state.foreground_emission_wavelengths()
        absorption = list(state.foreground_absorption().values())
        self.fg_emission.setData(*segments(emission))
        self.fg_absorption.setData(*segments(absorption))
        positions = [emission[LINE_KEYS.index(k)] for k in FG_LABELLED_LINES] + absorption
        for (label, frac), x in zip(self.fg_labels, positions):
            label.setPos(float(x) if math.isfinite(x) else -1e4, lo + frac * (hi - lo))

    def _place_caption(self, *args) -> None:
        (x0, _x1), (_y0, y1) = self.plot.getViewBox().viewRange()
        self.caption.setPos(x0, y1)

    def _marker_dragged(self, index: int, line: pg.InfiniteLine) -> None:
        z = float(line.value()) / float(REST_WAVELENGTHS_A[index]) - 1.0
        self.redshift_dragged.emit(z)

    def _apply_visibility(self) -> None:
        self.flux_curve.setVisible(self.show_flux)
        self.model_curve.setVisible(self.show_model)
        self.residual_curve.setVisible(self.show_residual)
        self.band.setVisible(self.show_flux or self.show_residual)
        for item in self.fg_markers:
            item.setVisible(self.show_foreground)

    def set_visibility(self, flux: bool | None = None, model: bool | None = None, residual: bool | None = None,
                       foreground: bool | None = None) -> None:
        if flux is not None:
            self.show_flux = flux
        if model is not None:
            self.show_model = model
        if residual is not None:
            self.show_residual = residual
        if foreground is not None:
            self.show_foreground = foreground
        if self._state is not None:
            self.show_state(self._state, auto_range=True, keep_x=True)
        else:
            self._apply_visibility()

    def marker_positions(self) -> np.ndarray:
        return np.array([line.value() for line in self.markers], dtype=np.float64)

    @property
    def n_markers(self) -> int:
        return N_LINES
