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
recorded_results), scored the way gold_accuracy scores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.annotation.commands import Item, load_items
from app.core.errors import TagloopError
from app.core.project.project import Project
from app.core.quality import gold as core_gold
from app.core.quality import qualification as core_qualification
from app.core.quality.consensus import item_versions
from app.core.team.assign import AnnotatorInfo, list_annotators

RED, GREEN, GREY = "#C62828", "#2E7D32", "#607D8B"
SNIPPET = 70
CHOOSE = "— choose —"
STYLE = """
QGroupBox { font-weight: 600; border: 1px solid #CFD8DC; border-radius: 6px; margin-top: 10px;
            padding: 8px 6px 6px 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #37474F; }
QLabel#hint { color: #546E7A; font-weight: normal; }
QPushButton { padding: 4px 12px; }
"""
SOURCE_TEXT = {
    "adjudicated": "adjudicated value",
    "gold": "already gold (re-marking replaces it)",
    "consensus": "consensus",
    "single": "the only answer",
}


# -- small display helpers --------------------------------------------------------------------


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


def local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


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


# -- one item to mark -------------------------------------------------------------------------


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
            self.editor.setStyleSheet(f"color: {'#263238' if self.markable else GREY};")

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

    def set_answer(self, value: Any) -> None:
        if self.combo is not None:
            self.combo.setCurrentIndex(self.combo.findData(value))
        elif self.checks:
            for name, box in self.checks.items():
                box.setChecked(name in set(value))


# -- the dialog -------------------------------------------------------------------------------


