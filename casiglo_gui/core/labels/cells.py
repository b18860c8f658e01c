"""Spreadsheet-safe CSV text cells (CSV injection), reversible so our own importer reads them back.

Spreadsheets run a cell that begins with ``= + - @`` (or a tab / carriage return) as a formula. In the
``.csv`` files we write, such a text cell -- and any text cell already beginning with an apostrophe --
gets one leading apostrophe, which spreadsheets display as text. Reading removes exactly one leading
apostrophe, so every text round-trips exactly (a hand-written CSV whose text really starts with an
apostrophe must therefore double it). Numbers are never touched.
"""
from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_APOSTROPHE = "'"


def neutralise_formula_text(text: str) -> str:
    """CSV cell text that a spreadsheet shows as text, never runs."""
    if text.startswith(FORMULA_TRIGGERS + (_APOSTROPHE,)):
        return _APOSTROPHE + text
    return text


def restore_formula_text(text: str) -> str:
    """Undo :func:`neutralise_formula_text`: remove one leading apostrophe."""
    return text[1:] if text.startswith(_APOSTROPHE) else text
