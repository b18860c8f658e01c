"""`casiglo scan --resume`: a scan killed mid-run (SIGKILL, Ctrl-C) continues to the same table."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casiglo_gui import cli

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "sdss"
N_INPUTS = 30


@pytest.fixture
def many_inputs(tmp_path):
    """60 inputs: the repo's spec files (and one broken file) repeated through symlinks."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    sources = sorted(DATA.glob("spec-*.fits"))
    for i in range(N_INPUTS - 1):
        (folder / f"spec-{i:03d}.fits").symlink_to(sources[i % len(sources)])
    (folder / "spec-015b.fits").write_bytes(b"SIMPLE  = broken")
    return folder


def scan_args(folder, out, *extra):
    return ["scan", str(folder), "--out", str(out), "--workers", "1", "--chunk-size", "1",
            "--detector", "physics", "--no-progress", *extra]


def start_scan(folder, out):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "casiglo_gui.cli", *scan_args(folder, out)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_commits(progress_file, proc, at_least, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            committed = json.loads(progress_file.read_text())["inputs_committed"]
        except (FileNotFoundError, ValueError, KeyError):
            committed = 0
        if committed >= at_least:
            return committed
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.002)
    raise AssertionError("scan made no progress")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_scan_resumes_to_the_identical_table(many_inputs, tmp_path, how):
    reference = tmp_path / "reference.csv"
    assert cli.main(scan_args(many_inputs, reference)) == 0
    out = tmp_path / "interrupted.csv"
    progress = Path(str(out) + ".progress.json")
    proc = start_scan(many_inputs, out)
    try:
        wait_for_commits(progress, proc, at_least=3)
        proc.send_signal(how)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
    if how == signal.SIGINT:
        assert code == 130 and "--resume" in stderr
    else:
        assert code == -signal.SIGKILL
    committed = json.loads(progress.read_text())
    assert 3 <= committed["inputs_committed"] < N_INPUTS + 1, "the scan must have been stopped mid-run"
    # A kill during a write leaves a torn last line after the committed offset: make sure there is one.
    with open(out, "ab") as fh:
        fh.write(b"/half/written/spec-9999.fits,9999-99999-")
    partial = reference.read_bytes()[: committed["byte_offset"]]
    assert out.read_bytes()[: committed["byte_offset"]] == partial  # committed rows are final

    assert cli.main(scan_args(many_inputs, out, "--resume")) == 0
    assert out.read_bytes() == reference.read_bytes()
    assert not progress.exists()  # a finished scan leaves nothing to resume


def test_resume_refuses_a_different_input_list(many_inputs, tmp_path, capsys):
    out = tmp_path / "t.csv"
    progress = Path(str(out) + ".progress.json")
    proc = start_scan(many_inputs, out)
    try:
        wait_for_commits(progress, proc, at_least=2)
        proc.kill()
    finally:
        proc.wait()
        proc.stderr.close()
    (many_inputs / "spec-extra.fits").symlink_to(sorted(DATA.glob("spec-*.fits"))[0])
    assert cli.main(scan_args(many_inputs, out, "--resume")) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_resume_without_progress_file_starts_afresh(many_inputs, tmp_path):
    out = tmp_path / "t.csv"
    out.write_text("stale,table\n")
    assert cli.main(scan_args(many_inputs, out, "--resume")) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("source,object_id,") and len(lines) == N_INPUTS + 1