class GoldView(QDialog):
    """Gold items, marking the selected rows as gold, gold mixed into queues, qualification
    sets and results, and gold accuracy with drift alerts."""

    changed = Signal()  # gold, tasks or results changed (the main window may refresh)

    GOLD_COLUMNS = ("Item", "Text", "Answer", "Answered by", "Accuracy")
    MARK_COLUMNS = ("Item", "Text", "Gold answer", "Default")
    RESULT_COLUMNS = ("Annotator", "Set", "Score", "Result", "Recorded")
    ACCURACY_COLUMNS = ("Annotator", "Accuracy", "Correct", "Latest window", "Drift")

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
        self.setStyleSheet(STYLE)
        self.rows: list[core_gold.GoldRow] = []
        self.candidates: list[Candidate] = []
        self.annotators: list[AnnotatorInfo] = []
        self.accuracy: list[core_gold.GoldAccuracy] = []
        self.alerts: list[core_gold.DriftAlert] = []
        self.results: list[tuple] = []

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._left())
        splitter.addWidget(self._right())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        self.resize(1440, 900)

        self.load_annotators()
        self.load_candidates()
        self.reload()

    # --- layout ------------------------------------------------------------------------------

    def _left(self) -> QWidget:
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

        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.gold_box, 3)
        layout.addWidget(self.mark_box, 2)
        return panel

    def _right(self) -> QWidget:
        # annotators, shared by mixing and qualification
        self.annotator_list = QListWidget()
        self.annotator_list.setFixedHeight(92)
        who_box = QGroupBox("Annotators")
        who_layout = QVBoxLayout(who_box)
        who_layout.addWidget(self.annotator_list)
        who_layout.addWidget(hint("The checked ones get gold tasks and qualification tasks."))

        # mix gold into their queues
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
        mix_row = QHBoxLayout()
        mix_row.addWidget(QLabel("Rate"))
        mix_row.addWidget(self.rate_spin)
        mix_row.addWidget(QLabel("Seed"))
        mix_row.addWidget(self.seed_spin)
        mix_row.addStretch(1)
        mix_row.addWidget(self.mix_button)
        mix_layout = QVBoxLayout(mix_box)
        mix_layout.addLayout(mix_row)
        mix_layout.addWidget(self.mix_message)

        # qualification
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

        # accuracy and drift
        self.threshold_spin = QSpinBox(minimum=1, maximum=100, value=80)
        self.threshold_spin.setSuffix(" %")
        self.min_items_spin = QSpinBox(minimum=1, maximum=10_000, value=5)
        self.window_spin = QSpinBox(minimum=1, maximum=365, value=7)
        self.window_spin.setSuffix(" days")
        for spin in (self.threshold_spin, self.min_items_spin, self.window_spin):
            spin.valueChanged.connect(self.load_accuracy)
        self.threshold_spin.valueChanged.connect(self._colour_gold)
        self.accuracy_table = make_table(self.ACCURACY_COLUMNS, 4)
        self.alert_label = QLabel(wordWrap=True)
        self.alert_label.setStyleSheet(f"color: {RED};")
        accuracy_box = QGroupBox("Gold accuracy per annotator")
        accuracy_row = QHBoxLayout()
        accuracy_row.addWidget(QLabel("Alert below"))
        accuracy_row.addWidget(self.threshold_spin)
        accuracy_row.addWidget(QLabel("with at least"))
        accuracy_row.addWidget(self.min_items_spin)
        accuracy_row.addWidget(QLabel("answers per"))
        accuracy_row.addWidget(self.window_spin)
        accuracy_row.addStretch(1)
        accuracy_layout = QVBoxLayout(accuracy_box)
        accuracy_layout.addLayout(accuracy_row)
        accuracy_layout.addWidget(self.accuracy_table, 1)
        accuracy_layout.addWidget(self.alert_label)

        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(who_box)
        layout.addWidget(mix_box)
        layout.addWidget(qual_box, 3)
        layout.addWidget(accuracy_box, 2)
        return panel

    # --- messages ----------------------------------------------------------------------------

    @staticmethod
    def say(label: QLabel, words: str, error: bool = False) -> None:
        label.setStyleSheet(f"color: {RED if error else GREEN};")
        label.setText(words)

    # --- loading -----------------------------------------------------------------------------

    def reload(self) -> None:
        """The gold table, the qualification sets and results, and the accuracy table."""
        self.load_gold()
        self.load_qualification()
        self.load_accuracy()

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
            colour = None if accuracy is None else (GREEN if accuracy >= threshold else RED)
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
                item.setForeground(QColor(GREEN if row.accuracy >= threshold else RED))

    def _texts(self, ids: list[int]) -> dict[int, str]:
        items = load_items(self.project, ids, self.project.local_annotator_id)
        return {dp: item.text for dp, item in items.items()}

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
            table.setItem(r, 3, cell(candidate.source_text(), GREY))
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
            verdict = cell("✓ passed" if passed else "✗ failed", GREEN if passed else RED, True)
            row = (
                cell(who),
                cell(name),
                cell(f"{score:.0%}  ({correct}/{total})"),
                verdict,
                cell(local_time(at), GREY),
            )
            for column, item in enumerate(row):
                table.setItem(r, column, item)

    def load_accuracy(self) -> None:
        threshold = self.threshold_spin.value() / 100
        window = self.window_spin.value()
        try:
            self.accuracy = core_gold.gold_accuracy(self.project, window_days=window)
            self.alerts = core_gold.drift_alerts(
                self.project, threshold, self.min_items_spin.value(), window
            )
        except TagloopError as exc:
            self.accuracy, self.alerts = [], []
            self.alert_label.setText(str(exc))
            return
        alerted = {a.annotator: a for a in self.alerts}
        table = self.accuracy_table
        table.setRowCount(len(self.accuracy))
        for r, acc in enumerate(self.accuracy):
            alert = alerted.get(acc.annotator)
            latest = acc.buckets[-1] if acc.buckets else None
            window_text = (
                f"{percent(latest.accuracy)} on {latest.total} ({latest.start} to {latest.end})"
                if latest
                else "—"
            )
            drift = (
                f"⚠ {percent(alert.accuracy)} on {alert.items}, below {percent(threshold)}"
                if alert
                else "ok"
            )
            row = (
                cell(acc.annotator, bold=alert is not None),
                cell(percent(acc.accuracy), bold=True),
                cell(f"{acc.correct} of {acc.total}"),
                cell(window_text),
                cell(drift, RED if alert else GREEN, bold=alert is not None),
            )
            for column, item in enumerate(row):
                if alert is not None:
                    item.setForeground(QColor(RED))
                    item.setBackground(QColor("#FFEBEE"))
                table.setItem(r, column, item)
        if not self.accuracy:
            self.alert_label.setStyleSheet(f"color: {GREY};")
            self.alert_label.setText("Nobody has answered a gold item yet.")
        elif self.alerts:
            self.alert_label.setStyleSheet(f"color: {RED};")
            self.alert_label.setText("\n".join(f"⚠ {a.message()}" for a in self.alerts))
        else:
            self.alert_label.setStyleSheet(f"color: {GREEN};")
            self.alert_label.setText(f"No drift: nobody's latest window is below {threshold:.0%}.")

    # --- qualification items -----------------------------------------------------------------

    def selected_gold(self) -> list[int]:
        rows = sorted({index.row() for index in self.gold_table.selectionModel().selectedRows()})
        return [self.rows[r].datapoint_id for r in rows if r < len(self.rows)]

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

    # --- actions -----------------------------------------------------------------------------

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
        try:
            marked = core_gold.mark_gold(self.project, ids, answers)
        except TagloopError as exc:
            self.say(self.mark_message, str(exc), error=True)
            return
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
            self.mark_table.setItem(r, 3, cell(candidate.source_text(), GREY))
        self.reload()
        self.changed.emit()

    def mix(self) -> None:
        who = self.checked_annotators()
        if not who:
            self.say(self.mix_message, "Check the annotators to give gold tasks to.", error=True)
            return
        rate = self.rate_spin.value() / 100
        try:
            made = core_gold.mix_gold_into_tasks(
                self.project, who, rate, seed=self.seed_spin.value()
            )
        except TagloopError as exc:
            self.say(self.mix_message, str(exc), error=True)
            return
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

    def create_set(self) -> None:
        name = self.qual_name.text().strip()
        pass_score = self.pass_spin.value() / 100
        items = self.set_items()
        try:
            core_qualification.create_qualification(self.project, name, items, pass_score)
        except TagloopError as exc:
            self.say(self.qual_message, str(exc), error=True)
            return
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
        try:
            made = core_qualification.assign_qualification(self.project, name, who)
        except TagloopError as exc:
            self.say(self.qual_message, str(exc), error=True)
            return
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
        try:
            result = core_qualification.qualification_result(self.project, who, name)
        except TagloopError as exc:
            self.say(self.qual_message, str(exc), error=True)
            return
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
