"""“Not saved yet”: the window's banner for edits that another program's lock keeps out.

Why a banner and not a message box: the notice comes while the user is labelling, maybe after
minutes of waiting (app.core.storage.retry.write_timeout()), and a modal box would take the
keys from the editor and stop the work. The banner stays over the tabs until the edits are
saved, says what is not saved, that it is kept in memory and retried, and offers “Retry now”.
A save that failed for good (not a lock: a disk error, a bug) is shown here too, with “Dismiss”.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from app.views.editor.session import AnnotationSession
from app.views.theme import palette

SHOWN_EDITS = 4  # edits listed by name; the rest are counted


def unsaved_html(edits: list[str], message: str) -> str:
    """What is not saved (the edits named), and why and what Tagloop does about it
    (`message`), as the banner's rich text."""
    count = len(edits)
    head = f"{count} edit{'s' if count != 1 else ''}" if count else "your last edit"
    listed = "; ".join(html.escape(edit) for edit in edits[:SHOWN_EDITS])
    if count > SHOWN_EDITS:
        listed += f"; and {count - SHOWN_EDITS:,} more"
    what = f" — {listed}" if listed else ""
    return f"<b>Not saved yet: {head}</b>{what}.<br>{html.escape(message)}"


class UnsavedBanner(QFrame):
    """A persistent strip over the window's tabs while edits wait for the project's lock."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("unsavedBanner")
        self.setAccessibleName("Edits not saved yet")
        self.session: AnnotationSession | None = None
        self.message = ""
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.retry_button = QPushButton("Retry now")
        self.retry_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the editor
        self.retry_button.clicked.connect(self.retry)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.dismiss_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 8, 12, 8)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.hide()

    def attach(self, session: AnnotationSession | None) -> None:
        """Follow one session's saves (None: no project open)."""
        self.session = session
        self.hide()
        if session is None:
            return
        session.waiting.connect(self.show_waiting)
        session.unstalled.connect(self.hide)
        session.failed.connect(self.show_failed)
        session.items_committed.connect(lambda _items: self._refresh())

    def _style(self) -> None:
        """Colours read when shown, so a theme changed meanwhile is followed."""
        colours = palette()
        self.setStyleSheet(
            f"QFrame#unsavedBanner {{ background: {colours.alert_background};"
            f" border-bottom: 2px solid {colours.alert_border}; }}"
            f" QFrame#unsavedBanner QLabel {{ color: {colours.text}; }}"
        )

    def show_waiting(self, message: str) -> None:
        """Edits kept out by the lock: say which, and offer Retry now."""
        self.message = message
        self.retry_button.setEnabled(True)
        self.retry_button.setText("Retry now")
        self.retry_button.show()
        self.dismiss_button.hide()
        self._refresh(force=True)

    def _refresh(self, force: bool = False) -> None:
        """Keep the list of unsaved edits current while the banner shows (some land)."""
        if self.session is None or not (force or self.isVisible()) or not self.message:
            return
        if not self.retry_button.isVisible() and not force:
            return  # a failure is shown: leave it as it is
        self.text.setText(unsaved_html(self.session.unsaved_edits(), self.message))
        self._style()
        self.show()

    def retry(self) -> None:
        """Retry now: the writer tries the save again at once; the banner stays until the
        save lands (a try kept out again is reported as `waiting`, which puts the button
        back)."""
        if self.session is None:
            return
        self.retry_button.setEnabled(False)
        self.retry_button.setText("Retrying…")
        self.session.retry_now()

    def show_failed(self, message: str) -> None:
        """A save that failed for good: said plainly, until dismissed."""
        self.message = ""
        self.text.setText(
            f"<b>{html.escape(message)}</b><br>The item shows what the project file holds;"
            " the undo history was reset."
        )
        self.retry_button.hide()
        self.dismiss_button.show()
        self._style()
        self.show()
