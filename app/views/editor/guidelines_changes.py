"""“Guidelines changed”: a banner over the editor and a dialog with the differences.

The banner shows when an annotator opens an editor and the schema has a version newer than
the one they last acknowledged (app.core.project.guidelines). It never blocks labeling; the dialog
shows the guideline diff (added lines green, removed red) and the label changes, and its
“I have read them” button records the acknowledgement.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.core.project import guidelines
from app.core.project.guidelines import Change
from app.core.project.project import Project
from app.views.theme import palette
from app.workers.write_job import start_write, writes_pending


def _diff_style(line: str) -> str:
    """The style of one line of the guidelines diff: added, removed, hunk header or context."""
    colours = palette()
    if line.startswith("+"):
        return f"background:{colours.success_background}; color:{colours.success_strong}"
    if line.startswith("-"):
        return f"background:{colours.danger_background}; color:{colours.danger_strong}"
    if line.startswith("@@"):
        return f"color:{colours.model}"
    return f"color:{colours.text_subtle}"


def change_html(change: Change) -> str:
    """The changes as HTML: label changes as a list, then the coloured guideline diff."""
    parts = [
        f"<h3>Version {change.from_version} → version {change.to_version}</h3>",
    ]
    lines = change.label_lines()
    if lines:
        parts.append("<p><b>Labels</b></p><ul>")
        parts += [f"<li>{html.escape(line)}</li>" for line in lines]
        parts.append("</ul>")
    if change.diff:
        parts.append("<p><b>Guidelines</b></p>")
        rows = []
        for line in change.diff[2:]:  # the ---/+++ header says nothing an annotator needs
            style = _diff_style(line)
            text = html.escape(line) or "&nbsp;"
            rows.append(f"<tr><td style='{style}; white-space:pre-wrap'>{text}</td></tr>")
        parts.append(
            "<table width='100%' cellspacing='0' cellpadding='2' "
            "style='font-family:monospace'>" + "".join(rows) + "</table>"
        )
    elif not lines:
        parts.append("<p>No visible differences.</p>")
    return "".join(parts)


class ChangesDialog(QDialog):
    """The differences, with “I have read them” (acknowledge) and “Later”."""

    def __init__(self, change: Change, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.change = change
        self.setWindowTitle(f"Guidelines changed (version {change.to_version})")
        self.resize(720, 520)
        self.view = QTextBrowser()
        self.view.setOpenExternalLinks(False)
        self.view.setHtml(change_html(change))
        buttons = QDialogButtonBox()
        self.read_button = buttons.addButton(
            "I have read them", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.later_button = buttons.addButton("Later", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)


class GuidelinesBanner(QFrame):
    """A non-blocking strip: “Guidelines changed (version N): …” and “Show the changes”."""

    acknowledged = Signal(int)  # the version acknowledged
    checked = Signal()  # the look for unread changes (check) is over

    def __init__(self, project: Project, annotator_id: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        self.annotator_id = annotator_id
        self.change: Change | None = None
        self.dialog: ChangesDialog | None = None
        self.setObjectName("guidelinesBanner")
        colours = palette()
        self.setStyleSheet(
            f"QFrame#guidelinesBanner {{ background: {colours.notice_background};"
            f" border-bottom: 2px solid {colours.notice_border}; }}"
            f" QFrame#guidelinesBanner QLabel {{ color: {colours.notice_text}; }}"
        )
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.show_button = QPushButton("Show the changes")
        self.show_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the editor
        self.show_button.clicked.connect(self.show_changes)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 6, 12, 6)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.show_button)
        self.hide()

    def check(self) -> None:
        """Look for unread changes, off the GUI thread (a first-time annotator acknowledges
        silently: a write, which another program's lock may keep waiting); `checked` follows."""
        project, annotator = self.project, self.annotator_id
        start_write(
            self,
            lambda: guidelines.changes_on_open(project, annotator),
            done=self._show_change,
            failed=self._check_failed,
            saving="",
        )

    def _show_change(self, change: Change | None) -> None:
        self.change = change
        if change is None:
            self.hide()
        else:
            self.text.setText(
                f"<b>Guidelines changed (version {change.to_version}):</b> "
                f"{html.escape(change.summary())} since version "
                f"{change.from_version}, which you last read."
            )
            self.show()
        self.checked.emit()

    def _check_failed(self, message: str) -> None:
        self.change = None
        self.text.setText(f"Could not look for guideline changes: {html.escape(message)}")
        self.show_button.hide()
        self.show()
        self.checked.emit()

    def show_changes(self) -> ChangesDialog | None:
        if self.change is None:
            return None
        self.dialog = ChangesDialog(self.change, self.window())
        self.dialog.accepted.connect(self.read)
        self.dialog.open()  # window-modal at most; the editor stays as it was
        return self.dialog

    def read(self) -> None:
        """“I have read them”: acknowledge the version shown (off the GUI thread), then hide."""
        if self.change is None or writes_pending(self):
            return
        project, annotator, version = self.project, self.annotator_id, self.change.to_version
        shown = self.text.text()
        start_write(
            self,
            lambda: guidelines.acknowledge(project, annotator, version),
            busy=[self.show_button],
            done=self._read,
            failed=lambda message: self.text.setText(
                f"{shown}<br><b>Not recorded:</b> {html.escape(message)}"
            ),
            say=lambda words: self.text.setText(f"{shown}<br>{html.escape(words)}"),
        )

    def _read(self, version: int) -> None:
        self.change = None
        self.hide()
        self.acknowledged.emit(version)
