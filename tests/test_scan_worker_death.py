"""A worker process that dies costs the scan nothing but the row of the file that killed it.

The local engine's pool breaks as a whole when one worker dies; these tests check that the chunks
that happened to be in flight with the culprit (before it in the window too) keep their real rows.
On Dask a chunk given up after its worker died (``KilledWorker``) must likewise cost only the culprit.
The crashing per-chunk task is ``tests/scan_crash_task.py``.
"""
from __future__ import annotations

import functools
import shutil
import time
from pathlib import Path

import pytest
from scan_crash_task import crash_on_poison

from casiglo_gui.core.scan import DetectorSpec, pipeline, run_scan
from casiglo_gui.core.scan.chunk import ChunkConfig
from casiglo_gui.core.scan.columns import COLUMN_INDEX, error_row
from casiglo_gui.core.scan.engines import run_dask, run_inline, run_process_pool

DATA = Path(__file__).parent / "data"
CONFIG = ChunkConfig(detector=DetectorSpec("physics"), batch_size=4)
CHUNK_SIZE = 2
WORKERS = 2  # so 4 chunks in flight: the culprit is not the head of the window


def _spec_files() -> list[Path]:
    return sorted((DATA / "sdss").glob("spec-*.fits"))


def _inputs(folder: Path, special: dict[int, str]) -> list[str]:
    """Copies of the real spec files; ``special[i]`` renames input ``i`` (e.g. to spec-POISON.fits)."""
    paths = []
    for i, source in enumerate(_spec_files()[:8]):
        target = folder / special.get(i, source.name)
        shutil.copy(source, target)
        paths.append(str(target))
    return paths


def _chunks(paths: list[str]) -> list[tuple[int, list[str]]]:
    return [(i // CHUNK_SIZE, paths[i:i + CHUNK_SIZE]) for i in range(0, len(paths), CHUNK_SIZE)]


def _rows_per_input(results) -> list[list[list[str]]]:
    results = list(results)
    assert [r.index for r in results] == list(range(len(results)))  # chunk order, none twice
    return [rows for result in results for rows in result.rows_per_input]


def test_a_poison_file_costs_only_its_own_row(tmp_path):
    poison = 5  # in the 3rd chunk of a 4-chunk window
    paths = _inputs(tmp_path, {poison: "spec-POISON.fits"})
    assert len(paths) == 8
    expected = _rows_per_input(run_inline(_chunks(paths), CONFIG))

    got = _rows_per_input(run_process_pool(_chunks(paths), CONFIG, WORKERS, task=crash_on_poison))

    assert len(got) == len(paths)
    for i, (rows, reference) in enumerate(zip(got, expected)):
        if i == poison:
            assert len(rows) == 1
            assert rows[0][0] == paths[poison]
            assert rows[0][COLUMN_INDEX["status"]] == "error: worker process died while reading this file"
        else:
            assert rows == reference, f"input {i} ({paths[i]}) lost its rows"
    assert _n_ok(got) == _n_ok(expected) - 1  # the poison file is a good spectrum run inline


def _n_ok(rows_per_input) -> int:
    return sum(row[COLUMN_INDEX["status"]] == "ok" for rows in rows_per_input for row in rows)


def test_a_worker_that_dies_once_changes_nothing(tmp_path, monkeypatch):
    flaky = 3  # in the 2nd chunk
    paths = _inputs(tmp_path, {flaky: "spec-FLAKY.fits"})
    inline_table = tmp_path / "inline.csv"
    run_scan(paths, str(inline_table), CONFIG.detector, workers=1, chunk_size=CHUNK_SIZE,
             batch_size=CONFIG.batch_size, progress=False)
    # The whole scan (ordered writer, progress file, summary) with the crashing task in the workers.
    monkeypatch.setattr(pipeline, "run_process_pool", functools.partial(run_process_pool, task=crash_on_poison))
    pool_table = tmp_path / "pool.csv"
    summary = run_scan(paths, str(pool_table), CONFIG.detector, workers=WORKERS, chunk_size=CHUNK_SIZE,
                       batch_size=CONFIG.batch_size, progress=False)

    assert Path(paths[flaky] + ".died").exists()  # the worker did die once
    assert pool_table.read_bytes() == inline_table.read_bytes()
    assert summary.n_rows == len(paths)


def test_a_death_noticed_when_submitting_the_next_chunk(tmp_path):
    # One worker: chunk 0 finishes, then chunk 1 kills the worker while this side still holds chunk
    # 0's result, so the next chunk is submitted to a pool that is already broken.
    poison = 3
    paths = _inputs(tmp_path, {poison: "spec-POISON.fits"})[:6]
    expected = _rows_per_input(run_inline(_chunks(paths), CONFIG))

    results = run_process_pool(_chunks(paths), CONFIG, 1, task=crash_on_poison)
    got = [next(results)]
    deadline = time.monotonic() + 60
    while not Path(paths[poison] + ".died").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let the pool notice its dead worker
    got += list(results)

    rows_per_input = _rows_per_input(got)
    assert rows_per_input[poison] == [
        error_row(paths[poison], "worker process died while reading this file")]
    assert rows_per_input[:poison] + rows_per_input[poison + 1:] == expected[:poison] + expected[poison + 1:]


def test_dask_a_poison_file_costs_only_its_own_row(tmp_path):
    distributed = pytest.importorskip("distributed")
    import dask

    poison = 2
    paths = _inputs(tmp_path, {poison: "spec-POISON.fits"})[:6]
    expected = _rows_per_input(run_inline(_chunks(paths), CONFIG))
    # One death is enough for the scheduler to give a task up (default: 3), to keep the test short.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, local_directory=str(tmp_path / "dask")) as cluster:
            results = run_dask(_chunks(paths), CONFIG, cluster.scheduler_address, task=crash_on_poison)
            got = _rows_per_input(results)

    for i, (rows, reference) in enumerate(zip(got, expected, strict=True)):
        if i == poison:
            assert [row[COLUMN_INDEX["status"]] for row in rows] == [
                "error: worker process died while reading this file"]
        else:
            assert rows == reference, f"input {i} ({paths[i]}) lost its rows"
