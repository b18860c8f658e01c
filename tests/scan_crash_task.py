"""A per-chunk task for the scan engine tests that kills its worker process on chosen files.

It lives in its own top-level module (not in a test file) so that spawned workers can import it:
they start with the parent's ``sys.path``, which has ``tests/`` on it under pytest.

- a file whose name contains ``POISON`` kills the worker every time it is read;
- a file whose name contains ``FLAKY`` kills it only the first time (a transient death, like being
  killed for memory because of a neighbour).

Before dying, the worker leaves a marker file ``<path>.died`` (which is how FLAKY remembers, and how a
test knows a death has happened).
"""
from __future__ import annotations

import os

from casiglo_gui.core.scan.chunk import ChunkConfig, ChunkResult, process_chunk


def crash_on_poison(index: int, paths: list[str], config: ChunkConfig) -> ChunkResult:
    """``process_chunk``, except that the worker dies (exit status 3) on a poison or flaky file."""
    for path in paths:
        name = os.path.basename(path)
        if "POISON" in name or ("FLAKY" in name and not os.path.exists(path + ".died")):
            with open(path + ".died", "w"):
                pass
            os._exit(3)
    return process_chunk(index, paths, config)
