"""The Browse tab and the Datasets panel: the datapoint table with its filters, and the
datasets a project has imported.

Split out of main_window.py so that the window is the composition of its parts: the panel owns
the filter bar (status, label, search as you type), the table and its model, and says which
datapoints are current or selected; the window decides what to do with them.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.annotation.browse import STATUS_FILTERS, Query
from app.core.io.datasets import DatasetInfo
from app.core.project.project import Project
from app.views.table_model import DatapointTableModel
from app.views.wording import plural

SEARCH_DELAY_MS = 250
COLUMN_WIDTHS = ((0, 80), (1, 170), (3, 90), (4, 140), (5, 60))


class BrowsePanel(QWidget):
    """The Browse tab: filters over a paged table of datapoints."""

    shown = Signal(int)  # how many rows the table shows, after a filter change or a refresh
    row_activated = Signal(int)  # a row was double-clicked: annotate from there

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: DatapointTableModel | None = None
        bar = self._build_filters()
        self.table = QTableView()
        self.table.setObjectName("datapoints")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.doubleClicked.connect(lambda index: self.row_activated.emit(index.row()))
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

    def _build_filters(self) -> QHBoxLayout:
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("status_filter")
        self.status_filter.addItem("All statuses", None)
        for status in STATUS_FILTERS:
            self.status_filter.addItem(status.capitalize(), status)
        self.label_filter = QComboBox()
        self.label_filter.setObjectName("label_filter")
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setClearButtonEnabled(True)
        self.search.setPlaceholderText('Search text (words, "phrases", prefix*)')
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)
        self.search_timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self.search_timer.start())
        self.status_filter.currentIndexChanged.connect(lambda _i: self.apply_filters())
        self.label_filter.currentIndexChanged.connect(lambda _i: self.apply_filters())
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Status:"))
        bar.addWidget(self.status_filter)
        bar.addWidget(QLabel("Label:"))
        bar.addWidget(self.label_filter)
        bar.addWidget(self.search, 1)
        return bar

    def show_project(self, project: Project) -> None:
        """A fresh model over this project, with its labels in the label filter."""
        self.label_filter.blockSignals(True)
        self.label_filter.clear()
        self.label_filter.addItem("All labels", None)
        for name in project.schema.label_names:
            self.label_filter.addItem(name, name)
        self.label_filter.blockSignals(False)
        self.model = DatapointTableModel(project, self.query(), self)
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for column, width in COLUMN_WIDTHS:
            self.table.setColumnWidth(column, width)

    def query(self) -> Query:
        """What the filter bar asks for (the sort is the table's)."""
        return Query(
            status=self.status_filter.currentData(),
            label=self.label_filter.currentData(),
            search=self.search.text().strip() or None,
        )

    def apply_filters(self) -> None:
        if self.model is None:
            return
        current = self.model.query
        self.model.set_query(
            replace(self.query(), sort=current.sort, descending=current.descending)
        )
        self.shown.emit(self.model.rowCount())

    def refresh(self) -> None:
        """Re-read the rows after the data changed."""
        if self.model is not None:
            self.model.refresh()
            self.shown.emit(self.model.rowCount())

    def current_row(self) -> int | None:
        index: QModelIndex = self.table.currentIndex()
        return index.row() if index.isValid() else None

    def datapoint_at(self, row: int | None) -> int | None:
        """The id of the datapoint in this row (None for no row, or a row the table lacks)."""
        if row is None or self.model is None:
            return None
        shown = self.model.row_at(row)
        return shown.id if shown else None

    def selected_datapoints(self) -> list[int]:
        """The ids of the selected rows, in table order."""
        if self.model is None:
            return []
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.row_at(row).id for row in rows]


class DatasetsPanel(QWidget):
    """The datasets of a project, newest last, with a button to remove one."""

    remove_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items = QListWidget()
        self.items.setObjectName("datasets")
        remove = QPushButton("Remove dataset…")
        remove.clicked.connect(lambda: self.remove_requested.emit())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.items)
        layout.addWidget(remove)

    def show_datasets(self, datasets: list[DatasetInfo]) -> None:
        self.items.clear()
        for info in datasets:
            when = info.imported_at[:16].replace("T", " ")
            item = QListWidgetItem(f"{info.source_name}\n{plural(info.row_count, 'row')} · {when}")
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setToolTip(f"SHA-256 {info.sha256}\nmapping {info.mapping}")
            self.items.addItem(item)

    def current(self) -> tuple[int, str] | None:
        """The chosen dataset's id and name, if one is chosen."""
        item = self.items.currentItem()
        if item is None:
            return None
        return item.data(Qt.ItemDataRole.UserRole), item.text().splitlines()[0]
