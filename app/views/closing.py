"""What the main window asks when it is closed while edits wait for the project's lock."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

WAIT, CLOSE_ANYWAY = "wait", "close anyway"


def ask_close_unsaved(parent: QWidget, unsaved: int) -> str:
    """Ask what to do with edits a lock keeps out: WAIT or CLOSE_ANYWAY."""
    edits = f"{unsaved} edit{'s' if unsaved != 1 else ''}"
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Edits not saved yet",
        f"{edits} {'are' if unsaved != 1 else 'is'} not saved yet: another program (e.g. a long"
        " import or merge) has the project locked, and Tagloop keeps trying.\n\n"
        f"Wait, and Tagloop closes by itself once they are saved; or close anyway, and the"
        f" {edits} {'are' if unsaved != 1 else 'is'} lost.",
        parent=parent,
    )
    wait = box.addButton("Wait", QMessageBox.ButtonRole.RejectRole)
    box.addButton("Close anyway", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(wait)
    box.exec()
    return WAIT if box.clickedButton() is wait else CLOSE_ANYWAY
