"""Recent answers: the last items answered in this session, beside the text, as Prodigy has.

A slip (the wrong key, an Enter too many) stays in sight after the editor has moved on, and
is one click from undone: each row's Undo puts that item back as it was before the answer.
For the newest step that is the undo stack's own undo; for an older one it is a new, itself
undoable, command, so the undo history always matches the database.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.annotation import bulk_runs
from app.core.annotation import commands as annotate
from app.core.annotation.commands import AnnotationState
from app.views.editor.session import AnnotationSession, Outcome
from app.views.theme import palette

SHOWN = 8  # rows in the list: the last few answers, not a history (that is History's job)
SNIPPET = 60
MIN_HEIGHT = 150  # the title and two answers, whatever the context pane above wants
GLYPHS = {"complete": "✓", "skipped": "↷", "discarded": "✕"}


@dataclass(frozen=True)
class Answer:
    """One item's latest finished answer in this session, and what it replaced."""

    datapoint_id: int
    status: str
    value: object
    snippet: str
    before: AnnotationState | None  # the item's state before the answer: what Undo restores
    command: object  # the command that gave the answer (to know whether it is the newest step)


class RecentAnswers(QFrame):
    """A compact list of the session's last answers, newest first, each with Undo."""

    def __init__(
        self,
        session: AnnotationSession,
        describe: Callable[[object], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("recent_answers")
        self.setAccessibleName("Recent answers")
        self.session = session
        self.describe = describe
        self.answers: list[Answer] = []
        self.rows: list[QWidget] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(2)
        self.title = QLabel("<b>Recent answers</b>")
        self.empty = QLabel("Your answers in this session show here, each one click from undo.")
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(f"color: {palette().placeholder}")
        rows = QWidget()
        self.list = QVBoxLayout(rows)
        self.list.setContentsMargins(0, 0, 0, 0)
        self.list.setSpacing(0)
        self.list.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(rows)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.title)
        layout.addWidget(self.empty)
        layout.addWidget(scroll, 1)
        self.setMinimumHeight(MIN_HEIGHT)
        session.committed.connect(self.record)

    def record(self, outcome: Outcome) -> None:
        """A write committed: its finished answers go on top; an undone answer leaves."""
        command = outcome.command
        if not isinstance(command, annotate.SetAnnotations):
            return
        inverse = outcome.applied.inverse
        before: dict[int, AnnotationState | None] = {}
        if isinstance(inverse, annotate.SetAnnotations | bulk_runs.UndoLabelRun):
            before = dict(inverse.changes)
        for dp_id in command.datapoints:
            self.answers = [a for a in self.answers if a.datapoint_id != dp_id]
            item = outcome.items.get(dp_id)
            state = item.annotation if item is not None else None
            if item is None or state is None or not state.finished:
                continue
            snippet = " ".join(item.text.split())
            if len(snippet) > SNIPPET:
                snippet = snippet[: SNIPPET - 1] + "…"
            answer = Answer(dp_id, state.status, state.value, snippet, before.get(dp_id), command)
            self.answers.insert(0, answer)
        del self.answers[SHOWN:]
        self._show()

    def _show(self) -> None:
        for row in self.rows:
            self.list.removeWidget(row)
            row.deleteLater()
        self.rows = [self._row(answer) for answer in self.answers]
        for i, row in enumerate(self.rows):
            self.list.insertWidget(i, row)
        self.empty.setVisible(not self.answers)

    def _row(self, answer: Answer) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 1, 0, 1)
        theme = palette()
        colour = theme.text if answer.status == "complete" else theme.text_subtle
        what = self.describe(answer.value) if answer.status == "complete" else answer.status
        label = QLabel(
            f"<span style='color:{colour}'>{GLYPHS.get(answer.status, '')} <b>{_esc(what)}</b>"
            f"</span><br><span style='color:{theme.text_secondary}'>{_esc(answer.snippet)}</span>"
        )
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        label.setToolTip(f"{what}: {answer.snippet}")
        label.setCursor(Qt.CursorShape.PointingHandCursor)
        label.mousePressEvent = lambda _e, dp=answer.datapoint_id: self.session.show_datapoint(dp)
        undo = QToolButton()
        undo.setText("Undo")
        undo.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the editor keeps the keyboard
        undo.setToolTip("Put this item back as it was before this answer")
        undo.setAccessibleName(f"Undo the answer “{what}” on “{answer.snippet}”")
        undo.clicked.connect(lambda _=False, a=answer: self.undo(a))
        layout.addWidget(label, 1)
        layout.addWidget(undo)
        return row

    def undo(self, answer: Answer) -> None:
        """Put the item back as it was before this answer (and show it in the editor)."""
        session = self.session
        stack = session.undo_stack
        newest = stack.command(stack.index() - 1) if stack.index() > 0 else None
        command = answer.command
        if (
            newest is not None
            and getattr(newest, "command", None) is command
            and isinstance(command, annotate.SetAnnotations)
            and len(command.datapoints) == 1
        ):
            stack.undo()  # the newest step: the ordinary undo (Ctrl+Shift+Z redoes it)
            return
        session.show_datapoint(answer.datapoint_id)
        session.push(
            annotate.SetAnnotations(
                session.annotator_id, ((answer.datapoint_id, answer.before),), "undo an answer"
            )
        )


def _esc(text: str) -> str:
    return html.escape(text)
