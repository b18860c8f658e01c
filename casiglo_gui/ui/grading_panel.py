"""Grade buttons, flag boxes, the comment box and the grade confirmation (the keys do the same)."""
from __future__ import annotations

from PyQt6.QtCore import QEvent, Qt, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLabel, QLineEdit, QPushButton, QVBoxLayout

from ..core.inspection.actions import FLAG_KEYS, FLAG_WORDS
from ..core.labels import FLAGS, GRADES
from ..core.lines import LINE_LABELS



def flag_label(flag: str) -> str:
    """``low_snr`` -> ``Low S/N (L)``: the words of the keymap with the first letter raised, and the key."""
    words = FLAG_WORDS[flag].split(" (")[0]
    return f"{words[0].upper()}{words[1:]} ({FLAG_KEYS[flag]})"


class CommentEdit(QLineEdit):
    """Comment box: Enter or Esc hands the keyboard back to the window. While typing, no key moves the
    queue (Up/Down are the window's next/previous keys: the box claims them instead)."""

    done = pyqtSignal()

    def event(self, event):
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event):
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape):
            self.done.emit()
            return
        super().keyPressEvent(event)


class GradingPanel(QGroupBox):
    """Shows the session's draft; clicks are sent as ``grade_clicked`` / ``flag_clicked``."""

    grade_clicked = pyqtSignal(str)
    flag_clicked = pyqtSignal(str)

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
            box = QCheckBox(flag_label(flag))
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            box.clicked.connect(lambda _checked, f=flag: self.flag_clicked.emit(f))
            layout.addWidget(box)
            self.flags[flag] = box
        self.lines = QLabel("Lines: none marked (click a stamp or , . then Y seen / D rejected)")
        self.lines.setWordWrap(True)
        layout.addWidget(self.lines)
        layout.addWidget(QLabel("Comment (/):"))
        self.comment = CommentEdit()
        layout.addWidget(self.comment)
        self.current = QLabel("not graded")
        self.current.setWordWrap(True)
        layout.addWidget(self.current)
        self.confirmation = QLabel("")
        self.confirmation.setWordWrap(True)
        layout.addWidget(self.confirmation)

    def chosen_flags(self) -> frozenset[str]:
        return frozenset(flag for flag, box in self.flags.items() if box.isChecked())

    def show_draft(self, draft, summary: str, grade: str | None = None) -> None:
        """The draft of the item on show (None: nothing on show), its current grade and a summary line."""
        for name, button in self.buttons.items():
            button.setChecked(name == grade)
        for flag, box in self.flags.items():
            box.setChecked(draft is not None and flag in draft.flags)
        comment = draft.comment if draft is not None else ""
        if self.comment.text() != comment:
            self.comment.setText(comment)
        marks = draft.lines if draft is not None else {}
        seen = [LINE_LABELS[k] for k, v in marks.items() if v]
        rejected = [LINE_LABELS[k] for k, v in marks.items() if not v]
        self.lines.setText("Lines: " + ("; ".join(filter(None, [
            "seen " + ", ".join(seen) if seen else "", "rejected " + ", ".join(rejected) if rejected else ""]))
            or "none marked (click a stamp or , . then Y seen / D rejected)"))
        self.current.setText(summary)

    def confirm(self, message: str, ok: bool) -> None:
        colour = "#1e6b2e" if ok else "#a11a1a"
        mark = "✓" if ok else "✗"
        self.confirmation.setText(f"<span style='color:{colour}'><b>{mark}</b> {message}</span>")
