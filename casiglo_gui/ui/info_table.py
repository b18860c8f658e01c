"""The info panel's rows as a grid of small labels (key | value), reused from one spectrum to the next.

Why not one rich-text QLabel holding an HTML ``<table>``: Qt lays a table out again at every change and every
paint, ~6 ms of each spectrum's redraw; a grid of labels lays out only the values that changed, each a
line or two of text.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QGridLayout, QLabel, QWidget


def _label(bold: bool = False) -> QLabel:
    label = QLabel("")
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    if bold:
        font = label.font()
        font.setBold(True)
        label.setFont(font)
    else:
        label.setOpenExternalLinks(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    return label


def _set_text(label: QLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)


class InfoTable(QWidget):
    """Rows of (key, value HTML), or one message spanning both columns (no spectrum, could not read)."""

    def __init__(self, message: str = "", parent=None):
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(6)
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(1, 1)
        self._message = _label()
        self._grid.addWidget(self._message, 0, 0, 1, 2)
        self._rows: list[tuple[QLabel, QLabel]] = []
        self._shown = 0
        self.set_message(message)

    def set_message(self, html_text: str) -> None:
        """One message instead of the rows."""
        _set_text(self._message, html_text)
        self._message.show()
        self._show_rows(0)

    def set_rows(self, rows: list[tuple[str, str]]) -> None:
        """``[(key, value HTML)]``: labels are added when there are more rows than ever before, else reused."""
        self._message.hide()
        while len(self._rows) < len(rows):
            key, value = _label(bold=True), _label()
            self._grid.addWidget(key, len(self._rows) + 1, 0)
            self._grid.addWidget(value, len(self._rows) + 1, 1)
            self._rows.append((key, value))
        for (key_label, value_label), (key, value) in zip(self._rows, rows):
            _set_text(key_label, key)
            _set_text(value_label, value)
        self._show_rows(len(rows))

    def _show_rows(self, count: int) -> None:
        if count == self._shown:
            return
        for i, (key, value) in enumerate(self._rows):
            key.setVisible(i < count)
            value.setVisible(i < count)
        self._shown = count

    def text(self) -> str:
        """All that is on show, as HTML (what a reader of the panel sees, for tests and copying)."""
        if not self._message.isHidden():
            return self._message.text()
        return "".join(f"<b>{key.text()}</b> {value.text()}<br>" for key, value in self._rows[:self._shown])
