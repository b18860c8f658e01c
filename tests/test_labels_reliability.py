"""Reliability of the label store under real concurrency and crashes (separate OS processes)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casiglo_gui.core.labels import LabelEvent, LabelStore

ROOT = Path(__file__).resolve().parents[1]

# A grading session in another process: writes N events (or forever with N = -1), one transaction
# each, and prints each event's uid only after its commit returned.
WRITER = """
import sys
import time
from casiglo_gui.core.labels import LabelEvent, LabelStore
db, inspector, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = LabelStore.open(db)
print("ready", flush=True)
if len(sys.argv) > 4:
    sys.stdin.readline()  # wait for "go", so that both writers really write at the same time
i = 0
while n < 0 or i < n:
    event = LabelEvent(f"obj{i % 97}", ("none", "possible", "probable", "likely")[i % 4], inspector,
                       z_bg=0.5 + i * 1e-6, lines={"halpha": True}, comment=f"{inspector} event {i}")
    store.add_event(event)
    print(event.uid, flush=True)
    i += 1
    if i == 1 and len(sys.argv) > 4:
        # Barrier: go on only once the other writer has committed too, so that both are writing
        # at the same time however the OS schedules them.
        while store.count() < 2:
            time.sleep(0.001)
store.close()
"""


def _start_writer(db: Path, inspector: str, n: int, wait_for_go: bool = False) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [sys.executable, "-c", WRITER, str(db), inspector, str(n)] + (["wait"] if wait_for_go else [])
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_no_event(tmp_path):
    db = tmp_path / "labels.sqlite3"
    LabelStore.open(db).close()
    n = 1000
    writers = [_start_writer(db, name, n, wait_for_go=True) for name in ("alice", "bob")]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    outputs = [w.communicate(timeout=120) for w in writers]
    for writer, (out, err) in zip(writers, outputs):
        assert writer.returncode == 0, err
    committed = {line for out, _ in outputs for line in out.split() if line != "ready"}
    assert len(committed) == 2 * n
    with LabelStore.open(db) as store:
        events = store.events()
        assert len(events) == 2 * n
        assert {e.uid for e in events} == committed
        for name in ("alice", "bob"):
            mine = store.events(inspector=name)
            # Each writer's events are all there, in its own commit order.
            assert [e.comment for e in mine] == [f"{name} event {i}" for i in range(n)]
        assert store.integrity_check() == ["ok"]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX-only")
def test_a_process_killed_while_grading_keeps_every_committed_event(tmp_path):
    db = tmp_path / "labels.sqlite3"
    writer = _start_writer(db, "alice", -1)
    assert writer.stdout.readline().strip() == "ready"
    committed = []
    deadline = time.monotonic() + 60
    while len(committed) < 300 and time.monotonic() < deadline:
        committed.append(writer.stdout.readline().strip())
    writer.send_signal(signal.SIGKILL)  # mid-loop: most likely inside a transaction
    # Read the rest through the same text stream: readline() may already hold later lines in its buffer,
    # which communicate() (raw reads of the pipe) would skip.
    with writer:  # closes the pipes and waits
        rest = writer.stdout.read()
    committed += [line for line in rest.split() if line]
    assert writer.returncode == -signal.SIGKILL
    assert len(committed) >= 300

    with LabelStore.open(db) as store:  # opens cleanly, no recovery error
        assert store.integrity_check() == ["ok"]
        stored = [e.uid for e in store.events()]
        # Every event whose commit was reported is there; at most the one in flight may be extra
        # (committed but killed before it could print).
        assert set(committed) <= set(stored)
        assert len(stored) - len(committed) in (0, 1)
        assert stored[: len(committed)] == committed
        store.add_event(LabelEvent("after-crash", "likely", "bob"))  # and it is writable
        assert store.latest("after-crash", "bob").grade == "likely"
