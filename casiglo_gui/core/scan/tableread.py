"""Reading a finished ``casiglo scan`` table (CSV or Parquet) back, with pandas: the one reader that the
inspector's queue (``casiglo open``) and any later step of the scan use, so both see the same values.

Text columns (``source``, ``object_id``, ``status``) stay text ('' for empty cells; Python ``str`` objects, so a
non-UTF-8 file name survives as surrogates, as ``os.fsdecode`` gives it); every other column is float64 with NaN
for empty cells, whatever the file format.
"""
from __future__ import annotations

from pathlib import Path

TEXT_COLUMNS = ("source", "object_id", "status")
REQUIRED_COLUMNS = ("source", "object_id", "score")
TABLE_SUFFIXES = (".csv", ".parquet")


class ScanTableError(ValueError):
    """A file that is not a readable scan table; the message names the file and the problem."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _utf8_with_surrogates(latin1_text: str) -> str:
    return latin1_text.encode("latin-1").decode("utf-8", errors="surrogateescape")


def _text_series(column, convert):
    """Python ``str`` objects ('' for missing cells), not pandas' Arrow strings, which cannot hold
    the surrogates of a non-UTF-8 file name."""
    import pandas as pd

    values = ["" if value is None or value != value else convert(value) for value in column]
    return pd.Series(values, index=column.index, dtype=object)


def read_scan_frame(path: str | Path):
    """The table as a pandas DataFrame (text columns as str, the rest float64).

    Raises
    ------
    ScanTableError
        Unreadable file, unknown suffix, or a table without the contract's ``source, object_id, score``.
    """
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".csv":
            # Read as latin-1 (one character per byte, never fails), then decode the text columns as
            # UTF-8 with surrogateescape: a source path that is not UTF-8 (the scan writes file names
            # byte for byte) stays that path instead of failing the whole table.
            frame = pd.read_csv(path, dtype=object, keep_default_na=False, encoding="latin-1")
            for column in set(TEXT_COLUMNS) & set(frame.columns):
                frame[column] = _text_series(frame[column], _utf8_with_surrogates)
        else:
            raise ScanTableError(path, f"not a scan table: expected {' or '.join(TABLE_SUFFIXES)}")
    except ScanTableError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, ImportError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScanTableError(path, f"cannot read table ({detail})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ScanTableError(path, f"not a scan table: missing column(s) {', '.join(missing)}")
    for column in frame.columns:
        if column in TEXT_COLUMNS:
            frame[column] = _text_series(frame[column], str)
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame
