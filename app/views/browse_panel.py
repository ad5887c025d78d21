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
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.annotation.browse import STATUS_FILTERS, Query
from app.core.io.datasets import DatasetInfo
from app.core.project import modelstore
from app.core.project.project import Project
from app.views.table_model import SORT_KEYS, DatapointTableModel
from app.views.widgets.empty_state import EmptyState, FileDrops
from app.views.wording import plural

SEARCH_DELAY_MS = 250
COLUMN_WIDTHS = ((0, 80), (1, 170), (3, 90), (4, 140), (5, 60), (6, 130))
UNSURE = 0.6  # "the model is unsure": confidence under this


class BrowsePanel(QWidget):
    """The Browse tab: filters over a paged table of datapoints."""

    shown = Signal(int)  # how many rows the table shows, after a filter change or a refresh
    row_activated = Signal(int)  # a row was double-clicked: annotate from there
    import_requested = Signal(object)  # a file to import (a dropped Path), or None to choose one

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: DatapointTableModel | None = None
        self.project: Project | None = None
        self.model_version: int | None = None  # whose predictions the Model column shows
        bar = self._build_filters()
        self.table = QTableView()
        self.table.setObjectName("datapoints")
        self.table.setAccessibleName("Datapoints")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.doubleClicked.connect(lambda index: self.row_activated.emit(index.row()))
        self.empty = EmptyState()
        self.empty.import_clicked.connect(lambda: self.import_requested.emit(None))
        self.pages = QStackedWidget()
        self.pages.addWidget(self.table)
        self.pages.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.note)
        layout.addWidget(self.pages, 1)

    def attach(self, window: QWidget) -> None:
        """Let `window` take a file dropped anywhere on it, and import through `import_dataset`
        (the window's verb, given a path or None to ask for one)."""
        self.drops = FileDrops(window, self.import_requested.emit)
        self.import_requested.connect(lambda path: window.import_dataset(path))  # type: ignore[attr-defined]

    def _show_empty_state(self) -> None:
        """An empty project shows a way on instead of an empty table (a filter with no match
        still shows the table, with its filter bar)."""
        unfiltered = Query(model_version=self.model_version)
        empty = self.model is not None and self.model.rowCount() == 0 and self.query() == unfiltered
        self.pages.setCurrentWidget(self.empty if empty else self.table)

    def _build_filters(self) -> QHBoxLayout:
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("status_filter")
        self.status_filter.addItem("All statuses", None)
        for status in STATUS_FILTERS:
            self.status_filter.addItem(status.capitalize(), status)
        self.label_filter = QComboBox()
        self.label_filter.setObjectName("label_filter")
        self.prediction_filter = QComboBox()
        self.prediction_filter.setObjectName("prediction_filter")
        self.prediction_filter.setAccessibleName("Model prediction filter")
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setClearButtonEnabled(True)
        self.search.setPlaceholderText('Search text (words, "phrases", prefix*)')
        self.search.setAccessibleName("Search text")
        self.status_filter.setAccessibleName("Status filter")
        self.label_filter.setAccessibleName("Label filter")
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)
        self.search_timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self.search_timer.start())
        self.status_filter.currentIndexChanged.connect(lambda _i: self.apply_filters())
        self.label_filter.currentIndexChanged.connect(lambda _i: self.apply_filters())
        self.prediction_filter.currentIndexChanged.connect(lambda _i: self.apply_filters())
        bar = QHBoxLayout()
        for text, combo in (("&Status:", self.status_filter), ("&Label:", self.label_filter)):
            label = QLabel(text)
            label.setBuddy(combo)  # Alt+S, Alt+L: the keyboard reaches each filter
            bar.addWidget(label)
            bar.addWidget(combo)
        model = QLabel("Mo&del:")
        model.setBuddy(self.prediction_filter)
        bar.addWidget(model)
        bar.addWidget(self.prediction_filter)
        bar.addWidget(self.search, 1)
        self.note = QLabel()  # a word about a sort the table would not do
        self.note.setObjectName("browse_note")
        self.note.setWordWrap(True)
        self.note.hide()
        return bar

    def show_project(self, project: Project) -> None:
        """A fresh model over this project, with its labels in the label filter."""
        self.label_filter.blockSignals(True)
        self.label_filter.clear()
        self.label_filter.addItem("All labels", None)
        for name in project.schema.label_names:
            self.label_filter.addItem(name, name)
        self.label_filter.blockSignals(False)
        self.project = project
        self.model_version = modelstore.scored_version(project)
        self._fill_prediction_filter(project)
        self.model = DatapointTableModel(project, self.query(), self)
        self.model.refused.connect(self._sort_refused)
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for column, width in COLUMN_WIDTHS:
            self.table.setColumnWidth(column, width)
        self._show_empty_state()

    def _sort_refused(self, why: str) -> None:
        """The table kept its order: put the header's arrow back and say why."""
        if self.model is None:
            return
        query = self.model.query
        column = {v: k for k, v in SORT_KEYS.items()}.get(query.sort, 0)
        order = Qt.SortOrder.DescendingOrder if query.descending else Qt.SortOrder.AscendingOrder
        self.table.horizontalHeader().setSortIndicator(column, order)
        self.note.setText(why)
        self.note.show()

    def _fill_prediction_filter(self, project: Project) -> None:
        """What the model says, to filter on: a label (not for spans) or "unsure"."""
        combo = self.prediction_filter
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Any", None)
        if project.task_type != "spans":
            for name in project.schema.label_names:
                combo.addItem(f"says {name}", ("predicted", name))
        combo.addItem(f"unsure (under {UNSURE:.0%})", ("unsure", UNSURE))
        combo.setEnabled(self.model_version is not None)
        combo.setToolTip(
            "Filter by the model's prediction (the Model column; click its header to sort by"
            " confidence)"
            if self.model_version is not None
            else "No predictions yet: the model predicts once it is trained (Model ▸ Train now)"
        )
        combo.blockSignals(False)

    def query(self) -> Query:
        """What the filter bar asks for (the sort is the table's)."""
        kind, value = self.prediction_filter.currentData() or (None, None)
        return Query(
            status=self.status_filter.currentData(),
            label=self.label_filter.currentData(),
            search=self.search.text().strip() or None,
            model_version=self.model_version,
            predicted=value if kind == "predicted" else None,
            max_confidence=value if kind == "unsure" else None,
        )

    def apply_filters(self) -> None:
        if self.model is None:
            return
        self.note.hide()
        current = self.model.query
        self.model.set_query(
            replace(self.query(), sort=current.sort, descending=current.descending)
        )
        self._show_empty_state()
        self.shown.emit(self.model.rowCount())

    def refresh(self) -> None:
        """Re-read the rows after the data changed."""
        if self.model is not None and self.project is not None:
            version = modelstore.scored_version(self.project)
            if version != self.model_version:  # a newer model has scored: show its predictions
                self.model_version = version
                self._fill_prediction_filter(self.project)
                self.model.query = replace(self.model.query, model_version=version)
            self.model.refresh()
            self._show_empty_state()
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
        self.items.setAccessibleName("Datasets")
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
