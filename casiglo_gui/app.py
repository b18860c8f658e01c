"""``casiglo open``: the desktop inspector (``casiglo`` with no arguments opens the bundled sample set).

Examples
--------
casiglo                                   # the sample set in casiglo_gui/resources/sample
casiglo open spec-0266-51602-0013.fits    # one file; folders and scan tables (CSV) work too
casiglo open candidates.csv --labels team.sqlite3 --inspector ab
casiglo open spec.fits --screenshot main.png    # render the window headless and exit
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent / "resources" / "sample"
SETTINGS_FILE = "inspector.ini"
SCREENSHOT_TIMEOUT_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="spectrum files, folders or casiglo scan tables (CSV); "
                        "none = the bundled sample set")
    parser.add_argument("--labels", metavar="DB", help="label store (SQLite) to grade into "
                        "(default: the per-user store)")
    parser.add_argument("--inspector", help="your name or initials, written with every grade "
                        "(default: remembered, else your login)")
    parser.add_argument("--model", metavar="ONNX", help="ONNX line model (default: the installed model, "
                        "if any; without one the app runs in physics-only mode)")
    parser.add_argument("--no-model", action="store_true", help="physics-only mode even if a model is installed")
    parser.add_argument("--start", metavar="TEXT", help="start at the first spectrum whose object id or file "
                        "name contains TEXT")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window with the first spectrum, "
                        "save it to PNG and exit")
    parser.add_argument("--screenshot-part", choices=("window", "spectrum", "stamps"), default="window",
                        help="what --screenshot captures (default: the whole window)")
    parser.add_argument("--size", default="1500x950", help="window size WxH for --screenshot (default 1500x950)")


def settings_path() -> Path:
    """Per-user preferences file (platformdirs), created on first save."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("casiglo")) / SETTINGS_FILE


def open_settings():
    from PyQt6.QtCore import QSettings

    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return QSettings(str(path), QSettings.Format.IniFormat)


def open_store(path: str | None):
    """The label store, or (None, reason) when it cannot be opened (the app then shows spectra only)."""
    try:
        from .core.labels import LabelStore
    except ImportError:
        return None, "label store not installed: grading is off"
    try:
        return LabelStore.open(path), ""
    except Exception as exc:  # a broken store must not stop anyone from looking at spectra
        return None, f"label store could not be opened: {exc}"


def build_window(args: argparse.Namespace):
    """Create the QApplication (if needed) and the main window for ``args`` (used by run() and the tests)."""
    from PyQt6.QtWidgets import QApplication

    from .core.inspection import DetectorSet
    from .ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("CASIGLO Inspector")
    settings = open_settings()
    inspector = args.inspector or settings.value("inspector") or _login()
    settings.setValue("inspector", inspector)
    store, note = open_store(args.labels)
    model = "" if args.no_model else args.model
    detectors = DetectorSet(model_path=model)
    window = MainWindow(store, detectors, settings, str(inspector))
    if note:
        window.statusBar().showMessage(note, 15000)
    paths = list(args.paths) or [str(SAMPLE_DIR)]
    window.open_paths(paths, remember=bool(args.paths), start=getattr(args, "start", None))
    return app, window


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "inspector"


def run(args: argparse.Namespace) -> int:
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"casiglo open: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    app, window = build_window(args)
    if args.screenshot:
        return _screenshot(window, args)
    window.show()
    return app.exec()


def _wait_for_first_item(window, timeout_s: float) -> tuple[bool, str]:
    """Wait until the first item is on show; stop at once when it fails to load (with the reason,
    taken when it happens: the status bar clears its messages after a while)."""
    import time

    failures: list[str] = []
    window.item_shown.connect(lambda state: state is None and failures.append(window.statusBar().currentMessage()))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if window.wait_until_shown(0.05):
            return True, ""
        if failures:
            return False, failures[0] or "it could not be read"
    message = window.statusBar().currentMessage()
    return False, f"nothing shown after {timeout_s:.0f} s" + (f" ({message})" if message else "")


def _screenshot(window, args) -> int:
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    window.show()
    shown, reason = _wait_for_first_item(window, SCREENSHOT_TIMEOUT_S)
    if not shown:
        print(f"casiglo open: the spectrum could not be shown: {reason}", file=sys.stderr)
        return 1
    from PyQt6.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()
    target = {"window": window, "spectrum": window.spectrum_view, "stamps": window.stamps_view}[args.screenshot_part]
    Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
    if not target.grab().save(str(args.screenshot)):
        print(f"casiglo open: could not write {args.screenshot}", file=sys.stderr)
        return 1
    print(f"saved {args.screenshot}")
    window.workers.wait(10000)
    window.close()
    return 0
