"""Review suspicious labels: labeled items whose label the cross-validated model doubts most.

Each row can be kept (the label is right: recorded, and the row leaves the list), changed to
the model's answer (an undoable edit like any other), or flagged for investigation. What is
listed and what keeping records are core verbs (app.core.quality.suspicious): no SQL here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.core.annotation.commands import AddFlag, AnnotationState, SetAnnotations
from app.core.quality.suspicious import SuspiciousLabel, keep_label, suspicious_labels
from app.core.storage.retry import DatabaseBusy
from app.views.editor.session import AnnotationSession
from app.workers.write_job import start_write, writes_pending


def _describe(value) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "; ".join(f"{s['label']} {s['start']}-{s['end']}" for s in value[:6])
    if isinstance(value, list):
        return ", ".join(value) or "none of these"
    return str(value)


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
        layout.addLayout(buttons)
        self.rows: list[SuspiciousLabel] = []
        self.keep_job = None  # the pending (or last) keep
        self.resize(980, 620)
        self.refresh()

    def refresh(self) -> None:
        listed = suspicious_labels(self.project)
        self.rows = list(listed.labels)
        self.table.setRowCount(len(self.rows))
        for row, (_dp, score, model_value, given, body) in enumerate(self.rows):
            snippet = " ".join(body.split())[:300]
            for column, content in enumerate(
                (snippet, _describe(given), _describe(model_value), f"{score:.2f}")
            ):
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
