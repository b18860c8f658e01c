"""The help overlay (? or F1): every key of :data:`casiglo_gui.core.inspection.actions.KEYMAP`, grouped."""
from __future__ import annotations

import html

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from ..core.inspection.actions import KEYMAP


def help_html() -> str:
    groups: dict[str, list[str]] = {}
    for binding in KEYMAP:
        keys = " / ".join(f"<b>{html.escape(k)}</b>" for k in binding.keys)
        groups.setdefault(binding.group, []).append(
            f"<tr><td style='padding-right:14px'>{keys}</td><td>{html.escape(binding.description)}</td></tr>")
    parts = ["<h3>Keys</h3>"]
    for group, rows in groups.items():
        parts.append(f"<p><u>{html.escape(group)}</u></p><table>{''.join(rows)}</table>")
    parts.append("<p>Letter keys work with or without Shift. Drag a line marker to move all markers; click a "
                 "stamp to select its line. Drop files or folders on the window to open them.</p>")
    return "".join(parts)


class HelpOverlay(QWidget):
    """A translucent panel over the main window listing every key."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("HelpOverlay { background: rgba(255, 255, 255, 235); border: 2px solid #444; }")
        layout = QVBoxLayout(self)
        self.label = QLabel(help_html())
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        scroll = QScrollArea()
        scroll.setWidget(self.label)
        scroll.setWidgetResizable(True)
        scroll.setStyleSheet("background: transparent;")
        layout.addWidget(scroll)
        self.hide()

    def show_over(self, parent: QWidget) -> None:
        margin = 40
        self.setGeometry(margin, margin, max(parent.width() - 2 * margin, 200), max(parent.height() - 2 * margin, 200))
        self.raise_()
        self.show()
