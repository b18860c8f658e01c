"""Writing the candidate table chunk by chunk so that an interrupted scan can resume exactly.

The CSV is appended one chunk at a time, each append flushed and fsync'ed before a sidecar progress
file (``OUT.progress.json``: inputs fingerprint, inputs/rows committed, byte offset, SHA-256 of the
committed bytes) is atomically replaced. A scan killed at any moment leaves at most a partly written
tail after the last committed offset; ``--resume`` checks that the committed bytes still have their
checksum (a table edited since is refused, never silently continued), truncates the table to that
offset and carries on with the next input, so no row is lost or duplicated and the final table is
byte-identical to an uninterrupted run.

Parquet output is written through the same resumable CSV (``OUT.parquet.partial.csv``) and converted,
streaming, when the scan completes.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass

from ..errors import CasigloError
from .columns import COLUMNS, Row

PROGRESS_VERSION = 2  # 2: the committed bytes' SHA-256 is recorded


class ScanResumeError(CasigloError):
    """``--resume`` cannot continue this table (different inputs or settings, or a damaged table)."""


def inputs_fingerprint(files: list[str], settings: dict) -> str:
    """SHA-256 of the ordered input list, the columns and the settings that change the rows."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"columns": list(COLUMNS), "settings": settings}, sort_keys=True).encode())
    for path in files:
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


def rows_to_csv_bytes(rows: list[Row]) -> bytes:
    """CSV text of ``rows`` (RFC 4180 quoting, '\\n' line ends), UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8", "surrogateescape")


@dataclass
class Progress:
    fingerprint: str
    inputs_total: int
    inputs_committed: int = 0
    rows_committed: int = 0
    byte_offset: int = 0
    sha256: str = hashlib.sha256().hexdigest()  # of the table's bytes [0, byte_offset)
    version: int = PROGRESS_VERSION


class ResumableCsvWriter:
    """Append-only CSV table with a committed-progress sidecar.

    Parameters
    ----------
    csv_path : str
        The CSV being written (for Parquet output, the staging CSV).
    fingerprint : str
        :func:`inputs_fingerprint` of this scan.
    inputs_total : int
        Number of inputs of the scan.
    resume : bool
        Continue from the sidecar when it exists and matches; otherwise start a new table.
    """

    def __init__(self, csv_path: str, fingerprint: str, inputs_total: int, resume: bool):
        self.path = csv_path
        self.progress_path = csv_path + ".progress.json"
        self.resumed_from: Progress | None = None
        progress = self._load_progress() if resume else None
        if progress is not None:
            if progress.fingerprint != fingerprint or progress.inputs_total != inputs_total:
                raise ScanResumeError(
                    f"{csv_path}: cannot resume, the inputs or settings differ from the interrupted scan "
                    f"(started with {progress.inputs_total} inputs); rerun without --resume to start over")
            if not os.path.exists(csv_path) or os.path.getsize(csv_path) < progress.byte_offset:
                raise ScanResumeError(f"{csv_path}: cannot resume, the table is shorter than its "
                                      f"{progress.rows_committed} committed rows (was it edited?)")
            self._file = open(csv_path, "r+b")
            try:
                self._digest = _checked_prefix(self._file, progress, csv_path)
            except BaseException:
                self._file.close()
                raise
            self._file.truncate(progress.byte_offset)  # drop a partly written last chunk
            self._file.seek(progress.byte_offset)
            self._fsync()
            self.progress = progress
            self.resumed_from = Progress(**vars(progress))
        else:
            folder = os.path.dirname(os.path.abspath(csv_path))
            os.makedirs(folder, exist_ok=True)
            self._file = open(csv_path, "wb")
            self._digest = hashlib.sha256()
            self.progress = Progress(fingerprint=fingerprint, inputs_total=inputs_total)
            self._append([list(COLUMNS)], n_inputs=0, n_rows=0)

    def _load_progress(self) -> Progress | None:
        try:
            with open(self.progress_path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ScanResumeError(f"{self.progress_path}: progress file unreadable ({exc})") from None
        if not isinstance(data, dict) or data.get("version") != PROGRESS_VERSION:
            raise ScanResumeError(f"{self.progress_path}: unknown progress file version (written by another "
                                  "CASIGLO?); rerun without --resume to start over")
        try:
            progress = Progress(**{k: data[k] for k in Progress.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise ScanResumeError(f"{self.progress_path}: progress file damaged ({exc})") from None
        numbers = (progress.inputs_total, progress.inputs_committed, progress.rows_committed, progress.byte_offset)
        if not all(type(n) is int and n >= 0 for n in numbers) or progress.inputs_committed > progress.inputs_total \
                or not isinstance(progress.sha256, str) or not isinstance(progress.fingerprint, str):
            raise ScanResumeError(f"{self.progress_path}: progress file damaged (inconsistent values)")
        return progress

    @property
    def inputs_committed(self) -> int:
        return self.progress.inputs_committed

    def _fsync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def _append(self, rows: list[Row], n_inputs: int, n_rows: int) -> None:
        data = rows_to_csv_bytes(rows)
        self._file.write(data)
        self._fsync()
        self._digest.update(data)
        self.progress.sha256 = self._digest.hexdigest()
        self.progress.byte_offset = self._file.tell()
        self.progress.inputs_committed += n_inputs
        self.progress.rows_committed += n_rows
        tmp = self.progress_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(vars(self.progress), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.progress_path)  # atomic: the sidecar is always one committed state

    def commit(self, rows_per_input: list[list[Row]]) -> None:
        """Append the rows of the next inputs (in order) and record them as committed."""
        rows = [row for rows in rows_per_input for row in rows]
        self._append(rows, n_inputs=len(rows_per_input), n_rows=len(rows))

    def close(self, complete: bool) -> None:
        """Close the table; a complete scan drops its progress file (nothing left to resume)."""
        self._file.close()
        if complete:
            for path in (self.progress_path, self.progress_path + ".tmp"):
                if os.path.exists(path):
                    os.remove(path)


def _checked_prefix(handle, progress: Progress, csv_path: str):
    """SHA-256 state of the committed bytes of ``handle``, refused when they differ from the record."""
    digest = hashlib.sha256()
    handle.seek(0)
    left = progress.byte_offset
    while left > 0:
        piece = handle.read(min(left, 1 << 20))
        if not piece:
            break
        digest.update(piece)
        left -= len(piece)
    if left or digest.hexdigest() != progress.sha256:
        raise ScanResumeError(f"{csv_path}: cannot resume, the {progress.rows_committed} committed rows were "
                              "changed since they were written (checksum mismatch); rerun without --resume "
                              "to start over")
    return digest


def iter_table_rows(csv_path: str):
    """Rows of an existing table, streamed (used to rebuild the summary when resuming)."""
    with open(csv_path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        yield from reader


def csv_to_parquet(csv_path: str, parquet_path: str, block_size: int = 1 << 24) -> None:
    """Convert the finished staging CSV into Parquet, streaming (flat memory), with typed columns."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    text_columns = {"source", "object_id", "status"}
    types = {c: (pa.string() if c in text_columns else pa.int32() if c == "n_lines" else pa.float64())
             for c in COLUMNS}
    reader = pacsv.open_csv(csv_path, read_options=pacsv.ReadOptions(block_size=block_size),
                            convert_options=pacsv.ConvertOptions(column_types=types))
    tmp = parquet_path + ".tmp"
    with pq.ParquetWriter(tmp, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
    os.replace(tmp, parquet_path)
