"""Small parts shared by the editors: the inline prompt, the label bar and the shortcut sheet."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.project.label_schema import LabelSpec
from app.views.theme import text_colour_on
from app.views.widgets.geometry import fit_to_screen


class PromptBar(QWidget):
    """A one-line question under the text (flag reason, comment, find): Enter or Esc."""

    submitted = Signal(str, str)  # purpose, text
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        self.label = QLabel()
        self.edit = QLineEdit()
        self.edit.setAccessibleName("Answer")  # then the question asked (ask)
        layout.addWidget(self.label)
        layout.addWidget(self.edit, 1)
        layout.addWidget(QLabel("<small>Enter to confirm · Esc to cancel</small>"))
        self.purpose = ""
        self.edit.returnPressed.connect(self._submit)
        self.hide()

    def ask(self, purpose: str, question: str, text: str = "") -> None:
        self.purpose = purpose
        self.label.setText(f"<b>{question}</b>")
        self.edit.setAccessibleName(question)
        self.edit.setText(text)
        self.show()
        self.edit.setFocus()
        self.edit.selectAll()

    def _submit(self) -> None:
        text = self.edit.text()
        purpose = self.purpose
        if purpose != "find":
            self.hide()
        self.submitted.emit(purpose, text)
        if purpose != "find":
            self.closed.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            self.closed.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            # The line edit has answered it (returnPressed); left to travel on, the Enter
            # would reach the editor and complete or leave the item as well.
            event.accept()
            return
        super().keyPressEvent(event)


class MessageLine(QLabel):
    """The editor's one-line feedback ("Flagged.", "Press R to reopen"...), full width.

    Its height is reserved for two wrapped lines whether or not a message shows, so a message
    never squeezes the text pane, and it always has the editor's whole width to be read in.
    """

    LINES = 2

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("message")
        self.setWordWrap(True)
        self.setContentsMargins(14, 2, 12, 0)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._fit()

    def _fit(self) -> None:
        margins = self.contentsMargins()
        lines = self.fontMetrics().lineSpacing() * self.LINES
        self.setFixedHeight(lines + margins.top() + margins.bottom() + 4)

    def changeEvent(self, event) -> None:  # a new font (scaling, themes) resizes the line
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit()


class LabelBar(QWidget):
    """One button per label, showing its hotkey and colour; checkable for multilabel."""

    def __init__(self, on_label: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.on_label = on_label
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(12, 6, 12, 6)
        self.buttons: dict[str, QPushButton] = {}

    def set_labels(self, labels: tuple[LabelSpec, ...], checkable: bool) -> None:
        while self.layout_.count():
            widget = self.layout_.takeAt(0).widget()
            if widget:
                widget.deleteLater()
        self.buttons = {}
        for label in labels:
            button = QPushButton(f"{label.hotkey}  {label.name}" if label.hotkey else label.name)
            button.setCheckable(checkable)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setToolTip(label.description or label.name)
            colour = QColor(label.colour)
            button.setProperty("colour", colour.name())
            _style(button, suggested=False)
            button.clicked.connect(lambda _=False, name=label.name: self.on_label(name))
            self.layout_.addWidget(button)
            self.buttons[label.name] = button
        self.layout_.addStretch(1)

    def show_chosen(self, chosen: set[str], suggested: set[str] | frozenset = frozenset()) -> None:
        """Chosen labels are filled; the model's suggested ones get a dashed border."""
        for name, button in self.buttons.items():
            button.setCheckable(True)
            button.setChecked(name in chosen)
            if bool(button.property("suggested")) != (name in suggested):
                _style(button, suggested=name in suggested)


def _style(button: QPushButton, suggested: bool) -> None:
    colour = QColor(button.property("colour"))
    name, fg = colour.name(), text_colour_on(colour)
    border = "3px dashed" if suggested else "2px solid"
    button.setProperty("suggested", suggested)
    button.setStyleSheet(
        f"QPushButton {{ border: {border} {name}; border-radius: 6px;"
        " padding: 6px 14px; background: palette(base); font-weight: 600; }"
        f" QPushButton:checked {{ background: {name}; color: {fg}; }}"
    )


class ShortcutSheet(QDialog):
    """`?`: every key the editor understands, labels included."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Key", "Action"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, (key, action) in enumerate(rows):
            table.setItem(i, 0, QTableWidgetItem(key))
            table.setItem(i, 1, QTableWidgetItem(action))
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.resizeColumnToContents(0)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.table = table
        # wide enough for the longest action (never cut), as far as the screen allows
        longest = max((table.fontMetrics().horizontalAdvance(a) for _k, a in rows), default=0)
        fit_to_screen(self, max(460, table.columnWidth(0) + longest + 90), 520)
