"""The gold view's gold items panel: every gold item with its answer, how many annotators
answered it and how many of them got it right (red below the accuracy alert threshold).

Selecting gold items here chooses the items of a new qualification set (gold_qualification).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGroupBox, QSpinBox, QVBoxLayout

from app.core.annotation.commands import load_items
from app.core.errors import TagloopError
from app.core.quality import gold as core_gold
from app.views.quality.gold_common import (
    GoldPanel,
    answer_text,
    cell,
    hint,
    make_table,
    percent,
    snippet,
    verdict_colour,
)


class GoldItemsPanel(GoldPanel):
    """The gold items table (`gold_table`, one row per `rows` entry)."""

    GOLD_COLUMNS = ("Item", "Text", "Answer", "Answered by", "Accuracy")

    rows: list[core_gold.GoldRow]
    threshold_spin: QSpinBox  # the accuracy panel's alert threshold

    _show_set_items: Callable[[], None]  # the qualification panel's

    def _gold_items_box(self) -> QGroupBox:
        self.gold_box = QGroupBox("Gold items")
        self.gold_table = make_table(self.GOLD_COLUMNS, 1)
        self.gold_table.itemSelectionChanged.connect(self._show_set_items)
        gold_layout = QVBoxLayout(self.gold_box)
        gold_layout.addWidget(self.gold_table, 1)
        gold_layout.addWidget(
            hint(
                "Answered by: annotators with a complete answer (not the gold's author)."
                " Gold tasks reach annotators unannounced: their bundles never carry the answers."
            )
        )
        return self.gold_box

    def load_gold(self) -> None:
        try:
            self.rows = core_gold.gold_rows(self.project)
            texts = self._texts([r.datapoint_id for r in self.rows])
        except TagloopError as exc:
            self.rows, texts = [], {}
            self.say(self.mark_message, str(exc), error=True)
        self.gold_box.setTitle(f"Gold items ({len(self.rows)})")
        threshold = self.threshold_spin.value() / 100
        table = self.gold_table
        table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            body = texts.get(row.datapoint_id, "")
            accuracy = row.accuracy
            colour = None if accuracy is None else verdict_colour(accuracy >= threshold)
            cells = (
                cell(str(row.datapoint_id), data=row.datapoint_id),
                cell(snippet(body)),
                cell(answer_text(row.answer, self.task_type, body), bold=True),
                cell(str(row.answered)),
                cell(
                    percent(accuracy) + (f"  ({row.correct}/{row.answered})" if accuracy else ""),
                    colour,
                ),
            )
            cells[1].setToolTip(body[:1000])
            for column, item in enumerate(cells):
                if column in (0, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                table.setItem(r, column, item)
        table.resizeRowsToContents()
        table.setCurrentItem(None)
        self._show_set_items()

    def _colour_gold(self) -> None:
        """Each gold item's accuracy green at or above the alert threshold, red below."""
        threshold = self.threshold_spin.value() / 100
        for r, row in enumerate(self.rows):
            item = self.gold_table.item(r, 4)
            if item is not None and row.accuracy is not None:
                item.setForeground(QColor(verdict_colour(row.accuracy >= threshold)))

    def _texts(self, ids: list[int]) -> dict[int, str]:
        items = load_items(self.project, ids, self.project.local_annotator_id)
        return {dp: item.text for dp, item in items.items()}

    def selected_gold(self) -> list[int]:
        rows = sorted({index.row() for index in self.gold_table.selectionModel().selectedRows()})
        return [self.rows[r].datapoint_id for r in rows if r < len(self.rows)]
