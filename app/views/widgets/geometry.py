"""Window sizes that fit the screen: a dialog asks for its comfortable size and gets at most
what the screen it opens on has free (a 1366x768 laptop included), minus a margin."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

MARGIN = 0.92  # of the available width and height: room for the frame and a glimpse behind


def fit_to_screen(widget: QWidget, width: int, height: int) -> tuple[int, int]:
    """Resize `widget` to width x height, or smaller if the screen is smaller; the size set."""
    parent = widget.parentWidget()
    screen = (parent.screen() if parent is not None else None) or QGuiApplication.primaryScreen()
    if screen is not None:
        free = screen.availableGeometry()
        width = min(width, int(free.width() * MARGIN))
        height = min(height, int(free.height() * MARGIN))
    widget.resize(width, height)
    return width, height


def scrolling(widget: QWidget) -> QScrollArea:
    """`widget` in a frameless vertical scroll area: on a small screen it scrolls instead of
    squeezing its rows until their text is cut."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    widget.setMinimumWidth(widget.minimumSizeHint().width())
    return area
