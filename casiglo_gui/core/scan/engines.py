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
import uuid
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Iterable, Iterator

from .chunk import ChunkConfig, ChunkResult, error_chunk, process_chunk

Chunk = tuple[int, list[str]]

# One BLAS/OpenMP thread per worker process: parallelism comes from the processes.
_SINGLE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run_inline(chunks: Iterable[Chunk], config: ChunkConfig) -> Iterator[ChunkResult]:
    """Process the chunks one after the other in this process."""
    for index, paths in chunks:
        yield process_chunk(index, paths, config)


def run_process_pool(chunks: Iterable[Chunk], config: ChunkConfig, workers: int) -> Iterator[ChunkResult]:
    """Process the chunks in ``workers`` spawned processes; results in chunk order.

    A chunk whose worker dies (killed, out of memory) is retried once in a fresh pool; if it dies
    again its inputs get ``error: worker process died`` rows and the scan goes on.
    """
    chunks = iter(chunks)
    window: deque = deque()
    attempts: dict[int, int] = {}
    saved_env = {k: os.environ.get(k) for k in _SINGLE_THREAD_ENV}
    for key in _SINGLE_THREAD_ENV:
        os.environ.setdefault(key, "1")
    try:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        def fill():
            while len(window) < 2 * workers:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                window.append((chunk, pool.submit(process_chunk, chunk[0], chunk[1], config)))

        fill()
        while window:
            (index, paths), future = window[0]
            try:
                result = future.result()
            except BrokenProcessPool:
                pool.shutdown(wait=True, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
                attempts[index] = attempts.get(index, 0) + 1
                pending = [chunk for chunk, _ in window]
                window.clear()
                if attempts[index] > 1:
                    pending.pop(0)
                    result = error_chunk(index, paths, "worker process died while reading these files")
                else:
                    result = None
                for chunk in pending:
                    window.append((chunk, pool.submit(process_chunk, chunk[0], chunk[1], config)))
                if result is None:
                    continue
                yield result
                fill()
                continue
            window.popleft()
            yield result
            fill()
    finally:
        for _, future in window:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def run_dask(chunks: Iterable[Chunk], config: ChunkConfig, scheduler: str) -> Iterator[ChunkResult]:
    """Process the chunks on the Dask distributed cluster at ``scheduler``; results in chunk order.

    The workers must be able to import ``casiglo_gui`` and read the input paths themselves.
    """
    from distributed import Client

    run_id = uuid.uuid4().hex[:12]
    with Client(scheduler, set_as_default=False) as client:
        n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        chunks = iter(chunks)
        window: deque = deque()

        def fill():
            while len(window) < 2 * n_workers:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                window.append(client.submit(process_chunk, chunk[0], chunk[1], config,
                                            key=f"casiglo-scan-{run_id}-{chunk[0]}", retries=1))

        fill()
        try:
            while window:
                result = window[0].result()
                window.popleft()
                yield result
                fill()
        finally:
            for future in window:
                future.cancel()
