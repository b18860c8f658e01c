"""A cheap plot label: one line of plain text, optionally on a filled box, drawn at screen size.

pyqtgraph's ``TextItem`` lays out a ``QTextDocument`` per text and recomputes its transform at every view
change; with ~36 labels re-placed per spectrum that was ~10 ms of a 50 ms step. This item draws one
``drawText`` call and measures with the font's metrics. Like ``TextItem`` it undoes its parent's scaling
and y-flip with its own transform, re-computed only when that changes (rather than Qt's
``ItemIgnoresTransformations``, under which ``mapRectToScene`` and hit-testing give wrong rectangles).
"""
from __future__ import annotations

import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QTransform


class PlainLabel(pg.GraphicsObject):
    """Text at its position in view coordinates; ``anchor`` (0..1, 0..1) is the point of the text's box
    that sits there ((0, 0): top left, (1, 0): top right), as for ``pg.TextItem``."""

    def __init__(self, text: str = "", anchor=(0.0, 0.0), color=(0, 0, 0), fill=None, font: QFont | None = None,
                 margin_px: float = 0.0):
        super().__init__()
        self._parent_transform: QTransform | None = None   # the one this item's transform undoes
        self._scene = None
        self._text = text
        self._anchor = (float(anchor[0]), float(anchor[1]))
        self._colour = pg.mkColor(color)
        self._fill = None if fill is None else pg.mkBrush(fill)
        self._font = QFont(font) if font is not None else QFont()
        self._metrics = QFontMetricsF(self._font)
        self._margin = float(margin_px)
        self._rect = self._measure()

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self._set_rect(self._measure())

    def setColor(self, color) -> None:
        self._colour = pg.mkColor(color)
        self.update()

    def colour(self) -> QColor:
        return QColor(self._colour)

    def setFont(self, font: QFont) -> None:
        self._font = QFont(font)
        self._metrics = QFontMetricsF(self._font)
        self._set_rect(self._measure())

    def _measure(self) -> QRectF:
        width = self._metrics.horizontalAdvance(self._text) + 2 * self._margin if self._text else 0.0
        height = self._metrics.height() + 2 * self._margin
        return QRectF(-self._anchor[0] * width, -self._anchor[1] * height, width, height)

    def _set_rect(self, rect: QRectF) -> None:
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(self._rect)

    def viewTransformChanged(self) -> None:
        self._follow_parent()

    def setVisible(self, visible: bool) -> None:
        super().setVisible(visible)
        if visible:
            self._follow_parent()

    def _follow_parent(self) -> None:
        """Undo the parent's scale and flip (keeping its translation) so the text is drawn in pixels, upright."""
        if not self.isVisible():
            return
        parent = self.parentItem()
        parent_transform = QTransform() if parent is None else parent.sceneTransform()
        if parent_transform == self._parent_transform:
            return
        inverse, _invertible = parent_transform.inverted()
        inverse.setMatrix(inverse.m11(), inverse.m12(), inverse.m13(), inverse.m21(), inverse.m22(), inverse.m23(),
                          0.0, 0.0, inverse.m33())
        self.setTransform(inverse)
        self._parent_transform = parent_transform

    def paint(self, painter, option, widget=None) -> None:
        scene = self.scene()
        if scene is not self._scene:   # the first paint in a scene: follow its later view changes before painting
            if self._scene is not None:
                self._scene.sigPrepareForPaint.disconnect(self._follow_parent)
            self._scene = scene
            if scene is not None:
                scene.sigPrepareForPaint.connect(self._follow_parent)
            self._follow_parent()
            painter.setTransform(self.sceneTransform())
        if not self._text:
            return
        if self._fill is not None:
            painter.fillRect(self._rect, self._fill)
        painter.setFont(self._font)
        painter.setPen(self._colour)
        baseline = QPointF(self._rect.left() + self._margin, self._rect.top() + self._margin + self._metrics.ascent())
        painter.drawText(baseline, self._text)
