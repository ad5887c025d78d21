"""Key routing the editors share: one `handle_key` for the editor's own key presses and for
those of the view inside it that holds the focus (the text view, the bulk grid's card view),
and the undo/redo keys every editor answers the same way.

Split out of the single-item editor (base.py) and the bulk grid (grid.py), which had each
written the same event filter and the same Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y branch.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QUndoStack


class RoutesKeys:
    """Mixin for a QWidget (list it before QWidget): key presses on the widget itself and on
    `key_view()` (which must have the widget installed as its event filter) go to
    `handle_key`; the ones it does not handle go on to Qt."""

    def key_view(self) -> QObject:
        """The child whose key presses the widget handles as its own."""
        raise NotImplementedError

    def handle_key(self, event: QKeyEvent) -> bool:
        """Handle a key press; True when handled."""
        raise NotImplementedError

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.key_view() and event.type() == QEvent.Type.KeyPress:
            return self.handle_key(event)
        return super().eventFilter(watched, event)  # type: ignore[misc]

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.handle_key(event):
            super().keyPressEvent(event)  # type: ignore[misc]


def undo_redo_key(event: QKeyEvent, stack: QUndoStack) -> bool:
    """Ctrl+Z undoes, Ctrl+Shift+Z and Ctrl+Y redo; True when the key was one of them."""
    mods = event.modifiers()
    if not mods & Qt.KeyboardModifier.ControlModifier:
        return False
    if event.key() == Qt.Key.Key_Z:
        (stack.redo if mods & Qt.KeyboardModifier.ShiftModifier else stack.undo)()
        return True
    if event.key() == Qt.Key.Key_Y:
        stack.redo()
        return True
    return False
