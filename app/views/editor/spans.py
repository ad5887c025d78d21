"""Span tagging: select text (mouse or Shift+arrows), press a label's key.

Selections snap to token boundaries from spaCy's blank tokenizer for the project language;
Alt (held while releasing the mouse, or with the label key) keeps the exact selection. Each
added, relabelled or removed span is saved at once as a draft; Enter completes the item.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent

from app.core.annotation import tokens
from app.core.annotation.commands import Item
from app.views.editor.base import EditorBase
from app.workers.job import Job


class _TokenizerLoader(QObject):
    """Loads spaCy once per process in the background; until then the regex tokenizer snaps."""

    ready = Signal()
    tokenize: tokens.Tokenize | None = None
    job: Job | None = None
    language: str | None = None  # the project language the tokenizer is for

    def loaded(self, result: tuple[str, tokens.Tokenize]) -> None:
        language, tokenize = result
        if language == self.language:  # not one for a project closed meanwhile
            self.tokenize = tokenize
            self.ready.emit()


def _load_spacy(language: str, progress=None, cancel=None) -> tuple[str, tokens.Tokenize]:
    return language, tokens.snapping_tokenizer(language)


_loader = _TokenizerLoader()


class SpanEditor(EditorBase):
    left_goes_back = False

    def __init__(self, session, parent=None) -> None:
        self._tokens: tuple[int, tokens.Tokens] | None = None  # (item id, tokens)
        super().__init__(session, parent)
        self.text_view.span_mode = True
        self.text_view.stacked = self.schema.allow_overlap
        self.text_view.selection_released.connect(self._snap_selection)
        self.text_view.span_clicked.connect(self._span_clicked)
        self.spans: list[dict[str, Any]] = []
        self.no_spans_asked: int | None = None  # the item a first Enter with no spans was on
        self.no_spans_confirmed = False  # a second Enter said "no spans" is meant, this session
        self.load_tokenizer()

    def load_tokenizer(self) -> None:
        language = self.project.language
        if _loader.language == language and (_loader.tokenize or _loader.job):
            return
        _loader.language, _loader.tokenize = language, None  # another project's language
        job = Job(_load_spacy, language)
        job.succeeded.connect(_loader.loaded)
        _loader.ready.connect(self._forget_tokens)
        _loader.job = job.start()

    def _forget_tokens(self) -> None:
        self._tokens = None

    def _text_focus_policy(self) -> Qt.FocusPolicy:
        return Qt.FocusPolicy.StrongFocus

    def hint_text(self) -> str:
        return (
            "Select text, press a label key · click a span, Del removes · Alt keeps the exact"
            " selection · Enter done · ⌫ back · ? all keys"
        )

    def shortcut_rows(self) -> list[tuple[str, str]]:
        rows = super().shortcut_rows()
        rows[len(self.hotkeys) : len(self.hotkeys)] = [
            ("Shift+arrows / drag", "Select text (snaps to whole tokens)"),
            ("Alt + label key / Alt-drag", "Label the exact selection, without snapping"),
            ("Click a span", "Select it: a label key relabels it, Delete removes it"),
            ("Delete", "Remove the selected span"),
            ("Esc", "Clear the selection"),
        ]
        return rows

    def setFocus(self) -> None:  # the text view takes the keys, for Shift+arrows
        self.text_view.setFocus()

    def describe(self, value: object) -> str:
        count = len(value) if isinstance(value, list) else 0
        return f"{count} span{'s' if count != 1 else ''}" if count else "no spans"

    def describe_other(self, item: Item, value: object) -> str:
        if not isinstance(value, list) or not value:
            return "no spans"
        quoted = [f"{span['label']} “{item.text[span['start'] : span['end']]}”" for span in value]
        more = f" and {len(quoted) - 12} more" if len(quoted) > 12 else ""
        return "; ".join(quoted[:12]) + more

    # --- state ---------------------------------------------------------------------------------

    def show_annotation(self, item: Item) -> None:
        state = item.annotation
        self.spans = [dict(span) for span in state.value] if state and state.value else []
        selected = self.text_view.selected_span
        self.text_view.set_spans(
            self.spans, self.colours, selected if selected < len(self.spans) else -1
        )
        suggestion = self.suggestion_shown(item)
        self.text_view.set_suggestions(list(suggestion.value) if suggestion else [])
        self.label_bar.show_chosen(set())
        if self.session.locked:
            self.text_view.clear_selection()

    def token_boundaries(self) -> tokens.Tokens:
        item = self.session.item
        assert item is not None
        if self._tokens is None or self._tokens[0] != item.id:
            tokenize = _loader.tokenize or tokens.regex_tokenize
            self._tokens = (item.id, tokens.Tokens.of(item.text, tokenize))
        return self._tokens[1]

    def _snap_selection(self, exact: bool) -> None:
        selection = self.text_view.selection()
        if selection is None or exact or self.session.item is None:
            return
        start, end = self.token_boundaries().snap(*selection)
        if (start, end) != selection:
            self.text_view.select(start, end)

    def _span_clicked(self, index: int) -> None:
        self.text_view.selected_span = index
        self.text_view.viewport().update()
        if index >= 0:
            span = self.text_view.spans[index]
            item = self.session.item
            snippet = item.text[span["start"] : span["end"]] if item else ""
            self.say(
                f"“{snippet[:40]}” is {span['label']}: a label key relabels it, Delete removes it."
            )

    # --- editing -------------------------------------------------------------------------------

    def _save(self, spans: list[dict[str, Any]], description: str) -> None:
        spans = sorted(spans, key=lambda s: (s["start"], s["end"], s["label"]))
        self.session.set_state(spans, "draft", description)

    def on_label(self, name: str, exact: bool = False) -> None:
        item = self.session.item
        if item is None:
            return
        if self.session.locked:
            self.say("This item is finished. Press R to reopen it for editing.")
            return
        view = self.text_view
        if view.selected_span >= 0 and not view.textCursor().hasSelection():
            span = view.spans[view.selected_span]
            spans = [dict(s) for s in view.spans]
            spans[view.selected_span] = {**span, "label": name}
            self._save(spans, f"relabel span as {name}")
            return
        selection = view.selection()
        if selection is None:
            self.say("Select some text first, or click a span to relabel it.")
            return
        start, end = selection if exact else self.token_boundaries().snap(*selection)
        if start >= end or not item.text[start:end].strip():
            self.say("The selection holds no text to label.")
            return
        new = {"start": start, "end": end, "label": name}
        if new in self.spans:
            self.say("That span already has this label.")
            return
        if not self.schema.allow_overlap:
            clash = next((s for s in self.spans if s["start"] < end and start < s["end"]), None)
            if clash is not None:
                self.say(
                    f"It overlaps “{item.text[clash['start'] : clash['end']][:30]}”"
                    f" ({clash['label']}), and this schema does not allow overlapping spans."
                )
                return
        view.clear_selection()
        view.selected_span = -1
        self._save([*self.spans, new], f"tag {name}")

    def alt_key(self, event: QKeyEvent) -> bool:
        text = event.text()
        if text in self.hotkeys:
            self.on_label(self.hotkeys[text], exact=True)
            return True
        return False

    def on_delete(self) -> None:
        view = self.text_view
        if view.selected_span < 0 or self.session.item is None:
            self.say("Click a span first to remove it.")
            return
        if self.session.locked:
            self.say("This item is finished. Press R to reopen it for editing.")
            return
        spans = [dict(s) for i, s in enumerate(view.spans) if i != view.selected_span]
        label = view.spans[view.selected_span]["label"]
        view.selected_span = -1
        self._save(spans, f"remove {label} span")

    def complete(self) -> None:
        item = self.session.item
        if item is None:
            return
        if self.session.locked:
            self.session.next()
            return
        if not self.spans and not self.confirm_no_spans(item.id):
            return
        self.session.set_state(list(self.spans), "complete", "complete", advance=True)

    def confirm_no_spans(self, item_id: int) -> bool:
        """ "No spans" is an answer too, but one an Enter too many gives by mistake: the first
        time in a session it takes a second Enter on the same item (as Prodigy asks for empty
        answers); once confirmed, later items with no spans complete on the first Enter."""
        if self.no_spans_confirmed:
            return True
        if self.no_spans_asked != item_id:
            self.no_spans_asked = item_id
            self.say(
                "No spans marked here. Press Enter again to complete it with no spans"
                " (asked once per session), or select text and press a label's key."
            )
            return False
        self.no_spans_confirmed = True
        return True

    def extra_key(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape:
            self.text_view.clear_selection()
            self.text_view.selected_span = -1
            self.text_view.viewport().update()
            return True
        return False
