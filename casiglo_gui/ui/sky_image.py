"""The sky image panel: an optional Legacy Survey cutout around the object (fetched on request, or for
every object when "fetch for every object" is on), with a plain-words state: idle, fetching, offline."""
from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import QCheckBox, QGroupBox, QLabel, QPushButton, QVBoxLayout

IMAGE_PX = 200


class SkyImagePanel(QGroupBox):
    fetch_requested = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__("Sky image (Legacy Survey DR10)", parent)
        layout = QVBoxLayout(self)
        self.image = QLabel()
        self.image.setFixedSize(IMAGE_PX, IMAGE_PX)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setStyleSheet("background: #eee; color: #666;")
        layout.addWidget(self.image)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.fetch_button = QPushButton("Fetch cutout (I)")
        self.fetch_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.fetch_button.clicked.connect(self.fetch_requested)
        layout.addWidget(self.fetch_button)
        self.auto_fetch = QCheckBox("fetch for every object")
        self.auto_fetch.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout.addWidget(self.auto_fetch)
        self.state = "idle"
        self.show_idle(False)

    def _set(self, state: str, text: str, image_text: str = "") -> None:
        self.state = state
        self.status.setText(text)
        self.image.setPixmap(QPixmap())
        self.image.setText(image_text)

    def show_idle(self, has_position: bool) -> None:
        self.fetch_button.setEnabled(has_position)
        if has_position:
            self._set("idle", "Not fetched (optional; needs the internet once, then cached).", "press I")
        else:
            self._set("no position", "No sky position for this spectrum.", "no position")

    def show_waiting(self, url: str) -> None:
        self._set("fetching", f"fetching {url}…" if url else "no sky position", "fetching…")

    def show_result(self, result) -> None:
        """A :class:`~casiglo_gui.core.inspection.cutout.CutoutResult`."""
        if result.path is None:
            label = {"offline": "offline", "no position": "no position"}.get(result.state, "no image")
            self._set(result.state, result.message, label)
            return
        pixmap = QPixmap(str(result.path))
        if pixmap.isNull():
            self._set("bad response", f"{result.path.name} is not a readable image", "no image")
            return
        self.state = result.state
        self.image.setText("")
        self.image.setPixmap(pixmap.scaled(IMAGE_PX, IMAGE_PX, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))
        self.status.setText(result.message)
