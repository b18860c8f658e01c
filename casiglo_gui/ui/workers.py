"""Run slow work (reading, inference, refits) on a thread pool and hand results back to the GUI thread."""
from __future__ import annotations

import traceback
from collections.abc import Callable

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

from ..core.errors import CasigloError


class _Signals(QObject):
    finished = pyqtSignal(object, object)   # (ticket, result)
    failed = pyqtSignal(object, str)        # (ticket, message)


class _Task(QRunnable):
    def __init__(self, ticket, fn: Callable[[], object], signals: _Signals):
        super().__init__()
        self.ticket = ticket
        self.fn = fn
        self.signals = signals
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn()
        except CasigloError as exc:
            self.signals.failed.emit(self.ticket, str(exc))
        except Exception as exc:  # a worker must report, never take the window down
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            self.signals.failed.emit(self.ticket, f"unexpected error: {detail}")
        else:
            self.signals.finished.emit(self.ticket, result)


class Workers(QObject):
    """A small facade over ``QThreadPool``: ``submit(ticket, fn)``; results arrive as signals.

    Callers tag each job with a ticket and ignore results whose ticket is stale (the user moved on).
    """

    finished = pyqtSignal(object, object)
    failed = pyqtSignal(object, str)

    def __init__(self, parent=None, max_threads: int = 2):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._signals = _Signals()
        self._signals.finished.connect(self.finished)
        self._signals.failed.connect(self.failed)

    def submit(self, ticket, fn: Callable[[], object]) -> None:
        self.pool.start(_Task(ticket, fn, self._signals))

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)
