"""Grade buttons, flag boxes and the comment box (the keys do the same; see keys.py)."""
from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLabel, QLineEdit, QPushButton, QVBoxLayout

from ..core.labels import FLAGS, GRADES

FLAG_LABELS = {
    "sky_residual": "Sky residual (S)", "bad_foreground_model": "Bad foreground model (B)",
    "foreground_emission": "Foreground emission (E)", "cosmic_ray": "Cosmic ray (C)",
    "low_snr": "Low S/N (L)", "artefact": "Artefact (A)", "other": "Other (O)",
}


class CommentEdit(QLineEdit):
    """Comment box: Enter or Esc hands the keyboard back to the window."""

    done = pyqtSignal()

    def keyPressEvent(self, event):
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape):
            self.done.emit()
            return
        super().keyPressEvent(event)


class GradingPanel(QGroupBox):
    grade_clicked = pyqtSignal(str)

    def __init__(self, parent=None):
        super().__init__("Grade", parent)
        layout = QVBoxLayout(self)
        buttons = QGridLayout()
        self.buttons = {}
        for i, grade in enumerate(GRADES):
            button = QPushButton(f"{i}: {grade}")
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _checked, g=grade: self.grade_clicked.emit(g))
            buttons.addWidget(button, i // 2, i % 2)
            self.buttons[grade] = button
        layout.addLayout(buttons)
        self.flags = {}
        for flag in FLAGS:
            box = QCheckBox(FLAG_LABELS.get(flag, flag.replace("_", " ")))
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            layout.addWidget(box)
            self.flags[flag] = box
        layout.addWidget(QLabel("Comment (/):"))
        self.comment = CommentEdit()
        layout.addWidget(self.comment)
        self.current = QLabel("not graded")
        self.current.setWordWrap(True)
        layout.addWidget(self.current)

    def chosen_flags(self) -> frozenset[str]:
        return frozenset(flag for flag, box in self.flags.items() if box.isChecked())

    def toggle_flag(self, flag: str) -> None:
        box = self.flags[flag]
        box.setChecked(not box.isChecked())

    def show_label(self, grade: str | None, flags=(), comment: str = "", summary: str = "") -> None:
        for name, button in self.buttons.items():
            button.setChecked(name == grade)
        for flag, box in self.flags.items():
            box.setChecked(flag in flags)
        self.comment.setText(comment)
        self.current.setText(summary or ("not graded" if grade is None else f"graded: {grade}"))
