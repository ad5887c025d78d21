"""The gold view's marking panel: the rows selected in the browse table, each with its answer
ready to be recorded as gold.

Each answer defaults to the item's final value (app.core.quality.consensus: adjudicated, gold,
consensus or the only answer) and can be chosen here: a label for classification, checkable
labels for multilabel; span items can be marked only when they already have a final value.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.core.annotation.commands import Item, load_items
from app.core.errors import TagloopError
from app.core.project.project import Project
from app.core.quality import gold as core_gold
from app.core.quality.consensus import item_versions
from app.views.quality.gold_common import (
    GoldPanel,
    answer_text,
    button,
    cell,
    hint,
    make_table,
    snippet,
)
from app.views.theme import palette

CHOOSE = "— choose —"
SOURCE_TEXT = {
    "adjudicated": "adjudicated value",
    "gold": "already gold (re-marking replaces it)",
    "consensus": "consensus",
    "single": "the only answer",
}


class Candidate:
    """A selected item offered as gold: its answer editor (or why it cannot be marked)."""

    def __init__(self, project: Project, item: Item, default: Any, source: str | None) -> None:
        self.datapoint_id = item.id
        self.task_type = project.task_type
        self.text = item.text
        self.source = source
        self.markable = True
        self.combo: QComboBox | None = None
        self.checks: dict[str, QCheckBox] = {}
        names = project.schema.label_names
        if self.task_type == "classification":
            self.combo = QComboBox()
            if default is None:
                self.combo.addItem(CHOOSE, None)
            for name in names:
                self.combo.addItem(name, name)
            if default is not None:
                self.combo.setCurrentIndex(max(0, self.combo.findData(default)))
            self.editor: QWidget = self.combo
        elif self.task_type == "multilabel":
            self.editor = QWidget()
            row = QHBoxLayout(self.editor)
            row.setContentsMargins(4, 0, 4, 0)
            chosen = set(default or ())
            for name in names:
                box = QCheckBox(name)
                box.setChecked(name in chosen)
                self.checks[name] = box
                row.addWidget(box)
            row.addStretch(1)
        else:
            self.markable = default is not None
            self.spans = default
            shown = (
                answer_text(default, "spans", item.text)
                if self.markable
                else "no final value: label or adjudicate it first"
            )
            self.editor = QLabel(shown)
            self.editor.setContentsMargins(4, 0, 4, 0)
            colour = palette().text if self.markable else palette().muted
            self.editor.setStyleSheet(f"color: {colour};")

    def source_text(self) -> str:
        if self.source is not None:
            return SOURCE_TEXT.get(self.source, self.source)
        if self.task_type == "classification":
            return "none: choose"
        if self.task_type == "multilabel":
            return "none: check labels"
        return "cannot be marked"

    def answer(self) -> Any:
        """The chosen answer; None when none is chosen (classification)."""
        if self.combo is not None:
            return self.combo.currentData()
        if self.checks:
            return [name for name, box in self.checks.items() if box.isChecked()]
        return self.spans


class MarkingPanel(GoldPanel):
    """The "Mark as gold" table (`mark_table`, one row per `candidates` entry) and button."""

    MARK_COLUMNS = ("Item", "Text", "Gold answer", "Default")

    datapoint_ids: list[int]  # the rows selected in the browse table
    candidates: list[Candidate]

    def _marking_box(self) -> QGroupBox:
        self.mark_box = QGroupBox("Mark as gold")
        self.mark_table = make_table(self.MARK_COLUMNS, 1)
        self.mark_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.mark_hint = hint()
        self.mark_button = button(
            "Mark as gold", self.mark, "Record these answers as the items' known answers"
        )
        self.mark_message = QLabel(wordWrap=True)
        row = QHBoxLayout()
        row.addWidget(self.mark_message, 1)
        row.addWidget(self.mark_button)
        mark_layout = QVBoxLayout(self.mark_box)
        mark_layout.addWidget(self.mark_hint)
        mark_layout.addWidget(self.mark_table, 1)
        mark_layout.addLayout(row)
        return self.mark_box

    def load_candidates(self) -> None:
        """The selected rows, each with its default answer (its final value, if any)."""
        self.candidates = []
        try:
            items = load_items(self.project, self.datapoint_ids, self.project.local_annotator_id)
            for dp in self.datapoint_ids:
                if dp not in items:
                    continue
                final = item_versions(self.project, dp).final
                value, source = (final.value, final.source) if final else (None, None)
                self.candidates.append(Candidate(self.project, items[dp], value, source))
        except TagloopError as exc:
            self.say(self.mark_message, str(exc), error=True)
        table = self.mark_table
        table.setRowCount(len(self.candidates))
        for r, candidate in enumerate(self.candidates):
            table.setItem(r, 0, cell(str(candidate.datapoint_id)))
            table.item(r, 0).setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            table.setItem(r, 1, cell(snippet(candidate.text, 60)))
            table.item(r, 1).setToolTip(candidate.text[:1000])
            table.setCellWidget(r, 2, candidate.editor)
            table.setItem(r, 3, cell(candidate.source_text(), palette().muted))
        table.resizeRowsToContents()
        self._mark_hint()

    def _mark_hint(self) -> None:
        total = len(self.candidates)
        blocked = sum(not c.markable for c in self.candidates)
        if not self.datapoint_ids:
            words = (
                "Select rows in the browse table, then open this window again to mark them as gold."
            )
        else:
            words = (
                f"{total} selected item{'s' if total != 1 else ''}. The answer defaults to"
                " the item's final value (adjudicated, consensus or the only answer)."
            )
            if self.task_type == "spans":
                words += (
                    " Span items can be marked only once they have a final value"
                    f" ({blocked} of {total} have none: label or adjudicate them first)."
                )
        self.mark_hint.setText(words)
        self.mark_button.setEnabled(any(c.markable for c in self.candidates))

    def mark(self) -> None:
        ids, answers = [], []
        for candidate in self.candidates:
            if not candidate.markable:
                continue
            value = candidate.answer()
            if value is None:
                self.say(
                    self.mark_message,
                    f"Choose the answer of item {candidate.datapoint_id}: it has no final value.",
                    error=True,
                )
                return
            ids.append(candidate.datapoint_id)
            answers.append(value)
        project = self.project
        self.write(
            lambda: core_gold.mark_gold(project, ids, answers), self._marked, self.mark_message
        )

    def _marked(self, marked: int) -> None:
        skipped = len(self.candidates) - marked
        words = f"Marked {marked} item{'s' if marked != 1 else ''} as gold."
        if skipped:
            words += (
                f" {skipped} span item{'s' if skipped != 1 else ''} without a final value skipped."
            )
        self.say(self.mark_message, words)
        for r, candidate in enumerate(self.candidates):
            if candidate.markable:
                candidate.source = "gold"
            self.mark_table.setItem(r, 3, cell(candidate.source_text(), palette().muted))
        self.reload()
        self.changed.emit()
