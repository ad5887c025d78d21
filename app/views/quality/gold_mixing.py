"""The gold view's annotators checklist and the step that mixes gold into their queues.

The checked annotators get gold tasks unannounced, at a rate
(app.core.quality.gold.mix_gold_into_tasks), and qualification tasks (gold_qualification).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
)

from app.core.quality import gold as core_gold
from app.core.team.assign import AnnotatorInfo, list_annotators
from app.views.quality.gold_common import GoldPanel, button, hint, row_of


class MixingPanel(GoldPanel):
    """The annotators checklist (`annotator_list`, also filling the qualification panel's
    `score_combo`) and the mixing row (`rate_spin`, `seed_spin`, `mix_button`)."""

    annotators: list[AnnotatorInfo]
    score_combo: QComboBox  # the qualification panel's annotator to score

    def _annotators_box(self) -> QGroupBox:
        self.annotator_list = QListWidget()
        self.annotator_list.setFixedHeight(92)
        who_box = QGroupBox("Annotators")
        who_layout = QVBoxLayout(who_box)
        who_layout.addWidget(self.annotator_list)
        who_layout.addWidget(hint("The checked ones get gold tasks and qualification tasks."))
        return who_box

    def _mixing_box(self) -> QGroupBox:
        self.rate_spin = QDoubleSpinBox(decimals=1, minimum=0.0, maximum=95.0, singleStep=1.0)
        self.rate_spin.setSuffix(" %")
        self.rate_spin.setValue(5.0)
        self.seed_spin = QSpinBox(minimum=0, maximum=2_147_483_647)
        self.mix_button = button(
            "Mix into tasks",
            self.mix,
            "Gold tasks for each checked annotator, so gold is about this share of their queue",
        )
        self.mix_message = QLabel(wordWrap=True)
        mix_box = QGroupBox("Mix gold into the checked annotators' queues")
        mix_row = row_of("Rate", self.rate_spin, "Seed", self.seed_spin, 1, self.mix_button)
        mix_layout = QVBoxLayout(mix_box)
        mix_layout.addLayout(mix_row)
        mix_layout.addWidget(self.mix_message)
        return mix_box

    def load_annotators(self) -> None:
        self.annotators = list_annotators(self.project)
        me = self.project.local_annotator_id
        self.annotator_list.clear()
        self.score_combo.clear()
        for person in self.annotators:
            self.score_combo.addItem(f"{person.name} ({person.role})", person.id)
            if person.id == me:
                continue
            entry = QListWidgetItem(f"{person.name} ({person.role})")
            entry.setData(Qt.ItemDataRole.UserRole, person.id)
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = person.role == "annotator"
            entry.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.annotator_list.addItem(entry)
        others = [p for p in self.annotators if p.id != me]
        if others:
            self.score_combo.setCurrentIndex(self.score_combo.findData(others[0].id))

    def checked_annotators(self) -> list[int]:
        return [
            entry.data(Qt.ItemDataRole.UserRole)
            for entry in (self.annotator_list.item(i) for i in range(self.annotator_list.count()))
            if entry.checkState() == Qt.CheckState.Checked
        ]

    def set_checked(self, annotator_ids: list[int]) -> None:
        for i in range(self.annotator_list.count()):
            entry = self.annotator_list.item(i)
            wanted = entry.data(Qt.ItemDataRole.UserRole) in annotator_ids
            entry.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)

    def mix(self) -> None:
        who = self.checked_annotators()
        if not who:
            self.say(self.mix_message, "Check the annotators to give gold tasks to.", error=True)
            return
        rate = self.rate_spin.value() / 100
        project, seed = self.project, self.seed_spin.value()
        self.write(
            lambda: core_gold.mix_gold_into_tasks(project, who, rate, seed=seed),
            lambda made: self._mixed(made, who, rate),
            self.mix_message,
        )

    def _mixed(self, made: dict[str, int], who: list[int], rate: float) -> None:
        total = sum(made.values())
        loads = ", ".join(f"{name} {n}" for name, n in made.items())
        words = f"{total} gold task{'s' if total != 1 else ''} at {rate:.1%}: {loads}."
        if total == 0:
            words += (
                " None made: the checked annotators have too few label tasks for this rate,"
                " or have seen every gold item already."
            )
        self.say(self.mix_message, words)
        self.load_annotators_keeping_checks(who)
        self.changed.emit()

    def load_annotators_keeping_checks(self, checked: list[int]) -> None:
        score = self.score_combo.currentData()
        self.load_annotators()
        self.set_checked(checked)
        if score is not None:
            self.score_combo.setCurrentIndex(max(0, self.score_combo.findData(score)))
