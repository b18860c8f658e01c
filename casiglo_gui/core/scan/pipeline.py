"""``run_scan``: expand inputs, run the chunks on an engine, write the table in order, summarise."""
from __future__ import annotations

import itertools
import os
import sys
import time
from dataclasses import asdict
from typing import TextIO

from ..errors import CasigloError
from ..readers.options import DEFAULT_OPTIONS, ReadOptions
from .chunk import ChunkConfig, write_detection_maps
from ..detectors.spec import DetectorSpec, cached_detector
from .engines import run_dask, run_inline, run_process_pool
from .parts import merge_cube_parts, split_cubes, work_chunks
from .summary import ScanSummary
from .table import ResumableCsvWriter, csv_to_parquet, inputs_fingerprint, iter_table_rows

DEFAULT_BATCH_SIZE = 32
DEFAULT_CHUNK_SIZE = 64
ENGINES = ("local", "dask")


class ScanOptionError(CasigloError):
    """Scan options that cannot work together."""


def output_format(path: str) -> str:
    """``csv`` or ``parquet`` from the output file's extension."""
    lower = path.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    raise ScanOptionError(f"{path}: output must end in .csv or .parquet")


def _model_identity(spec: DetectorSpec) -> dict:
    identity = asdict(spec)
    identity.pop("threads", None)
    if spec.model_path and os.path.exists(spec.model_path):
        st = os.stat(spec.model_path)
        identity["model_size"] = st.st_size
        identity["model_mtime_ns"] = st.st_mtime_ns
    return identity


def run_scan(files: list[str], out: str, detector: DetectorSpec, *, workers: int = 1,
             batch_size: int = DEFAULT_BATCH_SIZE, chunk_size: int = DEFAULT_CHUNK_SIZE,
             resume: bool = False, engine: str = "local", scheduler: str | None = None,
             maps_dir: str | None = None, progress: bool = True,
             stream: TextIO | None = None, read_options: ReadOptions | None = None) -> ScanSummary:
    """Scan ``files`` (already expanded, in order) into the table ``out``.

    Parameters
    ----------
    files : list of str
        Input files in scan order (see :func:`casiglo_gui.core.scan.inputs.expand_inputs`).
    out : str
        Output table, ``.csv`` or ``.parquet``.
    detector : DetectorSpec
        What scores the spectra.
    workers : int
        Worker processes for the local engine (1 = in this process).
    batch_size : int
        Spectra per detector call.
    chunk_size : int
        Inputs per unit of work; also the commit (and resume) granularity.
    resume : bool
        Continue an interrupted scan of the same inputs and settings.
    engine : {"local", "dask"}
        Where the chunks run; ``dask`` needs ``scheduler`` (an address such as ``tcp://host:8786``).
    maps_dir : str, optional
        Write a detection-map FITS per MaNGA cube into this folder.
    progress : bool
        Show a tqdm progress bar (rate, ETA) on ``stream``.
    stream : file, optional
        Where progress goes (default stderr).
    read_options : ReadOptions, optional
        ``--z-fg`` and ``--redshifts`` for the readers (part of what a resumed scan must match).

    Returns
    -------
    ScanSummary
        Counts by status, top candidates and timings.
    """
    stream = sys.stderr if stream is None else stream
    fmt = output_format(out)
    if engine not in ENGINES:
        raise ScanOptionError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "dask" and not scheduler:
        raise ScanOptionError("--engine dask needs --scheduler ADDRESS (e.g. tcp://scheduler:8786)")
    if batch_size < 1 or chunk_size < 1 or workers < 1:
        raise ScanOptionError("--workers, --batch-size and --chunk-size must be at least 1")
    read_options = DEFAULT_OPTIONS if read_options is None else read_options
    settings = {"detector": _model_identity(detector), "batch_size": batch_size, "chunk_size": chunk_size}
    if read_options != DEFAULT_OPTIONS:  # absent by default, so tables of earlier versions still resume
        settings["read_options"] = asdict(read_options)
    fingerprint = inputs_fingerprint(files, settings)
    csv_path = out if fmt == "csv" else out + ".partial.csv"

    # Build the detector here first: a mismatched or broken model is refused before any table is
    # touched, with the model loader's message (and in-process scans reuse this one).
    cached_detector(detector)

    started = time.perf_counter()
    writer = ResumableCsvWriter(csv_path, fingerprint, len(files), resume=resume)
    summary = ScanSummary(n_inputs=len(files), detector=detector.kind, output=out)
    if writer.resumed_from is not None:
        for row in iter_table_rows(csv_path):
            summary.add_rows([row])
        summary.rows_resumed = summary.n_rows
        print(f"resuming: {writer.inputs_committed} of {len(files)} inputs already in {out}",
              file=stream, flush=True)
    # A scan killed after committing its last (possibly partial) chunk resumes with nothing left to do:
    # chunks are counted from where the table stops, never required to align with chunk_size.
    start = writer.inputs_committed
    config = ChunkConfig(detector=detector, batch_size=batch_size,
                         maps_dir=os.path.abspath(maps_dir) if maps_dir else None, read_options=read_options)
    if engine == "dask":
        chunks = ((k, files[i:i + chunk_size]) for k, i in enumerate(range(start, len(files), chunk_size)))
        results = run_dask(chunks, config, scheduler)
    else:
        # Local workers share large cubes: each is cut into parts of spaxel rows (scan/parts.py).
        units = work_chunks(split_cubes(files[start:], workers), chunk_size)  # lazy: a million files is fine
        first = list(itertools.islice(units, 2))
        units = itertools.chain(first, units)
        if workers == 1 or len(first) <= 1:
            results = run_inline(units, config)
        else:
            results = run_process_pool(units, config, workers)
        write_maps = None
        if config.maps_dir:
            def write_maps(path, cube_map):
                return write_detection_maps(path, cube_map, config.maps_dir, detector.kind)
        results = merge_cube_parts(results, write_maps)

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(files), initial=start, unit="spec", file=stream, dynamic_ncols=True,
                   mininterval=0.5, desc="scan", smoothing=0.1)
    complete = False
    try:
        for result in results:
            writer.commit(result.rows_per_input)
            for rows in result.rows_per_input:
                summary.add_rows(rows)
            summary.add_seconds(result.seconds)
            summary.maps_written.extend(result.maps_written)
            summary.model_sources.update(result.model_sources)
            for warning in result.warnings:
                print(f"warning: {warning}", file=stream, flush=True)
            if bar is not None:
                bar.update(len(result.rows_per_input))
        complete = True
    finally:
        if bar is not None:
            bar.close()
        close = getattr(results, "close", None)
        if close is not None:
            close()  # stop the engine's workers now, even on Ctrl-C
        writer.close(complete=complete and fmt == "csv")
    if fmt == "parquet":
        csv_to_parquet(csv_path, out)
        os.remove(csv_path)
        writer.close(complete=True)
    summary.wall_seconds = time.perf_counter() - started
    return summary
