"""What an empty project shows instead of an empty table: a way on ("Import a dataset…") and a
drop target, so that a new project is never a dead end; and the filter that lets a window take
a file dropped anywhere on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


def dropped_file(event) -> Path | None:
    """The one local file a drag carries, or None (several files, a URL, text)."""
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return None
    urls = [url for url in mime.urls() if url.isLocalFile()]
    if len(urls) != 1:
        return None
    path = Path(urls[0].toLocalFile())
    return path if path.is_file() else None


class FileDrops(QObject):
    """An event filter: a file dragged onto the widget it watches is handed to `on_drop`."""

    def __init__(self, watched: QWidget, on_drop: Callable[[Path], object]) -> None:
        super().__init__(watched)
        self.on_drop = on_drop
        watched.setAcceptDrops(True)
        watched.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if dropped_file(event) is not None and watched.isEnabled():
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            path = dropped_file(event)
            if path is not None:
                event.acceptProposedAction()
                self.on_drop(path)
                return True
        return False


class EmptyState(QWidget):
    """ "This project has no data yet": an Import button and a drop target."""

    import_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("empty_state")
        title = QLabel("<h2>This project has no data yet</h2>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        note = QLabel(
            "Import a file of texts to label: CSV, TSV, JSON or JSON Lines, or plain text with"
            " one text per line.<br>Or drag the file onto this window and drop it here."
        )
        note.setWordWrap(True)
        note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton("&Import a dataset…")
        self.button.setObjectName("import_dataset")
        self.button.setAccessibleDescription("Choose a file of texts to add to this project")
        self.button.setMinimumWidth(200)
        self.button.setDefault(True)
        self.button.clicked.connect(self.import_clicked.emit)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(note)
        layout.addSpacing(12)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
