"""Team ▸ Gold items and qualification: the owner's side of gold (honeypot) items.

Left, the gold items (text, answer, how many annotators answered each and how many of them got
it right) and, below, the rows selected in the browse table ready to be marked as gold: each
answer defaults to the item's final value (app.core.quality.consensus: adjudicated, gold,
consensus or the only answer) and can be chosen here (a label for classification, checkable labels
for multilabel; span items can be marked only when they already have a final value). Right, the
annotators checklist used by the two assignment steps: mixing gold unannounced into their
queues at a rate (app.core.quality.gold.mix_gold_into_tasks) and qualification (a set made from the
gold items, assigned as qualification tasks, scored by qualification_result, whose recorded
results are listed); then each annotator's gold accuracy with the drift alerts in red.

Every change is one call to app.core.quality.gold (one small committed transaction), run inline; a
refused step shows the core's message under its button. Opened from the main window as

    GoldView(project, datapoint_ids=selected_ids, parent=window).exec()

What it shows comes from app.core.quality.gold's read-only views (gold_rows, qualification_sets,
recorded_results), scored the way gold_accuracy scores. Each panel lives in its own module
(gold_items, gold_marking, gold_mixing, gold_qualification, gold_accuracy), as a mixin of this
dialog; this module lays them out.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QSplitter, QVBoxLayout, QWidget

from app.core.project.project import Project
from app.core.quality import gold as core_gold
from app.core.team.assign import AnnotatorInfo
from app.views.quality.gold_accuracy import AccuracyPanel
from app.views.quality.gold_common import style_sheet
from app.views.quality.gold_items import GoldItemsPanel
from app.views.quality.gold_marking import Candidate, MarkingPanel
from app.views.quality.gold_mixing import MixingPanel
from app.views.quality.gold_qualification import QualificationPanel
from app.views.widgets.geometry import fit_to_screen, scrolling


class GoldView(
    GoldItemsPanel, MarkingPanel, MixingPanel, QualificationPanel, AccuracyPanel, QDialog
):
    """Gold items, marking the selected rows as gold, gold mixed into queues, qualification
    sets and results, and gold accuracy with drift alerts."""

    changed = Signal()  # gold, tasks or results changed (the main window may refresh)

    def __init__(
        self,
        project: Project,
        datapoint_ids: list[int] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.task_type = project.task_type
        self.datapoint_ids = list(dict.fromkeys(datapoint_ids or ()))
        self.setWindowTitle(f"Gold items and qualification — {project.name}")
        self.setStyleSheet(style_sheet())
        self.rows: list[core_gold.GoldRow] = []
        self.candidates: list[Candidate] = []
        self.annotators: list[AnnotatorInfo] = []
        self.accuracy: list[core_gold.GoldAccuracy] = []
        self.alerts: list[core_gold.DriftAlert] = []
        self.results: list[tuple] = []

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._left())
        splitter.addWidget(scrolling(self._right()))
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        fit_to_screen(self, 1440, 900)

        self.load_annotators()
        self.load_candidates()
        self.reload()

    # --- layout ------------------------------------------------------------------------------

    def _left(self) -> QWidget:
        """The gold items above, the selected rows to mark below."""
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._gold_items_box(), 3)
        layout.addWidget(self._marking_box(), 2)
        return panel

    def _right(self) -> QWidget:
        """The annotators checklist, mixing, qualification, and accuracy with drift."""
        who_box = self._annotators_box()
        mix_box = self._mixing_box()
        qual_box = self._qualification_box()
        accuracy_box = self._accuracy_box()
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(who_box)
        layout.addWidget(mix_box)
        layout.addWidget(qual_box, 3)
        layout.addWidget(accuracy_box, 2)
        return panel

    # --- loading -----------------------------------------------------------------------------

    def reload(self) -> None:
        """The gold table, the qualification sets and results, and the accuracy table."""
        self.load_gold()
        self.load_qualification()
        self.load_accuracy()
