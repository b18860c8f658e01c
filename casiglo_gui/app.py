"""``casiglo open``: the desktop inspector (``casiglo`` with no arguments opens the bundled sample set).

Examples
--------
casiglo                                   # the demo: resources/sample, graded into a separate demo store
casiglo open spec-0266-51602-0013.fits    # one file; folders and scan tables (CSV, Parquet) work too
casiglo open candidates.csv --db team.sqlite3 --inspector ab
casiglo open spec.fits --screenshot main.png    # render the window headless and exit
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path



def sample_dir() -> Path:
    """The bundled sample set: ``casiglo_gui/resources/sample`` when installed (package data mapped from
    the repository's top-level ``resources/``), else ``resources/sample`` of the source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "resources" / "sample", here.parent / "resources" / "sample"):
        if candidate.is_dir():
            return candidate
    return here.parent / "resources" / "sample"


SAMPLE_DIR = sample_dir()
SETTINGS_FILE = "inspector.ini"
SCREENSHOT_TIMEOUT_S = 60.0
DEMO_DB_FILENAME = "demo-labels.sqlite3"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="spectrum files, folders or casiglo scan tables (CSV or "
                        "Parquet); none = the demo: the bundled sample set, graded into its own demo store")
    parser.add_argument("--db", "--labels", dest="labels", metavar="DB", help="label store (SQLite) to grade "
                        "into, as in casiglo labels (default: the per-user store; for the demo, a separate "
                        "demo store)")
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
    parser.add_argument("--size", default=None, help="window size WxH for --screenshot (default: the first-run "
                        "size, 1400x900 or less on a small screen)")


def settings_path() -> Path:
    """Per-user preferences file (platformdirs), created on first save."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("casiglo")) / SETTINGS_FILE


def open_settings():
    from PyQt6.QtCore import QSettings

    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return QSettings(str(path), QSettings.Format.IniFormat)


def demo_db_path() -> Path:
    """The demo's own label store (next to the per-user store): sample objects never reach real labels."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("casiglo", appauthor=False)) / DEMO_DB_FILENAME


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
    demo = not args.paths
    db = args.labels or (str(demo_db_path()) if demo else None)
    store, note = open_store(db)
    model = "" if args.no_model else args.model
    detectors = DetectorSet(model_path=model)
    window = MainWindow(store, detectors, settings, str(inspector), store_note=note)
    if store is not None:
        where = f"demo store {store.path}" if demo and not args.labels else str(store.path)
        window.setWindowTitle(f"CASIGLO Inspector — grades go to {where}")
        if demo:
            note = f"demo: the sample set; grades go to the demo store ({store.path}), not your labels"
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


# Libraries Qt's xcb platform loads at start, with the Debian/Ubuntu package of each. Without one, Qt aborts
# (exit 134) naming xcb-cursor0 whatever is missing; checking first lets us name the real fix.
XCB_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xkbcommon-x11": "libxkbcommon-x11-0", "xcb-icccm": "libxcb-icccm4",
                 "xcb-keysyms": "libxcb-keysyms1", "EGL": "libegl1", "fontconfig": "libfontconfig1"}


def missing_qt_packages(find_library=None) -> list[str]:
    """Debian packages of the libraries Qt's xcb platform needs and the system lacks ([] when Qt will not
    use xcb: another platform chosen, not Linux, or no X display)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb") or not os.environ.get("DISPLAY"):
        return []
    if platform == "" and os.environ.get("WAYLAND_DISPLAY"):
        return []
    if find_library is None:
        from ctypes.util import find_library
    return [package for library, package in XCB_LIBRARIES.items() if find_library(library) is None]


def run(args: argparse.Namespace) -> int:
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    missing_packages = missing_qt_packages()
    if missing_packages:
        print("casiglo open: Qt cannot start: system libraries are missing. Install them with:\n"
              f"    sudo apt-get install {' '.join(missing_packages)}\n"
              "(or run without a display: casiglo open FILE --screenshot out.png)", file=sys.stderr)
        return 1
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
            if window.state is None:   # on show as "no spectrum": the item could not be read
                return False, window.session.unreadable or "it could not be read"
            return True, ""
        if failures:
            return False, failures[0] or "it could not be read"
    message = window.statusBar().currentMessage()
    return False, f"nothing shown after {timeout_s:.0f} s" + (f" ({message})" if message else "")


def _screenshot(window, args) -> int:
    from .ui.main_window import default_size

    width, height = (int(v) for v in args.size.lower().split("x")) if args.size else default_size()
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
