"""Where the plot's line labels go so that no two overlap (pixel geometry, Qt-free, unit-tested).

Labels are placed in priority order (the most probable lines first) into horizontal rows. Each label is
tried beside its line (right, else left), in the first row where it overlaps nothing, first in its full
form ("[OIII] 5008 p=0.99 S/N=13.6"), then in its short form ("[OIII] 5008"); a label that fits nowhere
is hidden (its line stays drawn, and its stamp still names it). Hidden labels are therefore the least
probable ones.
"""
from __future__ import annotations

from dataclasses import dataclass

GAP_PX = 4.0


@dataclass(frozen=True)
class Placement:
    row: int            # 0 = the first row
    left_px: float      # left edge of the text
    short: bool         # True: the short form was used


def _overlaps(row: list[tuple[float, float]], lo: float, hi: float) -> bool:
    return any(lo < b + GAP_PX and a < hi + GAP_PX for a, b in row)


def place_labels(x_px: list[float], full_widths: list[float], short_widths: list[float], priority: list[float],
                 n_rows: int, width_px: float, reserved: list[tuple[int, float, float]] = ()
                 ) -> list[Placement | None]:
    """A placement (or None: hidden) for each label.

    Parameters
    ----------
    x_px : pixel x of each label's line (labels whose line is outside [0, width_px] are hidden)
    full_widths, short_widths : text widths in pixels of the two forms
    priority : higher is placed first (e.g. the line probability; NaN counts as lowest)
    n_rows : rows available
    width_px : the plot's width
    reserved : (row, left, right) spans already taken (e.g. by the caption)
    """
    rows: list[list[tuple[float, float]]] = [[] for _ in range(n_rows)]
    for row, lo, hi in reserved:
        if 0 <= row < n_rows:
            rows[row].append((lo, hi))
    order = sorted(range(len(x_px)), key=lambda i: -(priority[i] if priority[i] == priority[i] else -1.0))
    placements: list[Placement | None] = [None] * len(x_px)
    for i in order:
        x = x_px[i]
        if not 0.0 <= x <= width_px:
            continue
        placements[i] = _first_fit(rows, x, full_widths[i], False, width_px) \
            or _first_fit(rows, x, short_widths[i], True, width_px)
    return placements


def _first_fit(rows, x: float, width: float, short: bool, width_px: float) -> Placement | None:
    for r, row in enumerate(rows):
        for lo in (x + 2.0, x - 2.0 - width):          # right of the line, else left of it
            hi = lo + width
            if lo >= 0.0 and hi <= width_px and not _overlaps(row, lo, hi):
                row.append((lo, hi))
                return Placement(r, lo, short)
    return None
