"""Every keyboard action of the inspector, named, with its keys, in one table (Qt-free).

The window binds each key to the action's handler (most are :class:`InspectionSession` methods, called
with ``args``) and the help overlay lists them. Grades use the digits 0-3 (none, possible, probable,
likely), as in the label store's grade values. Letter keys also answer with Shift held (the help shows
capitals, and Caps Lock or Shift must not make a key silently do nothing).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..labels import FLAGS, GRADES

FLAG_GROUP = "Flags and lines (saved with the grade)"


@dataclass(frozen=True)
class KeyBinding:
    keys: tuple[str, ...]   # QKeySequence strings
    action: str             # handler name (a session method, or the window's for view/file actions)
    description: str
    group: str
    args: tuple = ()

    @property
    def name(self) -> str:
        """Unique name of this binding (action plus its argument), e.g. ``grade_likely``."""
        return "_".join([self.action, *map(str, self.args)])


FLAG_KEYS = {"sky_residual": "S", "bad_foreground_model": "B", "foreground_emission": "E", "cosmic_ray": "C",
             "low_snr": "L", "artefact": "A", "other": "O"}
FLAG_WORDS = {"sky_residual": "sky residual", "bad_foreground_model": "bad foreground model",
              "foreground_emission": "foreground emission", "cosmic_ray": "cosmic ray", "low_snr": "low S/N",
              "artefact": "artefact", "other": "other (say why in the comment)"}
GRADE_WORDS = {"none": "none (not a lens)", "possible": "possible", "probable": "probable", "likely": "likely"}

KEYMAP: tuple[KeyBinding, ...] = (
    KeyBinding(("Right", "J", "Space", "Down"), "go_next", "next spectrum", "Move"),
    KeyBinding(("Left", "K", "Backspace", "Up"), "go_previous", "previous spectrum", "Move"),
    KeyBinding(("U",), "go_next_ungraded", "jump to the next ungraded spectrum", "Move"),
    KeyBinding(("Home",), "go_first", "first spectrum of the queue", "Move"),
    KeyBinding(("End",), "go_last", "last spectrum of the queue", "Move"),
    *(KeyBinding((str(i),), "grade", f"grade: {GRADE_WORDS[g]}, then next", "Grade", (g,))
      for i, g in enumerate(GRADES)),
    KeyBinding(("Ctrl+Z",), "undo", "undo my last grade (recorded as a new event)", "Grade"),
    *(KeyBinding((FLAG_KEYS[f],), "toggle_flag", f"flag: {FLAG_WORDS[f]}", FLAG_GROUP, (f,)) for f in FLAGS),
    KeyBinding(("/",), "focus_comment", "write a comment (Enter or Esc returns to the keys)", FLAG_GROUP),
    KeyBinding((".",), "select_line", "select the next line stamp", FLAG_GROUP, (+1,)),
    KeyBinding((",",), "select_line", "select the previous line stamp", FLAG_GROUP, (-1,)),
    KeyBinding(("Y",), "mark_line", "selected line: seen (again: unmark)", FLAG_GROUP, (True,)),
    KeyBinding(("D",), "mark_line", "selected line: rejected (again: unmark)", FLAG_GROUP, (False,)),
    KeyBinding(("[",), "nudge", "background redshift: 1 pixel lower", "Redshift", (-1,)),
    KeyBinding(("]",), "nudge", "background redshift: 1 pixel higher", "Redshift", (1,)),
    KeyBinding(("{",), "nudge", "background redshift: 10 pixels lower", "Redshift", (-10,)),
    KeyBinding(("}",), "nudge", "background redshift: 10 pixels higher", "Redshift", (10,)),
    KeyBinding(("N",), "cycle_solution", "the detector's next-best solution (cycles back to the best)", "Redshift"),
    KeyBinding(("Z",), "refit", "refit z_bg from the shown redshift (physics fit, kept beside the detector's)",
               "Redshift"),
    KeyBinding(("X",), "reset_redshift", "back to the detector's best solution", "Redshift"),
    KeyBinding(("F",), "toggle_flux", "show/hide flux", "View"),
    KeyBinding(("M",), "toggle_model", "show/hide foreground model", "View"),
    KeyBinding(("R",), "toggle_residual", "show/hide residual", "View"),
    KeyBinding(("=", "+"), "smooth", "more smoothing", "View", (1,)),
    KeyBinding(("-",), "smooth", "less smoothing", "View", (-1,)),
    KeyBinding(("G",), "toggle_foreground_markers", "show/hide foreground (z_fg) features", "View"),
    KeyBinding(("I",), "fetch_cutout", "sky image: fetch the Legacy Survey cutout (optional; cached)", "View"),
    KeyBinding(("Ctrl+O",), "open_dialog", "open files, folders or a scan table", "File"),
    KeyBinding(("Ctrl+E",), "export_dialog", "export the target list", "File"),
    KeyBinding(("Ctrl+Shift+U",), "toggle_ungraded_filter", "queue filter: ungraded only on/off", "File"),
    KeyBinding(("?", "F1"), "toggle_help", "this help", "Help"),
    KeyBinding(("Esc",), "escape", "close help / leave the comment box", "Help"),
    KeyBinding(("Ctrl+Q",), "close", "quit", "File"),
)


def key_variants(key: str) -> tuple[str, ...]:
    """``key`` and, for a single letter, its Shift form (``S`` -> ``S``, ``Shift+S``)."""
    if len(key) == 1 and key.isalpha():
        return key, f"Shift+{key}"
    return (key,)
