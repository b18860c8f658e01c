"""The spectrum plot: flux, foreground model, residual, 1-sigma band, shaded masks, line markers.

Plot items are created once and updated with ``setData`` for each spectrum (pyqtgraph's fast path).
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore
from PyQt6.QtCore import QRectF, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetrics

from ..core import grid
from ..core.inspection.label_layout import place_labels
from ..core.inspection.view import FOREGROUND_ABSORPTION_A, ViewState
from ..core.skymask import sky_mask_on_grid
from .plain_label import PlainLabel
from .stamps_view import set_colour, set_pen, set_text
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
LINE_LABEL_FONT = QFont("DejaVu Sans", 8)
FG_LABEL_FONT = QFont("DejaVu Sans", 7)
LABEL_MARGIN_PX = 1  # around a label's text (pyqtgraph's default 4 px would make rows needlessly tall)
LABEL_ROWS = 4       # rows of line labels under the plot's top edge
FG_LABEL_ROWS = 2    # rows of foreground labels above its bottom edge


def legend_html() -> str:
    """The legend as one line of text under the plot (a legend inside it would cover data and labels)."""
    def swatch(colour, symbol="━━"):
        return f"<span style='color: rgb{tuple(colour[:3])}'>{symbol}</span>"

    parts = [(FLUX_COLOUR, "flux"), (MODEL_COLOUR, "fg model"), (RESIDUAL_COLOUR, "residual")]
    items = [f"{swatch(c)} {t}" for c, t in parts]
    items += [f"{swatch((120, 120, 255), '█')} sky", f"{swatch((150, 150, 150), '█')} masked",
              f"{swatch(FG_EMISSION_COLOUR, '┆')}{swatch(FG_ABSORPTION_COLOUR, '┆')} z_fg features"]
    return "<span style='color: #1e1e1e'>" + "&nbsp;&nbsp; ".join(items) + "</span>"


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


X_RANGE_STEP_A = 10.0  # x range rounded outward to this: one survey's spectra share it, so the wavelength axis
                       # is drawn once, not re-laid out for every spectrum (~3 ms of a 50 ms budget)
Y_RANGE_STEPS = 10    # the y range is rounded outward to a 1-2-5 step of about a tenth of its span: spectra
                      # of similar flux then share it and the flux axis is not re-laid out (~3-5 ms a step)
BAND_POINTS = 1500  # the 1-sigma band is filled at this resolution: more is invisible and costly to fill


def rounded_outward(lo: float, hi: float, n_steps: int = Y_RANGE_STEPS) -> tuple[float, float]:
    """(lo, hi) widened to multiples of the 1, 2 or 5 x 10^k step nearest above (hi - lo) / ``n_steps``."""
    span = hi - lo
    if not (math.isfinite(lo) and math.isfinite(hi)) or span <= 0:
        return lo, hi
    rough = span / n_steps
    power = 10.0 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= rough)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


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


class TextRow(pg.LabelItem):
    """A line of text above or below the plot that never widens the layout (it is clipped instead), so
    a long caption cannot push the plot past the window's edge."""

    def updateMin(self):
        super().updateMin()
        self.setMinimumWidth(0)
        hint = self._sizeHint
        hint[QtCore.Qt.SizeHint.MinimumSize] = (0, hint[QtCore.Qt.SizeHint.MinimumSize][1])
        hint[QtCore.Qt.SizeHint.PreferredSize] = (0, hint[QtCore.Qt.SizeHint.PreferredSize][1])
        self.updateGeometry()


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
        # Caption above the plot and legend below it: outside the data area, so line labels never meet them.
        self.caption = TextRow("", justify="left", size="9pt", color=(30, 30, 30))
        self.addItem(self.caption, row=0, col=0)
        self.top_axis = RestFrameAxis("top")
        # Redrawn at every redshift change: major ticks only halve its cost (~4 ms per spectrum).
        self.top_axis.setStyle(maxTickLevel=0)
        self.plot = self.addPlot(row=1, col=0, axisItems={"top": self.top_axis})
        self.legend = TextRow(legend_html(), justify="left", size="8pt")
        self.addItem(self.legend, row=2, col=0)
        self.plot.showAxis("top")
        self.plot.setLabel("bottom", "Observed wavelength (Å, vacuum)")
        self.plot.setLabel("left", "Flux (1e-17 erg/s/cm²/Å)")
        # The flux axis only widens for wider tick texts (never narrows back): a width change re-lays out
        # the whole plot, and consecutive spectra's tick texts often differ by a digit.
        self.plot.getAxis("left").setStyle(autoReduceTextSpace=False)
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
        for item in (self.flux_curve, self.model_curve, self.residual_curve):
            self.plot.addItem(item)

        self.markers: list[pg.InfiniteLine] = []
        self.line_labels: list[PlainLabel] = []
        for i, key in enumerate(LINE_KEYS):
            line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen((200, 0, 150), width=1.5))
            line.sigDragged.connect(lambda ln, i=i: self._marker_dragged(i, ln))
            self.plot.addItem(line, ignoreBounds=True)
            self.markers.append(line)
            label = PlainLabel(LINE_LABELS[key], anchor=(0, 0), color=(60, 0, 60), fill=(255, 255, 255, 210),
                               font=LINE_LABEL_FONT, margin_px=LABEL_MARGIN_PX)
            label.setZValue(50)  # above every line, so its white fill keeps the text readable
            self.plot.addItem(label, ignoreBounds=True)
            self.line_labels.append(label)
        self._label_texts: list[tuple[str, str, float]] = []   # (full, short, priority) per line

        # Foreground (z_fg) features: two multi-segment curves and a few labels, cheaper than 17 InfiniteLines.
        dash = pg.QtCore.Qt.PenStyle.DashLine
        self.fg_emission = pg.PlotDataItem(pen=pg.mkPen(FG_EMISSION_COLOUR, width=1, style=dash), connect="pairs")
        self.fg_absorption = pg.PlotDataItem(pen=pg.mkPen(FG_ABSORPTION_COLOUR, width=1, style=dash), connect="pairs")
        self.plot.addItem(self.fg_emission, ignoreBounds=True)
        self.plot.addItem(self.fg_absorption, ignoreBounds=True)
        self.fg_labels: list[PlainLabel] = []
        for key in FG_LABELLED_LINES:
            self.fg_labels.append(self._fg_label(f"fg {LINE_LABELS[key]}", FG_EMISSION_COLOUR))
        for name in FOREGROUND_ABSORPTION_A:
            self.fg_labels.append(self._fg_label(f"fg {name}", FG_ABSORPTION_COLOUR))
        self.fg_markers = [self.fg_emission, self.fg_absorption]
        self._fg_positions: list[float] = []
        self._laying_out_later = False
        metrics = QFontMetrics(FG_LABEL_FONT)
        self._fg_widths = [metrics.horizontalAdvance(label.text()) + 2 * LABEL_MARGIN_PX + 4
                           for label in self.fg_labels]
        self.plot.getViewBox().sigRangeChanged.connect(self._layout_labels)
        self.plot.getViewBox().sigResized.connect(self._layout_labels)

        self.empty_message = PlainLabel("", anchor=(0.5, 0.5), color=(120, 120, 120), font=QFont("DejaVu Sans", 12))
        self.plot.addItem(self.empty_message, ignoreBounds=True)
        self.show_foreground = True
        self.show_nothing("No spectrum yet")

        self.show_flux = True
        self.show_model = True
        self.show_residual = True
        self.show_foreground = True
        self._state: ViewState | None = None
        self._sky_strip = shade_strip(SHADE_WAVELENGTH_A, sky_mask_on_grid(), grid.WAVELENGTH_A)
        self._y_range = (0.0, 1.0)

    def _fg_label(self, text: str, colour) -> PlainLabel:
        label = PlainLabel(text, anchor=(0, 0), color=colour, fill=(255, 255, 255, 190), font=FG_LABEL_FONT,
                           margin_px=LABEL_MARGIN_PX)
        label.setZValue(40)
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
        for item in self.markers + self.line_labels + self.fg_labels:
            item.setVisible(False)
        self._label_texts, self._fg_positions = [], []
        self.caption.setText("")
        self.top_axis.setLabel("")
        self.plot.setRange(xRange=(3600.0, 10400.0), yRange=(0.0, 1.0), padding=0)
        self.empty_message.setText(message)
        self.empty_message.setPos(7000.0, 0.5)
        self.empty_message.setVisible(True)

    def show_state(self, state: ViewState, auto_range: bool = True, keep_x: bool = False) -> None:
        self._laying_out_later = True   # the range set below would lay the labels out for the old lines
        try:
            self._show_state(state, auto_range, keep_x)
        finally:
            self._laying_out_later = False
        self._layout_labels()

    def _show_state(self, state: ViewState, auto_range: bool, keep_x: bool) -> None:
        self._state = state
        self.empty_message.setVisible(False)
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
            x_lo = math.floor(x_lo / X_RANGE_STEP_A) * X_RANGE_STEP_A
            x_hi = math.ceil(x_hi / X_RANGE_STEP_A) * X_RANGE_STEP_A
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
        return rounded_outward(float(lo - pad), float(hi + 3 * pad))

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
        texts = []
        spectrum = state.spectrum
        for line, label, key, x, text, p in zip(self.markers, self.line_labels, LINE_KEYS,
                                               state.marker_wavelengths(), state.marker_labels(),
                                               state.line_probabilities()):
            line.blockSignals(True)
            line.setValue(float(x))
            line.blockSignals(False)
            line.setVisible(True)
            colour = probability_colour(float(p))
            set_pen(line, colour, 2 if math.isfinite(p) and p >= 0.5 else 1.2)
            set_colour(label, (colour.red() // 2, colour.green() // 2, colour.blue() // 2))
            covered = spectrum.wavelength[0] <= x <= spectrum.wavelength[-1]
            # Lines off the spectrum get no label; the rest are placed most probable first.
            texts.append((text, LINE_LABELS[key], float(p) if math.isfinite(p) else 0.0) if covered else None)
        self._label_texts = texts
        emission = state.foreground_emission_wavelengths()
        absorption = list(state.foreground_absorption().values())
        self._fg_positions = [float(emission[LINE_KEYS.index(k)]) for k in FG_LABELLED_LINES] + absorption
        self._place_foreground(emission, absorption)
        self.top_axis.set_redshift(state.z)
        err = f" ± {state.z_err:.5f}" if math.isfinite(state.z_err) else ""
        self.caption.setText(
            f"z_bg {state.z:.5f}{err} ({state.z_origin}) · z_fg {spectrum.z_fg:.5f} · "
            f"p from: {state.probability_source} · smoothing {2 * state.smoothing_half_width + 1} px")
        self._layout_labels()

    def caption_text(self) -> str:
        return self.caption.text

    def _place_foreground(self, emission, absorption) -> None:
        lo, hi = self._y_range
        reach = 10 * (hi - lo)  # segments far beyond the view: zooming out keeps them full height

        def segments(xs):
            xs = np.asarray([x for x in xs if math.isfinite(x)], dtype=np.float64)
            return np.repeat(xs, 2), np.tile([lo - reach, hi + reach], xs.size)

        self.fg_emission.setData(*segments(emission))
        self.fg_absorption.setData(*segments(absorption))

    def _layout_labels(self, *args) -> None:
        """Put line labels in rows under the top edge and foreground labels in rows above the bottom edge,
        none overlapping another (see :mod:`casiglo_gui.core.inspection.label_layout`)."""
        if self._laying_out_later:
            return
        view = self.plot.getViewBox()
        (x0, x1), (y0, y1) = view.viewRange()
        width, height = view.width(), view.height()
        if width <= 0 or height <= 0 or x1 <= x0 or y1 <= y0:
            return
        px_per_x, y_per_px = width / (x1 - x0), (y1 - y0) / height
        shown = [(i, t) for i, t in enumerate(self._label_texts) if t is not None]
        metrics = QFontMetrics(LINE_LABEL_FONT)
        row_px = metrics.height() + 2 * LABEL_MARGIN_PX + 2
        pad = 2 * LABEL_MARGIN_PX + 4
        placements = place_labels(
            [(float(self.markers[i].value()) - x0) * px_per_x for i, _ in shown],
            [metrics.horizontalAdvance(t[0]) + pad for _, t in shown],
            [metrics.horizontalAdvance(t[1]) + pad for _, t in shown], [t[2] for _, t in shown],
            n_rows=max(1, min(LABEL_ROWS, int(0.45 * height / row_px))), width_px=width)
        placed = {}
        for (i, (full, short, _p)), placement in zip(shown, placements):
            if placement is not None:
                placed[i] = placement
                label = self.line_labels[i]
                set_text(label, short if placement.short else full)
                label.setPos(x0 + placement.left_px / px_per_x, y1 - (2 + placement.row * row_px) * y_per_px)
        for i, label in enumerate(self.line_labels):
            if label.isVisible() != (i in placed):   # a visibility change costs a scene update: only real ones
                label.setVisible(i in placed)
        self._layout_foreground_labels(x0, px_per_x, y0, y_per_px, width, height)

    def _layout_foreground_labels(self, x0, px_per_x, y0, y_per_px, width, height) -> None:
        metrics = QFontMetrics(FG_LABEL_FONT)
        row_px = metrics.height() + 2 * LABEL_MARGIN_PX + 2
        widths = self._fg_widths
        x_px = [(x - x0) * px_per_x if math.isfinite(x) else -1.0 for x in self._fg_positions]
        placements = place_labels(x_px, widths, widths, [0.0] * len(x_px), n_rows=FG_LABEL_ROWS, width_px=width)
        for label, placement in zip(self.fg_labels, placements):
            if placement is None or not self.show_foreground:
                label.setVisible(False)
                continue
            label.setPos(x0 + placement.left_px / px_per_x, y0 + (2 + (placement.row + 1) * row_px) * y_per_px)
            label.setVisible(True)

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
        self._layout_labels()

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
