"""An item's history: its lineage as a timeline (app.core.audit.history.item_history).

One row per step, oldest first: when, who, what (label, change, review, correction,
adjudication, flag, comment...), the value before → after, and the label schema version it was
made under. Read-only; opened for one datapoint, e.g. from the editor's item menu:

    HistoryView(project, datapoint_id, parent).exec()
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.annotation.commands import load_item
from app.core.audit.history import HistoryEntry, format_value, item_history
from app.core.errors import TagloopError
from app.core.project.project import Project
from app.views.theme import palette
from app.views.wording import place, plural

COLUMNS = ("Time", "Who", "What", "Value (before → after)", "Schema")
EXCERPT = 240


def what_colour(what: str) -> str:
    """The colour of a kind of step (label, change, review...) in the timeline."""
    colours = palette()
    return {
        "label": colours.success,
        "change": colours.accent,
        "remove": colours.removal,
        "reopen": colours.removal,
        "review": colours.review,
        "correction": colours.danger,
        "adjudication": colours.warning,
        "flag": colours.danger,
        "comment": colours.text_subtle,
        "earlier version": colours.muted,
    }.get(what, colours.text_secondary)


def style_sheet() -> str:
    """The history dialog's style sheet, in the palette in use."""
    colours = palette()
    return f"""
QLabel#itemTitle {{ font-size: 12pt; font-weight: 600; }}
QLabel#excerpt {{ color: {colours.text_secondary}; background: palette(base);
                 border: 1px solid {colours.border}; border-radius: 6px; padding: 6px; }}
QLabel#hint {{ color: {colours.hint}; }}
"""


def local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def change_text(entry: HistoryEntry) -> str:
    after = format_value(entry.after)
    if entry.before is None:
        return after
    return f"{format_value(entry.before)} → {after}"


class HistoryView(QDialog):
    """The timeline of one datapoint: who labeled it, who changed it, under which schema."""

    def __init__(self, project: Project, datapoint_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.datapoint_id = datapoint_id
        self.setWindowTitle(f"History of item {datapoint_id}")
        self.setStyleSheet(style_sheet())
        self.resize(920, 480)

        layout = QVBoxLayout(self)
        self.title = QLabel(objectName="itemTitle")
        self.excerpt = QLabel(objectName="excerpt")
        self.excerpt.setWordWrap(True)
        self.excerpt.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        for column in (0, 1, 2, 4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.hint = QLabel(objectName="hint")
        self.hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(self.title)
        layout.addWidget(self.excerpt)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.hint)
        layout.addWidget(buttons)

        self.entries: list[HistoryEntry] = []
        self.reload()

    def reload(self) -> None:
        try:
            item = load_item(self.project, self.datapoint_id, self.project.local_annotator_id)
            self.entries = item_history(self.project, self.datapoint_id)
        except TagloopError as exc:
            self.title.setText(f"Item {self.datapoint_id}")
            self.excerpt.setText(str(exc))
            self.entries = []
            self.table.setRowCount(0)
            return
        self.title.setText(f"Item {item.id} · {place(item.dataset, item.row)} · {item.status}")
        text = " ".join(item.text.split())
        self.excerpt.setText(text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…")
        self.table.setRowCount(len(self.entries))
        bold = QFont(self.table.font())
        bold.setBold(True)
        for row, entry in enumerate(self.entries):
            cells = (
                local_time(entry.at),
                entry.actor or "unknown",
                entry.what,
                change_text(entry),
                "" if entry.schema_version is None else f"v{entry.schema_version}",
            )
            for column, value in enumerate(cells):
                cell = QTableWidgetItem(value)
                if column == 2:
                    cell.setForeground(QColor(what_colour(entry.what)))
                    cell.setFont(bold)
                if column == 4:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                tip = [f"{entry.source}" + (f" {entry.ref}" if entry.ref else "")]
                if entry.note:
                    tip.insert(0, entry.note)
                    if column == 3:
                        cell.setText(f"{value}   ({entry.note})")
                cell.setToolTip("\n".join(tip))
                self.table.setItem(row, column, cell)
        self.table.resizeRowsToContents()
        self.table.setCurrentItem(None)
        people = sorted({e.actor for e in self.entries if e.actor})
        self.hint.setText(
            f"{plural(len(self.entries), 'step')} by {', '.join(people) or 'nobody yet'},"
            " oldest first."
            " Schema is the label schema (guidelines) version in force."
        )
