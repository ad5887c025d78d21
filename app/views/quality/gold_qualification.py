"""The gold view's qualification panel: sets made from the gold items, assigned as
qualification tasks to the checked annotators, scored (app.core.quality.gold.
qualification_result), and the recorded results.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
)

from app.core.errors import TagloopError
from app.core.quality import gold as core_gold
from app.core.quality import qualification as core_qualification
from app.views.quality.gold_common import (
    GoldPanel,
    button,
    cell,
    hint,
    make_table,
    verdict_colour,
)
from app.views.quality.widgets import short_time
from app.views.theme import palette


class QualificationPanel(GoldPanel):
    """Making, assigning and scoring qualification sets, and the results table."""

    RESULT_COLUMNS = ("Annotator", "Set", "Score", "Result", "Recorded")

    results: list[tuple]
    gold_table: QTableWidget  # the gold items panel's, whose selection makes a set
    rows: list[core_gold.GoldRow]

    selected_gold: Callable[[], list[int]]  # the gold items panel's
    checked_annotators: Callable[[], list[int]]  # the mixing panel's
    load_annotators_keeping_checks: Callable[[list[int]], None]  # the mixing panel's

    def _qualification_box(self) -> QGroupBox:
        self.qual_name = QLineEdit(placeholderText="e.g. intake")
        self.pass_spin = QSpinBox(minimum=1, maximum=100, value=80)
        self.pass_spin.setSuffix(" %")
        self.create_button = button(
            "Create set", self.create_set, "A qualification set of gold items"
        )
        self.set_items_hint = hint()
        self.set_combo = QComboBox()
        self.set_combo.setMinimumWidth(160)
        self.assign_button = button(
            "Assign to checked", self.assign, "Qualification tasks on the set's items"
        )
        self.score_combo = QComboBox()
        self.score_button = button(
            "Score now",
            self.score,
            "Score the annotator on the set; recorded once every item is answered",
        )
        self.results_table = make_table(self.RESULT_COLUMNS, 1)
        self.qual_message = QLabel(wordWrap=True)
        qual_box = QGroupBox("Qualification")
        form = QFormLayout()
        create_row = QHBoxLayout()
        create_row.addWidget(self.qual_name, 1)
        create_row.addWidget(QLabel("pass at"))
        create_row.addWidget(self.pass_spin)
        create_row.addWidget(self.create_button)
        form.addRow("New set", create_row)
        form.addRow("", self.set_items_hint)
        set_row = QHBoxLayout()
        set_row.addWidget(self.set_combo, 1)
        set_row.addWidget(self.assign_button)
        form.addRow("Set", set_row)
        score_row = QHBoxLayout()
        score_row.addWidget(self.score_combo, 1)
        score_row.addWidget(self.score_button)
        form.addRow("Annotator", score_row)
        qual_layout = QVBoxLayout(qual_box)
        qual_layout.addLayout(form)
        qual_layout.addWidget(self.qual_message)
        qual_layout.addWidget(self.results_table, 1)
        return qual_box

    def load_qualification(self) -> None:
        current = self.set_combo.currentData()
        try:
            sets = core_qualification.qualification_sets(self.project)
            self.results = core_qualification.recorded_results(self.project)
        except TagloopError as exc:
            sets, self.results = [], []
            self.say(self.qual_message, str(exc), error=True)
        self.set_combo.clear()
        for name, score, items in sets:
            self.set_combo.addItem(f"{name} — {items} items, pass {score:.0%}", name)
        if current is not None and self.set_combo.findData(current) >= 0:
            self.set_combo.setCurrentIndex(self.set_combo.findData(current))
        elif sets:
            self.set_combo.setCurrentIndex(len(sets) - 1)
        has_set = bool(sets)
        self.assign_button.setEnabled(has_set)
        self.score_button.setEnabled(has_set)
        table = self.results_table
        table.setRowCount(len(self.results))
        for r, (who, name, score, correct, total, passed, at) in enumerate(self.results):
            verdict = cell("✓ passed" if passed else "✗ failed", verdict_colour(passed), True)
            row = (
                cell(who),
                cell(name),
                cell(f"{score:.0%}  ({correct}/{total})"),
                verdict,
                cell(short_time(at), palette().muted),
            )
            for column, item in enumerate(row):
                table.setItem(r, column, item)

    def set_items(self) -> list[int]:
        """The gold items a new set is made of: those selected in the gold table, else all."""
        return self.selected_gold() or [r.datapoint_id for r in self.rows]

    def _show_set_items(self) -> None:
        chosen = self.selected_gold()
        if chosen:
            words = f"Made of the {len(chosen)} gold items selected on the left."
        else:
            words = f"Made of all {len(self.rows)} gold items (or select some on the left)."
        self.set_items_hint.setText(words)

    def create_set(self) -> None:
        name = self.qual_name.text().strip()
        pass_score = self.pass_spin.value() / 100
        items, project = self.set_items(), self.project
        self.write(
            lambda: core_qualification.create_qualification(project, name, items, pass_score),
            lambda _made: self._set_created(name, items, pass_score),
            self.qual_message,
        )

    def _set_created(self, name: str, items: list[int], pass_score: float) -> None:
        self.say(
            self.qual_message,
            f"Qualification set {name!r}: {len(items)} gold items, pass at {pass_score:.0%}."
            " Assign it to the checked annotators next.",
        )
        self.qual_name.clear()
        self.load_qualification()
        self.set_combo.setCurrentIndex(self.set_combo.findData(name))
        self.changed.emit()

    def assign(self) -> None:
        who = self.checked_annotators()
        name = self.set_combo.currentData()
        if not who:
            self.say(self.qual_message, "Check the annotators to qualify.", error=True)
            return
        project = self.project
        self.write(
            lambda: core_qualification.assign_qualification(project, name, who),
            lambda made: self._assigned(made, name, who),
            self.qual_message,
        )

    def _assigned(self, made: int, name: str, who: list[int]) -> None:
        people = len(who)
        words = (
            f"{made} qualification task{'s' if made != 1 else ''} for {people}"
            f" annotator{'s' if people != 1 else ''} on {name!r}."
        )
        if made == 0:
            words += " They had every item of the set already."
        self.say(self.qual_message, words)
        self.load_annotators_keeping_checks(who)
        self.changed.emit()

    def score(self) -> None:
        who = self.score_combo.currentData()
        name = self.set_combo.currentData()
        if who is None:
            self.say(self.qual_message, "Choose the annotator to score.", error=True)
            return
        project = self.project
        self.write(
            lambda: core_qualification.qualification_result(project, who, name),
            self._scored,
            self.qual_message,
        )

    def _scored(self, result: core_qualification.QualificationResult) -> None:
        head = (
            f"{result.annotator} on {result.name!r}: {result.correct} of {result.total} right"
            f" ({result.score:.0%}; pass at {result.pass_score:.0%})"
        )
        if result.recorded is None:
            self.say(
                self.qual_message,
                f"{head}, {result.answered} of {result.total} answered: not recorded until"
                " every item is answered.",
                error=True,
            )
        else:
            verdict = "passed" if result.passed else "failed"
            self.say(self.qual_message, f"{head}: {verdict}, recorded.", error=not result.passed)
        self.load_qualification()
        self.changed.emit()
