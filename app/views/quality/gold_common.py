"""What the panels of the gold view share: its style sheet and verdict colours (from the palette
in use), how a gold answer, a share and a time read, and small builders for tables, hints,
buttons and messages.

Split from the gold view (app/views/quality/gold.py) with its panels, which each live in their
own module: gold_items, gold_marking, gold_mixing, gold_qualification and gold_accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.core.project.project import Project
from app.views.theme import palette
from app.workers.write_job import start_write

SNIPPET = 70


def style_sheet() -> str:
    """The gold view's style sheet, in the palette in use."""
    colours = palette()
    return f"""
QGroupBox {{ font-weight: 600; border: 1px solid {colours.border}; border-radius: 6px;
            margin-top: 10px; padding: 8px 6px 6px 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px;
                   color: {colours.text_secondary}; }}
QLabel#hint {{ color: {colours.hint}; font-weight: normal; }}
QPushButton {{ padding: 4px 12px; }}
"""


def snippet(body: str, limit: int = SNIPPET) -> str:
    body = " ".join(body.split())
    return body if len(body) <= limit else body[: limit - 1] + "…"


def answer_text(value: Any, task_type: str, body: str = "") -> str:
    """A gold answer as a person reads it: the label, the labels, or each span's words."""
    if value is None:
        return "—"
    if task_type == "classification":
        return str(value)
    if task_type == "multilabel":
        return ", ".join(value) or "(none of these)"
    if not value:
        return "(no spans)"
    parts = []
    for span in sorted(value, key=lambda s: (s["start"], s["end"], s["label"])):
        words = snippet(body[span["start"] : span["end"]], 30)
        parts.append(f"{span['label']} “{words}”" if words else f"{span['label']}")
    return "; ".join(parts)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def cell(value: str, colour: str | None = None, bold: bool = False, data: Any = None):
    item = QTableWidgetItem(value)
    if colour:
        item.setForeground(QColor(colour))
    if bold:
        font = QFont(item.font())
        font.setBold(True)
        item.setFont(font)
    if data is not None:
        item.setData(Qt.ItemDataRole.UserRole, data)
    return item


def make_table(columns: tuple[str, ...], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    for column in range(len(columns)):
        mode = QHeaderView.ResizeMode.Stretch if column == stretch else None
        header.setSectionResizeMode(column, mode or QHeaderView.ResizeMode.ResizeToContents)
    return table


def hint(words: str = "") -> QLabel:
    label = QLabel(words, objectName="hint")
    label.setWordWrap(True)
    return label


def button(words: str, slot, tip: str = "") -> QPushButton:
    made = QPushButton(words)
    made.setAutoDefault(False)
    made.setToolTip(tip)
    made.clicked.connect(slot)
    return made


def row_of(*parts: QWidget | str | int) -> QHBoxLayout:
    """A row of widgets, where a string is a label and a number a stretch."""
    row = QHBoxLayout()
    for part in parts:
        if isinstance(part, int):
            row.addStretch(part)
        else:
            row.addWidget(QLabel(part) if isinstance(part, str) else part)
    return row


def verdict_colour(good: bool) -> str:
    """Green for a good outcome (passed, at or above the bar, done), red for a bad one."""
    colours = palette()
    return colours.success if good else colours.danger


def say(label: QLabel, words: str, error: bool = False) -> None:
    """A panel's message: green, or red when it is a refusal or an error."""
    label.setStyleSheet(f"color: {verdict_colour(not error)};")
    label.setText(words)


class GoldPanel:
    """The state every panel of the gold view reads (set by GoldView) and what it may call.

    The panels are mixins of one dialog rather than widgets of their own because they read
    one another: the accuracy threshold colours the gold items, the selected gold items make a
    qualification set, and the annotators checklist serves both mixing and qualification."""

    project: Project
    task_type: str
    changed: SignalInstance  # GoldView's: gold, tasks or results changed

    say = staticmethod(say)
    WRITE_BUTTONS = ("mark_button", "mix_button", "create_button", "assign_button", "score_button")

    def write(self, fn: Callable[[], Any], done: Callable[[Any], None], message: QLabel) -> None:
        """Run a change off the GUI thread (another program may hold the project's lock for a
        while): every button that changes something waits until it is saved, `message` says
        "Saving…" and then the outcome (`done(result)`, or the refusal in red)."""
        buttons = [getattr(self, name) for name in self.WRITE_BUTTONS if hasattr(self, name)]
        start_write(
            self,  # type: ignore[arg-type]  # a mixin of GoldView, a QDialog
            fn,
            busy=buttons,
            done=done,
            failed=lambda words: say(message, words, error=True),
            say=lambda words: say(message, words),
        )

    def reload(self) -> None:
        """Reload every panel after a change (GoldView's)."""
        raise NotImplementedError
