"""The queue list as a Qt model over :class:`~casiglo_gui.core.inspection.InspectionQueue` (lazy: a
100,000-row scan table costs nothing until rows are scrolled into view)."""
from __future__ import annotations

import math
from pathlib import Path

from PyQt6.QtCore import QAbstractListModel, QModelIndex, Qt

from ..core.inspection import InspectionQueue

GRADE_MARK = {"none": "0", "possible": "1", "probable": "2", "likely": "3"}


class QueueListModel(QAbstractListModel):
    """Rows are the queue's visible items; ``UserRole`` gives the item's index in the queue."""

    def __init__(self, queue: InspectionQueue, parent=None):
        super().__init__(parent)
        self.queue = queue
        self._rows: list[int] = queue.visible

    def set_queue(self, queue: InspectionQueue) -> None:
        self.beginResetModel()
        self.queue = queue
        self._rows = queue.visible
        self.endResetModel()

    def refresh(self) -> None:
        """After the filter changed."""
        self.set_queue(self.queue)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        i = self._rows[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return i
        if role == Qt.ItemDataRole.DisplayRole:
            item = self.queue.items[i]
            mark = GRADE_MARK.get(self.queue.grade(i) or "", "·")
            score = f"{item.score:.2f} " if math.isfinite(item.score) else ""
            return f"[{mark}] {score}{item.display_name}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(Path(self.queue.items[i].path))
        return None

    def row_of(self, queue_index: int) -> int:
        try:
            return self._rows.index(queue_index)
        except ValueError:
            return -1

    def item_changed(self, queue_index: int) -> None:
        row = self.row_of(queue_index)
        if row >= 0:
            self.dataChanged.emit(self.index(row), self.index(row))
