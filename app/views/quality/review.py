"""Review ▸ Review annotations: a reviewer's queue of review tasks, side by side.

The item's text is on the left; every other annotator's annotation of it is on the right as a
card (who, what, when, and its current review state). The reviewer approves (A), rejects with
a reason (R), discards (X) or corrects (C) the selected card, or gives it one of the project's
custom statuses; each decision is one call to app.core.quality.review.review (one small committed
transaction). The header shows the derived status of the reviewer's tasks (app.core.quality.review.
task_status), which is never set by hand. The queue walk, keys and layout skeleton are
app/views/quality/item_queue.py's; the value editor, cards and display helpers live in
app/views/quality/widgets.py, both shared with the adjudication view.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QInputDialog,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.project.project import Project
from app.core.quality import review as core_review
from app.core.quality.consensus import item_versions
from app.views.appearance import points
from app.views.quality.item_queue import (
    ItemQueueDialog,
    column,
    panel_title,
    rich_label,
    splitter_of,
)
from app.views.quality.widgets import (
    AnnotationCard,
    ValueDialog,
    action_button,
    badge,
    decision_badge,
    short_time,
    status_colour,
    status_pills,
    value_html,
)
from app.views.theme import palette
from app.views.wording import place, plural


class ReviewView(ItemQueueDialog):
    """A reviewer's review tasks, one item at a time, the annotations beside the text."""

    QUEUE_TITLE = "Queue"
    HINT = (
        "A approve · R reject · X discard · C correct · ↑↓ or 1–9 choose an annotation"
        " · Enter/→ next item · ← back"
    )
    LAST_ITEM_MESSAGE = "That was the last item of the queue."

    def __init__(
        self, project: Project, reviewer: int | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(project, f"Review — {project.name}", parent)
        self.queue: list[core_review.TaskState] = []
        self.entries: list[dict[str, Any]] = []  # annotations_to_review of the current item
        self.counts: dict[str, int] = {}
        self.assignment = core_review.TODO
        self.start(reviewer if reviewer is not None else project.local_annotator_id)

    # --- layout ------------------------------------------------------------------------------

    def header_tools(self) -> list[QWidget]:
        self.all_button = action_button(
            "Review all completed work",
            self.review_everything,
            "A review task for every item someone else completed",
        )
        self.spot_button = action_button(
            "Spot check…", self.spot_check, "Review a seeded random sample of the completed work"
        )
        return [self.all_button, self.spot_button]

    def build_main(self, queue_panel: QWidget) -> QSplitter:
        self.item_status = rich_label()
        text_panel, text_layout = column()
        text_layout.addLayout(self.item_header(self.item_status))
        text_layout.addWidget(self.text_view, 1)

        scroll = self.cards_area(QVBoxLayout(), (0, 0, 6, 0))
        self.consensus_label = rich_label()
        self.consensus_label.setWordWrap(True)
        side, side_layout = column()
        side_layout.addWidget(panel_title("Annotations to review"))
        side_layout.addWidget(scroll, 1)
        side_layout.addWidget(self.consensus_label)
        return splitter_of(
            Qt.Orientation.Horizontal, [queue_panel, text_panel, side], [0, 3, 2], [230, 620, 430]
        )

    def action_buttons(self) -> list[QPushButton]:
        self.approve_button = action_button("A  Approve", self.approve)
        self.reject_button = action_button("R  Reject…", self.reject_annotation)
        self.discard_button = action_button("X  Discard", self.discard)
        self.correct_button = action_button("C  Correct…", self.correct)
        self.custom_buttons: dict[str, QPushButton] = {}
        for name, counts_as in core_review.review_statuses(self.project).items():
            if name in core_review.REVIEW_DECISIONS:
                continue
            button = action_button(name, self._custom_clicked, f"Counts as {counts_as}")
            button.setProperty("status", name)
            self.custom_buttons[name] = button
        fixed = [self.approve_button, self.reject_button, self.discard_button, self.correct_button]
        return fixed + list(self.custom_buttons.values())

    # --- the queue ---------------------------------------------------------------------------

    @property
    def reviewer(self) -> int:
        return self.who

    def open_queue(self) -> None:
        """Fix the queue (the reviewer's review tasks in task order) and show the first one not
        completed yet."""
        report = core_review.task_status(self.project, self.reviewer)
        self.queue = [t for t in report.tasks if t.kind == "review"]
        self._show_counts(report)
        self.reset_queue_list()
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
        name = self.who_combo.currentText().rsplit(" (", 1)[0]
        reviews = [t for t in report.tasks if t.kind == "review"]
        self.counts = {
            s: sum(1 for t in reviews if t.status == s) for s in core_review.DERIVED_STATUSES
        }
        self.assignment = report.assignments.get(name, core_review.TODO)
        colour = status_colour(self.assignment, palette().muted)
        self.status_label.setText(
            f"Review tasks: <b style='color:{colour}'>{self.assignment}</b>"
            f" &nbsp;&nbsp; {status_pills(self.counts)}"
        )

    def _show_queue_states(self) -> None:
        self.load_snippets([t.datapoint_id for t in self.queue])
        for row, task in enumerate(self.queue):
            snippet = self.snippets.get(task.datapoint_id, "")
            colour = status_colour(task.status)
            self.show_queue_row(row, f"{row + 1}. {snippet}\n     {task.status}", colour)
        self.queue_title.setText(f"Queue · {plural(len(self.queue), 'item')}")

    def datapoint_at(self, position: int) -> int:
        return self.queue[position].datapoint_id

    def show_item(self) -> None:
        assert self.item is not None
        self.item_title.setText(
            f"Item {self.position + 1:,} of {len(self.queue):,}"
            f" · {place(self.item.dataset, self.item.row)}"
        )
        self._show_item_status()
        self.selected = -1
        self.show_annotations()
        self._select(self._next_undecided(-1))

    def show_empty(self) -> None:
        self.item = None
        self.entries = []
        self.item_title.setText("No review tasks")
        self.item_status.setText("")
        self.text_view.set_text(
            "No review tasks for this reviewer yet.\n\nCreate them with “Review all completed"
            " work” (every item someone else completed) or “Spot check…” (a seeded random"
            " sample), or choose another reviewer."
        )
        self.clear_cards()
        self.consensus_label.setText("")

    def _show_item_status(self) -> None:
        if not self.queue:
            return
        status = self.queue[self.position].status
        self.item_status.setText(
            f"<span style='color:{status_colour(status)}; font-weight:600'>{status}</span>"
        )

    # --- the annotations -----------------------------------------------------------------------

    def show_annotations(self) -> None:
        """One card per annotation to review, with its current review state."""
        self.clear_cards()
        if self.item is None:
            return
        dp_id = self.item.id
        self.entries = core_review.annotations_to_review(self.project, self.reviewer, dp_id)
        versions = item_versions(self.project, dp_id)
        times = {v.annotation_uuid: v.updated_at for v in versions.votes}
        corrected = {v.annotation_uuid: v.value for v in versions.votes if v.corrected}
        for index, entry in enumerate(self.entries):
            text, colour = decision_badge(entry["decision"])
            footer = badge(text, colour)
            uid = entry["annotation_uuid"]
            if uid in corrected:
                footer += " · corrected to " + value_html(
                    corrected[uid], self.task_type, self.colours, self.item.text
                )
            when = short_time(times.get(uid))
            faint = palette().faint
            title = (
                f"<span style='color:{faint}'>{index + 1}</span> &nbsp;"
                f"<b style='font-size:{points(12)}'>{html.escape(entry['annotator'])}</b>"
                + (f" &nbsp;<span style='color:{faint}'>{when}</span>" if when else "")
            )
            body = value_html(entry["value"], self.task_type, self.colours, self.item.text)
            self.add_card(AnnotationCard(index, title, body, footer))
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
                f"<span style='color:{palette().danger}'>"
                "No consensus: the annotators disagree.</span>"
            )
        self._select(min(max(self.selected, 0), len(self.cards) - 1))

    def value_at(self, index: int) -> Any:
        return self.entries[index]["value"]

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
        """Save the decision off the GUI thread; the dialog moves on once it is saved."""
        project, reviewer, uuid = self.project, self.reviewer, entry["annotation_uuid"]
        done = "corrected" if value is not None else decision

        def recorded(_result: object) -> None:
            self.say(f"✓ {entry['annotator']}'s annotation: {done}")
            self.show_annotations()
            self._select(self._next_undecided(self.selected))
            self.refresh_status()
            self.changed.emit()

        self.write(
            lambda: core_review.review(project, reviewer, uuid, decision, reason, correction=value),
            recorded,
        )

    # --- making tasks ------------------------------------------------------------------------

    def review_everything(self) -> None:
        project, reviewer = self.project, self.reviewer

        def made(count: int) -> None:
            self.say(f"{count:,} review tasks created.")
            self.open_queue()

        self.write(lambda: core_review.create_review_tasks(project, reviewer), made)

    def spot_check(self) -> None:
        percent, ok = QInputDialog.getInt(
            self, "Spot check", "Review this share of the completed work (%):", 5, 1, 100
        )
        if not ok:
            return
        project, reviewer = self.project, self.reviewer

        def made(report: Any) -> None:
            self.say(report.summary())
            self.open_queue()

        self.write(lambda: core_review.spot_check(project, reviewer, percent / 100), made)

    # --- keys ----------------------------------------------------------------------------------

    def key_actions(self) -> dict[int, Callable[[], None]]:
        return {
            Qt.Key.Key_A: self.approve,
            Qt.Key.Key_R: self.reject_annotation,
            Qt.Key.Key_X: self.discard,
            Qt.Key.Key_C: self.correct,
        }

    def number_pressed(self, number: int) -> None:
        """Choose annotation `number`."""
        if number - 1 < len(self.cards):
            self._select(number - 1)

    def other_key(self, event: QKeyEvent) -> bool:
        """↑ and ↓ choose the previous or next annotation."""
        key = event.key()
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.cards:
            step = -1 if key == Qt.Key.Key_Up else 1
            self._select((self.selected + step) % len(self.cards))
            return True
        return False
