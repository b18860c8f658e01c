"""The inspector's main window: queue, spectrum, stamps, info, cube map, grading. Widgets only: the state
lives in :mod:`casiglo_gui.core.inspection` and slow work runs on :class:`~casiglo_gui.ui.workers.Workers`.
"""
from __future__ import annotations

import html
import math
import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QByteArray, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QCheckBox, QComboBox, QDockWidget, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QListView,
    QMainWindow, QSplitter, QVBoxLayout, QWidget,
)

from ..core.inspection import (
    DetectorSet, InspectionQueue, LoadedItem, QueueFilter, QueueItem, SpectrumCache, ViewState, expand_paths,
    latest_grades, load_item, sort_by_score,
)
from ..core.inspection.loading import cube_centre
from ..core.preprocessing import to_model_grid
from .cube_view import CubeView
from .grading_panel import GradingPanel
from .help_overlay import HelpOverlay
from .keys import KEYMAP
from .queue_model import QueueListModel
from .spectrum_view import SpectrumView
from .stamps_view import StampsView
from .workers import Workers

MAX_RECENT = 10
# Queue filter choices: label -> grades shown ("ungraded" = no grade yet); None = any.
GRADE_FILTERS = {
    "any": None, "graded possible or better": frozenset({"possible", "probable", "likely"}),
    "likely": frozenset({"likely"}), "probable": frozenset({"probable"}), "possible": frozenset({"possible"}),
    "none (not a lens)": frozenset({"none"}), "ungraded": frozenset({"ungraded"}),
}
PREFETCH = 2
PREFETCH_DELAY_MS = 60


