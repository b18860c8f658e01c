"""Inspector latency: launch to first drawn spectrum, and next-spectrum latency percentiles.

Launch is timed twice: to the first drawn spectrum (read, on the model grid, painted; the detectors judge it
afterwards on a worker) and to the first detector verdict shown (score, overlays, stamps: painted).

Next-spectrum latency = key press -> file read + preprocessing + detection (model if installed, else
physics) + redraw of the spectrum and the 12 stamps, painted. Two regimes:

- ``paced``: the inspector spends ``--dwell`` ms per spectrum (reading it); the app prefetches the next
  ones on worker threads meanwhile, as in real use.
- ``cold``: nothing prefetched, every file read fresh (the worst case: a jump to an arbitrary item).

Usage::

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen python benchmarks/bench_app.py [FOLDER] [--n 60] [--dwell 300]

Printed with the load average: on a shared machine wall-clock figures scale with the load, so the paced
steps also report the GUI thread's own CPU time (``time.thread_time``), which does not.

Default FOLDER: the 90 BOSS spectra in /work/shared/data/real/sdss_spec/boss_plates_3650_3651 when present,
else tests/data/sdss. Targets: next spectrum p95 <= 50 ms; launch to first drawn spectrum <= 1.5 s.
"""
from __future__ import annotations

import time

T_START = time.perf_counter()

import os  # noqa: E402

LOAD_AT_START = os.getloadavg()  # the machine's load: figures from a shared machine mean little without it

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDERS = (Path("/work/shared/data/real/sdss_spec/boss_plates_3650_3651"), ROOT / "tests" / "data" / "sdss")


def percentiles(values_ms) -> str:
    v = np.asarray(values_ms)
    return (f"n={v.size}  p50={np.percentile(v, 50):.1f} ms  p90={np.percentile(v, 90):.1f} ms  "
            f"p95={np.percentile(v, 95):.1f} ms  max={v.max():.1f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?")
    parser.add_argument("--n", type=int, default=60, help="spectra to step through per regime")
    parser.add_argument("--dwell", type=float, default=300.0, help="ms spent on each spectrum in the paced regime")
    parser.add_argument("--model", default=None, help="ONNX model (default: installed one, if any)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = tempfile.mkdtemp(prefix="casiglo-bench-")
    for var, sub in (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share")):
        os.environ[var] = str(Path(home) / sub)
        Path(os.environ[var]).mkdir(parents=True, exist_ok=True)
    folder = Path(args.folder) if args.folder else next(f for f in DEFAULT_FOLDERS if f.exists())


    stages = {}
    lap = T_START

    def stage(name: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        stages[name] = 1e3 * (now - lap)
        lap = now

    stage("python modules of the benchmark")
    from casiglo_gui import app as app_module
    from casiglo_gui.ui import main_window  # noqa: F401  (timed here: what build_window imports first)

    stage("import app, Qt, pyqtgraph, core")
    ns = argparse.Namespace(paths=[str(folder)], labels=str(Path(home) / "labels.sqlite3"), inspector="bench",
                            model=args.model, no_model=False, screenshot=None, screenshot_part="window",
                            size="1400x900")
    qapp, window = app_module.build_window(ns)
    window.resize(1400, 900)
    window.show()
    stage("build window (detectors, widgets), open queue")
    if not window.wait_until_shown(60, verdict=False):
        print("first spectrum was never shown:", window.statusBar().currentMessage())
        return 1
    stage("first item read, on the plot items")

    def paint():
        window.spectrum_view.viewport().repaint()
        window.stamps_view.viewport().repaint()

    paint()
    stage("first paint")
    first_ms = 1e3 * (time.perf_counter() - T_START)
    # The detectors judge the first spectrum after it is drawn (a worker); the verdict is its own figure.
    if not window.wait_until_shown(60):
        print("the first spectrum's verdict never came:", window.statusBar().currentMessage())
        return 1
    paint()
    verdict_ms = 1e3 * (time.perf_counter() - T_START)
    print(f"load average (1, 5, 15 min) at start: {' '.join(f'{v:.2f}' for v in LOAD_AT_START)}; "
          f"{os.cpu_count()} CPUs")
    print(f"detectors: {window.detectors.status}")
    print(f"queue: {len(window.queue)} spectra from {folder}")
    print(f"launch (interpreter already started) to first drawn spectrum: {first_ms:.0f} ms")
    print("  " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in stages.items()))
    print(f"launch to first detector verdict shown (painted):  {verdict_ms:.0f} ms")
    timings = window.loaded.timings_ms
    print("  first item: " + ", ".join(f"{k} {v:.1f} ms" for k, v in timings.items()))

    shown_ms = []

    from PyQt6.QtCore import QEventLoop, QTimer

    def wait_events(ms: float) -> None:
        # Block in Qt's event loop (as the real app does between events), not a busy Python loop that
        # would hold the GIL and starve the reading workers.
        loop = QEventLoop()
        QTimer.singleShot(int(ms), loop.quit)
        loop.exec()

    gui_cpu_ms = []

    def step() -> float:
        t0 = time.perf_counter()
        c0 = time.thread_time()   # this (the GUI) thread's CPU: what the step costs, whatever the machine's load
        loop = QEventLoop()
        window.item_shown.connect(loop.quit)
        window.go_next()
        if not (window.loaded is not None and window.loaded.item is window.queue.current):
            loop.exec()
        window.item_shown.disconnect(loop.quit)
        shown_ms.append(window.last_latency_ms)
        paint()
        gui_cpu_ms.append(1e3 * (time.thread_time() - c0))
        return 1e3 * (time.perf_counter() - t0)

    def idle(ms: float) -> None:
        wait_events(ms)

    n = min(args.n, len(window.queue) - 1)
    paced = []
    for _ in range(n // 2):
        idle(args.dwell)
        paced.append(step())
    print(f"next spectrum, paced ({args.dwell:.0f} ms per spectrum, prefetch on): {percentiles(paced)}")
    print(f"  of which key -> data on the plot items (before painting):  {percentiles(shown_ms)}")
    print(f"  GUI-thread CPU per step (load-independent part):           {percentiles(gui_cpu_ms)}")

    window.workers.wait()
    import casiglo_gui.ui.main_window as mw

    mw.PREFETCH = 0
    cold = []
    for _ in range(n - n // 2):
        window._loaded_items.clear()
        window.cache = type(window.cache)()
        cold.append(step())
    print(f"next spectrum, cold (no prefetch, file read each time):   {percentiles(cold)}")
    timings = window.loaded.timings_ms
    print("last cold item breakdown: " + ", ".join(f"{k} {v:.1f} ms" for k, v in timings.items()))
    window.workers.wait()
    window.close()
    print(f"load average (1, 5, 15 min) at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
