"""Issue 16, `casiglo scan`: resume after the last commit (5), committed rows checksummed (7), tables that
do not depend on --workers (8), messages instead of tracebacks (9), unreadable sub-folders (11)."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from casiglo_gui import cli
from casiglo_gui.core.scan import table as table_module
from casiglo_gui.core.detectors.spec import DetectorSpec
from casiglo_gui.core.scan.pipeline import run_scan
from casiglo_gui.core.scan.table import ResumableCsvWriter, ScanResumeError

DATA = Path(__file__).parent / "data" / "sdss"
PHYSICS = DetectorSpec("physics")


@pytest.fixture
def inputs(tmp_path):
    """Five inputs: four spec files and one broken file."""
    names = ["spec-3650-55244-0007.fits", "spec-0266-51602-0013.fits", "spec-3651-55247-0054.fits",
             "spec-0269-51581-0003.fits"]
    folder = tmp_path / "in"
    folder.mkdir()
    files = []
    for i, name in enumerate(names):
        shutil.copy(DATA / name, folder / f"{i}-{name}")
        files.append(str(folder / f"{i}-{name}"))
    (folder / "4-broken.fits").write_bytes(b"SIMPLE  = broken")
    files.append(str(folder / "4-broken.fits"))
    return files


def _scan(files, out, **options):
    return run_scan(files, str(out), PHYSICS, progress=False, **options)


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (not even the writer's tidy-up)."""


def _kill_after_commit(monkeypatch, n: int):
    """Make the n-th commit of the next scan the last thing it does."""
    commit, close = ResumableCsvWriter.commit, ResumableCsvWriter.close
    calls = []

    def commit_then_die(self, rows_per_input):
        commit(self, rows_per_input)
        calls.append(1)
        if len(calls) == n:
            raise _Killed()

    def close_without_tidy_up(self, complete):
        close(self, complete=False)

    monkeypatch.setattr(ResumableCsvWriter, "commit", commit_then_die)
    monkeypatch.setattr(ResumableCsvWriter, "close", close_without_tidy_up)


# -- 5: killed after the last (partial) chunk was committed ----------------------------------------------

def test_resume_after_the_last_partial_chunk_was_committed(inputs, tmp_path, monkeypatch):
    reference = tmp_path / "reference.csv"
    _scan(inputs, reference, chunk_size=2)
    out = tmp_path / "out.csv"
    with monkeypatch.context() as patch:
        _kill_after_commit(patch, n=3)  # chunks of 2, 2 and 1: the third is the last
        with pytest.raises(_Killed):
            _scan(inputs, out, chunk_size=2)
    assert Path(str(out) + ".progress.json").exists()
    summary = _scan(inputs, out, chunk_size=2, resume=True)
    assert summary.rows_resumed == len(inputs)
    assert out.read_bytes() == reference.read_bytes()
    assert not Path(str(out) + ".progress.json").exists()


# -- 7: committed rows changed between the kill and --resume -------------------------------------------

@pytest.mark.parametrize("where", ["status", "score"])
def test_resume_refuses_a_table_changed_inside_its_committed_rows(inputs, tmp_path, monkeypatch, where):
    out = tmp_path / "out.csv"
    with monkeypatch.context() as patch:
        _kill_after_commit(patch, n=2)
        with pytest.raises(_Killed):
            _scan(inputs, out, chunk_size=2)
    raw = bytearray(out.read_bytes())
    at = raw.index(b",ok,") + 2 if where == "status" else raw.index(b"\n") + 200
    raw[at] ^= 0x01
    out.write_bytes(bytes(raw))
    with pytest.raises(ScanResumeError, match="checksum"):
        _scan(inputs, out, chunk_size=2, resume=True)
    code = cli.main(["scan", *inputs, "--out", str(out), "--chunk-size", "2", "--workers", "1",
                     "--detector", "physics", "--no-progress", "--resume"])
    assert code == 2


def test_resume_continues_an_intact_table_after_a_kill(inputs, tmp_path, monkeypatch):
    reference = tmp_path / "reference.csv"
    _scan(inputs, reference, chunk_size=2)
    out = tmp_path / "out.csv"
    with monkeypatch.context() as patch:
        _kill_after_commit(patch, n=1)
        with pytest.raises(_Killed):
            _scan(inputs, out, chunk_size=2)
    with open(out, "ab") as handle:  # a partly written chunk after the committed offset is dropped
        handle.write(b"/half/a/row,")
    _scan(inputs, out, chunk_size=2, resume=True)
    assert out.read_bytes() == reference.read_bytes()


# -- 9: messages, not tracebacks -----------------------------------------------------------------------

def _cli_scan(files, out, *extra):
    return cli.main(["scan", *files, "--out", str(out), "--workers", "1", "--detector", "physics",
                     "--no-progress", *extra])


