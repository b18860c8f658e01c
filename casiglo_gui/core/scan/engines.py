"""Engines run ``process_chunk`` over the chunks and yield the results in chunk order.

- in-process (one worker): no start-up cost, used for small scans and tests;
- ``local``: a spawn-context ``concurrent.futures.ProcessPoolExecutor`` (spawn: safe with
  onnxruntime's threads and on every OS);
- ``dask``: a ``dask.distributed`` cluster at a scheduler address; workers read their own files.

All keep at most ``2 x workers`` chunks in flight, so the reorder buffer and memory stay bounded
whatever the number of inputs.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator

from .chunk import ChunkConfig, ChunkResult, error_chunk, process_chunk

Chunk = tuple[int, list[str]]

# One BLAS/OpenMP thread per worker process: parallelism comes from the processes.
_SINGLE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
WORKER_DIED = "worker process died while reading this file"


def run_inline(chunks: Iterable[Chunk], config: ChunkConfig) -> Iterator[ChunkResult]:
    """Process the chunks one after the other in this process."""
    for index, paths in chunks:
        yield process_chunk(index, paths, config)


# How often a worker checks that the scan process that started it is still there.
PARENT_CHECK_SECONDS = 0.5


def _exit_when_orphaned(parent_pid: int, every: float) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)  # nothing to report to: the rows of this worker can no longer be committed
        time.sleep(every)


def die_with_parent(parent_pid: int, every: float = PARENT_CHECK_SECONDS) -> None:
    """Pool-worker initializer: end this worker when the scan process that started it is gone.

    A worker blocked waiting for work would otherwise outlive a SIGKILLed scan for ever (and keep
    multiprocessing's resource tracker alive with it). Checked by a daemon thread polling the parent
    id, portable and independent of which thread created the pool.
    """
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid, every), daemon=True,
                     name="casiglo-die-with-parent").start()


def _spawn_pool(workers: int) -> ProcessPoolExecutor:
    """A spawn-context pool whose children start with one BLAS/OpenMP thread each and die with us."""
    saved_env = {k: os.environ.get(k) for k in _SINGLE_THREAD_ENV}
    for key in _SINGLE_THREAD_ENV:
        os.environ.setdefault(key, "1")
    try:
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=die_with_parent, initargs=(os.getpid(),))
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Pool:
    """A process pool that is replaced by a fresh one when a worker dies (the old one is broken)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.executor = _spawn_pool(workers)

    def restart(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = _spawn_pool(self.workers)

    def submit(self, task: Callable, *args) -> Future:
        """Submit a task; on a pool already broken, a future failed with ``BrokenProcessPool``."""
        try:
            return self.executor.submit(task, *args)
        except BrokenProcessPool as exc:  # a worker died since the last result was read
            future: Future = Future()
            future.set_exception(exc)
            return future

    def run_alone(self, task: Callable, *args):
        """Run one task with nothing else in flight; ``None`` if its worker died (pool restarted)."""
        try:
            return self.executor.submit(task, *args).result()
        except BrokenProcessPool:
            self.restart()
            return None


def _completed(future):
    """The result of a future that finished before its pool broke, else ``None``."""
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return None


def _merge(index: int, parts: list[ChunkResult]) -> ChunkResult:
    """One chunk's result from the results of its files processed one by one (in input order)."""
    if len(parts) == 1:
        return parts[0]  # a one-file chunk (a cube part among them) is its own result
    merged = ChunkResult(index=index, rows_per_input=[])
    for part in parts:
        merged.rows_per_input.extend(part.rows_per_input)
        for stage, seconds in part.seconds.items():
            merged.seconds[stage] = merged.seconds.get(stage, 0.0) + seconds
        merged.warnings.extend(part.warnings)
        merged.maps_written.extend(part.maps_written)
    return merged


def _isolate(pool: _Pool, chunk: Chunk, config: ChunkConfig, task: Callable) -> ChunkResult:
    """Process a chunk that was in flight when a worker died, alone; file by file if it kills again."""
    index, paths = chunk
    result = pool.run_alone(task, index, paths, config)
    if result is not None:
        return result  # a neighbour's death (or a transient one): nothing wrong with this chunk
    parts = []
    for path in paths:
        part = pool.run_alone(task, index, [path], config)
        if part is None:
            part = error_chunk(index, [path], WORKER_DIED)
        parts.append(part)
    return _merge(index, parts)


def run_process_pool(chunks: Iterable[Chunk], config: ChunkConfig, workers: int,
                     task: Callable = process_chunk) -> Iterator[ChunkResult]:
    """Process the chunks in ``workers`` spawned processes; results in chunk order.

    A worker that dies (crashed reader, killed, out of memory) breaks the whole pool and every chunk in
    flight with it, whichever chunk caused it. The pool is then restarted and the chunks that were in
    flight (and not already finished) are run again one at a time: a chunk that succeeds alone costs
    nothing more; a chunk that kills its worker again is split into its files, run one per task (the
    pool restarted after each death), and only a file that kills its worker on its own gets the row
    ``error: worker process died while reading this file``. Then the normal window resumes.

    Parameters
    ----------
    chunks : iterable of (int, list of str)
        Chunk number and input files, in order.
    config : ChunkConfig
        Detector and batch size.
    workers : int
        Worker processes; at most ``2 x workers`` chunks are in flight.
    task : callable
        The per-chunk function, ``task(index, paths, config) -> ChunkResult``; must be a picklable
        top-level function (tests inject one that crashes).

    Yields
    ------
    ChunkResult
        One per chunk, in chunk order, with one row list per input.
    """
    chunks = iter(chunks)
    window: deque = deque()
    pool = _Pool(workers)
    try:
        def fill():
            while len(window) < 2 * workers:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                window.append((chunk, pool.submit(task, chunk[0], chunk[1], config)))

        fill()
        while window:
            try:
                result = window[0][1].result()
            except BrokenProcessPool:
                in_flight = list(window)
                window.clear()
                pool.restart()
                for chunk, future in in_flight:
                    result = _completed(future)
                    yield result if result is not None else _isolate(pool, chunk, config, task)
                fill()
                continue
            window.popleft()
            yield result
            fill()
    finally:
        for _, future in window:
            future.cancel()
        pool.executor.shutdown(wait=True, cancel_futures=True)


def run_dask(chunks: Iterable[Chunk], config: ChunkConfig, scheduler: str,
             task: Callable = process_chunk) -> Iterator[ChunkResult]:
    """Process the chunks on the Dask distributed cluster at ``scheduler``; results in chunk order.

    The workers must be able to import ``casiglo_gui`` and read the input paths themselves. A chunk
    whose task keeps killing its worker (the scheduler gives up after
    ``distributed.scheduler.allowed-failures`` deaths: ``KilledWorker``) is run again file by file, and
    only a file that does the same on its own gets ``error: worker process died while reading this
    file``; the other chunks are not affected (Dask retries them on the remaining workers).
    ``task`` is the per-chunk function, as for :func:`run_process_pool`.
    """
    from distributed import Client, KilledWorker

    run_id = uuid.uuid4().hex[:12]
    with Client(scheduler, set_as_default=False) as client:
        n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        chunks = iter(chunks)
        window: deque = deque()

        def one_by_one(index: int, paths: list[str]) -> ChunkResult:
            parts = []
            for i, path in enumerate(paths):
                future = client.submit(task, index, [path], config, key=f"casiglo-scan-{run_id}-{index}-{i}")
                try:
                    parts.append(future.result())
                except KilledWorker:
                    parts.append(error_chunk(index, [path], WORKER_DIED))
            return _merge(index, parts)

        def fill():
            while len(window) < 2 * n_workers:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                window.append((chunk, client.submit(task, chunk[0], chunk[1], config,
                                                    key=f"casiglo-scan-{run_id}-{chunk[0]}", retries=1)))

        fill()
        try:
            while window:
                (index, paths), future = window[0]
                try:
                    result = future.result()
                except KilledWorker:
                    result = one_by_one(index, paths)
                window.popleft()
                yield result
                fill()
        finally:
            for _, future in window:
                future.cancel()
