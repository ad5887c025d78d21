"""A one-line label that gives way: it shrinks to an ellipsis instead of pushing its neighbours
out, and then shows its whole text in the tooltip. The status bar's model line uses it, so a
long training message never cuts the counts beside it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

MIN_CHARS = 12  # how narrow it may get, in average character widths


class ElidedLabel(QLabel):
    """A QLabel for plain one-line text that elides on the right when it is short of room."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.explanation = ""  # the tooltip given by setToolTip (e.g. what the figure means)

    def setToolTip(self, tip: str) -> None:
        self.explanation = tip
        super().setToolTip(tip)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(self.fontMetrics().averageCharWidth() * MIN_CHARS, hint.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        text = self.text()
        shown = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        whole = text if shown != text else ""  # cut: the tooltip has it all
        super().setToolTip("\n\n".join(part for part in (whole, self.explanation) if part))
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), shown)
