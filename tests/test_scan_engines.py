"""The same table from the in-process, process-pool and Dask engines."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import casiglo_gui
from casiglo_gui.core.scan import DetectorSpec, expand_inputs, run_scan

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    for path in sorted((DATA / "sdss").glob("spec-*.fits")):
        shutil.copy(path, folder / path.name)
    shutil.copy(DATA / "manga" / "MaNGA_test_spectra.fits.gz", folder / "MaNGA_test_spectra.fits.gz")
    (folder / "empty.fits").write_bytes(b"")
    return expand_inputs([str(folder)]).files


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "inline.csv"
    run_scan(inputs, str(out), DetectorSpec("physics"), workers=1, chunk_size=3, progress=False)
    return out.read_bytes()


def test_process_pool_gives_the_inline_table(inputs, reference, tmp_path):
    out = tmp_path / "pool.csv"
    summary = run_scan(inputs, str(out), DetectorSpec("physics"), workers=2, chunk_size=3, progress=False)
    assert out.read_bytes() == reference
    assert summary.n_inputs == len(inputs) and summary.n_rows == reference.count(b"\n") - 1


def test_dask_local_cluster_gives_the_inline_table(inputs, reference, tmp_path):
    """Separate worker processes, as on a real cluster: config and rows cross process boundaries."""
    distributed = pytest.importorskip("distributed")
    # Spawned workers inherit sys.path (pytest's pythonpath) from this process, so they import this
    # checkout's casiglo_gui even when it is not pip-installed.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, local_directory=str(tmp_path / "dask")) as cluster:
        with distributed.Client(cluster, set_as_default=False) as client:
            locations = client.run(lambda: os.path.realpath(casiglo_gui.__file__))
        # realpath: another test may have put the same checkout on sys.path under another spelling
        assert set(locations.values()) == {os.path.realpath(casiglo_gui.__file__)}
        out = tmp_path / "dask.csv"
        summary = run_scan(inputs, str(out), DetectorSpec("physics"), engine="dask",
                           scheduler=cluster.scheduler_address, chunk_size=3, progress=False)
    assert out.read_bytes() == reference
    assert summary.n_ok > 0


def test_dask_engine_needs_a_scheduler(inputs, tmp_path):
    from casiglo_gui.core.scan.pipeline import ScanOptionError

    with pytest.raises(ScanOptionError, match="--scheduler"):
        run_scan(inputs, str(tmp_path / "t.csv"), DetectorSpec("physics"), engine="dask", progress=False)