def test_output_folder_that_cannot_be_made_is_a_message(inputs, tmp_path, capsys):
    (tmp_path / "plain-file").write_text("not a folder")
    code = _cli_scan(inputs[:1], tmp_path / "plain-file" / "out.csv")
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "cannot write" in err and "plain-file" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_output_folder_is_a_message(inputs, tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code = _cli_scan(inputs[:1], folder / "out.csv")
    finally:
        folder.chmod(0o700)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "cannot write" in err and "out.csv" in err


def test_output_path_that_is_a_folder_is_a_message(inputs, tmp_path, capsys):
    (tmp_path / "taken.csv").mkdir()
    code = _cli_scan(inputs[:1], tmp_path / "taken.csv")
    err = capsys.readouterr().err
    assert code == 2 and "cannot write" in err and "taken.csv" in err


def test_disk_full_mid_scan_is_a_message_and_resume_completes(inputs, tmp_path, monkeypatch, capsys):
    reference = tmp_path / "reference.csv"
    _scan(inputs, reference, chunk_size=1)
    out = tmp_path / "out.csv"
    fsync, calls = os.fsync, []

    def full_on_the_fourth_fsync(fd):
        calls.append(fd)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    with monkeypatch.context() as patch:
        patch.setattr(table_module.os, "fsync", full_on_the_fourth_fsync)
        code = _cli_scan(inputs, out, "--chunk-size", "1")
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "No space left on device" in err and "--resume" in err
    assert _cli_scan(inputs, out, "--chunk-size", "1", "--resume") == 0
    assert out.read_bytes() == reference.read_bytes()


def test_ctrl_c_during_start_up_is_a_message(inputs, tmp_path, monkeypatch, capsys):
    from casiglo_gui import scan_cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(scan_cli, "expand_inputs", interrupted)
    try:
        code = _cli_scan(inputs, tmp_path / "out.csv")
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C during start-up escaped as a traceback")
    assert code == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


def test_ctrl_c_while_the_commands_load_is_a_message(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    try:
        code = cli.main(["scan", "x.fits", "--out", "o.csv"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C while loading escaped as a traceback")
    assert code == 130
    assert "interrupted" in capsys.readouterr().err


# -- 6: pool workers die with a SIGKILLed scan ---------------------------------------------------------

def test_pool_workers_die_when_the_scan_process_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    psutil = pytest.importorskip("psutil")
    folder = tmp_path / "many"
    folder.mkdir()
    sources = sorted(DATA.glob("spec-3650-*.fits"))
    for i in range(400):
        (folder / f"spec-{i:04d}.fits").symlink_to(sources[i % len(sources)])
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "casiglo_gui.cli", "scan", str(folder), "--out",
                             str(tmp_path / "out.csv"), "--workers", "2", "--chunk-size", "4",
                             "--detector", "physics", "--no-progress"],
                            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        scan = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        children, workers = [], []
        while time.monotonic() < deadline and proc.poll() is None:
            children = scan.children(recursive=True)
            workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
            if len(workers) >= 2:
                break
            time.sleep(0.1)
        assert len(workers) >= 2, "the scan never started its pool"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, [p.pid for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
        for child in children:  # the scan's own workers, by pid: never leave orphans behind
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass


# -- 8: rows do not depend on what the process read before ---------------------------------------------

def test_the_same_damaged_file_gets_the_same_row_wherever_it_is_read(tmp_path):
    # A flipped bit in the primary header's NAXIS value: cfitsio's message used to carry its error stack
    # from earlier files, so the reason depended on the process's history (and hence on --workers).
    raw = bytearray((DATA / "spec-3651-55247-0054.fits").read_bytes())
    raw[174] ^= 0x40
    files = []
    for i in range(3):
        path = tmp_path / f"damaged-{i}.fits"
        path.write_bytes(bytes(raw))
        files.append(str(path))
    for workers, chunk_size in ((1, 1), (1, 3), (2, 1)):
        out = tmp_path / f"w{workers}c{chunk_size}.csv"
        _scan(files, out, workers=workers, chunk_size=chunk_size)
        statuses = {line.split(",")[9] for line in out.read_text().splitlines()[1:]}
        assert len(statuses) == 1, statuses
        status = statuses.pop()
        assert status.startswith("error: damaged FITS header") and "FITSIO" not in status
    tables = {p.read_bytes() for p in tmp_path.glob("w*.csv")}
    assert len(tables) == 1


# -- 11: an unreadable sub-folder is reported, and the scan says it is incomplete -----------------------

def test_unreadable_sub_folder_is_a_warning_and_exit_1(inputs, tmp_path, monkeypatch, capsys):
    top = Path(inputs[0]).parent
    locked = top / "locked"
    locked.mkdir()
    shutil.copy(inputs[0], locked / "hidden.fits")
    scandir = os.scandir

    def refuse_locked(path="."):
        if os.fspath(path) == str(locked):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(locked))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse_locked)
    out = tmp_path / "out.csv"
    code = _cli_scan([str(top)], out)
    err = capsys.readouterr().err
    assert code == 1
    assert f"warning: {locked}: folder not scanned (Permission denied)" in err
    assert "hidden.fits" not in out.read_text() and len(out.read_text().splitlines()) == 1 + len(inputs)
