"""The main window's guard of edits not saved yet, at a close and at a switch of project.

Why: another program (a long import or merge) may hold the project's write lock for a long
while, and the window's edits wait for it (app.workers.writer). Closing the window or
switching project must then neither freeze the window (shutting the writer down on the GUI
thread would wait out the lock) nor drop an edit silently. So the guard asks (close: wait /
close anyway) or waits with the event loop running (switch: SwitchWait), and only then lets
the window close or switch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from app.core.project.project import Project
from app.views import closing
from app.views.closing import WAIT, SwitchWait
from app.workers.write_job import abandon_writes, pending_writes, wait_for_writes

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

CLOSE_GRACE = 0.5  # seconds a close (or a switch) waits for a write in flight before it asks


class SaveGuard(QObject):
    """Counts the unsaved writes of a window, and holds its close or switch until they are
    saved, or until the user chooses to drop them."""

    def __init__(self, window: MainWindow, switch: Callable[[Project | None], None]) -> None:
        super().__init__(window)
        self.window = window
        self.switch = switch  # shows a project, once its predecessor's edits are saved
        self.switch_wait: SwitchWait | None = None  # a switch waiting for saves
        self.closed_anyway = False  # closed with edits unsaved, on the user's word
        self._close_when_saved = QTimer(self, interval=250)
        self._close_when_saved.timeout.connect(self._close_if_saved)

    def still_pending(self) -> int:
        """Writes not finished yet (no wait)."""
        writer = self.window.writer
        return (writer.pending if writer is not None else 0) + pending_writes()

    def unsaved(self) -> int:
        """Edits and view writes not saved yet after a short grace: they are waiting for the
        project's lock, which another program (a long import or merge) holds."""
        writer = self.window.writer
        edits = 0
        if writer is not None and not writer.wait_idle(CLOSE_GRACE):
            edits = writer.pending
        views = 0 if wait_for_writes(CLOSE_GRACE) else pending_writes()
        return edits + views

    def _edits(self) -> list[str]:
        session = self.window.session
        return session.unsaved_edits() if session is not None else []

    def _abandon(self) -> None:
        """Give the unsaved writes up for real: once this returns none of them commits, even
        if the other program's lock frees a moment later (what the dialog said is lost is)."""
        if self.window.writer is not None:
            self.window.writer.abandon()
        abandon_writes()

    # ---- switching project -----------------------------------------------------------------
    def switch_to(self, project: Project | None) -> None:
        """Switch now if every edit is saved; else wait for them behind SwitchWait (the
        window keeps running), and switch when they are, or when the user says so."""
        if self.switch_wait is not None:  # already waiting: the newest choice wins
            self.switch_wait.reject()
        unsaved = self.unsaved() if self.window.writer is not None else 0
        if not unsaved:
            self.switch(project)
            return
        name = project.path.name if project is not None else "no project"
        if project is not None and project is self.window.project:
            name = f"{name} again"
        wait = SwitchWait(self.window, name, self.still_pending, self._edits(), self._abandon)
        wait.finished.connect(lambda _result: self._switch_ended(wait, project))
        self.switch_wait = wait.start()

    def _switch_ended(self, wait: SwitchWait, project: Project | None) -> None:
        if self.switch_wait is wait:
            self.switch_wait = None
        if wait.outcome in ("saved", "anyway"):
            self.switch(project)
            return
        if project is not None and project is not self.window.project:
            project.close()  # opened for the switch that did not happen
        self.window.statusBar().showMessage(
            "Stayed in this project; its edits waiting for the lock are still saved.", 15000
        )

    # ---- closing ---------------------------------------------------------------------------
    def may_close(self) -> bool:
        """Never lose unsaved edits silently: while some wait for the project's lock, ask
        whether to wait (the window closes by itself once they are saved) or close anyway
        (then nothing waits for them, and the process ends at once)."""
        unsaved = self.unsaved()
        if not unsaved:
            return True
        if closing.ask_close_unsaved(self.window, unsaved, self._edits()) == WAIT:
            self._close_when_saved.start()
            self.window.statusBar().showMessage(
                f"Waiting to save {closing.edits_phrase(unsaved)}: another program has the"
                " project locked. Tagloop closes once they are saved."
            )
            return False
        self._close_when_saved.stop()
        self.closed_anyway = True
        self._abandon()
        return True

    def _close_if_saved(self) -> None:
        """While waiting to close: close once every edit is saved."""
        if self.still_pending():
            return
        self._close_when_saved.stop()
        self.window.close()
