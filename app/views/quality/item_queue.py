"""The item-queue dialog that review and adjudication share: one item at a time from a queue
fixed when the dialog opens.

Both dialogs show who works (a senior annotator chosen in the header) and a status line, the
queue on the left, the item's text with its context and flags, one card per annotation, a row
of action buttons ending in Back and Next, and a footer with the key hints and the last
message. This base owns that skeleton, the walk through the queue (go_to, next, back, a click
in the queue list), the navigation keys (Enter/→ next, ←/Backspace back, 1–9 a number), the
queue's snippets, card selection and the message line. Review and adjudication keep only what
differs: what the queue holds, how the item and its cards are shown, and their decisions.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
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
from app.core.project.project import Project
from app.views.quality.widgets import (
    AnnotationCard,
    action_button,
    label_colours,
    make_text_view,
    senior_annotators,
    style_sheet,
    who_combo,
)
from app.views.theme import palette
from app.views.widgets.geometry import fit_to_screen
from app.workers.write_job import start_write, writes_pending

SNIPPET_CHARS = 26  # of an item's text in the queue list


def panel_title(words: str) -> QLabel:
    """A panel's bold title (styled by style_sheet()'s QLabel#panelTitle)."""
    title = QLabel(words)
    title.setObjectName("panelTitle")
    return title


