"""Review ▸ Adjudicate disagreements: every version of a disputed item side by side.

The queue is fixed when the view opens: the adjudicator's open adjudicate tasks, then every
other open disagreement (app.core.quality.consensus.disagreements: two or more votes, no consensus,
not adjudicated, not gold). For each item the adjudicator sees the text above and one card per
version below (the annotator's value, when it was made, what review said of it, a reviewer's
correction where there is one), with the versions review set aside greyed out, and the
consensus, gold answer or earlier decision. They pick a version (click "Use this" or press its
number) or edit the final value (E); either is saved by app.core.quality.consensus.adjudicate (one
committed transaction), and the next disagreement comes up.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
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
from app.core.quality import consensus as core_consensus
from app.core.quality.review import annotations_to_review, task_status
from app.views.quality.widgets import (
    DECISION_BADGES,
    STYLE,
    AnnotationCard,
    ValueDialog,
    action_button,
    badge,
    label_colours,
    make_text_view,
    senior_annotators,
    short_time,
    value_html,
    who_combo,
)

CARD_WIDTH = 250
DECIDED, OPEN = "#2E7D32", "#37474F"


class AdjudicationView(QDialog):
    """The adjudication queue of one adjudicator (a senior annotator), one item at a time."""

    changed = Signal()  # a final value was recorded (the main window may refresh its table)

    def __init__(
        self, project: Project, adjudicator: int | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.task_type = project.task_type
        self.colours = label_colours(project)
        self.setWindowTitle(f"Adjudicate disagreements — {project.name}")
        self.setStyleSheet(STYLE)
        self.queue: list[int] = []  # datapoint ids
        self.decided: dict[int, Any] = {}  # datapoint id: the value chosen in this view
        self.snippets: dict[int, str] = {}
        self.position = 0
        self.item: Item | None = None
        self.versions: core_consensus.ItemVersions | None = None
        self.cards: list[AnnotationCard] = []
        self.selected = 0
        self._build(adjudicator if adjudicator is not None else project.local_annotator_id)
        self.resize(1280, 760)
        self.open_queue()

    # --- layout ------------------------------------------------------------------------------

    def _build(self, adjudicator: int) -> None:
        self.adjudicator_combo = who_combo(senior_annotators(self.project), adjudicator)
        self.adjudicator_combo.activated.connect(self._queue_options_changed)
        self.match_combo = QComboBox()
        self.match_combo.addItem("Exact span match", "exact")
        self.match_combo.addItem("Overlapping spans match", "overlap")
        self.match_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.match_combo.activated.connect(self._queue_options_changed)
        self.progress_label = QLabel()
        self.progress_label.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QProgressBar()
        self.progress.setMinimumWidth(220)
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("%v of %m decided")
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        header = QHBoxLayout()
        header.addWidget(QLabel("Adjudicator:"))
        header.addWidget(self.adjudicator_combo)
        if self.task_type == "spans":
            header.addWidget(self.match_combo)
        header.addSpacing(16)
        header.addWidget(self.progress_label, 1)
        header.addWidget(self.progress)

        self.queue_list = QListWidget()
        self.queue_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.queue_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.queue_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.queue_list.setMinimumWidth(200)
        self.queue_list.setSpacing(1)
        self.queue_list.itemClicked.connect(self._queue_clicked)
        self.queue_title = QLabel("Disagreements")
        self.queue_title.setObjectName("panelTitle")
        queue_panel = QWidget()
        queue_layout = QVBoxLayout(queue_panel)
        queue_layout.setContentsMargins(0, 0, 0, 0)
        queue_layout.addWidget(self.queue_title)
        queue_layout.addWidget(self.queue_list, 1)

        self.item_title = QLabel()
        self.item_title.setObjectName("itemTitle")
        self.outcome_label = QLabel()
        self.outcome_label.setTextFormat(Qt.TextFormat.RichText)
        self.text_view = make_text_view(self.project)
        self.text_view.setMinimumHeight(140)
        self.context_label = QLabel()
        self.context_label.setWordWrap(True)
        self.context_label.setTextFormat(Qt.TextFormat.RichText)
        self.context_label.hide()

        self.cards_box = QWidget()
        self.cards_layout = QHBoxLayout(self.cards_box)
        self.cards_layout.setContentsMargins(0, 0, 0, 4)
        self.cards_layout.setSpacing(10)
        self.cards_scroll = QScrollArea()
        self.cards_scroll.setWidgetResizable(True)
        self.cards_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.cards_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cards_scroll.setWidget(self.cards_box)
        versions_title = QLabel("Versions — pick one (1–9) or edit the final value (E)")
        versions_title.setObjectName("panelTitle")

        main = QWidget()
        main_layout = QVBoxLayout(main)
        main_layout.setContentsMargins(0, 0, 0, 0)
        title_row = QHBoxLayout()
        title_row.addWidget(self.item_title, 1)
        title_row.addWidget(self.outcome_label)
        main_layout.addLayout(title_row)
        main_layout.addWidget(self.context_label)
        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.addWidget(self.text_view)
        versions = QWidget()
        versions_layout = QVBoxLayout(versions)
        versions_layout.setContentsMargins(0, 6, 0, 0)
        versions_layout.addWidget(versions_title)
        versions_layout.addWidget(self.cards_scroll, 1)
        vertical.addWidget(versions)
        vertical.setStretchFactor(0, 1)
        vertical.setStretchFactor(1, 1)
        vertical.setSizes([380, 240])
        main_layout.addWidget(vertical, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(queue_panel)
        splitter.addWidget(main)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([240, 1040])

        self.edit_button = action_button("E  Edit the final value…", self.edit_final)
        buttons = QHBoxLayout()
        buttons.addWidget(self.edit_button)
        buttons.addStretch(1)
        buttons.addWidget(action_button("←  Back", self.back))
        buttons.addWidget(action_button("Skip  →", self.next))

        self.hint = QLabel(
            "1–9 use that version · E edit the final value · Enter/→ skip · ← back"
            " · click a version to see it on the text"
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
        layout.addLayout(buttons)
        layout.addLayout(footer)

    # --- the queue ---------------------------------------------------------------------------

    @property
    def adjudicator(self) -> int:
        return int(self.adjudicator_combo.currentData())

    @property
    def match(self) -> core_consensus.Match:
        return self.match_combo.currentData() if self.task_type == "spans" else "exact"

    def _queue_options_changed(self) -> None:
        self.open_queue()
        self.setFocus()

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
        missing = [dp for dp in self.queue if dp not in self.snippets]
        for dp_id, item in load_items(self.project, missing, self.adjudicator).items():
            flat = " ".join(item.text.split())
            self.snippets[dp_id] = flat[:26] + ("…" if len(flat) > 26 else "")
        self.queue_list.clear()
        for row, dp_id in enumerate(self.queue):
            self.queue_list.addItem(QListWidgetItem(f"{row + 1}. {self.snippets.get(dp_id, '')}"))
        self.queue_title.setText(f"Disagreements · {len(self.queue)}")
        self._show_progress()
        self.go_to(0)

    def _show_progress(self) -> None:
        total, done = len(self.queue), len(self.decided)
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        if not total:
            self.progress_label.setText("No open disagreements")
            return
        self.progress_label.setText(
            f"Disagreement <b>{self.position + 1}</b> of <b>{total}</b>"
            f" &nbsp;·&nbsp; {done} decided, {total - done} to go"
        )
        for row, dp_id in enumerate(self.queue):
            entry = self.queue_list.item(row)
            mark = "✓ " if dp_id in self.decided else ""
            entry.setText(f"{mark}{row + 1}. {self.snippets.get(dp_id, '')}")
            entry.setForeground(QColor(DECIDED if dp_id in self.decided else OPEN))

    def _queue_clicked(self, entry: QListWidgetItem) -> None:
        self.go_to(self.queue_list.row(entry))
        self.setFocus()

    def go_to(self, position: int) -> None:
        if not self.queue:
            self._show_empty()
            return
        self.position = max(0, min(position, len(self.queue) - 1))
        self.queue_list.setCurrentRow(self.position)
        dp_id = self.queue[self.position]
        self.item = load_item(self.project, dp_id, self.adjudicator)
        self.versions = core_consensus.item_versions(self.project, dp_id, match=self.match)
        self.item_title.setText(f"{self.item.dataset} row {self.item.row + 1}")
        self.text_view.set_text(self.item.text)
        notes = [
            f"<b>{html.escape(k)}</b>: {html.escape(str(v))}" for k, v in self.item.context.items()
        ] + [
            f"⚑ <b>{html.escape(flag.author)}</b>: {html.escape(flag.body)}"
            for flag in self.item.flags
        ]
        self.context_label.setText("<br>".join(notes))
        self.context_label.setVisible(bool(notes))
        self._show_outcome()
        self._show_versions()
        self._show_progress()

    def _show_empty(self) -> None:
        self.item = None
        self.versions = None
        self.item_title.setText("Nothing to adjudicate")
        self.outcome_label.setText("")
        self.context_label.hide()
        self.text_view.set_text(
            "No open disagreements: every item labeled by two or more annotators has a"
            " consensus, an adjudicated value or a gold answer."
        )
        self._clear_cards()
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
            text = f"<span style='color:#C62828'>No consensus among {n} votes</span>"
        self.outcome_label.setText(text)

    # --- the versions ------------------------------------------------------------------------

    def _clear_cards(self) -> None:
        while self.cards_layout.count():
            widget = self.cards_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.cards = []

    def _show_versions(self) -> None:
        """One card per vote (numbered, with "Use this"), then the versions review set aside."""
        self._clear_cards()
        if self.versions is None or self.item is None:
            return
        text = self.item.text
        reviews = {
            e["annotation_uuid"]: e["decision"]
            for e in annotations_to_review(self.project, self.adjudicator, self.item.id)
        }
        for index, vote in enumerate(self.versions.votes):
            title = (
                f"<span style='font-size:15pt; color:#1565C0'><b>{index + 1}</b></span> &nbsp;"
                f"<b style='font-size:12pt'>{html.escape(vote.annotator)}</b>"
                f"<br><span style='color:#78909C'>{short_time(vote.updated_at)}</span>"
            )
            decision = reviews.get(vote.annotation_uuid)
            label, colour = DECISION_BADGES.get(decision, (str(decision), OPEN))
            footer = badge(label, colour)
            if vote.corrected:
                footer = badge("✎ corrected by a reviewer", "#6A1B9A")
            body = value_html(vote.value, self.task_type, self.colours, text)
            card = AnnotationCard(index, title, body, footer)
            card.setFixedWidth(CARD_WIDTH)
            use = action_button(f"Use this  ({index + 1})", self._use_clicked)
            use.setProperty("version", index)
            card.layout().addStretch(1)
            card.layout().addWidget(use)
            card.clicked.connect(self._card_clicked)
            self.cards_layout.addWidget(card, 0, Qt.AlignmentFlag.AlignTop)
            self.cards.append(card)
        for other in self.versions.others:
            name = html.escape(other["annotator"])
            title = f"<b style='font-size:12pt; color:#78909C'>{name}</b>"
            label, colour = DECISION_BADGES.get(other["review"], (other["review"], OPEN))
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

    def _card_clicked(self, index: int) -> None:
        self._select(index)
        self.setFocus()

    def _select(self, index: int) -> None:
        """Highlight a version; on a span project its spans are painted on the text."""
        self.selected = index if 0 <= index < len(self.cards) else -1
        for i, card in enumerate(self.cards):
            card.set_selected(i == self.selected)
        if self.task_type == "spans" and self.versions is not None:
            votes = self.versions.votes
            value = votes[self.selected].value if self.selected >= 0 else []
            self.text_view.set_spans(list(value or []), self.colours)

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
        """Record the final value, then go on to the next undecided disagreement."""
        if self.item is None:
            return
        dp_id = self.item.id
        try:
            core_consensus.adjudicate(self.project, dp_id, self.adjudicator, value)
        except TagloopError as exc:
            self.say(str(exc), error=True)
            return
        self.decided[dp_id] = value
        self.say(f"✓ Saved the final value of item {self.position + 1}.")
        self.changed.emit()
        following = [
            i
            for i in list(range(self.position + 1, len(self.queue))) + list(range(self.position))
            if self.queue[i] not in self.decided
        ]
        if following:
            self.go_to(following[0])
        else:
            self._show_outcome()
            self._show_progress()
            self.say(f"✓ All {len(self.queue)} disagreements decided.")

    def next(self) -> None:
        if self.position + 1 < len(self.queue):
            self.go_to(self.position + 1)

    def back(self) -> None:
        if self.position > 0:
            self.go_to(self.position - 1)

    # --- keys and messages ---------------------------------------------------------------------

    def say(self, message: str, error: bool = False) -> None:
        colour = "#C62828" if error else "#2E7D32"
        self.message.setText(f"<span style='color:{colour}'>{html.escape(message)}</span>")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            super().keyPressEvent(event)
            return
        actions = {
            Qt.Key.Key_E: self.edit_final,
            Qt.Key.Key_Return: self.next,
            Qt.Key.Key_Enter: self.next,
            Qt.Key.Key_Right: self.next,
            Qt.Key.Key_S: self.next,
            Qt.Key.Key_Left: self.back,
            Qt.Key.Key_Backspace: self.back,
        }
        action = actions.get(event.key())
        if action is not None:
            action()
            return
        if event.text() and event.text() in "123456789":
            self.use_version(int(event.text()) - 1)
            return
        super().keyPressEvent(event)
