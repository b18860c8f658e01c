"""MaNGA cube panel: a spaxel map (white light, or a scan's score / line-S/N map), click to pick a spaxel."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget


class CubeView(QWidget):
    """Emits ``spaxel_picked(x, y)`` on a click and ``aperture_requested(x, y, r)`` for an aperture sum."""

    spaxel_picked = pyqtSignal(int, int)
    aperture_requested = pyqtSignal(int, int, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        controls = QHBoxLayout()
        self.map_choice = QComboBox()
        self.map_choice.currentTextChanged.connect(self._show_map)
        controls.addWidget(QLabel("Map:"))
        controls.addWidget(self.map_choice, 1)
        layout.addLayout(controls)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plot = self.graphics.addPlot()
        self.plot.setAspectLocked(True)
        self.plot.invertY(False)
        self.plot.setLabel("bottom", "x (spaxel)")
        self.plot.setLabel("left", "y (spaxel)")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        self.cursor = pg.ScatterPlotItem(size=12, symbol="+", pen=pg.mkPen("r", width=2), brush=None)
        self.plot.addItem(self.cursor)
        self.aperture_circle = pg.CircleROI((0, 0), (1, 1), movable=False, pen=pg.mkPen((255, 80, 0), width=1.5))
        self.aperture_circle.setVisible(False)
        self.plot.addItem(self.aperture_circle)
        self.image.mouseClickEvent = self._clicked
        layout.addWidget(self.graphics, 1)
        aperture = QHBoxLayout()
        aperture.addWidget(QLabel("Aperture radius (spaxels):"))
        self.radius = QSpinBox()
        self.radius.setRange(1, 20)
        self.radius.setValue(2)
        aperture.addWidget(self.radius)
        self.sum_button = QPushButton("Aperture sum")
        self.sum_button.clicked.connect(self._aperture)
        aperture.addWidget(self.sum_button)
        layout.addLayout(aperture)
        self.status = QLabel("")
        layout.addWidget(self.status)
        self.maps: dict[str, np.ndarray] = {}
        self.selected = (0, 0)

    def set_maps(self, maps: dict[str, np.ndarray], selected: tuple[int, int]) -> None:
        """Maps by name (the first one is shown), and the spaxel on show."""
        self.maps = {name: np.asarray(image, dtype=np.float64) for name, image in maps.items()}
        self.map_choice.blockSignals(True)
        current = self.map_choice.currentText()
        self.map_choice.clear()
        self.map_choice.addItems(list(self.maps))
        if current in self.maps:
            self.map_choice.setCurrentText(current)
        self.map_choice.blockSignals(False)
        self._show_map(self.map_choice.currentText())
        self.set_selected(*selected)

    def _show_map(self, name: str) -> None:
        image = self.maps.get(name)
        if image is None:
            return
        finite = image[np.isfinite(image)]
        levels = (np.percentile(finite, [1, 99.5]) if finite.size else (0, 1))
        if levels[1] <= levels[0]:
            levels = (levels[0], levels[0] + 1)
        self.image.setImage(np.nan_to_num(image, nan=levels[0]), levels=levels)

    def set_selected(self, x: int, y: int, radius: float | None = None) -> None:
        self.selected = (int(x), int(y))
        self.cursor.setData([x + 0.5], [y + 0.5])
        if radius:
            self.aperture_circle.setPos((x + 0.5 - radius, y + 0.5 - radius))
            self.aperture_circle.setSize((2 * radius, 2 * radius))
            self.aperture_circle.setVisible(True)
        else:
            self.aperture_circle.setVisible(False)
        self.status.setText(f"spaxel x={x}, y={y}" + (f", aperture r={radius:g}" if radius else ""))

    def _clicked(self, event) -> None:
        pos = event.pos()
        x, y = int(pos.x()), int(pos.y())
        event.accept()
        self.pick(x, y)

    def pick(self, x: int, y: int) -> None:
        """Select spaxel (x, y), as a click does."""
        shape = next(iter(self.maps.values())).shape if self.maps else (0, 0)
        if 0 <= y < shape[0] and 0 <= x < shape[1]:
            self.set_selected(x, y)
            self.spaxel_picked.emit(x, y)

    def _aperture(self) -> None:
        x, y = self.selected
        self.aperture_requested.emit(x, y, float(self.radius.value()))
