"""Review ▸ Adjudicate disagreements: every version of a disputed item side by side.

The queue is fixed when the view opens: the adjudicator's open adjudicate tasks, then every
other open disagreement (app.core.quality.consensus.disagreements: two or more votes, no consensus,
not adjudicated, not gold). For each item the adjudicator sees the text above and one card per
version below (the annotator's value, when it was made, what review said of it, a reviewer's
correction where there is one), with the versions review set aside greyed out, and the
consensus, gold answer or earlier decision. They pick a version (click "Use this" or press its
number) or edit the final value (E); either is saved by app.core.quality.consensus.adjudicate (one
committed transaction), and the next disagreement comes up. The queue walk, keys and layout
skeleton are app/views/quality/item_queue.py's, shared with the review view.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QWidget,
)

from app.core.project.project import Project
from app.core.quality import consensus as core_consensus
from app.core.quality.review import annotations_to_review, task_status
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
    value_html,
)
from app.views.theme import palette
from app.views.wording import place, plural

CARD_WIDTH = 250


class AdjudicationView(ItemQueueDialog):
    """The adjudication queue of one adjudicator (a senior annotator), one item at a time."""

    WHO_LABEL = "Adjudicator:"
    QUEUE_TITLE = "Disagreements"
    NEXT_WORDS = "Skip  →"
    HINT = (
        "1–9 use that version · E edit the final value · Enter/→ skip · ← back"
        " · click a version to see it on the text"
    )

    def __init__(
        self, project: Project, adjudicator: int | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(project, f"Adjudicate disagreements — {project.name}", parent)
        self.queue: list[int] = []  # datapoint ids
        self.decided: dict[int, Any] = {}  # datapoint id: the value chosen in this view
        self.versions: core_consensus.ItemVersions | None = None
        self.start(adjudicator if adjudicator is not None else project.local_annotator_id)

    # --- layout ------------------------------------------------------------------------------

    def header_tools(self) -> list[QWidget]:
        self.match_combo = QComboBox()
        self.match_combo.addItem("Exact span match", "exact")
        self.match_combo.addItem("Overlapping spans match", "overlap")
        self.match_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.match_combo.activated.connect(self._who_chosen)
        return [self.match_combo] if self.task_type == "spans" else []

    def header_end(self) -> list[QWidget]:
        self.progress = QProgressBar()
        self.progress.setMinimumWidth(220)
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("%v of %m decided")
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return [self.progress]

    @property
    def progress_label(self) -> QLabel:
        """The header's status line: which disagreement of how many, how many decided."""
        return self.status_label

    def build_main(self, queue_panel: QWidget) -> QSplitter:
        self.outcome_label = rich_label()
        main, main_layout = column()
        main_layout.addLayout(self.item_header(self.outcome_label))
        self.text_view.setMinimumHeight(140)
        versions, versions_layout = column(top=6)
        versions_layout.addWidget(
            panel_title("Versions — pick one (1–9) or edit the final value (E)")
        )
        versions_layout.addWidget(self.cards_area(QHBoxLayout(), (0, 0, 0, 4)), 1)
        vertical = splitter_of(
            Qt.Orientation.Vertical, [self.text_view, versions], [1, 1], [380, 240]
        )
        main_layout.addWidget(vertical, 1)
        return splitter_of(Qt.Orientation.Horizontal, [queue_panel, main], [0, 1], [240, 1040])

    def action_buttons(self) -> list[QPushButton]:
        self.edit_button = action_button("E  Edit the final value…", self.edit_final)
        return [self.edit_button]

    # --- the queue ---------------------------------------------------------------------------

    @property
    def adjudicator(self) -> int:
        return self.who

    @property
    def match(self) -> core_consensus.Match:
        return self.match_combo.currentData() if self.task_type == "spans" else "exact"

    def open_queue(self) -> None:
        """Fix the queue: this adjudicator's open adjudicate tasks, then the other open
        disagreements, each item once."""
        tasks = [
            t.datapoint_id
            for t in task_status(self.project, self.adjudicator).tasks
            if t.kind == "adjudicate" and t.status == "to-do"
        ]
        disputed = core_consensus.disagreements(self.project, match=self.match)
        others = [c.datapoint_id for c in disputed]
        self.queue = list(dict.fromkeys(tasks + others))
        self.decided = {}
        self.load_snippets(self.queue)
        self.reset_queue_list()
        self.queue_title.setText(f"Disagreements · {len(self.queue)}")
        self._show_progress()
        self.go_to(0)

    def _show_progress(self) -> None:
        total, done = len(self.queue), len(self.decided)
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat("%v of %m decided" if total else "nothing to decide")
        if not total:
            self.progress_label.setText("No open disagreements")
            return
        self.progress_label.setText(
            f"Disagreement <b>{self.position + 1:,}</b> of <b>{total:,}</b>"
            f" &nbsp;·&nbsp; {done:,} decided, {total - done:,} to go"
        )
        for row, dp_id in enumerate(self.queue):
            mark = "✓ " if dp_id in self.decided else ""
            text = f"{mark}{row + 1}. {self.snippets.get(dp_id, '')}"
            decided = dp_id in self.decided
            colours = palette()
            self.show_queue_row(row, text, colours.success if decided else colours.text_secondary)

    def datapoint_at(self, position: int) -> int:
        return self.queue[position]

    def show_item(self) -> None:
        assert self.item is not None
        self.versions = core_consensus.item_versions(self.project, self.item.id, match=self.match)
        self.item_title.setText(place(self.item.dataset, self.item.row))
        self._show_outcome()
        self._show_versions()
        self._show_progress()

    def show_empty(self) -> None:
        self.item = None
        self.versions = None
        self.item_title.setText("Nothing to adjudicate")
        self.outcome_label.setText("")
        self.context_label.hide()
        self.text_view.set_text(
            "No open disagreements: every item labeled by two or more annotators has a"
            " consensus, an adjudicated value or a gold answer."
        )
        self.clear_cards()
        self._show_progress()

    def _show_outcome(self) -> None:
        """What the item's final value is now: decided here, adjudicated before, or none."""
        versions = self.versions
        if versions is None or self.item is None:
            return
        if self.item.id in self.decided:
            value = self.decided[self.item.id]
            text = "✓ Decided: " + value_html(value, self.task_type, self.colours, self.item.text)
        elif versions.adjudication is not None:
            adj = versions.adjudication
            text = f"Adjudicated by {html.escape(adj['decided_by'])}: " + value_html(
                adj["value"], self.task_type, self.colours, self.item.text
            )
        elif versions.gold is not None:
            text = "Gold: " + value_html(
                versions.gold, self.task_type, self.colours, self.item.text
            )
        elif versions.consensus is not None and versions.consensus.reached:
            text = "Consensus: " + value_html(
                versions.consensus.value, self.task_type, self.colours, self.item.text
            )
        else:
            n = len(versions.votes)
            text = f"<span style='color:{palette().danger}'>No consensus among {n} votes</span>"
        self.outcome_label.setText(text)

    # --- the versions ------------------------------------------------------------------------

    def _show_versions(self) -> None:
        """One card per vote (numbered, with "Use this"), then the versions review set aside."""
        self.clear_cards()
        if self.versions is None or self.item is None:
            return
        text = self.item.text
        reviews = {
            e["annotation_uuid"]: e["decision"]
            for e in annotations_to_review(self.project, self.adjudicator, self.item.id)
        }
        colours = palette()
        for index, vote in enumerate(self.versions.votes):
            title = (
                f"<span style='font-size:{points(15)}; color:{colours.accent}'>"
                f"<b>{index + 1}</b></span>"
                f" &nbsp;<b style='font-size:{points(12)}'>{html.escape(vote.annotator)}</b>"
                f"<br><span style='color:{colours.faint}'>{short_time(vote.updated_at)}</span>"
            )
            footer = badge(*decision_badge(reviews.get(vote.annotation_uuid)))
            if vote.corrected:
                footer = badge("✎ corrected by a reviewer", colours.correction)
            body = value_html(vote.value, self.task_type, self.colours, text)
            card = AnnotationCard(index, title, body, footer)
            card.setFixedWidth(CARD_WIDTH)
            use = action_button(f"Use this  ({index + 1})", self._use_clicked)
            use.setProperty("version", index)
            card.layout().addStretch(1)
            card.layout().addWidget(use)
            self.add_card(card, 0, Qt.AlignmentFlag.AlignTop)
        for other in self.versions.others:
            name = html.escape(other["annotator"])
            title = f"<b style='font-size:{points(12)}; color:{colours.faint}'>{name}</b>"
            label, colour = decision_badge(other["review"])
            card = AnnotationCard(
                -1,
                title,
                value_html(other["value"], self.task_type, self.colours, text),
                badge(f"{label}: set aside by review", colour),
            )
            card.setProperty("excluded", True)
            card.setFixedWidth(CARD_WIDTH)
            self.cards_layout.addWidget(card, 0, Qt.AlignmentFlag.AlignTop)
        self.cards_layout.addStretch(1)
        self._select(0)

    def value_at(self, index: int) -> Any:
        assert self.versions is not None
        return self.versions.votes[index].value

    # --- deciding --------------------------------------------------------------------------------

    def _use_clicked(self) -> None:
        button = self.sender()
        if isinstance(button, QPushButton):
            self.use_version(int(button.property("version")))

    def use_version(self, index: int) -> None:
        """Make version `index` (0-based) the item's final value."""
        if self.versions is None or not 0 <= index < len(self.versions.votes):
            return
        self.save(self.versions.votes[index].value)

    def edit_final(self) -> None:
        """Edit a final value, starting from the selected version."""
        if self.item is None or self.versions is None:
            return
        votes = self.versions.votes
        start = self.decided.get(self.item.id)
        if start is None and votes:
            start = votes[max(self.selected, 0)].value
        dialog = ValueDialog(
            self.project, start, self.item.text, "The final value of this item", parent=self
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.save(dialog.value())

    def save(self, value: Any) -> None:
        """Record the final value (off the GUI thread), then go on to the next undecided
        disagreement once it is saved."""
        if self.item is None:
            return
        dp_id, project, adjudicator = self.item.id, self.project, self.adjudicator
        self.write(
            lambda: core_consensus.adjudicate(project, dp_id, adjudicator, value),
            lambda _uuid: self._saved(dp_id, value),
        )

    def _saved(self, dp_id: int, value: Any) -> None:
        self.decided[dp_id] = value
        position = self.queue.index(dp_id) if dp_id in self.queue else self.position
        self.say(f"✓ Saved the final value of item {position + 1}.")
        self.changed.emit()
        following = [
            i
            for i in list(range(position + 1, len(self.queue))) + list(range(position))
            if self.queue[i] not in self.decided
        ]
        if following:
            self.go_to(following[0])
        else:
            self._show_outcome()
            self._show_progress()
            self.say(f"✓ All {plural(len(self.queue), 'disagreement')} decided.")

    # --- keys ----------------------------------------------------------------------------------

    def key_actions(self) -> dict[int, Callable[[], None]]:
        return {Qt.Key.Key_E: self.edit_final, Qt.Key.Key_S: self.next}

    def number_pressed(self, number: int) -> None:
        """Use version `number`."""
        self.use_version(number - 1)
