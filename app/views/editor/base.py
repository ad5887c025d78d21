"""What the three editors share: layout, header, keyboard, lock overlay, notes and guidelines.

An editor is a view of an AnnotationSession. Subclasses decide what a label key, Enter and
Delete mean for their task type; everything else (navigation, skip, discard, flag, comment,
reopen, undo, find, text size, shortcuts) lives here so that it behaves the same everywhere.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.core import settings
from app.core.annotation import browse
from app.core.annotation.commands import Item
from app.core.annotation.worklist import WorklistSpec
from app.views.editor.guidelines_changes import GuidelinesBanner
from app.views.editor.keys import RoutesKeys, undo_redo_key
from app.views.editor.recent import RecentAnswers
from app.views.editor.session import AnnotationSession
from app.views.editor.text_view import TextView
from app.views.editor.widgets import LabelBar, MessageLine, PromptBar, ShortcutSheet
from app.views.theme import palette
from app.views.wording import place, plural, row_number

POINT_SIZE_KEY = "editor_point_size"
DEFAULT_POINT_SIZE = 14.0
QUEUE_FILTERS = (
    ("Unlabeled", browse.Query(status="unlabeled")),
    ("All items", browse.Query()),
    ("Skipped", browse.Query(status="skipped")),
    ("Flagged", browse.Query(status="flagged")),
    ("Discarded", browse.Query(status="discarded")),
    ("Labeled", browse.Query(status="labeled")),
)
ORDERS = (("File order", "file"), ("Random (seeded)", "random"), ("Model's choice", "active"))
OVERLAY_TITLES = {"complete": "✓ Completed", "skipped": "↷ Skipped", "discarded": "✕ Discarded"}
_NO_MODIFIERS = Qt.KeyboardModifier.NoModifier | Qt.KeyboardModifier.KeypadModifier


def overlay_colours(status: str) -> tuple[str, str]:
    """Background and ink of the banner over a finished item, by its status."""
    theme = palette()
    return {
        "complete": (theme.success_background, theme.success),
        "skipped": (theme.neutral_background, theme.text_subtle),
        "discarded": (theme.danger_background, theme.danger),
    }[status]


def sure(confidence: float) -> str:
    """A confidence as a percentage that never claims certainty a model cannot have."""
    if confidence >= 0.995:
        return "over 99%"
    return f"{confidence:.0%}"


class EditorBase(RoutesKeys, QWidget):
    """The shared editor shell; see ChoiceEditor and SpanEditor for the task-specific parts."""

    multi = False  # labels toggle (multilabel) rather than choose
    left_goes_back = True  # the span editor needs the arrow keys for the caret

    def __init__(self, session: AnnotationSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.project = session.project
        self.schema = self.project.schema
        self.hotkeys = {label.hotkey: label.name for label in self.schema.labels if label.hotkey}
        self.colours = {label.name: QColor(label.colour) for label in self.schema.labels}
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.sheet: ShortcutSheet | None = None
        self._build()
        session.item_changed.connect(self._show_item)
        session.item_updated.connect(self._update_item)
        session.message.connect(self.say)
        session.failed.connect(lambda message: self.say(message, error=True))
        session.progress_changed.connect(self._show_progress)
        session.queue_changed.connect(self._show_queue)
        session.saved.connect(lambda: self.saved_label.setText("✓ Saved"))
        self.set_point_size(float(settings.preference(POINT_SIZE_KEY, DEFAULT_POINT_SIZE)))
        self.guidelines_banner.check()

    # --- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        """Header, guidelines banner, text and side panes, then the label bar and footer."""
        header = self._build_header()
        # "Guidelines changed": shown when the schema has a version this annotator has not read.
        self.guidelines_banner = GuidelinesBanner(self.project, self.session.annotator_id)
        self.splitter = self._build_panes()
        footer = self._build_footer()
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(line)
        layout.addWidget(self.guidelines_banner)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.prompt)
        layout.addWidget(self.suggestion_label)
        layout.addWidget(self.label_bar)
        layout.addWidget(self.status_line)
        layout.addWidget(footer)

    def _build_header(self) -> QHBoxLayout:
        """The queue's filter and order, where I am in it, the progress bar and "Saved"."""
        header = QHBoxLayout()
        header.setContentsMargins(12, 8, 12, 4)
        self.queue_filter = QComboBox()
        for name, _query in QUEUE_FILTERS:
            self.queue_filter.addItem(name)
        for label in self.schema.labels:
            self.queue_filter.addItem(f"Label: {label.name}")
        self.queue_filter.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.order = QComboBox()
        for name, _order in ORDERS:
            self.order.addItem(name)
        self.order.model().item(2).setEnabled(False)
        self.order.model().item(2).setToolTip("Available once a model has been trained")
        self.order.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        for combo in (self.queue_filter, self.order):  # not as wide as their longest entry:
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(9)  # the position beside them needs the room
        self.queue_filter.activated.connect(self._queue_chosen)
        self.order.activated.connect(self._queue_chosen)
        self.position_label = QLabel()
        self.position_label.setObjectName("position")
        self.position_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar()
        self.progress.setMinimumWidth(130)  # at 1024 px the position beside it stays readable
        self.progress.setMaximumWidth(260)
        self.saved_label = QLabel("✓ Saved")
        self.saved_label.setMinimumWidth(64)
        header.addWidget(QLabel("Queue:"))
        header.addWidget(self.queue_filter)
        header.addWidget(self.order)
        header.addSpacing(8)
        header.addWidget(self.position_label, 1)
        header.addWidget(self.progress)
        header.addWidget(self.saved_label)
        return header

    def _build_panes(self) -> QSplitter:
        """The text (under its finished-item overlay) beside the context and guidelines."""
        self.overlay = QLabel()
        self.overlay.setObjectName("overlay")
        self.overlay.setWordWrap(True)
        self.overlay.hide()

        self.text_view = TextView()
        self.text_view.setFocusPolicy(self._text_focus_policy())
        self.text_view.installEventFilter(self)

        self.context_view = QTextBrowser()
        self.context_view.setAccessibleName("Context, flags and comments")
        self.context_view.setOpenExternalLinks(False)
        self.context_view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.guidelines = QTextBrowser()
        self.guidelines.setAccessibleName("Guidelines")
        self.guidelines.setMarkdown(self.schema.guidelines or "*No guidelines yet.*")
        self.guidelines.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.guidelines.setVisible(bool(settings.preference("editor_guidelines", False)))

        # The last answers, each one click from undo (a slip stays in sight).
        self.recent = RecentAnswers(self.session, lambda value: self.describe(value))

        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.context_view)
        side.addWidget(self.recent)
        side.addWidget(self.guidelines)
        side.setStretchFactor(0, 1)
        side.setStretchFactor(1, 1)
        side.setStretchFactor(2, 2)
        text_column = QWidget()
        column = QVBoxLayout(text_column)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.overlay)
        column.addWidget(self.text_view, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(text_column)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        return splitter

    def _build_footer(self) -> QLabel:
        """The suggestion line, label bar, prompt and message line; returns the key hint."""
        self.suggestion_label = QLabel()
        self.suggestion_label.setObjectName("suggestion")
        self.suggestion_label.setContentsMargins(14, 4, 12, 0)
        self.suggestion_label.hide()
        self.label_bar = LabelBar(self.on_label)
        self.label_bar.set_labels(self.schema.labels, checkable=True)
        self.prompt = PromptBar()
        self.prompt.submitted.connect(self._prompted)
        self.prompt.closed.connect(self._prompt_closed)
        self.hint = QLabel(self.hint_text())
        self.hint.setObjectName("hint")
        # Long hints must never widen the window: they wrap within what is there.
        self.hint.setWordWrap(True)
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # Straight in the editor's column (not in a row layout), so that its height is that of
        # the lines it wraps to at the editor's width: one line on a wide screen, not three.
        self.hint.setContentsMargins(12, 2, 12, 8)
        self.status_line = MessageLine()
        return self.hint

    def _text_focus_policy(self) -> Qt.FocusPolicy:
        return Qt.FocusPolicy.ClickFocus

    def hint_text(self) -> str:
        return (
            "Enter done · S skip · D discard · ⌫ back · F flag · C comment · "
            "R reopen · F1 guidelines · ? all keys"
        )

    def shortcut_rows(self) -> list[tuple[str, str]]:
        rows = [
            (label.hotkey, f"Label “{label.name}”") for label in self.schema.labels if label.hotkey
        ]
        rows += [
            ("Enter", "Complete the item and go to the next"),
            ("Backspace" + (" / ←" if self.left_goes_back else " / Alt+←"), "Go back"),
            ("→" if self.left_goes_back else "Alt+→", "Next item without completing"),
            ("S", "Skip"),
            ("D", "Discard (cannot be labeled)"),
            ("F", "Flag for investigation, with a reason"),
            ("C", "Comment"),
            ("R", "Reopen a finished item for editing"),
            ("A", "Accept the model's suggestion (shown dashed, with its confidence)"),
            ("Ctrl+Z", "Undo (any edit of this session, across items)"),
            ("Ctrl+Shift+Z / Ctrl+Y", "Redo"),
            ("Ctrl+F", "Find: make a queue of the items containing words"),
            ("Ctrl++ / Ctrl+− / Ctrl+0", "Larger, smaller, default text size"),
            ("F1", "Show or hide the guidelines"),
            ("?", "This list"),
        ]
        taken = set(self.hotkeys) & set("sdfcrnaSDFCRNA")
        for key in sorted(taken):
            rows.append((key, f"is a label's hotkey here, so it labels “{self.hotkeys[key]}”"))
        return rows

    # --- showing items ---------------------------------------------------------------------

    def _show_queue(self) -> None:
        spec = self.session.queue.spec if self.session.queue else WorklistSpec()
        index = next((i for i, (_n, q) in enumerate(QUEUE_FILTERS) if q == spec.query), -1)
        if index < 0 and spec.query.label and not spec.query.status and not spec.query.search:
            names = self.schema.label_names
            if spec.query.label in names:
                index = len(QUEUE_FILTERS) + names.index(spec.query.label)
        if index < 0:
            text = f"Search: {spec.query.search}" if spec.query.search else "Custom filter"
            if self.queue_filter.findText(text) < 0:
                self.queue_filter.addItem(text)
            index = self.queue_filter.findText(text)
        self.queue_filter.setCurrentIndex(index)
        self.order.setCurrentIndex([o for _n, o in ORDERS].index(spec.order))

    def _queue_chosen(self) -> None:
        index = self.queue_filter.currentIndex()
        if index < len(QUEUE_FILTERS):
            query = QUEUE_FILTERS[index][1]
        elif index < len(QUEUE_FILTERS) + len(self.schema.labels):
            query = browse.Query(label=self.schema.label_names[index - len(QUEUE_FILTERS)])
        else:
            current = self.session.queue.spec.query if self.session.queue else browse.Query()
            query = current
        order = ORDERS[self.order.currentIndex()][1]
        self.open_queue(
            WorklistSpec(query, order, seed=int(settings.local_identity().uuid[:8], 16))
        )

    def set_model_order_available(self, available: bool) -> None:
        item = self.order.model().item(2)
        item.setEnabled(available)
        item.setToolTip(
            "Items the model most needs labeled come first"
            if available
            else "Available once a model has been trained (Ctrl+T)"
        )

    def open_queue(self, spec: WorklistSpec, datapoint_id: int | None = None) -> None:
        self.session.open_queue(spec, datapoint_id)
        self.setFocus()

    def _show_item(self, item: Item | None) -> None:
        self.prompt.hide()
        self.status_line.clear()  # a message is about the item it was said on
        if item is None:
            self.text_view.set_text("")
            self.position_label.setText("<b>This queue is empty.</b> Choose another above.")
            self.context_view.clear()
            self.overlay.hide()
            return
        self.text_view.set_text(item.text)
        self._update_item(item)

    def _update_item(self, item: Item) -> None:
        session = self.session
        # the row before the file name: in a narrow window the name is what gets cut
        self.position_label.setText(
            f"<b>Item {session.position + 1:,} of {len(session):,}</b>"
            f" &nbsp;·&nbsp; row {row_number(item.row)} &nbsp;·&nbsp; {html.escape(item.dataset)}"
        )
        self.position_label.setToolTip(place(item.dataset, item.row))
        self._show_context(item)
        self._show_overlay(item)
        self.show_annotation(item)
        suggestion = self.suggestion_shown(item)
        if suggestion is None:
            self.suggestion_label.hide()
        else:
            self.suggestion_label.setText(
                f"<span style='color:{palette().model}'><b>Model label</b>"
                f" {html.escape(self.describe(suggestion.value))}: not checked by a person"
                " &nbsp;·&nbsp; <b>Enter</b> confirms, or label it to correct</span>"
                if suggestion.auto_label
                else f"<span style='color:{palette().model}'><b>{self._suggests()}</b>"
                f" {html.escape(self.describe(suggestion.value))}"
                f" ({sure(suggestion.confidence)} sure) &nbsp;·&nbsp; <b>A</b> accepts</span>"
            )
            self.suggestion_label.show()
        if session.writer.pending:
            self.saved_label.setText("Saving…")

    def _show_context(self, item: Item) -> None:
        theme = palette()
        parts = []
        for name in self.project.context_inputs:
            value = item.context.get(name)
            parts.append(
                f"<p><b>{html.escape(name)}</b><br>"
                f"{html.escape('' if value is None else str(value))}</p>"
            )
        for author, value in item.others:
            parts.append(
                f"<p style='color:{theme.text_secondary}'><b>{html.escape(author)}</b> answered: "
                f"{html.escape(self.describe_other(item, value))}</p>"
            )
        for note in item.flags:
            parts.append(
                f"<p style='color:{theme.danger_strong}'><b>Flagged</b> by "
                f"{html.escape(note.author)}: {html.escape(note.body)}</p>"
            )
        for note in item.comments:
            parts.append(
                f"<p><b>Comment</b> by {html.escape(note.author)}: {html.escape(note.body)}</p>"
            )
        if not parts:
            parts.append(f"<p style='color:{theme.placeholder}'>No context, flags or comments.</p>")
        self.context_view.setHtml("".join(parts))

    def _show_overlay(self, item: Item) -> None:
        state = item.annotation
        if state is None or not state.finished:
            self.overlay.hide()
            self.label_bar.setEnabled(True)
            return
        background, foreground = overlay_colours(state.status)
        title = OVERLAY_TITLES[state.status]
        detail = ""
        if state.status == "complete":
            detail = f": {html.escape(self.describe(state.value))}"
        locked = self.session.locked
        action = "Press R to reopen it for editing." if locked else "Editable until you move on."
        self.overlay.setText(f"<b>{title}</b>{detail} &nbsp;—&nbsp; {action}")
        self.overlay.setStyleSheet(
            f"QLabel#overlay {{ background: {background}; color: {foreground};"
            f" border-bottom: 2px solid {foreground}; padding: 8px 16px; font-size: 11pt; }}"
        )
        self.overlay.show()
        self.label_bar.setEnabled(not locked)

    def _show_progress(self) -> None:
        total = self.session.total  # an empty project has nothing to count: not "0 of 1"
        labeled = self.session.labeled
        # Qt's %v and %m print no thousands separators ("500 of 5574"): the text is ours.
        text = f"{labeled:,} of {total:,} labeled" if total else "No items yet"
        self.progress.setFormat(text)
        # as wide as its words (not cut), the rest of the header for the position beside it
        self.progress.setMinimumWidth(self.progress.fontMetrics().horizontalAdvance(text) + 24)
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(self.session.labeled)

    def say(self, message: str, error: bool = False) -> None:
        colour = palette().danger if error else palette().text_secondary
        self.status_line.setText(f"<span style='color:{colour}'>{html.escape(message)}</span>")

    # --- to be provided by each editor ---------------------------------------------------

    def describe(self, value: object) -> str:
        return str(value)

    def _suggests(self) -> str:
        """How a suggestion is introduced: early ones (the model is below the quality bar,
        shown because the user asked) are marked as low-confidence."""
        if self.session.suggest_early:
            return "Early suggestion (low confidence, model below your quality bar)"
        return "Model suggests"

    def suggestion_shown(self, item: Item):
        """The model's suggestion while this annotator has not answered yet, else None."""
        state = item.annotation
        if item.suggestion is None or (state is not None and (state.finished or state.value)):
            return None
        return item.suggestion

    def accept(self) -> None:
        """A: take the model's suggestion (then still editable)."""
        self.session.accept_suggestion(advance=False)

    def describe_other(self, item: Item, value: object) -> str:
        """Another annotator's answer, in words (spans quote their text)."""
        return self.describe(value)

    def show_annotation(self, item: Item) -> None:
        raise NotImplementedError

    def on_label(self, name: str) -> None:
        raise NotImplementedError

    def complete(self) -> None:
        raise NotImplementedError

    def on_delete(self) -> None:
        """Delete key: nothing by default."""

    def extra_key(self, event: QKeyEvent) -> bool:
        """Task-specific keys (N for none of these); True when handled."""
        return False

    # --- keys --------------------------------------------------------------------------------

    def key_view(self) -> QObject:
        return self.text_view

    def handle_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        mods = event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        alt = bool(mods & Qt.KeyboardModifier.AltModifier)
        session = self.session
        if ctrl:
            if undo_redo_key(event, session.undo_stack):
                return True
            if key == Qt.Key.Key_F:
                self.prompt.ask("find", "Find items containing:")
            elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
                self.zoom(+1)
            elif key == Qt.Key.Key_Minus:
                self.zoom(-1)
            elif key == Qt.Key.Key_0:
                self.set_point_size(DEFAULT_POINT_SIZE, remember=True)
            else:
                return False
            return True
        if alt:
            if key == Qt.Key.Key_Left:
                session.back()
                return True
            if key == Qt.Key.Key_Right:
                session.next()
                return True
            return self.alt_key(event)
        text = event.text()
        if text and text in self.hotkeys:
            self.on_label(self.hotkeys[text])
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shown = None if session.item is None else self.suggestion_shown(session.item)
            if shown is not None and shown.auto_label:  # confirm the model's label
                session.accept_suggestion(advance=True)
            else:
                self.complete()
        elif key == Qt.Key.Key_Backspace or (key == Qt.Key.Key_Left and self.left_goes_back):
            session.back()
        elif key == Qt.Key.Key_Right and self.left_goes_back:
            session.next()
        elif key == Qt.Key.Key_Delete:
            self.on_delete()
        elif key == Qt.Key.Key_F1:
            self.toggle_guidelines()
        elif self.extra_key(event):
            pass
        elif text.lower() == "s":
            session.set_state(None, "skipped", "skip", advance=True)
        elif text.lower() == "d":
            session.set_state(None, "discarded", "discard", advance=True)
        elif text.lower() == "f" and session.item is not None:
            self.prompt.ask("flag", "Why flag this item?")
        elif text.lower() == "c" and session.item is not None:
            self.prompt.ask("comment", "Comment:")
        elif text.lower() == "a":
            self.accept()
        elif text.lower() == "r":
            session.reopen()
        elif text == "?":
            self.show_shortcuts()
        else:
            return False
        return True

    def alt_key(self, event: QKeyEvent) -> bool:
        return False

    # --- prompts, guidelines, text size -------------------------------------------------------

    def _prompted(self, purpose: str, text: str) -> None:
        if purpose == "flag":
            self.session.add_flag(text)
            self.say("Flagged." if text.strip() else "A flag needs a reason; nothing flagged.")
        elif purpose == "comment":
            self.session.add_comment(text)
        elif purpose == "find":
            words = text.strip()
            if not words:
                return
            spec = WorklistSpec(browse.Query(search=words))
            self.open_queue(spec)
            found = plural(len(self.session), "item")
            self.say(f"{found} {'contains' if len(self.session) == 1 else 'contain'} “{words}”.")
            self.prompt.hide()
            self.text_view.highlight(
                browse.search_terms(words)[1] or words.replace("*", "").split()
            )

    def _prompt_closed(self) -> None:
        self.setFocus()

    def toggle_guidelines(self) -> None:
        visible = not self.guidelines.isVisible()
        self.guidelines.setVisible(visible)
        settings.set_preference("editor_guidelines", visible)

    def show_shortcuts(self) -> None:
        self.sheet = ShortcutSheet(self.shortcut_rows(), self)
        self.sheet.show()

    def zoom(self, step: int) -> None:
        self.set_point_size(self.text_view.font().pointSizeF() + step, remember=True)

    def set_point_size(self, points: float, remember: bool = False) -> None:
        points = min(48.0, max(8.0, points))
        self.text_view.set_point_size(points)
        if remember:
            settings.set_preference(POINT_SIZE_KEY, points)
