"""The per-chunk work every engine runs: read a few files, put them on the grid, detect, make rows.

``process_chunk`` is a plain top-level function of picklable arguments, so the same code runs
in-process, in a spawned process pool and on Dask workers (which read their own files). It never
raises for a bad input: every input gives at least one row, an ``error: <reason>`` row if need be.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import grid
from ..errors import SpectrumReadError
from ..preprocessing import clean, place_on_grid
from ..spectrum import FLAG_ALL_MASKED, Spectrum
from .columns import Row, detection_row, error_reason, error_row
from .detectors import DetectorSpec, cached_detector


@dataclass(frozen=True)
class ChunkConfig:
    """Everything a worker needs besides the file paths (small and picklable)."""

    detector: DetectorSpec
    batch_size: int = 32


@dataclass
class ChunkResult:
    """Rows of a chunk, grouped per input (in input order), and where the time went."""

    index: int
    rows_per_input: list[list[Row]]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return sum(len(rows) for rows in self.rows_per_input)


def iter_file(path: str):
    """The spectra of one input file, lazily (a MaNGA cube spaxel row by spaxel row).

    The reader registry decides the format by content; unreadable files raise ``SpectrumReadError``.
    """
    from ..readers import iter_spectra
    return iter_spectra(path)


class _Batch:
    """Spectra waiting for the detector, already on the model grid (preallocated, reused)."""

    def __init__(self, size: int):
        self.size = size
        self.residual = np.zeros((size, grid.N_PIXELS), dtype=np.float32)
        self.ivar = np.zeros((size, grid.N_PIXELS), dtype=np.float32)
        self.mask = np.ones((size, grid.N_PIXELS), dtype=bool)
        self.wdisp = np.zeros((size, grid.N_PIXELS), dtype=np.float32)
        self.z_fg = np.zeros(size, dtype=np.float64)
        self.has_wdisp = np.zeros(size, dtype=bool)
        self.slots: list[tuple[int, int, Spectrum]] = []  # (input index, row index, spectrum)

    def add(self, spectrum: Spectrum, input_index: int, row_index: int) -> None:
        k = len(self.slots)
        shift = spectrum.grid_shift
        self.residual[k] = place_on_grid(spectrum.residual.astype(np.float32, copy=False), shift, np.float32(0))
        self.ivar[k] = place_on_grid(spectrum.ivar.astype(np.float32, copy=False), shift, np.float32(0))
        self.mask[k] = place_on_grid(np.asarray(spectrum.mask, dtype=bool), shift, True)
        if spectrum.wdisp is not None:
            self.wdisp[k] = place_on_grid(spectrum.wdisp.astype(np.float32, copy=False), shift, np.float32(0))
            self.has_wdisp[k] = True
        else:
            self.wdisp[k] = 0.0
            self.has_wdisp[k] = False
        self.z_fg[k] = np.float64(spectrum.z_fg)
        self.slots.append((input_index, row_index, spectrum))

    @property
    def full(self) -> bool:
        return len(self.slots) >= self.size


def _detect(detector, batch: _Batch, rows_per_input: list[list[Row]], seconds: dict[str, float]) -> None:
    n = len(batch.slots)
    if n == 0:
        return
    t0 = time.perf_counter()
    residual, ivar, _ = clean(batch.residual[:n], batch.ivar[:n], batch.mask[:n])
    wdisp = batch.wdisp[:n] if batch.has_wdisp[:n].any() else None
    t1 = time.perf_counter()
    seconds["preprocess"] = seconds.get("preprocess", 0.0) + (t1 - t0)
    try:
        detections = detector.detect_batch(residual, ivar, batch.z_fg[:n].copy(), wdisp=wdisp)
        if len(detections) != n:
            raise ValueError(f"detector returned {len(detections)} results for {n} spectra")
    except Exception:
        # Find the spectrum that breaks the detector instead of failing the whole batch.
        detections = []
        for k in range(n):
            try:
                detections.append(detector.detect_batch(
                    residual[k:k + 1], ivar[k:k + 1], batch.z_fg[k:k + 1].copy(),
                    wdisp=None if wdisp is None else wdisp[k:k + 1])[0])
            except Exception as exc:  # one bad spectrum must not stop the scan
                detections.append(exc)
    seconds["detect"] = seconds.get("detect", 0.0) + (time.perf_counter() - t1)
    for (i, r, spectrum), det in zip(batch.slots, detections):
        if isinstance(det, Exception):
            row = error_row(spectrum.source, f"detector failed ({type(det).__name__}: {det})",
                            spectrum.object_id, spectrum.ra, spectrum.dec, spectrum.z_fg)
        else:
            try:
                row = detection_row(spectrum.source, spectrum.object_id, spectrum.ra, spectrum.dec,
                                    spectrum.z_fg, det)
            except (TypeError, ValueError) as exc:
                row = error_row(spectrum.source, f"detector output unusable ({exc})",
                                spectrum.object_id, spectrum.ra, spectrum.dec, spectrum.z_fg)
        rows_per_input[i][r] = row
    batch.slots.clear()


def _unusable(spectrum: Spectrum) -> str:
    """Why a spectrum read fine cannot be searched ('' when it can)."""
    if spectrum.grid_shift is None:
        return "spectrum is not on the 1e-4 dex model grid"
    if FLAG_ALL_MASKED in spectrum.flags or bool(np.all(spectrum.mask)):
        return "no usable pixel (every pixel masked)"
    return ""


def process_chunk(index: int, paths: list[str], config: ChunkConfig) -> ChunkResult:
    """Score the files ``paths`` (chunk number ``index``); one or more rows per file, in order.

    Parameters
    ----------
    index : int
        Chunk number, echoed back so engines can restore order.
    paths : list of str
        Input files of this chunk.
    config : ChunkConfig
        Detector and batch size.

    Returns
    -------
    ChunkResult
        ``rows_per_input[i]`` are the rows of ``paths[i]``: one per spectrum it holds, or one
        ``error: <reason>`` row when it cannot be read.
    """
    seconds: dict[str, float] = {}
    rows_per_input: list[list[Row]] = [[] for _ in paths]
    detector = cached_detector(config.detector)
    batch = _Batch(max(1, int(config.batch_size)))
    for i, path in enumerate(paths):
        t0 = time.perf_counter()
        spectra = iter_file(path)
        while True:
            try:
                spectrum = next(spectra)
            except StopIteration:
                if not rows_per_input[i]:
                    rows_per_input[i].append(error_row(path, "file holds no spectrum"))
                break
            except SpectrumReadError as exc:
                rows_per_input[i].append(error_row(path, exc.reason))
                break
            except Exception as exc:  # a reader bug on one file must not stop the scan
                rows_per_input[i].append(error_row(path, f"unexpected {type(exc).__name__}: {exc}"))
                break
            finally:
                seconds["read"] = seconds.get("read", 0.0) + (time.perf_counter() - t0)
            r = len(rows_per_input[i])
            problem = _unusable(spectrum)
            if problem:
                rows_per_input[i].append(error_row(path, problem, spectrum.object_id, spectrum.ra,
                                                   spectrum.dec, spectrum.z_fg))
            else:
                rows_per_input[i].append(None)  # filled in by _detect
                batch.add(spectrum, i, r)
                if batch.full:
                    _detect(detector, batch, rows_per_input, seconds)
            t0 = time.perf_counter()
    _detect(detector, batch, rows_per_input, seconds)
    return ChunkResult(index=index, rows_per_input=rows_per_input, seconds=seconds)


def error_chunk(index: int, paths: list[str], reason: str) -> ChunkResult:
    """Rows for a chunk whose worker died (e.g. killed for memory): every input gets an error row."""
    return ChunkResult(index=index, rows_per_input=[[error_row(p, error_reason(reason))] for p in paths])
