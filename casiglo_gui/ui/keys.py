"""Every keyboard shortcut of the inspector, in one table: the window binds them and the help overlay lists them.

Grades use the digits 0-3 (none, possible, probable, likely), as in the label store's grade values.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyBinding:
    keys: tuple[str, ...]   # QKeySequence strings
    action: str             # MainWindow method name
    description: str
    group: str


KEYMAP: tuple[KeyBinding, ...] = (
    KeyBinding(("Right", "J", "Space"), "go_next", "next spectrum", "Move"),
    KeyBinding(("Left", "K", "Backspace"), "go_previous", "previous spectrum", "Move"),
    KeyBinding(("U",), "go_next_unlabelled", "jump to the next ungraded spectrum", "Move"),
    KeyBinding(("Home",), "go_first", "first spectrum of the queue", "Move"),
    KeyBinding(("End",), "go_last", "last spectrum of the queue", "Move"),
    KeyBinding(("0",), "grade_none", "grade: none (not a lens), then next", "Grade"),
    KeyBinding(("1",), "grade_possible", "grade: possible, then next", "Grade"),
    KeyBinding(("2",), "grade_probable", "grade: probable, then next", "Grade"),
    KeyBinding(("3",), "grade_likely", "grade: likely, then next", "Grade"),
    KeyBinding(("S",), "toggle_flag_sky_residual", "flag: sky residual", "Flags (saved with the grade)"),
    KeyBinding(("B",), "toggle_flag_bad_foreground_model", "flag: bad foreground model", "Flags (saved with the grade)"),
    KeyBinding(("E",), "toggle_flag_foreground_emission", "flag: foreground emission", "Flags (saved with the grade)"),
    KeyBinding(("C",), "toggle_flag_cosmic_ray", "flag: cosmic ray", "Flags (saved with the grade)"),
    KeyBinding(("L",), "toggle_flag_low_snr", "flag: low S/N", "Flags (saved with the grade)"),
    KeyBinding(("A",), "toggle_flag_artefact", "flag: artefact", "Flags (saved with the grade)"),
    KeyBinding(("O",), "toggle_flag_other", "flag: other (say why in the comment)", "Flags (saved with the grade)"),
    KeyBinding(("/",), "focus_comment", "write a comment (Enter or Esc returns to the keys)", "Flags (saved with the grade)"),
    KeyBinding(("[",), "nudge_down", "background redshift: 1 pixel lower", "Redshift"),
    KeyBinding(("]",), "nudge_up", "background redshift: 1 pixel higher", "Redshift"),
    KeyBinding(("{",), "nudge_down_10", "background redshift: 10 pixels lower", "Redshift"),
    KeyBinding(("}",), "nudge_up_10", "background redshift: 10 pixels higher", "Redshift"),
    KeyBinding(("Z",), "refit", "refit z_bg from the shown redshift (physics fit)", "Redshift"),
    KeyBinding(("X",), "reset_redshift", "back to the detector's redshift", "Redshift"),
    KeyBinding(("F",), "toggle_flux", "show/hide flux", "View"),
    KeyBinding(("M",), "toggle_model", "show/hide foreground model", "View"),
    KeyBinding(("R",), "toggle_residual", "show/hide residual", "View"),
    KeyBinding(("=", "+"), "smooth_more", "more smoothing", "View"),
    KeyBinding(("-",), "smooth_less", "less smoothing", "View"),
    KeyBinding(("G",), "toggle_foreground_markers", "show/hide foreground (z_fg) features", "View"),
    KeyBinding(("Ctrl+O",), "open_dialog", "open files, folders or a scan table", "File"),
    KeyBinding(("Ctrl+Shift+U",), "toggle_unlabelled_filter", "queue filter: ungraded only on/off", "File"),
    KeyBinding(("?", "F1"), "toggle_help", "this help", "Help"),
    KeyBinding(("Esc",), "escape", "close help / leave the comment box", "Help"),
    KeyBinding(("Ctrl+Q",), "close", "quit", "File"),
)
