"""The inspector's main window: a thin view over :class:`~casiglo_gui.core.inspection.InspectionSession`.

The session holds the queue, what is on show, the draft grade and the grading rules; the window binds
the keys of :data:`~casiglo_gui.core.inspection.actions.KEYMAP` to actions, loads items on
:class:`~casiglo_gui.ui.workers.Workers`, and redraws when the session says what changed.
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
    QApplication, QCheckBox, QComboBox, QDockWidget, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QListView,
    QMainWindow, QScrollArea, QSplitter, QVBoxLayout, QWidget,
)

from ..core.inspection import (
    KEYMAP, DetectorSet, GradeRefused, InspectionSession, LoadedItem, QueueFilter, QueueItem, SpectrumCache,
    detect_item, key_variants, load_item,
)
from ..core.inspection.cutout import CutoutFetcher
from ..core.inspection.info import info_rows, sky_links
from ..core.inspection.loading import cube_centre
from ..core.inspection.opening import OpenedQueue, open_queue
from ..core.inspection.queue import OPEN_DIALOG_PATTERNS
from ..core.preprocessing import to_model_grid
from .grading_panel import GradingPanel
from .help_overlay import HelpOverlay
from .queue_model import QueueListModel
from .info_table import InfoTable
from .sky_image import SkyImagePanel
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
# A spectrum drawn before its verdict (the first one at launch) is judged this long after, so that its
# paint does not wait for the GIL behind the detection (and, the first time, the line search's imports).
DETECT_DELAY_MS = 20
MOVE_ACTIONS = {"go_next": "end of the queue", "go_previous": "start of the queue",
                "go_next_ungraded": "every spectrum in the queue is graded", "go_first": "the queue is empty",
                "go_last": "the queue is empty"}


class MainWindow(QMainWindow):
    """The inspector window.

    Parameters
    ----------
    store : LabelStore or None
        Where grades go (``casiglo_gui.core.labels``); None = grading disabled (said when grading).
    detectors : DetectorSet
    settings : QSettings
    inspector : str
        Name written with every grade.
    store_note : str
        Which store grades go to, or why there is none (shown in the status bar and the title).
    """

    item_shown = pyqtSignal(object)      # the ViewState on show (None: the no-spectrum state)
    verdict_shown = pyqtSignal(object)   # the ViewState once a spectrum drawn before its verdict has it
    queue_loaded = pyqtSignal(int)
    refit_done = pyqtSignal(object)
    graded = pyqtSignal(object)          # the stored LabelEvent

    def __init__(self, store, detectors: DetectorSet, settings: QSettings, inspector: str, parent=None,
                 store_note: str = ""):
        super().__init__(parent)
        self.detectors = detectors
        self.settings = settings
        self.session = InspectionSession(store, inspector, store_note)
        self.session.subscribe(self._session_changed)
        self._open_ticket = 0
        self._pending_open = ([], False, None)
        self.cache = SpectrumCache()
        self.cutouts = CutoutFetcher()
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

    @property
    def cube_view(self):
        if self._cube_view is None:
            from .cube_view import CubeView

            self._cube_view = CubeView()
            self._cube_view.spaxel_picked.connect(self.pick_spaxel)
            self._cube_view.aperture_requested.connect(self.aperture_sum)
            self.cube_dock.setWidget(self._cube_view)
        return self._cube_view

    @property
    def help_overlay(self) -> HelpOverlay:
        if self._help_overlay is None:
            self._help_overlay = HelpOverlay(self)
        return self._help_overlay

    def _help_visible(self) -> bool:
        return self._help_overlay is not None and self._help_overlay.isVisible()

    # The session's state, under the names tests and the benchmark use.
    @property
    def store(self):
        return self.session.store

    @property
    def inspector(self) -> str:
        return self.session.inspector

    @property
    def queue(self):
        return self.session.queue

    @property
    def state(self):
        return self.session.state

    @property
    def loaded(self):
        return self.session.loaded

    @property
    def smoothing_half_width(self) -> int:
        return self.session.smoothing_half_width

    # --- construction ----------------------------------------------------------------------------------
    def _build(self) -> None:
        self.spectrum_view = SpectrumView()
        self.spectrum_view.redshift_dragged.connect(self.session.set_redshift)
        self.stamps_view = StampsView()
        self.stamps_view.stamp_clicked.connect(self.session.choose_line)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.spectrum_view)
        self.splitter.addWidget(self.stamps_view)
        self.splitter.setSizes([560, 300])
        self.setCentralWidget(self.splitter)
        self._build_queue_dock()
        self._build_info_dock()

        self._cube_view = None   # built when a cube is first opened: ~50 ms of the launch otherwise
        self.cube_dock = self._dock("MaNGA cube", QWidget(), Qt.DockWidgetArea.RightDockWidgetArea)
        self.cube_dock.hide()

        self._help_overlay: HelpOverlay | None = None   # built on first use: a sixth of the start-up time
        self.model_status = QLabel(self.detectors.status)
        self.statusBar().addPermanentWidget(self.model_status)
        self._build_menus()

    def _build_queue_dock(self) -> None:
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
        # Once chosen, the keys go back to the spectra (else Up/Down would go on changing the filter).
        self.grade_filter.activated.connect(lambda _i: self._return_keys())
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
            box.editingFinished.connect(self._return_keys)
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

    def _build_info_dock(self) -> None:
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(2, 2, 2, 2)
        self.banner = QLabel("")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.hide()
        side_layout.addWidget(self.banner)
        self.info_label = InfoTable("No spectrum")
        side_layout.addWidget(self.info_label)
        self.sky_image = SkyImagePanel()
        self.sky_image.fetch_requested.connect(self.fetch_cutout)
        self.sky_image.auto_fetch.setChecked(self._bool_setting("view/auto_cutout", False))
        self.grading = GradingPanel()
        self.grading.grade_clicked.connect(self.grade)
        self.grading.flag_clicked.connect(self.session.toggle_flag)
        self.grading.comment.textChanged.connect(self.session.set_comment)
        self.grading.comment.done.connect(self._return_keys)
        side_layout.addWidget(self.grading)
        side_layout.addWidget(self.sky_image)
        side_layout.addStretch(1)
        # Scrolled, so a long info panel never forces the window taller than the screen.
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.info_dock = self._dock("Info and grade", scroll, Qt.DockWidgetArea.RightDockWidgetArea)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, handler in (("&Open files or a scan table…", self.open_dialog),
                              ("Open &folder…", self.open_folder_dialog)):
            action = QAction(text, self)
            action.triggered.connect(handler)
            file_menu.addAction(action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        export_action = QAction("&Export target list…", self)
        export_action.triggered.connect(self.export_dialog)
        file_menu.addAction(export_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
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
            for key in binding.keys:
                for variant in key_variants(key):
                    shortcut = QShortcut(QKeySequence(variant), self)
                    shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
                    shortcut.activated.connect(lambda b=binding: self.run_action(b.action, *b.args))
                    self.shortcuts.setdefault(binding.name, []).append(shortcut)

    def run_action(self, action: str, *args) -> None:
        """Do a named action of the keymap: the window's own (views, files) or the session's."""
        if action in MOVE_ACTIONS:
            self._move(action)
        elif hasattr(self, action):
            getattr(self, action)(*args)
        else:
            getattr(self.session, action)(*args)

    # --- preferences ---------------------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(*default_size())
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
        self.session.set_smoothing(int(self.settings.value("view/smoothing", 2)))
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
        s.setValue("view/auto_cutout", self.sky_image.auto_fetch.isChecked())
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

    # --- opening and exporting -----------------------------------------------------------------------
    def open_paths(self, paths: list[str], remember: bool = True, start: str | None = None) -> None:
        """Open files, folders or scan tables as the queue (scored items first, by score), on a worker that
        also reads the first item to show.

        ``start``: then show the first item whose object id or file name contains it.
        """
        paths = [str(p) for p in paths]
        self.statusBar().showMessage(f"opening {', '.join(Path(p).name for p in paths)}…")
        store, inspector, detectors, cache = self.store, self.inspector, self.detectors, self.cache
        self._open_ticket += 1
        self._pending_open = (paths, remember, start)
        self.workers.submit(("open", self._open_ticket),
                            lambda: open_queue(paths, store, inspector, detectors, cache, start, detect_first=False))

    def _opened(self, opened: OpenedQueue) -> None:
        paths, remember, start = self._pending_open
        self.set_queue(opened.items, opened.grades, start=start, first=opened.first)
        if opened.errors:
            self.statusBar().showMessage("; ".join(str(e) for e in opened.errors[:3]), 15000)
        elif not opened.items:
            self.statusBar().showMessage("nothing to inspect in " + ", ".join(paths), 15000)
        if remember and opened.items:
            self._remember(paths)

    def set_queue(self, items: list[QueueItem], grades: dict | None = None, start: str | None = None,
                  first: LoadedItem | None = None) -> None:
        self._loaded_items.clear()
        if first is not None:
            self._loaded_items[self._key(first.item)] = first
        self.session.set_items(items, grades or {}, self._chosen_filter(items))
        self.queue_model.set_queue(self.queue)
        self._update_progress()
        self.queue_loaded.emit(len(items))
        if start and self.session.go_to_text(start) is not None:
            self.show_current()
            return
        if start:
            self.statusBar().showMessage(f"no spectrum matching {start!r} in the queue", 10000)
        if self.queue.current is not None:
            self.show_current()
        else:
            self._show_nothing("No spectrum: the queue is empty")

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open spectra or a scan table", "", OPEN_DIALOG_PATTERNS)
        if paths:
            self.open_paths(paths)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of spectra")
        if folder:
            self.open_paths([folder])

    def export_dialog(self) -> None:
        """File > Export target list: the consensus of this store, graded possible or better."""
        if self.store is None:
            self.statusBar().showMessage(f"nothing to export: {self.session.store_note}", 8000)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export target list", "targets.csv",
                                              "CSV (*.csv);;ECSV (*.ecsv);;FITS (*.fits);;VOTable (*.vot)")
        if path:
            self.export_target_list(path)

    def export_target_list(self, path: str, min_grade: str = "possible") -> bool:
        from ..core.errors import CasigloError
        from ..core.labels.export import consensus_table, write_table

        try:
            table = consensus_table(self.store.consensus_table(), min_grade=min_grade)
            write_table(table, path, overwrite=True)
        except (CasigloError, OSError, ValueError) as exc:
            self.statusBar().showMessage(f"target list NOT written: {exc}", 15000)
            return False
        self.statusBar().showMessage(f"target list: {len(table)} objects graded {min_grade} or better -> {path}",
                                     10000)
        return True

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

    def _update_progress(self) -> None:
        graded, total = self.queue.progress()
        shown = len(self.queue.visible)
        extra = f" ({shown} shown)" if self.queue.filter.active else ""
        self.progress_label.setText(f"{graded} of {total} graded{extra}")

    def _queue_clicked(self, index) -> None:
        self.queue.go_to(int(self.queue_model.data(index, Qt.ItemDataRole.UserRole)))
        self.show_current()

    def _chosen_filter(self, items) -> QueueFilter:
        lo, hi = self.score_min.value(), self.score_max.value()
        scored = any(math.isfinite(it.score) for it in items)
        use_score = scored and (lo > 0.0 or hi < 1.0)
        return QueueFilter(unlabelled_only=self.unlabelled_box.isChecked(),
                           grades=GRADE_FILTERS[self.grade_filter.currentText()],
                           score_min=lo if use_score else None, score_max=hi if use_score else None)

    def _filter_changed(self) -> None:
        self.session.set_filter(self._chosen_filter(self.queue.items))
        self._rebuild_queue_list()
        if self.queue.current is not None and (self.loaded is None or self.loaded.item is not self.queue.current):
            self.show_current()

    def toggle_ungraded_filter(self) -> None:
        self.unlabelled_box.setChecked(not self.unlabelled_box.isChecked())

    # --- moving ------------------------------------------------------------------------------------
    def _move(self, action: str) -> None:
        if getattr(self.session, action)() is not None:
            self.show_current()
        else:
            self.statusBar().showMessage(MOVE_ACTIONS[action], 4000)

    def go_next(self) -> None:
        self._move("go_next")

    @staticmethod
    def _key(item: QueueItem) -> tuple:
        # A scan row's object id too: a scan table may list one file in several rows (one per object). Not
        # the id a file's item learns when it is read (load_item fills it in): a key that changed on loading
        # left every prefetched spectrum unfound, read a second time, and the first step after launch cold.
        return (item.path, item.index, item.spaxel, item.object_id if item.scan else "")

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
        elif kind == "detect":
            waiting = self._loaded_items.get(ticket[1])
            if waiting is not None and waiting.item is result.item:   # not an item of a queue since replaced
                self._loaded_items[ticket[1]] = result
            if self.session.show_verdict(result):
                self.statusBar().showMessage(f"{result.item.display_name}: judged in "
                                             f"{result.timings_ms.get('detect', float('nan')):.0f} ms", 4000)
                self.verdict_shown.emit(self.state)
        elif kind == "load" and ticket[1] == self._ticket:
            self._loaded_items[self._key(result.item)] = result
            self._display(result)
        elif kind == "refit" and ticket[1] == self._ticket and self.state is not None:
            self.session.apply_refit(result)
            self.statusBar().showMessage(f"refit: z_bg = {self.state.z:.5f} ± {self.state.z_err:.5f} "
                                         f"(X: back to the detector's)", 8000)
            self.refit_done.emit(self.state)
        elif kind == "spaxel" and ticket[1] == self._ticket:
            self._display(result, keep_cube=True)
        elif kind == "cutout" and ticket[1] == self._ticket:
            self.sky_image.show_result(result)

    def _job_failed(self, ticket, message: str) -> None:
        kind = ticket[0]
        if kind == "open":
            self.statusBar().showMessage(f"could not open: {message}", 15000)
            return
        if kind in ("prefetch", "detect"):
            self._loaded_items.pop(ticket[1], None)
            if kind == "detect":
                self.statusBar().showMessage(f"the detector failed: {message}", 15000)
            return
        if ticket[1] != self._ticket:
            return
        self.statusBar().showMessage(message, 15000)
        if kind == "load" and self.queue.current is not None:
            self._release_cube()
            self.session.show_unreadable(self.queue.current, message)

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
        if loaded.n_in_file > 1:
            self._expand(loaded)
        self.session.show_loaded(loaded)
        if loaded.cube is not None and not keep_cube:
            self._show_cube(loaded)
        elif loaded.cube is None:
            self.cube_dock.hide()
        self.last_latency_ms = 1e3 * (time.perf_counter() - self._requested_at)
        self.statusBar().showMessage(f"{loaded.item.display_name}: shown in {self.last_latency_ms:.0f} ms", 4000)
        if loaded.detection_pending:
            QTimer.singleShot(DETECT_DELAY_MS, lambda: self._judge(loaded))
        self.item_shown.emit(self.state)

    def _judge(self, loaded: LoadedItem) -> None:
        """Run the detectors on ``loaded`` (drawn before its verdict), on a worker."""
        self.workers.submit(("detect", self._key(loaded.item)), lambda: detect_item(loaded, self.detectors))

    def _session_changed(self, what: str) -> None:
        if what == "item":
            if self.state is None:
                self._show_nothing(f"No spectrum: {self.session.unreadable}")
                self.item_shown.emit(None)
                return
            self.spectrum_view.show_state(self.state)
            self._show_stamps()
            self._show_info()
            self.sky_image.show_idle(bool(sky_links(self.state.spectrum.ra, self.state.spectrum.dec)))
            if self.sky_image.auto_fetch.isChecked():
                self.fetch_cutout()
        elif what == "redshift":
            self.spectrum_view.update_markers(self.state)
            self._show_stamps()
            self._show_info()
        elif what == "draft":
            self._show_draft()
        elif what == "grades":
            self._rebuild_queue_list()

    def _show_nothing(self, reason: str) -> None:
        """The no-spectrum state: nothing of a previous item stays on show."""
        self.spectrum_view.show_nothing(reason)
        self.stamps_view.show_nothing()
        self.banner.hide()
        self.sky_image.show_idle(False)
        if self.session.unreadable is not None and self.loaded is not None:
            self.info_label.set_message(f"<b>{html.escape(self.loaded.item.display_name)}</b><br><b>Could not read</b>"
                                    f"<br>{html.escape(self.session.unreadable)}"
                                    "<br><i>Grading is refused until a spectrum is on show.</i>")
        else:
            self.info_label.set_message(html.escape(reason))
        self.grading.show_draft(None, "")

    def _show_stamps(self) -> None:
        # The draft (marks, selection, grade panel) is drawn on its own "draft" change, which a new item sends
        # before "item"; a new z leaves it as it is.
        self.stamps_view.show_stamps(self.state.stamps(), self.state.line_snrs())

    def _show_draft(self) -> None:
        draft = self.session.draft
        self.stamps_view.show_marks(draft.lines, draft.selected_line)
        event = self.session.latest_event()
        self.grading.show_draft(draft, self._grade_summary(event), event.grade if event else None)

    def _grade_summary(self, event) -> str:
        if self.store is None:
            return f"grading off: {self.session.store_note}"
        if event is None:
            return "not graded"
        return f"graded {event.grade} by {event.inspector} ({event.time[:16]})"

    def _show_info(self) -> None:
        if self.state is None:
            return
        banners, rows = info_rows(self.session)
        self.banner.setText("".join(banners))
        self.banner.setVisible(bool(banners))
        self.info_label.set_rows(rows)
        self.info_label.setToolTip(self.state.spectrum.source)

    # --- grading ------------------------------------------------------------------------------------
    def grade(self, grade: str, advance: bool = True) -> None:
        """Record ``grade`` for the item on show (with the draft), confirm it visibly, then move on."""
        try:
            event = self.session.grade(grade)
        except GradeRefused as exc:
            self.statusBar().showMessage(str(exc), 15000)
            self.grading.confirm(str(exc), ok=False)
            return
        z = f", z_bg {event.z_bg:.5f}" if event.z_bg is not None else ""
        message = f"saved: {event.object_id} graded {grade}{z}"
        self.statusBar().showMessage(message, 4000)
        self.grading.confirm(message, ok=True)
        self.graded.emit(event)
        if not advance:
            self._show_draft()
        elif self.session.advance_after_grade() is not None:
            self._rebuild_queue_list()
            self.show_current()
        else:
            self._rebuild_queue_list()
            self._show_draft()
            self.statusBar().showMessage(message + "; end of the queue", 8000)

    def undo(self) -> None:
        try:
            event = self.session.undo()
        except GradeRefused as exc:
            self.show_current()
            self.statusBar().showMessage(str(exc), 15000)
            self.grading.confirm(str(exc), ok=False)
            return
        self._rebuild_queue_list()
        self.show_current()
        state = "ungraded" if event.withdraws else event.grade
        message = f"undone: {event.object_id} is {state} again (recorded as a new event)"
        self.statusBar().showMessage(message, 8000)
        self.grading.confirm(message, ok=True)

    def focus_comment(self) -> None:
        self.grading.comment.setFocus()
        self.grading.comment.selectAll()

    def _return_keys(self) -> None:
        self.setFocus()
        self.spectrum_view.setFocus()

    def escape(self) -> None:
        if self._help_visible():
            self.help_overlay.hide()
        else:
            self._return_keys()

    # --- redshift -------------------------------------------------------------------------------------
    def cycle_solution(self) -> None:
        if self.state is None:
            return
        solutions = self.state.solutions()
        if not solutions or (len(solutions) == 1 and self.state.solution_index == 0):
            self.statusBar().showMessage("the detector proposed no other solution", 5000)
            return
        index = self.session.cycle_solution()
        self.statusBar().showMessage(f"solution {index + 1} of {len(solutions)} ({self.state.z_origin}): "
                                     f"z_bg = {self.state.z:.5f}", 5000)

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

    def smooth(self, step: int) -> None:
        half_width = self.session.set_smoothing(self.smoothing_half_width + step)
        if self.state is not None:
            self.spectrum_view.show_state(self.state, auto_range=False)
        self.statusBar().showMessage(f"smoothing: {2 * half_width + 1} px (ivar-weighted)", 3000)

    def fetch_cutout(self) -> None:
        """The sky image around the object, from the cache or the cutout service, on a worker."""
        if self.state is None:
            return
        s = self.state.spectrum
        fetcher, ticket = self.cutouts, ("cutout", self._ticket)
        self.sky_image.show_waiting(fetcher.url(s.ra, s.dec) if sky_links(s.ra, s.dec) else "")
        self.workers.submit(ticket, lambda: fetcher.fetch(s.ra, s.dec))

    def toggle_help(self) -> None:
        if self._help_visible():
            self.help_overlay.hide()
        else:
            self.help_overlay.show_over(self)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._help_visible():
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
    def wait_until_shown(self, timeout_s: float = 30.0, verdict: bool = True) -> bool:
        """Process events until the requested item is on show (for --screenshot and tests), with the
        detectors' verdict unless ``verdict`` is False (then: drawn, perhaps still being judged)."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            QApplication.processEvents()
            if (self.loaded is not None and self.loaded.item is self.queue.current
                    and not (verdict and self.loaded.detection_pending)):
                return True
            time.sleep(0.005)
        return False


def default_size() -> tuple[int, int]:
    """The first-run window size: 1400x900, or 92% of a smaller screen (never larger than the screen)."""
    screen = QApplication.primaryScreen()
    if screen is None:
        return 1400, 900
    available = screen.availableGeometry()
    return min(1400, int(0.92 * available.width())), min(900, int(0.92 * available.height()))
