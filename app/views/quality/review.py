"""Review ▸ Review annotations: a reviewer's queue of review tasks, side by side.

The item's text is on the left; every other annotator's annotation of it is on the right as a
card (who, what, when, and its current review state). The reviewer approves (A), rejects with
a reason (R), discards (X) or corrects (C) the selected card, or gives it one of the project's
custom statuses; each decision is one call to app.core.quality.review.review (one small committed
transaction). The header shows the derived status of the reviewer's tasks (app.core.quality.review.
task_status), which is never set by hand. The value editor, cards and display helpers live in
app/views/quality_widgets.py, shared with the adjudication view.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.annotation.commands import Item, load_item, load_items
from app.core.errors import TagloopError
from app.core.project.project import Project
from app.core.quality import review as core_review
from app.core.quality.consensus import item_versions
from app.views.quality.widgets import (
    DECISION_BADGES,
    STATUS_COLOURS,
    STYLE,
    AnnotationCard,
    ValueDialog,
    action_button,
    badge,
    label_colours,
    make_text_view,
    senior_annotators,
    short_time,
    status_pills,
    value_html,
    who_combo,
)


class ReviewView(QDialog):
    """A reviewer's review tasks, one item at a time, the annotations beside the text."""

    changed = Signal()  # a decision was recorded (the main window may refresh its table)

    def __init__(
        self, project: Project, reviewer: int | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.task_type = project.task_type
        self.colours = label_colours(project)
        self.setWindowTitle(f"Review — {project.name}")
        self.setStyleSheet(STYLE)
        self.queue: list[core_review.TaskState] = []
        self.position = 0
        self.item: Item | None = None
        self.entries: list[dict[str, Any]] = []  # annotations_to_review of the current item
        self.cards: list[AnnotationCard] = []
        self.selected = 0
        self.counts: dict[str, int] = {}
        self.assignment = core_review.TODO
        self._build(reviewer if reviewer is not None else project.local_annotator_id)
        self.resize(1280, 760)
        self.open_queue()

    # --- layout ------------------------------------------------------------------------------

    def _build(self, reviewer: int) -> None:
        self.reviewer_combo = who_combo(senior_annotators(self.project), reviewer)
        self.reviewer_combo.activated.connect(self._reviewer_chosen)
        self.all_button = action_button(
            "Review all completed work",
            self.review_everything,
            "A review task for every item someone else completed",
        )
        self.spot_button = action_button(
            "Spot check…", self.spot_check, "Review a seeded random sample of the completed work"
        )
        self.status_label = QLabel()
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        header = QHBoxLayout()
        header.addWidget(QLabel("Reviewer:"))
        header.addWidget(self.reviewer_combo)
        header.addWidget(self.all_button)
        header.addWidget(self.spot_button)
        header.addSpacing(16)
        header.addWidget(self.status_label, 1)

        self.queue_list = QListWidget()
        self.queue_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.queue_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.queue_list.itemClicked.connect(self._queue_clicked)
        self.queue_list.setMinimumWidth(200)
        self.queue_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.queue_list.setSpacing(1)
        queue_panel = QWidget()
        queue_layout = QVBoxLayout(queue_panel)
        queue_layout.setContentsMargins(0, 0, 0, 0)
        self.queue_title = QLabel("Queue")
        self.queue_title.setObjectName("panelTitle")
        queue_layout.addWidget(self.queue_title)
        queue_layout.addWidget(self.queue_list, 1)

        self.item_title = QLabel()
        self.item_title.setObjectName("itemTitle")
        self.item_status = QLabel()
        self.item_status.setTextFormat(Qt.TextFormat.RichText)
        self.text_view = make_text_view(self.project)
        self.context_label = QLabel()
        self.context_label.setWordWrap(True)
        self.context_label.setTextFormat(Qt.TextFormat.RichText)
        self.context_label.hide()
        text_panel = QWidget()
        text_layout = QVBoxLayout(text_panel)
        text_layout.setContentsMargins(0, 0, 0, 0)
        title_row = QHBoxLayout()
        title_row.addWidget(self.item_title, 1)
        title_row.addWidget(self.item_status)
        text_layout.addLayout(title_row)
        text_layout.addWidget(self.context_label)
        text_layout.addWidget(self.text_view, 1)

        self.cards_box = QWidget()
        self.cards_layout = QVBoxLayout(self.cards_box)
        self.cards_layout.setContentsMargins(0, 0, 6, 0)
        self.cards_layout.setSpacing(10)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.cards_box)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.consensus_label = QLabel()
        self.consensus_label.setWordWrap(True)
        self.consensus_label.setTextFormat(Qt.TextFormat.RichText)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_title = QLabel("Annotations to review")
        side_title.setObjectName("panelTitle")
        side_layout.addWidget(side_title)
        side_layout.addWidget(scroll, 1)
        side_layout.addWidget(self.consensus_label)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(queue_panel)
        splitter.addWidget(text_panel)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([230, 620, 430])

        self.buttons = QHBoxLayout()
        self.approve_button = action_button("A  Approve", self.approve)
        self.reject_button = action_button("R  Reject…", self.reject_annotation)
        self.discard_button = action_button("X  Discard", self.discard)
        self.correct_button = action_button("C  Correct…", self.correct)
        for button in (
            self.approve_button,
            self.reject_button,
            self.discard_button,
            self.correct_button,
        ):
            self.buttons.addWidget(button)
        self.custom_buttons: dict[str, QPushButton] = {}
        for name, counts_as in core_review.review_statuses(self.project).items():
            if name in core_review.REVIEW_DECISIONS:
                continue
            button = action_button(name, self._custom_clicked, f"Counts as {counts_as}")
            button.setProperty("status", name)
            self.custom_buttons[name] = button
            self.buttons.addWidget(button)
        self.buttons.addStretch(1)
        self.buttons.addWidget(action_button("←  Back", self.back))
        self.buttons.addWidget(action_button("Next  →", self.next))

        self.hint = QLabel(
            "A approve · R reject · X discard · C correct · ↑↓ or 1–9 choose an annotation"
            " · Enter/→ next item · ← back"
        )
        self.hint.setObjectName("hint")
        self.message = QLabel()
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        footer = QHBoxLayout()
        footer.addWidget(self.hint)
        footer.addWidget(self.message, 1, Qt.AlignmentFlag.AlignRight)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 8)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)
        layout.addLayout(self.buttons)
        layout.addLayout(footer)

    # --- the queue ---------------------------------------------------------------------------

    @property
    def reviewer(self) -> int:
        return int(self.reviewer_combo.currentData())

    def _reviewer_chosen(self) -> None:
        self.open_queue()
        self.setFocus()

    def open_queue(self) -> None:
        """Fix the queue (the reviewer's review tasks in task order) and show the first one not
        completed yet."""
        report = core_review.task_status(self.project, self.reviewer)
        self.queue = [t for t in report.tasks if t.kind == "review"]
        self._show_counts(report)
        self.queue_list.clear()
        for _task in self.queue:
            self.queue_list.addItem(QListWidgetItem(""))
        self._show_queue_states()
        done = (core_review.COMPLETED, core_review.ISSUES)
        first = next((i for i, t in enumerate(self.queue) if t.status not in done), 0)
        self.go_to(first)

    def refresh_status(self) -> None:
        """Re-derive every task's status after a decision (the queue itself stays fixed)."""
        report = core_review.task_status(self.project, self.reviewer)
        states = {t.task_uuid: t for t in report.tasks}
        self.queue = [states.get(t.task_uuid, t) for t in self.queue]
        self._show_counts(report)
        self._show_queue_states()
        self._show_item_status()

    def _show_counts(self, report: core_review.StatusReport) -> None:
        name = self.reviewer_combo.currentText().rsplit(" (", 1)[0]
        reviews = [t for t in report.tasks if t.kind == "review"]
        self.counts = {s: sum(1 for t in reviews if t.status == s) for s in STATUS_COLOURS}
        self.assignment = report.assignments.get(name, core_review.TODO)
        colour = STATUS_COLOURS.get(self.assignment, "#607D8B")
        self.status_label.setText(
            f"Review tasks: <b style='color:{colour}'>{self.assignment}</b>"
            f" &nbsp;&nbsp; {status_pills(self.counts)}"
        )

    def _show_queue_states(self) -> None:
        for row, task in enumerate(self.queue):
            entry = self.queue_list.item(row)
            snippet = self._snippets().get(task.datapoint_id, "")
            entry.setText(f"{row + 1}. {snippet}\n     {task.status}")
            entry.setForeground(QColor(STATUS_COLOURS.get(task.status, "#37474F")))
        self.queue_title.setText(f"Queue · {len(self.queue)} items")

    def _snippets(self) -> dict[int, str]:
        if not hasattr(self, "_snippet_cache"):
            self._snippet_cache: dict[int, str] = {}
        missing = [t.datapoint_id for t in self.queue if t.datapoint_id not in self._snippet_cache]
        for dp_id, item in load_items(self.project, missing, self.reviewer).items():
            flat = " ".join(item.text.split())
            self._snippet_cache[dp_id] = flat[:26] + ("…" if len(flat) > 26 else "")
        return self._snippet_cache

    def _queue_clicked(self, entry: QListWidgetItem) -> None:
        self.go_to(self.queue_list.row(entry))
        self.setFocus()

    def go_to(self, position: int) -> None:
        if not self.queue:
            self._show_empty()
            return
        self.position = max(0, min(position, len(self.queue) - 1))
        self.queue_list.setCurrentRow(self.position)
        task = self.queue[self.position]
        self.item = load_item(self.project, task.datapoint_id, self.reviewer)
        self.item_title.setText(
            f"Item {self.position + 1} of {len(self.queue)} · {self.item.dataset}"
            f" row {self.item.row + 1}"
        )
        self.text_view.set_text(self.item.text)
        context = [
            f"<b>{html.escape(k)}</b>: {html.escape(str(v))}" for k, v in self.item.context.items()
        ]
        notes = [
            f"⚑ <b>{html.escape(f.author)}</b>: {html.escape(f.body)}" for f in self.item.flags
        ]
        self.context_label.setText("<br>".join(context + notes))
        self.context_label.setVisible(bool(context or notes))
        self._show_item_status()
        self.selected = -1
        self.show_annotations()
        self._select(self._next_undecided(-1))

    def _show_empty(self) -> None:
        self.item = None
        self.entries = []
        self.item_title.setText("No review tasks")
        self.item_status.setText("")
        self.text_view.set_text(
            "No review tasks for this reviewer yet.\n\nCreate them with “Review all completed"
            " work” (every item someone else completed) or “Spot check…” (a seeded random"
            " sample), or choose another reviewer."
        )
        self._clear_cards()
        self.consensus_label.setText("")

    def _show_item_status(self) -> None:
        if not self.queue:
            return
        status = self.queue[self.position].status
        self.item_status.setText(
            f"<span style='color:{STATUS_COLOURS.get(status, '#37474F')}; font-weight:600'>"
            f"{status}</span>"
        )

    def next(self) -> None:
        if self.position + 1 < len(self.queue):
            self.go_to(self.position + 1)
        elif self.queue:
            self.say("That was the last item of the queue.")

    def back(self) -> None:
        if self.position > 0:
            self.go_to(self.position - 1)

    # --- the annotations -----------------------------------------------------------------------

    def _clear_cards(self) -> None:
        while self.cards_layout.count():
            widget = self.cards_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.cards = []

    def show_annotations(self) -> None:
        """One card per annotation to review, with its current review state."""
        self._clear_cards()
        if self.item is None:
            return
        dp_id = self.item.id
        self.entries = core_review.annotations_to_review(self.project, self.reviewer, dp_id)
        versions = item_versions(self.project, dp_id)
        times = {v.annotation_uuid: v.updated_at for v in versions.votes}
        corrected = {v.annotation_uuid: v.value for v in versions.votes if v.corrected}
        for index, entry in enumerate(self.entries):
            text, colour = DECISION_BADGES.get(entry["decision"], (entry["decision"], "#37474F"))
            footer = badge(text, colour)
            uid = entry["annotation_uuid"]
            if uid in corrected:
                footer += " · corrected to " + value_html(
                    corrected[uid], self.task_type, self.colours, self.item.text
                )
            when = short_time(times.get(uid))
            title = (
                f"<span style='color:#78909C'>{index + 1}</span> &nbsp;"
                f"<b style='font-size:12pt'>{html.escape(entry['annotator'])}</b>"
                + (f" &nbsp;<span style='color:#78909C'>{when}</span>" if when else "")
            )
            body = value_html(entry["value"], self.task_type, self.colours, self.item.text)
            card = AnnotationCard(index, title, body, footer)
            card.clicked.connect(self._card_clicked)
            self.cards_layout.addWidget(card)
            self.cards.append(card)
        if not self.entries:
            empty = QLabel("Nothing to review here: no one else completed this item.")
            empty.setWordWrap(True)
            self.cards_layout.addWidget(empty)
        self.cards_layout.addStretch(1)
        consensus = versions.consensus
        if consensus is None:
            self.consensus_label.setText("")
        elif consensus.reached:
            self.consensus_label.setText(
                "Consensus of the votes: "
                + value_html(consensus.value, self.task_type, self.colours, self.item.text)
            )
        else:
            self.consensus_label.setText(
                "<span style='color:#C62828'>No consensus: the annotators disagree.</span>"
            )
        self._select(min(max(self.selected, 0), len(self.cards) - 1))

    def _card_clicked(self, index: int) -> None:
        self._select(index)
        self.setFocus()

    def _select(self, index: int) -> None:
        self.selected = index if self.cards else -1
        for i, card in enumerate(self.cards):
            card.set_selected(i == self.selected)
        if self.task_type == "spans" and self.item is not None:
            value = self.entries[self.selected]["value"] if self.selected >= 0 else []
            self.text_view.set_spans(list(value or []), self.colours)

    def _next_undecided(self, after: int) -> int:
        """The first annotation after `after` (wrapping) without a decision, else `after`."""
        n = len(self.entries)
        for step in range(1, n + 1):
            i = (after + step) % n
            if self.entries[i]["decision"] is None:
                return i
        return max(after, 0)

    # --- decisions -------------------------------------------------------------------------------

    def current_entry(self) -> dict[str, Any] | None:
        if self.item is None or not (0 <= self.selected < len(self.entries)):
            self.say("No annotation to decide on.", error=True)
            return None
        return self.entries[self.selected]

    def approve(self) -> None:
        self.decide("approve")

    def discard(self) -> None:
        self.decide("discard")

    def reject_annotation(self) -> None:
        """(Not `reject`: QDialog calls that on close and Esc.)"""
        self.decide("reject")

    def _custom_clicked(self) -> None:
        button = self.sender()
        if isinstance(button, QPushButton):
            self.decide(str(button.property("status")))

    def ask_reason(self, decision: str) -> str | None:
        """A rejection's reason, or None when the reviewer gave none (nothing is recorded)."""
        entry = self.entries[self.selected]
        reason, ok = QInputDialog.getText(
            self,
            f"{decision.capitalize()} {entry['annotator']}'s annotation",
            "Reason (required):",
        )
        reason = reason.strip()
        if not ok or not reason:
            self.say("A rejection needs a reason: nothing was recorded.", error=True)
            return None
        return reason

    def decide(self, decision: str) -> None:
        """Record a decision on the selected annotation (asking for a reason when it counts
        as a rejection), then show what it changed."""
        entry = self.current_entry()
        if entry is None:
            return
        reason = None
        if core_review.review_statuses(self.project).get(decision) == "reject":
            reason = self.ask_reason(decision)
            if reason is None:
                return
        self._record(entry, decision, reason, None)

    def correct(self) -> None:
        """Edit the selected annotation's value: saved as the reviewer's own annotation, linked
        to the original by a rejection with a reason."""
        entry = self.current_entry()
        if entry is None or self.item is None:
            return
        dialog = ValueDialog(
            self.project,
            entry["value"],
            self.item.text,
            f"Correct {entry['annotator']}'s annotation",
            ask_reason=True,
            parent=self,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            self.say("Correction cancelled.")
            return
        self._record(entry, "reject", dialog.reason_text(), dialog.value())

    def _record(self, entry: dict[str, Any], decision: str, reason: str | None, value) -> None:
        try:
            core_review.review(
                self.project,
                self.reviewer,
                entry["annotation_uuid"],
                decision,
                reason,
                correction=value,
            )
        except TagloopError as exc:
            self.say(str(exc), error=True)
            return
        done = "corrected" if value is not None else decision
        self.say(f"✓ {entry['annotator']}'s annotation: {done}")
        self.show_annotations()
        self._select(self._next_undecided(self.selected))
        self.refresh_status()
        self.changed.emit()

    # --- making tasks ------------------------------------------------------------------------

    def review_everything(self) -> None:
        try:
            made = core_review.create_review_tasks(self.project, self.reviewer)
        except TagloopError as exc:
            self.say(str(exc), error=True)
            return
        self.say(f"{made:,} review tasks created.")
        self.open_queue()

    def spot_check(self) -> None:
        percent, ok = QInputDialog.getInt(
            self, "Spot check", "Review this share of the completed work (%):", 5, 1, 100
        )
        if not ok:
            return
        try:
            report = core_review.spot_check(self.project, self.reviewer, percent / 100)
        except TagloopError as exc:
            self.say(str(exc), error=True)
            return
        self.say(report.summary())
        self.open_queue()

    # --- keys and messages ---------------------------------------------------------------------

    def say(self, message: str, error: bool = False) -> None:
        colour = "#C62828" if error else "#2E7D32"
        self.message.setText(f"<span style='color:{colour}'>{html.escape(message)}</span>")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            super().keyPressEvent(event)
            return
        actions = {
            Qt.Key.Key_A: self.approve,
            Qt.Key.Key_R: self.reject_annotation,
            Qt.Key.Key_X: self.discard,
            Qt.Key.Key_C: self.correct,
            Qt.Key.Key_Return: self.next,
            Qt.Key.Key_Enter: self.next,
            Qt.Key.Key_Right: self.next,
            Qt.Key.Key_Left: self.back,
            Qt.Key.Key_Backspace: self.back,
        }
        if key in actions:
            actions[key]()
            return
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.cards:
            step = -1 if key == Qt.Key.Key_Up else 1
            self._select((self.selected + step) % len(self.cards))
            return
        if event.text() in "123456789" and event.text():
            index = int(event.text()) - 1
            if index < len(self.cards):
                self._select(index)
            return
        super().keyPressEvent(event)