def rich_label() -> QLabel:
    """An empty label that shows Qt rich text."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


def column(top: int = 0) -> tuple[QWidget, QVBoxLayout]:
    """A widget holding a vertical layout with no margins (but `top`)."""
    widget = QWidget()
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, top, 0, 0)
    return widget, layout


def splitter_of(
    orientation: Qt.Orientation, widgets: list[QWidget], stretch: list[int], sizes: list[int]
) -> QSplitter:
    """A splitter of these widgets with these stretch factors and starting sizes."""
    splitter = QSplitter(orientation)
    for index, widget in enumerate(widgets):
        splitter.addWidget(widget)
        splitter.setStretchFactor(index, stretch[index])
    splitter.setSizes(sizes)
    return splitter


class ItemQueueDialog(QDialog):
    """A senior annotator's queue of items, one at a time, the annotations on cards.

    A subclass sets its own state, then calls `start(who)`; it builds its panels in
    `build_main`, its header tools, action buttons and keys in the hooks below, fixes the queue
    in `open_queue` and shows an item in `show_item` (the base has loaded `self.item`, shown its
    text and context, and selected its row in the queue list)."""

    changed = Signal()  # something was recorded (the main window may refresh its table)

    WHO_LABEL = "Reviewer:"  # before the combo choosing who works
    QUEUE_TITLE = "Queue"
    NEXT_WORDS = "Next  →"
    HINT = ""
    LAST_ITEM_MESSAGE = ""  # said when Next is pressed on the last item (nothing if empty)

    def __init__(self, project: Project, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.task_type = project.task_type
        self.colours = label_colours(project)
        self.setWindowTitle(title)
        self.setStyleSheet(style_sheet())
        self.queue: list[Any] = []
        self.position = 0
        self.item: Item | None = None
        self.cards: list[AnnotationCard] = []
        self.selected = 0
        self.snippets: dict[int, str] = {}  # datapoint id: the start of its text

    def start(self, who: int) -> None:
        """Build the dialog for annotator `who` and open the queue."""
        self._build(who)
        fit_to_screen(self, 1280, 760)
        self.open_queue()

    # --- what a subclass provides ------------------------------------------------------------

    def build_main(self, queue_panel: QWidget) -> QSplitter:
        """The dialog's body: the queue panel beside the item's panels."""
        raise NotImplementedError

    def header_tools(self) -> list[QWidget]:
        """Widgets after the who-combo in the header."""
        return []

    def header_end(self) -> list[QWidget]:
        """Widgets after the status line, at the header's right end."""
        return []

    def action_buttons(self) -> list[QPushButton]:
        """The buttons before Back and Next."""
        return []

    def key_actions(self) -> dict[int, Callable[[], None]]:
        """Keys (Qt.Key) of the dialog's own actions, beside the navigation keys."""
        return {}

    def number_pressed(self, number: int) -> None:
        """1–9 pressed."""

    def other_key(self, event: QKeyEvent) -> bool:
        """Handle any other key; True if it was handled."""
        return False

    def open_queue(self) -> None:
        """Fix the queue and show its first item."""
        raise NotImplementedError

    def datapoint_at(self, position: int) -> int:
        """The datapoint id of the queue's entry at `position`."""
        raise NotImplementedError

    def show_item(self) -> None:
        """Show what belongs to `self.item` besides its text: title, status and cards."""
        raise NotImplementedError

    def show_empty(self) -> None:
        """Show that the queue is empty."""
        raise NotImplementedError

    def value_at(self, index: int) -> Any:
        """The value of card `index` (spans are painted on the text when it is selected)."""
        raise NotImplementedError

    # --- layout ------------------------------------------------------------------------------

    def _build(self, who: int) -> None:
        self.who_combo = who_combo(senior_annotators(self.project), who)
        self.who_combo.activated.connect(self._who_chosen)
        self.status_label = rich_label()
        self.status_label.setWordWrap(True)  # the status pills wrap at 1024 px, never push
        # the window wider than the screen (the Back/Next buttons were cut off)
        header = QHBoxLayout()
        header.addWidget(QLabel(self.WHO_LABEL))
        header.addWidget(self.who_combo)
        self.tools = self.header_tools()
        for widget in self.tools:
            header.addWidget(widget)
        header.addSpacing(16)
        header.addWidget(self.status_label, 1)
        for widget in self.header_end():
            header.addWidget(widget)
        body = self.build_main(self._queue_panel())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 8)
        layout.addLayout(header)
        layout.addWidget(body, 1)
        layout.addLayout(self._buttons())
        layout.addLayout(self._footer())

    def _queue_panel(self) -> QWidget:
        self.queue_list = QListWidget()
        self.queue_list.setAccessibleName("Items in this queue")
        self.queue_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.queue_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.queue_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.queue_list.setMinimumWidth(200)
        self.queue_list.setSpacing(1)
        self.queue_list.itemClicked.connect(self._queue_clicked)
        self.queue_title = panel_title(self.QUEUE_TITLE)
        panel, layout = column()
        layout.addWidget(self.queue_title)
        layout.addWidget(self.queue_list, 1)
        return panel

    def item_header(self, badge: QLabel) -> QVBoxLayout:
        """The item's title with `badge` at its right, and the item's context and flags below
        (hidden when it has none); makes `item_title`, `context_label` and `text_view`."""
        self.item_title = QLabel()
        self.item_title.setObjectName("itemTitle")
        self.text_view = make_text_view(self.project)
        self.context_label = rich_label()
        self.context_label.setWordWrap(True)
        self.context_label.hide()
        title_row = QHBoxLayout()
        title_row.addWidget(self.item_title, 1)
        title_row.addWidget(badge)
        block = QVBoxLayout()
        block.addLayout(title_row)
        block.addWidget(self.context_label)
        return block

    def cards_area(self, cards: QBoxLayout, margins: tuple[int, int, int, int]) -> QScrollArea:
        """A frameless scroll area around `cards` (the layout the cards go in)."""
        self.cards_box = QWidget()
        self.cards_layout = cards
        self.cards_box.setLayout(cards)
        cards.setContentsMargins(*margins)
        cards.setSpacing(10)
        self.cards_scroll = QScrollArea()
        self.cards_scroll.setWidgetResizable(True)
        self.cards_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.cards_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cards_scroll.setWidget(self.cards_box)
        return self.cards_scroll

    def _buttons(self) -> QHBoxLayout:
        self.buttons = QHBoxLayout()
        for button in self.action_buttons():
            self.buttons.addWidget(button)
        self.buttons.addStretch(1)
        self.buttons.addWidget(action_button("←  Back", self.back))
        self.buttons.addWidget(action_button(self.NEXT_WORDS, self.next))
        return self.buttons

    def _footer(self) -> QLayout:
        self.hint = QLabel(self.HINT)
        self.hint.setObjectName("hint")
        self.message = QLabel()
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        footer = QHBoxLayout()
        footer.addWidget(self.hint)
        footer.addWidget(self.message, 1, Qt.AlignmentFlag.AlignRight)
        return footer

    # --- the queue ---------------------------------------------------------------------------

    @property
    def who(self) -> int:
        """The annotator whose queue this is."""
        return int(self.who_combo.currentData())

    def _who_chosen(self) -> None:
        self.open_queue()
        self.setFocus()

    def load_snippets(self, ids: list[int]) -> None:
        """Remember the start of each item's text, for the queue list."""
        missing = [dp for dp in ids if dp not in self.snippets]
        for dp_id, item in load_items(self.project, missing, self.who).items():
            flat = " ".join(item.text.split())
            cut = flat[:SNIPPET_CHARS] + ("…" if len(flat) > SNIPPET_CHARS else "")
            self.snippets[dp_id] = cut

    def reset_queue_list(self) -> None:
        """One (yet empty) row per queue entry."""
        self.queue_list.clear()
        for _entry in self.queue:
            self.queue_list.addItem(QListWidgetItem(""))

    def show_queue_row(self, row: int, text: str, colour: str) -> None:
        entry = self.queue_list.item(row)
        entry.setText(text)
        entry.setForeground(QColor(colour))

    def _queue_clicked(self, entry: QListWidgetItem) -> None:
        self.go_to(self.queue_list.row(entry))
        self.setFocus()

    def go_to(self, position: int) -> None:
        """Show the queue's item at `position` (clamped to the queue)."""
        if not self.queue:
            self.show_empty()
            return
        self.position = max(0, min(position, len(self.queue) - 1))
        self.queue_list.setCurrentRow(self.position)
        self.item = load_item(self.project, self.datapoint_at(self.position), self.who)
        self.text_view.set_text(self.item.text)
        self._show_context(self.item)
        self.show_item()

    def _show_context(self, item: Item) -> None:
        notes = [
            f"<b>{html.escape(k)}</b>: {html.escape(str(v))}" for k, v in item.context.items()
        ] + [f"⚑ <b>{html.escape(f.author)}</b>: {html.escape(f.body)}" for f in item.flags]
        self.context_label.setText("<br>".join(notes))
        self.context_label.setVisible(bool(notes))

    def next(self) -> None:
        if self.position + 1 < len(self.queue):
            self.go_to(self.position + 1)
        elif self.queue and self.LAST_ITEM_MESSAGE:
            self.say(self.LAST_ITEM_MESSAGE)

    def back(self) -> None:
        if self.position > 0:
            self.go_to(self.position - 1)

    # --- the cards ---------------------------------------------------------------------------

    def clear_cards(self) -> None:
        while self.cards_layout.count():
            widget = self.cards_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.cards = []

    def add_card(self, card: AnnotationCard, *args: Any) -> None:
        """Add a selectable card (`args` as for the layout's addWidget)."""
        card.clicked.connect(self._card_clicked)
        self.cards_layout.addWidget(card, *args)
        self.cards.append(card)

    def _card_clicked(self, index: int) -> None:
        self._select(index)
        self.setFocus()

    def _select(self, index: int) -> None:
        """Highlight a card; on a span project its spans are painted on the text."""
        self.selected = index if 0 <= index < len(self.cards) else -1
        for i, card in enumerate(self.cards):
            card.set_selected(i == self.selected)
        if self.task_type == "spans" and self.item is not None:
            value = self.value_at(self.selected) if self.selected >= 0 else []
            self.text_view.set_spans(list(value or []), self.colours)

    # --- writes ------------------------------------------------------------------------------

    def write(self, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Record a decision off the GUI thread (another program may hold the project's lock
        for a while): the buttons, the queue and the keys wait until it is saved, then `done`
        gets its result; a failure is said in the message line and nothing moves on."""
        controls = [self.who_combo, self.queue_list, self.cards_box, *self.tools]
        controls += [
            self.buttons.itemAt(i).widget()
            for i in range(self.buttons.count())
            if self.buttons.itemAt(i).widget() is not None
        ]
        start_write(
            self,
            fn,
            busy=controls,
            done=done,
            failed=lambda message: self.say(message, error=True),
            say=self.say,
        )

    @property
    def writing(self) -> bool:
        """Whether a decision is still being saved."""
        return writes_pending(self) > 0

    # --- keys and messages ---------------------------------------------------------------------

    def say(self, message: str, error: bool = False) -> None:
        colour = palette().danger if error else palette().success
        self.message.setText(f"<span style='color:{colour}'>{html.escape(message)}</span>")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.writing and event.key() != Qt.Key.Key_Escape:
            return  # the keys wait with the buttons until the decision is saved
        if event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            super().keyPressEvent(event)
            return
        actions = {
            Qt.Key.Key_Return: self.next,
            Qt.Key.Key_Enter: self.next,
            Qt.Key.Key_Right: self.next,
            Qt.Key.Key_Left: self.back,
            Qt.Key.Key_Backspace: self.back,
            **self.key_actions(),
        }
        action = actions.get(event.key())
        if action is not None:
            action()
            return
        if event.text() and event.text() in "123456789":
            self.number_pressed(int(event.text()))
            return
        if self.other_key(event):
            return
        super().keyPressEvent(event)
