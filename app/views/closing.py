"""What the main window asks when it is closed, or switches project, while edits wait for the
project's lock (another program, e.g. a long import or merge, holds it).

Never a wait on the GUI thread, never an edit dropped silently: closing asks “wait / close
anyway” (listing what would be lost); switching project shows SwitchWait, a window-modal
dialog that waits with the event loop running and switches once the edits are saved, unless
the user cancels (and stays) or switches anyway (the edits listed are dropped).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

WAIT, CLOSE_ANYWAY = "wait", "close anyway"
LISTED = 8  # edits named in a question; the rest are counted
POLL_MS = 100  # how often a waiting switch looks whether the edits are saved


def edits_phrase(unsaved: int) -> str:
    return f"{unsaved} edit{'s' if unsaved != 1 else ''}"


def listed_edits(edits: Sequence[str]) -> str:
    """The unsaved edits, one a line, for a question's details."""
    lines = [f"• {edit}" for edit in edits[:LISTED]]
    if len(edits) > LISTED:
        lines.append(f"• and {len(edits) - LISTED:,} more")
    return "\n".join(lines)


def ask_close_unsaved(parent: QWidget, unsaved: int, edits: Sequence[str] = ()) -> str:
    """Ask what to do with edits a lock keeps out: WAIT or CLOSE_ANYWAY. `edits` names them
    (the editor's; views' writes are only counted)."""
    what = edits_phrase(unsaved)
    are = "are" if unsaved != 1 else "is"
    listed = f"\n\n{listed_edits(edits)}" if edits else ""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Edits not saved yet",
        f"{what} {are} not saved yet: another program (e.g. a long import or merge) has the"
        f" project locked, and Tagloop keeps trying.{listed}\n\n"
        f"Wait, and Tagloop closes by itself once they are saved; or close anyway, and the"
        f" {what} {are} lost.",
        parent=parent,
    )
    wait = box.addButton("Wait", QMessageBox.ButtonRole.RejectRole)
    box.addButton("Close anyway", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(wait)
    box.exec()
    return WAIT if box.clickedButton() is wait else CLOSE_ANYWAY


class SwitchWait(QDialog):
    """“Saving your edits before opening X…”: waits (without blocking the event loop) until
    `unsaved()` is 0, then calls `switch(target)`. Cancel stays in the current project (the
    edits go on being saved); “Switch anyway” calls `abandon()`, then switches."""

    def __init__(
        self,
        parent: QWidget,
        target_name: str,
        unsaved: Callable[[], int],
        edits: Sequence[str],
        abandon: Callable[[], None],
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Saving your edits first")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.unsaved = unsaved
        self.abandon = abandon
        self.outcome: str | None = None  # "saved", "anyway" or "cancelled"
        count = unsaved()
        what = edits_phrase(count)
        listed = f"<pre>{html.escape(listed_edits(edits))}</pre>" if edits else ""
        self.text = QLabel(
            f"<b>Saving {what} before opening {html.escape(target_name)}…</b><br>"
            "Another program (e.g. a long import or merge) has the project locked; Tagloop"
            f" opens {html.escape(target_name)} as soon as the edits are saved.{listed}"
            "Cancel to stay here (the edits are still saved), or switch anyway and lose"
            f" the {what}."
        )
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy: how long another program keeps its lock is unknown
        buttons = QDialogButtonBox()
        self.anyway_button = buttons.addButton(
            "Switch anyway", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.anyway_button.clicked.connect(self._anyway)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.bar)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)
        self.timer = QTimer(self, interval=POLL_MS)
        self.timer.timeout.connect(self._check)

    def start(self) -> SwitchWait:
        self.timer.start()
        self.open()
        return self

    def _check(self) -> None:
        if not self.unsaved():
            self.outcome = "saved"
            self.accept()

    def _anyway(self) -> None:
        self.outcome = "anyway"
        self.abandon()
        self.accept()

    def reject(self) -> None:
        self.outcome = self.outcome or "cancelled"
        super().reject()

    def done(self, result: int) -> None:
        self.timer.stop()
        super().done(result)
