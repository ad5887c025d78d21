"""The datapoint table: a Qt model over core's windowed queries, never the whole table.

rowCount is the filter's count; rows arrive a page at a time when the view asks for them and
are kept in a small LRU cache, so a million rows cost a few pages of memory. The Model column
shows the predictions of the query's model version (`Query.model_version`), read with each page.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from app.core.annotation.browse import SORTABLE, Browser, Query, Row
from app.core.project import modelstore
from app.core.project.modelstore import Suggestion
from app.core.project.project import Project
from app.views.theme import palette

PAGE_SIZE = 200
CACHED_PAGES = 20
COLUMNS = ("#", "Dataset", "Text", "Status", "Labels", "Flagged", "Model")
MODEL_COLUMN = 6
MAX_CONFIDENCE_SORT = 100_000
SORT_KEYS = {0: "id", 1: "dataset", 3: "status", MODEL_COLUMN: "confidence"}
Index = QModelIndex | QPersistentModelIndex


class DatapointTableModel(QAbstractTableModel):
    refused = Signal(str)  # a sort it will not do, and why

    def __init__(self, project: Project, query: Query | None = None, parent=None) -> None:
        super().__init__(parent)
        self.browser = Browser(project)
        self.query = query or Query()
        self._count = self.browser.count(self.query)
        self._pages: OrderedDict[int, list[Row]] = OrderedDict()
        self._predictions: dict[int, dict[int, Suggestion]] = {}  # by page, like the rows
        self.fetches = 0  # pages read from the database (tests and benchmarks look at it)

    def set_query(self, query: Query) -> None:
        self.beginResetModel()
        self.query = query
        self._pages.clear()
        self._predictions.clear()
        self._count = self.browser.count(query)
        self.endResetModel()

    def refresh(self) -> None:
        self.set_query(self.query)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def row_at(self, row: int) -> Row | None:
        if not 0 <= row < self._count:
            return None
        number, offset = divmod(row, PAGE_SIZE)
        page = self._pages.get(number)
        if page is None:
            page = self.browser.page(self.query, number * PAGE_SIZE, PAGE_SIZE)
            self.fetches += 1
            self._pages[number] = page
            self._predictions[number] = self._read_predictions(page)
            if len(self._pages) > CACHED_PAGES:
                dropped, _rows = self._pages.popitem(last=False)
                self._predictions.pop(dropped, None)
        else:
            self._pages.move_to_end(number)
        return page[offset] if offset < len(page) else None

    def _read_predictions(self, page: list[Row]) -> dict[int, Suggestion]:
        version = self.query.model_version
        if version is None or not page:
            return {}
        return modelstore.suggestions(self.browser.project, [row.id for row in page], version)

    def prediction_at(self, row: int) -> Suggestion | None:
        """The model's prediction for the datapoint in this row (of the query's version)."""
        item = self.row_at(row)
        if item is None:
            return None
        return self._predictions.get(row // PAGE_SIZE, {}).get(item.id)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.row_at(index.row())
        if item is None:
            return None
        column = index.column()
        if column == MODEL_COLUMN:
            return self._model_data(index.row(), role)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return item.id
            if column == 1:
                return f"{item.dataset}:{item.row}"
            if column == 2:
                return " ".join(item.text[:300].split())
            if column == 3:
                return item.status
            if column == 4:
                return ", ".join(item.labels)
            return "⚑" if item.flagged else ""
        if role == Qt.ItemDataRole.ToolTipRole and column == 2:
            return item.text
        if role == Qt.ItemDataRole.ForegroundRole and column == 3:
            return QColor(palette().table_status(item.status))
        if role == Qt.ItemDataRole.ForegroundRole and column == 5:
            return QColor(palette().table_flagged)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _model_data(self, row: int, role: int) -> Any:
        """The Model column: the predicted label and its confidence, in words in the tooltip."""
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        found = self.prediction_at(row)
        if found is None:
            return "" if role == Qt.ItemDataRole.DisplayRole else "No prediction yet"
        said = describe_prediction(found.value)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{said} · {found.confidence:.0%}"
        return (
            f"Model version {found.model_version_id} predicts {said}"
            f" with {found.confidence:.0%} confidence"
        )

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = SORT_KEYS.get(column)
        if key is None or key not in SORTABLE:
            return
        if key == "confidence" and self._count > MAX_CONFIDENCE_SORT:
            # each page would sort every row by a looked-up confidence (0.6 s at 100,000 rows,
            # on the GUI thread): narrow the table first
            self.refused.emit(
                f"Sorting by the model's confidence needs {MAX_CONFIDENCE_SORT:,} rows or fewer:"
                " filter the table first (Status, Label or Model)."
            )
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if (key, descending) != (self.query.sort, self.query.descending):
            from dataclasses import replace

            self.set_query(replace(self.query, sort=key, descending=descending))


def describe_prediction(value: Any) -> str:
    """A prediction in a few words: the label, the labels, or how many spans."""
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return f"{len(value)} span{'s' if len(value) != 1 else ''}"
        return ", ".join(str(v) for v in value) if value else "no label"
    return str(value)
