"""Classification (one label: the key applies it and moves on) and multilabel (keys toggle)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

from app.core import settings
from app.core.annotation.commands import Item
from app.views.editor.base import EditorBase

AUTO_ADVANCE_KEY = "editor_auto_advance"


class ClassificationEditor(EditorBase):
    def __init__(self, session, parent=None) -> None:
        super().__init__(session, parent)
        self.auto_advance = bool(settings.preference(AUTO_ADVANCE_KEY, True))

    def set_auto_advance(self, on: bool) -> None:
        self.auto_advance = on
        settings.set_preference(AUTO_ADVANCE_KEY, on)

    def show_annotation(self, item: Item) -> None:
        state = item.annotation
        chosen = {state.value} if state and state.status == "complete" else set()
        suggestion = self.suggestion_shown(item)
        self.label_bar.show_chosen(chosen, {suggestion.value} if suggestion else set())

    def accept(self) -> None:
        self.session.accept_suggestion(advance=self.auto_advance)

    def on_label(self, name: str) -> None:
        self.session.set_state(name, "complete", f"label {name}", advance=self.auto_advance)

    def complete(self) -> None:
        item = self.session.item
        if item is None:
            return
        if item.annotation and item.annotation.finished:
            self.session.next()
        else:
            self.say("Press a label's key first (or S to skip, D to discard).")


class MultilabelEditor(EditorBase):
    multi = True

    def hint_text(self) -> str:
        return "Keys toggle labels · N none of these · " + super().hint_text()

    def shortcut_rows(self) -> list[tuple[str, str]]:
        rows = super().shortcut_rows()
        rows.insert(len(self.hotkeys), ("N", "None of these (an explicit answer)"))
        return rows

    def describe(self, value: object) -> str:
        return ", ".join(value) if value else "none of these"

    def chosen(self) -> list[str]:
        item = self.session.item
        state = item.annotation if item else None
        return list(state.value) if state and state.value else []

    def show_annotation(self, item: Item) -> None:
        suggestion = self.suggestion_shown(item)
        self.label_bar.show_chosen(
            set(self.chosen()), set(suggestion.value) if suggestion else set()
        )

    def on_label(self, name: str) -> None:
        labels = self.chosen()
        if name in labels:
            labels.remove(name)
        else:
            labels.append(name)
        order = self.schema.label_names
        labels.sort(key=lambda label: order.index(label) if label in order else len(order))
        self.session.set_state(labels, "draft", f"toggle {name}")

    def complete(self) -> None:
        item = self.session.item
        if item is None:
            return
        if item.annotation and item.annotation.finished and self.session.locked:
            self.session.next()
            return
        labels = self.chosen()
        if not labels:
            self.say("Choose labels, or press N if none of them applies.")
            return
        self.session.set_state(labels, "complete", "complete", advance=True)

    def extra_key(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_N and event.text().lower() == "n":
            self.session.set_state([], "complete", "none of these", advance=True)
            return True
        return False
