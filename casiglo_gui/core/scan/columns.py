"""The scan table's columns (the DESIGN.md **contract**) and how one row is written as text.

Rows travel from workers to the writer as lists of strings: compact to pickle, and formatted once, in
one place, so the local, resumed and Dask runs write byte-identical tables.
"""
from __future__ import annotations

import math

import numpy as np

from ..detectors.detection import Detection
from ..lines import LINE_KEYS, N_LINES

BASE_COLUMNS: tuple[str, ...] = (
    "source", "object_id", "ra", "dec", "z_fg", "z_bg", "z_bg_err", "score", "n_lines", "status",
)
COLUMNS: tuple[str, ...] = (BASE_COLUMNS + tuple(f"p_{k}" for k in LINE_KEYS)
                            + tuple(f"snr_{k}" for k in LINE_KEYS))
N_COLUMNS = len(COLUMNS)
COLUMN_INDEX = {name: i for i, name in enumerate(COLUMNS)}
STATUS_OK = "ok"

Row = list[str]


def format_float(value) -> str:
    """Shortest round-trip text of a float (deterministic); '' for None/NaN/inf (read back as NaN)."""
    if value is None:
        return ""
    value = float(value)
    if not math.isfinite(value):
        return ""
    return repr(value)


def _probability(value) -> str:
    value = float(value)
    if not math.isfinite(value):
        return ""
    return repr(min(max(value, 0.0), 1.0))


def error_reason(text: str) -> str:
    """One-line reason for the ``status`` cell (never empty, no line breaks)."""
    reason = " ".join(part.strip() for part in str(text).splitlines()).strip()
    return reason if reason else "unknown error"


def error_row(source: str, reason: str, object_id: str = "", ra=None, dec=None, z_fg=None) -> Row:
    """A row for an input (or spectrum) that could not be scored: ``status = 'error: <reason>'``."""
    row = [""] * N_COLUMNS
    row[0] = str(source)
    row[1] = str(object_id)
    row[2], row[3], row[4] = format_float(ra), format_float(dec), format_float(z_fg)
    row[COLUMN_INDEX["status"]] = "error: " + error_reason(reason)
    return row


def detection_row(source: str, object_id: str, ra, dec, z_fg, detection: Detection) -> Row:
    """The row of one scored spectrum.

    ``z_bg`` is written only when it lies above ``z_fg`` (the contract); a detector that found nothing
    gives NaN and so an empty cell. ``score`` and probabilities are clipped into [0, 1].
    """
    z_bg = float(detection.z_bg)
    z_bg_err = float(detection.z_bg_err)
    zf = float(z_fg) if z_fg is not None else math.nan
    if not math.isfinite(z_bg) or (math.isfinite(zf) and z_bg <= zf):
        z_bg, z_bg_err = math.nan, math.nan
    probability = np.asarray(detection.line_probability, dtype=np.float64).reshape(-1)
    snr = np.asarray(detection.line_snr, dtype=np.float64).reshape(-1)
    if probability.size != N_LINES or snr.size != N_LINES:
        raise ValueError(f"detector returned {probability.size} probabilities and {snr.size} SNRs, "
                         f"expected {N_LINES}")
    if not math.isfinite(float(detection.score)) or not np.all(np.isfinite(probability)):
        # An `ok` row promises a score and line probabilities; NaN here means the fit overflowed.
        raise ValueError("detector returned a non-finite score or line probability")
    row = [str(source), str(object_id), format_float(ra), format_float(dec), format_float(zf),
           format_float(z_bg), format_float(z_bg_err), _probability(detection.score),
           str(int(detection.n_lines)), STATUS_OK]
    row += [_probability(p) for p in probability]
    row += [format_float(s) for s in snr]
    return row


def row_score(row: Row) -> float:
    """Score of a row as a float (-1 for error rows, so they sort last)."""
    text = row[COLUMN_INDEX["score"]]
    return float(text) if text else -1.0
