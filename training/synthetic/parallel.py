"""Multi-process generation: fixed-size chunks with seeds derived from (seed, chunk index), so the result
does not depend on the number of processes. Progress bar on stderr."""
from __future__ import annotations

import multiprocessing as mp
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor

from tqdm import tqdm

from .config import SyntheticConfig, as_config
from .generator import (STREAM_KEY, SyntheticBatch, _chunk_seed, chunk_sizes, generate_chunk,
                        resolve_backgrounds)

_WORKER_STATE: dict = {}


def _init_worker(config, sources) -> None:
    _WORKER_STATE["config"] = config
    _WORKER_STATE["sources"] = sources


def _work(task):
    seed, index, size, raw = task
    return index, generate_chunk(size, _chunk_seed(seed, index), _WORKER_STATE["config"], _WORKER_STATE["sources"],
                                 raw=raw)


def iter_chunks_parallel(n: int, seed: int, config: SyntheticConfig | None = None, backgrounds=None,
                         workers: int = 1, progress: bool = True, raw: bool = False):
    """Yield the chunks of ``generate(n, seed, ...)`` in order, computed by ``workers`` processes.

    With ``raw``, each item is ``(batch, RawSpectra)`` (see :func:`generate_chunk`).

    Uses the ``spawn`` start method: safe even when the parent has TensorFlow or threads loaded.
    """
    config = as_config(config)
    sources = resolve_backgrounds(backgrounds, config)
    tasks = [(seed, k, size, raw) for k, size in enumerate(chunk_sizes(n))]
    bar = tqdm(total=int(n), unit="spectra", file=sys.stderr, disable=not progress, desc="generate")
    try:
        if workers <= 1:
            for s, k, size, _ in tasks:
                yield generate_chunk(size, _chunk_seed(s, k), config, sources, raw=raw)
                bar.update(size)
            return
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(config, sources)) as pool:
            for (_, item), (_, _, size, _) in zip(pool.imap(_work, tasks), tasks):
                yield item
                bar.update(size)
    finally:
        bar.close()


def generate_parallel(n: int, seed: int, config: SyntheticConfig | None = None, workers: int = 2,
                      backgrounds=None, progress: bool = False) -> SyntheticBatch:
    """Same result as :func:`generate` (n, seed, config, backgrounds), computed by ``workers`` processes."""
    chunks = list(iter_chunks_parallel(n, seed, config, backgrounds, workers, progress))
    if not chunks:
        from .generator import generate
        return generate(0, seed, config, backgrounds)
    return chunks[0] if len(chunks) == 1 else SyntheticBatch.concatenate(chunks)


def _init_stream_worker(configs, sources) -> None:
    _WORKER_STATE["stream_configs"] = configs
    _WORKER_STATE["stream_sources"] = sources


def _stream_work(task):
    variant, seed, index, size = task
    return generate_chunk(size, _chunk_seed(seed, index, (STREAM_KEY,)), _WORKER_STATE["stream_configs"][variant],
                          _WORKER_STATE["stream_sources"][variant])


def stream_parallel(batch_size: int, seeds: list[int], configs: list, workers: int, ahead: int | None = None):
    """Endless batches, round-robin over the recipes ``configs`` (stream ``k`` seeded by ``seeds[k]``),
    made by ``workers`` processes: batch ``b`` of stream ``k`` is exactly ``stream(batch_size, seeds[k],
    configs[k])``'s batch ``b``, whatever the number of workers.

    At most ``ahead`` batches (default ``4 * workers``) are in flight, so memory stays bounded however long
    the stream is read (``Pool.imap`` would queue tasks from an endless iterator without limit).
    """
    configs = [as_config(c) for c in configs]
    sources = [resolve_backgrounds(None, c) for c in configs]
    ahead = int(ahead or 4 * workers)
    # An executor, not a Pool: when the reader stops early (the generator is closed with batches in flight),
    # Pool.terminate can deadlock on its task-feeding thread; shutdown(cancel_futures=True) does not.
    executor = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                   initializer=_init_stream_worker, initargs=(configs, sources))
    pending: deque = deque()
    step = 0
    try:
        while True:
            while len(pending) < ahead:
                variant, index = step % len(configs), step // len(configs)
                pending.append(executor.submit(_stream_work, (variant, int(seeds[variant]), index, batch_size)))
                step += 1
            yield pending.popleft().result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
