"""Review suspicious labels: labeled items whose label the cross-validated model doubts most.

Each row can be kept (the label is right: recorded, and the row leaves the list), changed to
the model's answer (an undoable edit like any other), or flagged for investigation, with the
buttons or the plain keys K, C and F (the table's type-ahead search would take them otherwise).
What is listed and what keeping records are core verbs (app.core.quality.suspicious): no SQL
here. For spans, each row reads as words: the sentence with the span marked, the label given,
and the model's alternative (app.ml.suspicious.span_differences); the pane below the table
shows every difference of the current row, highlighted.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
)

from app.core.annotation.commands import AddFlag, AnnotationState, SetAnnotations
from app.core.quality.suspicious import SuspiciousLabel, keep_label, suspicious_labels
from app.core.storage.retry import DatabaseBusy
from app.ml import suspicious as spans_doubt
from app.views.editor.session import AnnotationSession
from app.views.theme import palette
from app.workers.write_job import start_write, writes_pending

PLAIN_KEYS = (Qt.Key.Key_K, Qt.Key.Key_C, Qt.Key.Key_F)


def _describe(value, text: str = "") -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "; ".join(
            f"{s['label']} “{' '.join(text[s['start'] : s['end']].split())}”" for s in value[:6]
        )
    if isinstance(value, list):
        return ", ".join(value) or "none of these"
    return str(value)


def _is_spans(given, model_value) -> bool:
    return any(
        isinstance(value, list) and value and isinstance(value[0], dict)
        for value in (given, model_value)
    ) or (isinstance(given, list) and isinstance(model_value, list) and not given)


def span_cells(body: str, given: list, model_value: list) -> tuple[str, str, str]:
    """(text, label, model says) of a suspicious span row: the first difference's sentence
    with its span between ⟦ ⟧, what was given there, and the model's alternative."""
    differences = spans_doubt.span_differences(body, given or [], model_value or [])
    if not differences:
        return " ".join(body.split())[:300], _describe(given, body), _describe(model_value, body)
    first = differences[0]
    more = f" (+{len(differences) - 1} more)" if len(differences) > 1 else ""
    given_cell = _describe([first.given], body) if first.given else "no span"
    return (
        spans_doubt.marked_sentence(body, first, "⟦", "⟧"),
        given_cell,
        f"{first.kind}: {spans_doubt.describe_difference(body, first)}{more}",
    )


def span_details_html(body: str, given: list, model_value: list) -> str:
    """Every difference of one item: its sentence with the given span highlighted and the
    model's span underlined, and the difference in words."""
    colours = palette()
    parts = []
    for diff in spans_doubt.span_differences(body, given or [], model_value or []):
        begin, end = diff.sentence
        marks = []
        if diff.given:
            marks.append((diff.given, f"background-color:{colours.search_highlight}"))
        if diff.model:
            marks.append((diff.model, f"color:{colours.model};text-decoration:underline"))
        sentence = _highlight(body, begin, end, marks)
        parts.append(
            f"<p><b>{html.escape(diff.kind)}</b>: "
            f"{html.escape(spans_doubt.describe_difference(body, diff))}<br>{sentence}</p>"
        )
    return "".join(parts) or "<p>The model agrees with these spans now.</p>"


def _highlight(body: str, begin: int, end: int, marks: list[tuple[dict, str]]) -> str:
    """body[begin:end] as HTML, each character inside a marked span styled (given first)."""
    out = []
    for i in range(begin, end):
        styles = [style for span, style in marks if span["start"] <= i < span["end"]]
        char = html.escape(body[i]) if not body[i].isspace() else " "
        if styles:
            style = ";".join(styles)
            char = f"<span style='{style}'><b>{char}</b></span>"
        out.append(char)
    return "".join(out)


