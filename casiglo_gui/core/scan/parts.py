"""A large MaNGA cube split across the workers: parts of spaxel rows, and their results put back together.

A cube is one scan input, but thousands of spectra: processed as one unit it keeps one worker busy while the
others idle. With several local workers each cube is cut into ``PARTS_PER_WORKER x workers`` runs of spaxel
rows (:class:`CubePart`), each its own unit of work; :func:`merge_cube_parts` joins the parts' results, in
order, into the one result per input that the table, the resume bookkeeping and the summary expect. The
table and the detection maps are the same as with one worker:

* rows: the parts' rows in part order (spaxels row by row, as the cube is read whole);
* a read error ends the cube's rows, as it would end a whole read: the parts after it are dropped;
* a cube without any spaxel with data gets its one ``file holds no spectrum`` row;
* a part that kills its worker gives the cube the one ``worker process died`` row a whole cube would get;
* detection maps are written once, from all parts, by the scan process.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ..errors import SpectrumReadError
from ..readers.registry import NO_SPECTRUM
from .columns import error_reason, error_row

# Parts per worker and cube: enough for the workers to even out (edge rows of a round IFU hold few spaxels).
PARTS_PER_WORKER = 4
# Smaller files are read whole: a cube is ~55 kB per spaxel uncompressed, so 16 MB is ~300 spaxels (a
# 19-fibre cube's worth), and a scan of many small spec files does not open each twice to find cubes.
MIN_BYTES_TO_SPLIT = 16 * 2 ** 20
# A cube with fewer spaxel rows than this is not split.
MIN_ROWS_TO_SPLIT = 8


@dataclass(frozen=True)
class CubePart:
    """Spaxel rows ``rows[0] <= y < rows[1]`` of the cube ``path``, part ``index`` of ``count``."""

    path: str
    rows: tuple[int, int]
    index: int
    count: int

    @property
    def last(self) -> bool:
        return self.index == self.count - 1


def item_path(item) -> str:
    """The file of a work item (a path, or a cube part)."""
    return item.path if isinstance(item, CubePart) else item


@dataclass
class CubeMapPart:
    """What the detection maps of a cube need from one part: the cube's shape and name, and per spaxel
    ``(x, y, score, best line SNR, z_bg, n_lines)``."""

    shape: tuple[int, int]
    plateifu: str
    values: list[tuple] = field(default_factory=list)


def cube_rows(path: str) -> int | None:
    """Spaxel rows of ``path`` if it is a readable, uncompressed MaNGA LOGCUBE, else None (read whole, as
    any file). A compressed cube is not split: each part would decompress the whole file again, while an
    uncompressed one is memory-mapped and a part reads its own rows only."""
    from ..readers import identify_path, open_cube
    from ..readers.structure import GZIP_MAGIC

    try:
        with open(path, "rb") as handle:
            if handle.read(len(GZIP_MAGIC)) == GZIP_MAGIC:
                return None
        if identify_path(path) != "manga-logcube":
            return None
        with open_cube(path, fit_foreground=False) as cube:
            return int(cube.shape[0])
    except (SpectrumReadError, OSError):
        return None


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def split_cubes(files: Iterable[str], workers: int) -> Iterator:
    """``files`` with every uncompressed MaNGA cube of at least ``MIN_BYTES_TO_SPLIT`` bytes and
    ``MIN_ROWS_TO_SPLIT`` spaxel rows replaced by its parts (``PARTS_PER_WORKER x workers`` at most)."""
    for path in files:
        ny = cube_rows(path) if workers > 1 and _size(path) >= MIN_BYTES_TO_SPLIT else None
        if ny is None or ny < MIN_ROWS_TO_SPLIT:
            yield path
            continue
        count = min(ny, PARTS_PER_WORKER * workers)
        step = math.ceil(ny / count)
        starts = list(range(0, ny, step))
        yield from (CubePart(path, (y, min(y + step, ny)), k, len(starts)) for k, y in enumerate(starts))


def work_chunks(items: Iterable, chunk_size: int) -> Iterator[tuple[int, list]]:
    """Numbered units of work: up to ``chunk_size`` whole files together, every cube part alone."""
    k = 0
    run: list = []
    for item in items:
        if isinstance(item, CubePart):
            if run:
                yield k, run
                k, run = k + 1, []
            yield k, [item]
            k += 1
            continue
        run.append(item)
        if len(run) >= chunk_size:
            yield k, run
            k, run = k + 1, []
    if run:
        yield k, run


def merge_cube_parts(results: Iterable, write_maps) -> Iterator:
    """The results of ``work_chunks`` units with each cube's parts joined into one result (see the module
    docstring). ``write_maps(path, CubeMapPart) -> str`` writes a cube's maps (None: no maps asked for)."""
    try:
        yield from _joined(results, write_maps)
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # stop the engine's workers with the scan


def _joined(results: Iterable, write_maps) -> Iterator:
    from .chunk import ChunkResult

    joined: ChunkResult | None = None
    stopped, died = False, ""
    cube_map: CubeMapPart | None = None
    for result in results:
        part = result.part
        if part is None:
            yield result
            continue
        if part.index == 0:
            joined = ChunkResult(index=result.index, rows_per_input=[[]])
            stopped, died = False, ""
            cube_map = None
        died = died or result.worker_died
        if not stopped:
            joined.rows_per_input[0].extend(result.rows_per_input[0])
            if result.cube_map is not None:
                if cube_map is None:
                    cube_map = CubeMapPart(result.cube_map.shape, result.cube_map.plateifu)
                cube_map.values.extend(result.cube_map.values)
            for source, count in result.model_sources.items():
                joined.model_sources[source] = joined.model_sources.get(source, 0) + count
            stopped = result.read_error
        for stage, seconds in result.seconds.items():
            joined.seconds[stage] = joined.seconds.get(stage, 0.0) + seconds
        joined.warnings.extend(result.warnings)
        if not part.last:
            continue
        if died:
            joined.rows_per_input[0] = [error_row(part.path, error_reason(died))]
        elif not joined.rows_per_input[0]:
            joined.rows_per_input[0] = [error_row(part.path, NO_SPECTRUM)]
        elif write_maps is not None and cube_map is not None:
            try:
                joined.maps_written.append(write_maps(part.path, cube_map))
            except Exception as exc:  # a map is a by-product: report it, keep the rows
                joined.warnings.append(f"{part.path}: detection maps not written ({type(exc).__name__}: {exc})")
        yield joined
        joined = None
