"""Widgets and display helpers the review and adjudication views share: a value editor
for each task type, annotation cards, label chips and badges. (The dialog skeleton and queue
walk they share are app/views/quality/item_queue.py.)"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.project.project import Project
from app.core.quality import review as core_review
from app.core.team.assign import list_annotators
from app.views.editor.text_view import TextView
from app.views.theme import palette, text_colour_on

SENIOR_ROLES = ("owner", "manager", "reviewer")
TEXT_POINTS = 14.0


def status_colour(status: str | None, default: str | None = None) -> str:
    """The colour of a review task's derived status (to-do, in progress, completed, issues);
    `default` (the palette's secondary ink unless given) for any other status."""
    colours = palette()
    return {
        core_review.TODO: colours.muted,
        core_review.IN_PROGRESS: colours.accent,
        core_review.COMPLETED: colours.success,
        core_review.ISSUES: colours.danger,
    }.get(status, colours.text_secondary if default is None else default)


def decision_badge(decision: str | None) -> tuple[str, str]:
    """A review decision as (badge text, colour); an unknown decision as itself, in the
    secondary ink."""
    colours = palette()
    return {
        None: ("not reviewed", colours.muted),
        "approve": ("✓ approved", colours.success),
        "reject": ("✗ rejected", colours.danger),
        "discard": ("⊘ discarded", colours.removal),
    }.get(decision, (str(decision), colours.text_secondary))


def style_sheet() -> str:
    """The style sheet of the review and adjudication dialogs, in the palette in use."""
    colours = palette()
    return f"""
QFrame#card {{ background: palette(base); border: 1px solid {colours.border};
  border-radius: 8px; }}
QFrame#card[selected="true"] {{ border: 2px solid {colours.accent};
  background: {colours.accent_background}; }}
QFrame#card[excluded="true"] {{ background: {colours.excluded_background}; }}
QLabel#itemTitle {{ font-size: 12pt; font-weight: 600; }}
QLabel#panelTitle {{ font-size: 11pt; font-weight: 600; color: {colours.text_secondary}; }}
QLabel#hint {{ color: {colours.hint}; }}
QPushButton {{ padding: 6px 12px; }}
"""


# -- display helpers shared with the adjudication view -----------------------------------------


def label_colours(project: Project) -> dict[str, QColor]:
    return {label.name: QColor(label.colour) for label in project.schema.labels}


def chip(name: str, colours: dict[str, QColor]) -> str:
    """A label as a coloured pill, in Qt's rich text."""
    colour = colours.get(name, QColor(palette().chip_fallback))
    fg = text_colour_on(colour)
    return (
        f"<span style='background-color:{colour.name()}; color:{fg};'>"
        f"&nbsp;{html.escape(name)}&nbsp;</span>"
    )


def value_html(value: Any, task_type: str, colours: dict[str, QColor], text: str = "") -> str:
    """A value as the reviewer reads it: label chips, or each span's label and words."""
    if value is None:
        return "<i>no value</i>"
    if task_type == "classification":
        return chip(str(value), colours)
    if task_type == "multilabel":
        return " ".join(chip(name, colours) for name in value) or "<i>none of these</i>"
    if not value:
        return "<i>no spans</i>"
    lines = []
    for span in sorted(value, key=lambda s: (s["start"], s["end"])):
        words = text[span["start"] : span["end"]]
        if len(words) > 60:
            words = words[:57] + "…"
        lines.append(
            f"{chip(span['label'], colours)} “{html.escape(words)}”"
            f" <span style='color:{palette().faint}'>{span['start']}–{span['end']}</span>"
        )
    return "<br>".join(lines)


def short_time(iso: str | None) -> str:
    """An ISO timestamp as local 'YYYY-MM-DD HH:MM', or '' if unknown."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def senior_annotators(project: Project, roles: tuple[str, ...] = SENIOR_ROLES) -> list[tuple]:
    """(id, name, role) of who may review or adjudicate, this install's annotator first."""
    me = project.local_annotator_id
    people = list_annotators(project)
    mine = [(p.id, p.name, p.role) for p in people if p.id == me]
    return mine + [(p.id, p.name, p.role) for p in people if p.id != me and p.role in roles]


def who_combo(choices: list[tuple], selected: int | None) -> QComboBox:
    combo = QComboBox()
    for who_id, name, role in choices:
        combo.addItem(f"{name} ({role})", who_id)
    if selected is not None:
        index = combo.findData(selected)
        if index < 0:
            combo.addItem(f"annotator #{selected}", selected)
            index = combo.count() - 1
        combo.setCurrentIndex(index)
    combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
    return combo


def make_text_view(project: Project) -> TextView:
    view = TextView()
    view.span_mode = project.task_type == "spans"
    view.stacked = project.schema.allow_overlap
    view.set_point_size(TEXT_POINTS)
    view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    view.setStyleSheet(
        "QTextEdit { background: palette(base);"
        f" border: 1px solid {palette().border}; border-radius: 8px; }}"
    )
    return view


def action_button(text: str, slot, tip: str = "") -> QPushButton:
    button = QPushButton(text)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.setAutoDefault(False)
    if tip:
        button.setToolTip(tip)
    button.clicked.connect(slot)
    return button


# -- the value editor ------------------------------------------------------------------------


class ValueEditor(QWidget):
    """Edit one value of the project's task type: a label combo (classification), a checkable
    list (multilabel), or the text with a list of spans (select words, pick a label, Add)."""

    def __init__(self, project: Project, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task_type = project.task_type
        self.labels = project.schema.labels
        self.colours = label_colours(project)
        self.text = text
        self.spans: list[dict[str, Any]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if self.task_type == "classification":
            self.combo = QComboBox()
            for label in self.labels:
                self.combo.addItem(label.name)
            layout.addWidget(self.combo)
        elif self.task_type == "multilabel":
            self.checks = QListWidget()
            for label in self.labels:
                item = QListWidgetItem(label.name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.checks.addItem(item)
            layout.addWidget(self.checks)
        else:
            self.text_view = TextView()
            self.text_view.span_mode = True
            self.text_view.stacked = project.schema.allow_overlap
            self.text_view.set_point_size(12.0)
            self.text_view.set_text(text)
            self.span_label = QComboBox()
            for label in self.labels:
                self.span_label.addItem(label.name)
            add = QPushButton("Add the selected words as")
            add.setAutoDefault(False)
            add.clicked.connect(self.add_selection)
            remove = QPushButton("Remove the chosen span")
            remove.setAutoDefault(False)
            remove.clicked.connect(self.remove_current)
            self.span_list = QListWidget()
            row = QHBoxLayout()
            row.addWidget(add)
            row.addWidget(self.span_label)
            row.addStretch(1)
            row.addWidget(remove)
            layout.addWidget(self.text_view, 2)
            layout.addLayout(row)
            layout.addWidget(self.span_list, 1)

    def set_value(self, value: Any) -> None:
        if self.task_type == "classification":
            if value is not None:
                self.combo.setCurrentText(str(value))
        elif self.task_type == "multilabel":
            chosen = set(value or ())
            for i in range(self.checks.count()):
                item = self.checks.item(i)
                checked = item.text() in chosen
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        else:
            self.spans = [dict(s) for s in value or ()]
            self._show_spans()

    def value(self) -> Any:
        if self.task_type == "classification":
            return self.combo.currentText()
        if self.task_type == "multilabel":
            return [
                self.checks.item(i).text()
                for i in range(self.checks.count())
                if self.checks.item(i).checkState() == Qt.CheckState.Checked
            ]
        return [dict(s) for s in self.spans]

    def add_selection(self) -> None:
        chosen = self.text_view.selection()
        if chosen is None or chosen[0] == chosen[1]:
            return
        start, end = chosen
        # Trim whitespace at the edges, as a hand selection often takes a space too.
        while start < end and self.text[start].isspace():
            start += 1
        while end > start and self.text[end - 1].isspace():
            end -= 1
        if start < end:
            self.add_span(start, end, self.span_label.currentText())

    def add_span(self, start: int, end: int, label: str) -> None:
        self.spans.append({"start": start, "end": end, "label": label})
        self.text_view.clear_selection()
        self._show_spans()

    def remove_current(self) -> None:
        row = self.span_list.currentRow()
        if 0 <= row < len(self.spans):
            del self.spans[row]
            self._show_spans()

    def _show_spans(self) -> None:
        self.spans.sort(key=lambda s: (s["start"], s["end"], s["label"]))
        self.span_list.clear()
        for span in self.spans:
            words = self.text[span["start"] : span["end"]]
            self.span_list.addItem(f"{span['label']}: “{words}”  ({span['start']}–{span['end']})")
        self.text_view.set_spans(self.spans, self.colours)


class ValueDialog(QDialog):
    """The value editor in a dialog, with a required reason when the edit is a correction."""

    def __init__(
        self,
        project: Project,
        value: Any,
        text: str,
        title: str,
        ask_reason: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.editor = ValueEditor(project, text)
        self.editor.set_value(value)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("why the annotation was wrong (required)")
        self.error = QLabel()
        self.error.setStyleSheet(f"color: {palette().danger};")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if project.task_type != "spans":
            preview = QLabel(html.escape(text[:600]))
            preview.setWordWrap(True)
            preview.setTextFormat(Qt.TextFormat.RichText)
            preview.setStyleSheet("font-size: 12pt; padding: 6px;")
            layout.addWidget(preview)
        layout.addWidget(self.editor, 1)
        self.ask_reason = ask_reason
        if ask_reason:
            layout.addWidget(QLabel("Reason:"))
            layout.addWidget(self.reason)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(720 if project.task_type == "spans" else 520, 560 if ask_reason else 420)

    def value(self) -> Any:
        return self.editor.value()

    def reason_text(self) -> str:
        return self.reason.text().strip()

    def accept(self) -> None:
        if self.ask_reason and not self.reason_text():
            self.error.setText("A correction needs a reason.")
            return
        super().accept()


# -- the cards --------------------------------------------------------------------------------


class AnnotationCard(QFrame):
    """One annotator's version of the item: a click selects it."""

    clicked = Signal(int)

    def __init__(
        self, index: int, title: str, body: str, footer: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.index = index
        self.setObjectName("card")
        self.setProperty("selected", False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        self.title = QLabel(title)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.body = QLabel(body)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setWordWrap(True)
        self.body.setStyleSheet("font-size: 12pt;")
        self.footer = QLabel(footer)
        self.footer.setTextFormat(Qt.TextFormat.RichText)
        self.footer.setWordWrap(True)
        for label in (self.title, self.body, self.footer):
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout.addWidget(self.title)
        layout.addWidget(self.body)
        layout.addWidget(self.footer)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    def set_selected(self, selected: bool) -> None:
        self.setProperty("selected", selected)
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit(self.index)
        super().mousePressEvent(event)


def badge(text: str, colour: str) -> str:
    return f"<span style='color:{colour}; font-weight:600;'>{html.escape(text)}</span>"


def status_pills(counts: dict[str, int]) -> str:
    return " &nbsp; ".join(  # a pill never breaks between its dot, name and count
        f"<span style='color:{status_colour(name)}'>●</span>&nbsp;{name.replace(' ', '&nbsp;')}"
        f"&nbsp;<b>{counts.get(name, 0)}</b>"
        for name in core_review.DERIVED_STATUSES
    )