class SuspiciousView(QDialog):
    def __init__(self, session: AnnotationSession, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.project = session.project
        self.setWindowTitle("Review suspicious labels")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Text", "Label", "Model says", "Doubt"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.installEventFilter(self)  # plain K, C, F before the type-ahead search
        self.details = QTextBrowser()
        self.details.setMaximumHeight(130)
        self.details.hide()
        self.table.currentCellChanged.connect(lambda *_: self._show_details())
        self.note = QLabel()
        self.note.setWordWrap(True)
        keep = QPushButton("&Keep the label")
        change = QPushButton("&Change to the model's answer")
        flag = QPushButton("&Flag for investigation")
        keep.clicked.connect(self.keep)
        change.clicked.connect(self.change)
        flag.clicked.connect(self.flag)
        self.buttons = (keep, change, flag)
        buttons = QHBoxLayout()
        for button in self.buttons:
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        self.rows: list[SuspiciousLabel] = []
        self.span_rows = False  # rows of spans: read as sentences, with the details pane
        self.keep_job = None  # the pending (or last) keep
        self.resize(980, 620)
        self.refresh()

    def refresh(self) -> None:
        listed = suspicious_labels(self.project)
        self.rows = list(listed.labels)
        self.table.setRowCount(len(self.rows))
        spans = any(_is_spans(given, model) for _dp, _s, model, given, _b in self.rows)
        self.details.setVisible(spans)
        self.span_rows = spans
        for row, (_dp, score, model_value, given, body) in enumerate(self.rows):
            if spans:
                cells = span_cells(body, given, model_value)
            else:
                cells = (" ".join(body.split())[:300], _describe(given), _describe(model_value))
            for column, content in enumerate((*cells, f"{score:.2f}")):
                cell = QTableWidgetItem(content)
                if column == 0:
                    cell.setToolTip(body[:2000])
                self.table.setItem(row, column, cell)
        if listed.version_id is None:
            self.note.setText("No model yet: train one (Ctrl+T) to find suspicious labels.")
        else:
            self.note.setText(
                f"{len(self.rows):,} labeled items whose label model version {listed.version_id}"
                " (cross-validated, so it never saw the item it judges) doubts most."
                " Keep, change or flag each one."
            )
        if self.rows:
            self.table.selectRow(0)

    def _show_details(self) -> None:
        row = self._current()
        if row < 0 or not self.span_rows:
            self.details.clear()
            return
        _dp, _score, model_value, given, body = self.rows[row]
        self.details.setHtml(span_details_html(body, given, model_value))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """K, C and F without a modifier act on the table's row instead of searching it."""
        if (
            watched is self.table
            and event.type() == QEvent.Type.KeyPress
            and event.key() in PLAIN_KEYS
            and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ):
            self.keyPressEvent(event)
            return True
        return super().eventFilter(watched, event)

    def _current(self) -> int:
        row = self.table.currentRow()
        return row if 0 <= row < len(self.rows) else -1

    def _drop(self, row: int) -> None:
        del self.rows[row]
        self.table.removeRow(row)
        if self.rows:
            self.table.selectRow(min(row, len(self.rows) - 1))

    def keep(self) -> None:
        """Record that the label is right, off the GUI thread (another program may hold the
        project's lock for a while); the row leaves the list once that is saved."""
        row = self._current()
        if row < 0 or writes_pending(self):
            return
        kept = self.rows[row]
        project, annotator = self.project, self.session.annotator_id
        self.keep_job = start_write(
            self,
            lambda: keep_label(project, kept.datapoint_id, annotator),
            busy=[*self.buttons, self.table],
            done=lambda _kept: self._kept(kept, None),
            failed=lambda message: self._kept(kept, message),
            say=self.note.setText,
        )

    def _kept(self, kept: SuspiciousLabel, failure: str | None) -> None:
        """The row leaves the list once kept, or when its datapoint was deleted meanwhile (a
        busy project keeps it, to try again)."""
        if failure is None:
            self.note.setText("Kept: the label stays and leaves this list.")
        else:
            self.note.setText(f"Not kept: {failure}")
            if isinstance(self.keep_job.error, DatabaseBusy):
                return
        if kept in self.rows:
            self._drop(self.rows.index(kept))

    def change(self) -> None:
        row = self._current()
        if row < 0:
            return
        dp_id, _score, model_value, _given, _body = self.rows[row]
        state = AnnotationState(model_value, "complete", 0, None, "corrected")
        self.session.push(
            SetAnnotations(self.session.annotator_id, ((dp_id, state),), "change suspicious label")
        )
        self._drop(row)

    def flag(self) -> None:
        row = self._current()
        if row < 0:
            return
        dp_id = self.rows[row][0]
        self.session.push(
            AddFlag(dp_id, self.session.annotator_id, "suspicious label: the model disagrees")
        )
        self._drop(row)

    def keyPressEvent(self, event) -> None:
        if writes_pending(self):
            return  # the keys wait with the buttons until the label is kept
        keys = {Qt.Key.Key_K: self.keep, Qt.Key.Key_C: self.change, Qt.Key.Key_F: self.flag}
        action = keys.get(event.key())
        if action is not None:
            action()
            return
        super().keyPressEvent(event)