class MainWindow(QMainWindow):
    """The inspector window.

    Parameters
    ----------
    store : LabelStore or None
        Where grades go (``casiglo_gui.core.labels``); None = grading disabled (said in the status bar).
    detectors : DetectorSet
    settings : QSettings
    inspector : str
        Name written with every grade.
    """

    item_shown = pyqtSignal(object)      # the ViewState on show
    queue_loaded = pyqtSignal(int)
    refit_done = pyqtSignal(object)

    def __init__(self, store, detectors: DetectorSet, settings: QSettings, inspector: str, parent=None):
        super().__init__(parent)
        self.store = store
        self.detectors = detectors
        self.settings = settings
        self.inspector = inspector
        self._grades: dict[str, str] = {}
        self._open_ticket = 0
        self._pending_open = ([], False, None)
        self.queue = InspectionQueue([], self._grades.get)
        self.state: ViewState | None = None
        self.loaded: LoadedItem | None = None
        self.cache = SpectrumCache()
        self._loaded_items: dict[tuple, LoadedItem] = {}
        self._ticket = 0
        self._requested_at = 0.0
        self.last_latency_ms = float("nan")
        self.workers = Workers(self)
        self.workers.finished.connect(self._job_finished)
        self.workers.failed.connect(self._job_failed)
        self._prefetch_timer = QTimer(self)
        self._prefetch_timer.setSingleShot(True)
        self._prefetch_timer.timeout.connect(self._prefetch)
        self.setWindowTitle("CASIGLO Inspector")
        self.setAcceptDrops(True)
        self._build()
        self._bind_keys()
        self._restore()

    # --- construction ----------------------------------------------------------------------------------
    def _build(self) -> None:
        self.spectrum_view = SpectrumView()
        self.spectrum_view.redshift_dragged.connect(self._marker_dragged)
        self.stamps_view = StampsView()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.spectrum_view)
        self.splitter.addWidget(self.stamps_view)
        self.splitter.setSizes([560, 300])
        self.setCentralWidget(self.splitter)

        queue_widget = QWidget()
        queue_layout = QVBoxLayout(queue_widget)
        queue_layout.setContentsMargins(2, 2, 2, 2)
        self.progress_label = QLabel("0 of 0 graded")
        queue_layout.addWidget(self.progress_label)
        self.unlabelled_box = QCheckBox("ungraded only")
        self.unlabelled_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.unlabelled_box.toggled.connect(lambda _on: self._filter_changed())
        queue_layout.addWidget(self.unlabelled_box)
        grade_row = QHBoxLayout()
        grade_row.addWidget(QLabel("grade"))
        self.grade_filter = QComboBox()
        self.grade_filter.addItems(list(GRADE_FILTERS))
        self.grade_filter.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.grade_filter.currentTextChanged.connect(lambda _t: self._filter_changed())
        grade_row.addWidget(self.grade_filter, 1)
        queue_layout.addLayout(grade_row)
        score_row = QHBoxLayout()
        score_row.addWidget(QLabel("score"))
        self.score_min = QDoubleSpinBox()
        self.score_max = QDoubleSpinBox()
        for box, value in ((self.score_min, 0.0), (self.score_max, 1.0)):
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.05)
            box.setValue(value)
            box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            box.valueChanged.connect(lambda _v: self._filter_changed())
            score_row.addWidget(box)
        queue_layout.addLayout(score_row)
        self.queue_model = QueueListModel(self.queue, self)
        self.queue_list = QListView()
        self.queue_list.setModel(self.queue_model)
        self.queue_list.setUniformItemSizes(True)
        self.queue_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.queue_list.clicked.connect(self._queue_clicked)
        queue_layout.addWidget(self.queue_list, 1)
        self.queue_dock = self._dock("Queue", queue_widget, Qt.DockWidgetArea.LeftDockWidgetArea)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(2, 2, 2, 2)
        self.info_label = QLabel("No spectrum")
        self.info_label.setTextFormat(Qt.TextFormat.RichText)
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        side_layout.addWidget(self.info_label)
        self.grading = GradingPanel()
        self.grading.grade_clicked.connect(self.set_grade)
        self.grading.comment.done.connect(self._leave_comment)
        side_layout.addWidget(self.grading)
        side_layout.addStretch(1)
        self.info_dock = self._dock("Info and grade", side, Qt.DockWidgetArea.RightDockWidgetArea)

        self.cube_view = CubeView()
        self.cube_view.spaxel_picked.connect(self.pick_spaxel)
        self.cube_view.aperture_requested.connect(self.aperture_sum)
        self.cube_dock = self._dock("MaNGA cube", self.cube_view, Qt.DockWidgetArea.RightDockWidgetArea)
        self.cube_dock.hide()

        self.help_overlay = HelpOverlay(self)
        self.model_status = QLabel(self.detectors.status)
        self.statusBar().addPermanentWidget(self.model_status)

        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open…", self)
        open_action.triggered.connect(self.open_dialog)
        file_menu.addAction(open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        view_menu = self.menuBar().addMenu("&View")
        for dock in (self.queue_dock, self.info_dock, self.cube_dock):
            view_menu.addAction(dock.toggleViewAction())
        help_menu = self.menuBar().addMenu("&Help")
        keys_action = QAction("&Keys (? / F1)", self)
        keys_action.triggered.connect(self.toggle_help)
        help_menu.addAction(keys_action)

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _bind_keys(self) -> None:
        self.shortcuts: dict[str, list[QShortcut]] = {}
        for binding in KEYMAP:
            if binding.action.startswith("toggle_flag_"):
                flag = binding.action[len("toggle_flag_"):]
                handler = (lambda f=flag: self.grading.toggle_flag(f))
            else:
                handler = getattr(self, binding.action)
            for key in binding.keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
                shortcut.activated.connect(handler)
                self.shortcuts.setdefault(binding.action, []).append(shortcut)

    # --- preferences ---------------------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        window_state = self.settings.value("window/state")
        if isinstance(window_state, QByteArray):
            self.restoreState(window_state)
        sizes = self.settings.value("window/splitter")
        if isinstance(sizes, QByteArray):
            self.splitter.restoreState(sizes)
        view = self.spectrum_view
        view.show_flux = self._bool_setting("view/flux", True)
        view.show_model = self._bool_setting("view/model", True)
        view.show_residual = self._bool_setting("view/residual", True)
        view.show_foreground = self._bool_setting("view/foreground", True)
        self.smoothing_half_width = int(self.settings.value("view/smoothing", 2))
        self._rebuild_recent_menu()

    def _bool_setting(self, key: str, default: bool) -> bool:
        value = self.settings.value(key, default)
        return value in (True, "true", "1", 1)

    def save_preferences(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/splitter", self.splitter.saveState())
        view = self.spectrum_view
        s.setValue("view/flux", view.show_flux)
        s.setValue("view/model", view.show_model)
        s.setValue("view/residual", view.show_residual)
        s.setValue("view/foreground", view.show_foreground)
        s.setValue("view/smoothing", self.smoothing_half_width)
        s.sync()

    def _release_cube(self, keep=None) -> None:
        """Close cubes no longer on show (they hold open files); a closed cube is read afresh if revisited."""
        for key, other in list(self._loaded_items.items()):
            if other is not None and other.cube is not None and other.cube is not keep:
                other.cube.close()
                self._loaded_items.pop(key)
        if self.loaded is not None and self.loaded.cube is not None and self.loaded.cube is not keep:
            self.loaded.cube.close()

    def closeEvent(self, event) -> None:
        self.save_preferences()
        self.workers.wait(5000)
        self._release_cube()
        super().closeEvent(event)

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent/paths", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember(self, paths: list[str]) -> None:
        recent = [str(Path(p).resolve()) for p in paths] + self.recent_files()
        unique = list(dict.fromkeys(recent))[:MAX_RECENT]
        self.settings.setValue("recent/paths", unique)
        self.settings.sync()
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            action = QAction(path, self)
            action.triggered.connect(lambda _c, p=path: self.open_paths([p]))
            self.recent_menu.addAction(action)

    # --- opening --------------------------------------------------------------------------------------
    def open_paths(self, paths: list[str], remember: bool = True, start: str | None = None) -> None:
        """Open files, folders or scan tables as the queue (scored items first, by score), on a worker.

        ``start``: then show the first item whose object id or file name contains it.
        """
        paths = [str(p) for p in paths]
        self.statusBar().showMessage(f"opening {', '.join(Path(p).name for p in paths)}…")
        store, inspector = self.store, self.inspector

        def work():
            items, errors = expand_paths(paths)
            grades = latest_grades(store.events(inspector)) if store is not None else {}
            return sort_by_score(items), errors, grades

        self._open_ticket += 1
        self._pending_open = (paths, remember, start)
        self.workers.submit(("open", self._open_ticket), work)

    def _opened(self, result) -> None:
        items, errors, grades = result
        paths, remember, start = self._pending_open
        self._grades = grades
        self.set_queue(items, start=start)
        if errors:
            self.statusBar().showMessage("; ".join(str(e) for e in errors[:3]), 15000)
        elif not items:
            self.statusBar().showMessage("nothing to inspect in " + ", ".join(paths), 15000)
        if remember and items:
            self._remember(paths)

    def set_queue(self, items: list[QueueItem], start: str | None = None) -> None:
        self.queue = InspectionQueue(items, self._grades.get)
        self._loaded_items.clear()
        self.loaded = None
        self._apply_filter()
        self.queue_model.set_queue(self.queue)
        self._update_progress()
        self.queue_loaded.emit(len(items))
        if start and self.go_to_text(start):
            return
        if start:
            self.statusBar().showMessage(f"no spectrum matching {start!r} in the queue", 10000)
        if self.queue.current is not None:
            self.show_current()

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open spectra or a scan table", "",
                                                "Spectra and tables (*.fits *.fits.gz *.csv);;All files (*)")
        if paths:
            self.open_paths(paths)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    # --- queue list --------------------------------------------------------------------------------
    def _rebuild_queue_list(self) -> None:
        self.queue_model.refresh()
        self._sync_queue_selection()
        self._update_progress()

    def _sync_queue_selection(self) -> None:
        row = self.queue_model.row_of(self.queue.position)
        if row >= 0:
            index = self.queue_model.index(row)
            self.queue_list.setCurrentIndex(index)
            self.queue_list.scrollTo(index)

    def _refresh_queue_entry(self, index: int) -> None:
        self.queue_model.item_changed(index)

    def _update_progress(self) -> None:
        graded, total = self.queue.progress()
        shown = len(self.queue.visible)
        extra = f" ({shown} shown)" if self.queue.filter.active else ""
        self.progress_label.setText(f"{graded} of {total} graded{extra}")

    def _queue_clicked(self, index) -> None:
        self.queue.go_to(int(self.queue_model.data(index, Qt.ItemDataRole.UserRole)))
        self.show_current()

    def _filter_changed(self) -> None:
        self._apply_filter()
        self._rebuild_queue_list()
        if self.queue.current is not None and (self.loaded is None or self.loaded.item is not self.queue.current):
            self.show_current()

    def _apply_filter(self) -> None:
        lo, hi = self.score_min.value(), self.score_max.value()
        scored = any(math.isfinite(it.score) for it in self.queue.items)
        use_score = scored and (lo > 0.0 or hi < 1.0)
        self.queue.set_filter(QueueFilter(unlabelled_only=self.unlabelled_box.isChecked(),
                                          grades=GRADE_FILTERS[self.grade_filter.currentText()],
                                          score_min=lo if use_score else None,
                                          score_max=hi if use_score else None))

    def toggle_unlabelled_filter(self) -> None:
        self.unlabelled_box.setChecked(not self.unlabelled_box.isChecked())

    # --- moving ------------------------------------------------------------------------------------
    def go_next(self) -> None:
        if self.queue.next() is not None:
            self.show_current()
        else:
            self.statusBar().showMessage("end of the queue", 3000)

    def go_previous(self) -> None:
        if self.queue.previous() is not None:
            self.show_current()
        else:
            self.statusBar().showMessage("start of the queue", 3000)

    def go_next_unlabelled(self) -> None:
        if self.queue.next_unlabelled() is not None:
            self.show_current()
        else:
            self.statusBar().showMessage("every spectrum in the queue is graded", 5000)

    def go_first(self) -> None:
        if self.queue.visible:
            self.queue.go_to(self.queue.visible[0])
            self.show_current()

    def go_last(self) -> None:
        if self.queue.visible:
            self.queue.go_to(self.queue.visible[-1])
            self.show_current()

    def go_to_text(self, text: str) -> bool:
        """Show the first item whose object id or file name contains ``text``; False when none does."""
        for i, item in enumerate(self.queue.items):
            if text in item.object_id or text in Path(item.path).name:
                self.queue.go_to(i)
                self.show_current()
                return True
        return False

    @staticmethod
    def _key(item: QueueItem) -> tuple:
        return (item.path, item.index, item.spaxel)

    def show_current(self) -> None:
        """Show the current item: at once when prefetched, else after a worker has read it."""
        item = self.queue.current
        if item is None:
            return
        self._ticket += 1
        self._requested_at = time.perf_counter()
        self._sync_queue_selection()
        ready = self._loaded_items.get(self._key(item))
        if ready is not None:
            self._display(ready)
        else:
            self.statusBar().showMessage(f"reading {item.display_name}…")
            ticket = ("load", self._ticket)
            self.workers.submit(ticket, lambda: load_item(item, self.detectors, self.cache))
        # Prefetch after this spectrum is painted: a reading worker competes with the drawing for the GIL.
        self._prefetch_timer.start(PREFETCH_DELAY_MS)

    def _prefetch(self) -> None:
        visible = self.queue.visible
        after = [i for i in visible if i > self.queue.position][:PREFETCH]
        before = [i for i in visible if i < self.queue.position][-1:]  # going back is common too
        after += before if PREFETCH else []
        for i in after:
            item = self.queue.items[i]
            key = self._key(item)
            if key not in self._loaded_items:
                self._loaded_items[key] = None  # placeholder: requested
                self.workers.submit(("prefetch", key), lambda it=item: load_item(it, self.detectors, self.cache))
        # Keep the memory of prefetched items bounded.
        while len(self._loaded_items) > 64:
            self._loaded_items.pop(next(iter(self._loaded_items)))

    def _job_finished(self, ticket, result) -> None:
        kind = ticket[0]
        if kind == "open":
            if ticket[1] == self._open_ticket:
                self._opened(result)
        elif kind == "prefetch":
            self._loaded_items[ticket[1]] = result
            if result.n_in_file > 1:
                self._expand(result)
        elif kind == "load" and ticket[1] == self._ticket:
            self._loaded_items[self._key(result.item)] = result
            self._display(result)
        elif kind == "refit" and ticket[1] == self._ticket and self.state is not None:
            self.state.apply_refit(result)
            self._redraw_markers()
            self.statusBar().showMessage(f"refit: z_bg = {self.state.z:.5f} ± {self.state.z_err:.5f}", 8000)
            self.refit_done.emit(self.state)
        elif kind == "spaxel" and ticket[1] == self._ticket:
            self._display(result, keep_cube=True)

    def _job_failed(self, ticket, message: str) -> None:
        kind = ticket[0]
        if kind == "open":
            self.statusBar().showMessage(f"could not open: {message}", 15000)
            return
        if kind == "prefetch":
            self._loaded_items.pop(ticket[1], None)
            return
        if ticket[1] != self._ticket:
            return
        self.statusBar().showMessage(message, 15000)
        if kind == "load":
            self.loaded = None
            self.state = None
            self.info_label.setText(f"<b>Could not read</b><br>{html.escape(message)}")
            self.item_shown.emit(None)

    def _expand(self, loaded: LoadedItem) -> None:
        index = self.queue.items.index(loaded.item) if loaded.item in self.queue.items else -1
        if index >= 0:
            before = len(self.queue)
            self.queue.insert_siblings(index, loaded.n_in_file)
            if len(self.queue) != before:
                self._rebuild_queue_list()

    # --- display -----------------------------------------------------------------------------------
    def _display(self, loaded: LoadedItem, keep_cube: bool = False) -> None:
        self._release_cube(loaded.cube)
        self.loaded = loaded
        if loaded.n_in_file > 1:
            self._expand(loaded)
        self.state = ViewState(loaded.spectrum, loaded.gridded, loaded.detection,
                               smoothing_half_width=self.smoothing_half_width)
        self.spectrum_view.show_state(self.state)
        self.stamps_view.show_stamps(self.state.stamps())
        self._show_info()
        self._show_label()
        if loaded.cube is not None and not keep_cube:
            self._show_cube(loaded)
        elif loaded.cube is None:
            self.cube_dock.hide()
        self.last_latency_ms = 1e3 * (time.perf_counter() - self._requested_at)
        self.statusBar().showMessage(f"{loaded.item.display_name}: shown in {self.last_latency_ms:.0f} ms", 4000)
        self.item_shown.emit(self.state)

    def _redraw_markers(self) -> None:
        if self.state is None:
            return
        self.spectrum_view.update_markers(self.state)
        self.stamps_view.show_stamps(self.state.stamps())
        self._show_info()

    def _show_info(self) -> None:
        if self.state is None or self.loaded is None:
            return
        s = self.state.spectrum
        d = self.state.detection
        meta = s.meta
        if "ifu" in meta:
            ident = f"plate-ifu {meta.get('plate')}-{meta.get('ifu')}"
        elif "fiber" in meta:
            ident = f"plate-mjd-fiber {meta.get('plate'):04d}-{meta.get('mjd'):05d}-{meta.get('fiber'):04d}"
        else:
            ident = ""

        def num(value, fmt):
            return format(value, fmt) if value is not None and math.isfinite(value) else "—"

        z_err = f" ± {self.state.z_err:.5f}" if math.isfinite(self.state.z_err) else ""
        rows = [
            ("Object", html.escape(s.object_id)), ("ID", html.escape(ident)),
            ("RA, Dec", f"{num(s.ra, '.5f')}, {num(s.dec, '.5f')}"),
            ("z_fg", num(s.z_fg, ".5f")),
            ("z_bg", f"{self.state.z:.5f}{z_err} ({self.state.z_origin})"),
            ("Score", num(d.score, ".3f") if d is not None else "—"),
            ("Lines", str(d.n_lines) if d is not None else "—"),
            ("Probabilities", self.state.probability_source),
            ("Model", html.escape(d.model_version or "none (physics)") if d is not None else "none"),
            ("Survey", html.escape(s.survey)),
            ("File", html.escape(Path(s.source).name)),
        ]
        if s.flags:
            rows.append(("Caveats", html.escape(", ".join(sorted(s.flags)))))
        body = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
        self.info_label.setText(f"<table cellspacing='2'>{body}</table>")
        self.info_label.setToolTip(s.source)

    # --- grading ------------------------------------------------------------------------------------
    def _show_label(self) -> None:
        item = self.queue.current
        if item is None or self.store is None:
            self.grading.show_label(None, summary="grading off: no label store" if self.store is None else "")
            return
        event = self.store.latest(item.label_id, self.inspector)
        history = self.store.history(item.label_id)
        others = len({e.inspector for e in history} - {self.inspector})
        summary = "not graded" if event is None else f"graded {event.grade} by {event.inspector} ({event.time[:16]})"
        if others:
            summary += f"; {others} other inspector(s)"
        if event is None:
            self.grading.show_label(None, summary=summary)
        else:
            self.grading.show_label(event.grade, event.flags, event.comment, summary)

    def set_grade(self, grade: str, advance: bool = True) -> None:
        """Record ``grade`` (with the flags, comment and shown z_bg) for the item on show, then move on."""
        if self.store is None:
            self.statusBar().showMessage("grading is off: no label store could be opened", 8000)
            return
        if self.state is None or self.loaded is None:
            return
        from ..core.errors import CasigloError
        from ..core.labels import LabelEvent

        s = self.state.spectrum
        d = self.state.detection
        item = self.loaded.item
        finite = [v for v in (s.ra, s.dec) if v is not None and math.isfinite(v)]
        try:
            self.store.add_event(LabelEvent(
                object_id=item.label_id, grade=grade, inspector=self.inspector, source=s.source,
                z_bg=self.state.z if grade != "none" and math.isfinite(self.state.z) else None,
                flags=self.grading.chosen_flags(), comment=self.grading.comment.text(),
                model_version=(d.model_version or None) if d is not None else None,
                score=float(d.score) if d is not None and math.isfinite(d.score) else None,
                ra=s.ra if len(finite) == 2 else None, dec=s.dec if len(finite) == 2 else None,
                z_fg=s.z_fg if math.isfinite(s.z_fg) else None,
            ))
        except CasigloError as exc:
            # The grade was not stored: say why and stay on this spectrum so nothing is silently lost.
            self.statusBar().showMessage(f"{item.label_id}: grade NOT saved: {exc}", 15000)
            return
        index = self.queue.items.index(item)
        self.queue.record_grade(index, grade)
        self._grades[item.label_id] = grade
        self._refresh_queue_entry(index)
        self._update_progress()
        self.statusBar().showMessage(f"{item.label_id}: graded {grade}", 4000)
        if advance:
            if self.queue.filter.active:
                self.queue.refresh()
                self._rebuild_queue_list()
            self.go_next()
        else:
            self._show_label()

    def grade_none(self) -> None:
        self.set_grade("none")

    def grade_possible(self) -> None:
        self.set_grade("possible")

    def grade_probable(self) -> None:
        self.set_grade("probable")

    def grade_likely(self) -> None:
        self.set_grade("likely")

    def focus_comment(self) -> None:
        self.grading.comment.setFocus()
        self.grading.comment.selectAll()

    def _leave_comment(self) -> None:
        self.setFocus()
        self.spectrum_view.setFocus()

    def escape(self) -> None:
        if self.help_overlay.isVisible():
            self.help_overlay.hide()
        else:
            self._leave_comment()

    # --- redshift -------------------------------------------------------------------------------------
    def _nudge(self, pixels: float) -> None:
        if self.state is not None:
            self.state.nudge(pixels)
            self._redraw_markers()

    def nudge_up(self) -> None:
        self._nudge(1)

    def nudge_down(self) -> None:
        self._nudge(-1)

    def nudge_up_10(self) -> None:
        self._nudge(10)

    def nudge_down_10(self) -> None:
        self._nudge(-10)

    def set_redshift(self, z: float) -> None:
        """Put the marker set at ``z`` (as dragging a marker does)."""
        if self.state is not None:
            self.state.set_z(z, "manual")
            self._redraw_markers()

    def _marker_dragged(self, z: float) -> None:
        self.set_redshift(z)

    def reset_redshift(self) -> None:
        if self.state is not None:
            self.state.reset_z()
            self._redraw_markers()

    def refit(self) -> None:
        """Physics refinement of z_bg from the shown redshift, on a worker."""
        if self.state is None:
            return
        if not self.detectors.can_refit:
            self.statusBar().showMessage("refit needs the physics line search (not available)", 8000)
            return
        gridded, z = self.state.gridded, self.state.z
        self.statusBar().showMessage(f"refitting from z = {z:.5f}…")
        self.workers.submit(("refit", self._ticket), lambda: self.detectors.refine(gridded, z))

    # --- view toggles --------------------------------------------------------------------------------
    def toggle_flux(self) -> None:
        self.spectrum_view.set_visibility(flux=not self.spectrum_view.show_flux)

    def toggle_model(self) -> None:
        self.spectrum_view.set_visibility(model=not self.spectrum_view.show_model)

    def toggle_residual(self) -> None:
        self.spectrum_view.set_visibility(residual=not self.spectrum_view.show_residual)

    def toggle_foreground_markers(self) -> None:
        self.spectrum_view.set_visibility(foreground=not self.spectrum_view.show_foreground)

    def _set_smoothing(self, half_width: int) -> None:
        self.smoothing_half_width = max(0, min(half_width, 25))
        if self.state is not None:
            self.state.smoothing_half_width = self.smoothing_half_width
            self.spectrum_view.show_state(self.state, auto_range=False)
        self.statusBar().showMessage(f"smoothing: {2 * self.smoothing_half_width + 1} px (ivar-weighted)", 3000)

    def smooth_more(self) -> None:
        self._set_smoothing(self.smoothing_half_width + 1)

    def smooth_less(self) -> None:
        self._set_smoothing(self.smoothing_half_width - 1)

    def toggle_help(self) -> None:
        if self.help_overlay.isVisible():
            self.help_overlay.hide()
        else:
            self.help_overlay.show_over(self)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.help_overlay.isVisible():
            self.help_overlay.show_over(self)

    # --- MaNGA cubes -------------------------------------------------------------------------------
    def _show_cube(self, loaded: LoadedItem) -> None:
        cube = loaded.cube
        maps = {"white light": np.asarray(cube.white_light(), dtype=np.float64)}
        scan_rows = [it for it in self.queue.items if it.path == loaded.item.path and it.spaxel is not None]
        if scan_rows:
            shape = maps["white light"].shape
            score = np.full(shape, np.nan)
            snr = np.full(shape, np.nan)
            for it in scan_rows:
                x, y = it.spaxel
                if 0 <= y < shape[0] and 0 <= x < shape[1]:
                    score[y, x] = it.score
                    snrs = [v for k, v in it.scan.items() if k.startswith("snr_") and math.isfinite(v)]
                    snr[y, x] = max(snrs) if snrs else np.nan
            maps["scan score"] = score
            maps["max line S/N"] = snr
        spaxel = loaded.item.spaxel or cube_centre(cube)
        self.cube_view.set_maps(maps, spaxel)
        self.cube_dock.show()

    def pick_spaxel(self, x: int, y: int) -> None:
        """Show spaxel (x, y) of the cube on show."""
        if self.loaded is None or self.loaded.cube is None:
            return
        cube, item = self.loaded.cube, self.loaded.item
        base_id = item.object_id.split("/")[0] if item.object_id else ""
        spaxel_item = QueueItem(path=item.path, object_id=f"{base_id}/{x},{y}" if base_id else "",
                                spaxel=(x, y))
        self._ticket += 1
        self._requested_at = time.perf_counter()
        self.workers.submit(("spaxel", self._ticket),
                            lambda: load_item(spaxel_item, self.detectors, None, cube=cube))

    def aperture_sum(self, x: int, y: int, radius: float) -> None:
        if self.loaded is None or self.loaded.cube is None:
            return
        cube, item = self.loaded.cube, self.loaded.item
        detectors = self.detectors

        def work():
            spectrum = cube.aperture(x, y, radius)
            gridded = to_model_grid(spectrum)
            detection = detectors.detect(gridded)
            return LoadedItem(item=QueueItem(path=item.path, object_id=spectrum.object_id, spaxel=(x, y)),
                              spectrum=spectrum, gridded=gridded, detection=detection, cube=cube)

        self._ticket += 1
        self._requested_at = time.perf_counter()
        self.cube_view.set_selected(x, y, radius)
        self.workers.submit(("spaxel", self._ticket), work)

    # --- for tests and the screenshot mode --------------------------------------------------------
    def wait_until_shown(self, timeout_s: float = 30.0) -> bool:
        """Process events until the requested item is on show (for --screenshot and tests)."""
        from PyQt6.QtWidgets import QApplication

        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            QApplication.processEvents()
            if self.loaded is not None and self.loaded.item is self.queue.current:
                return True
            time.sleep(0.005)
        return False

