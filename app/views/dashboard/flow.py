"""A layout that puts its widgets in as few balanced rows as the width allows.

Why: the dashboard's summary tiles (six to eight of them) are wider in one row than a
1024-pixel screen. A box layout then forces the whole board wider than the window (a
horizontal scroll bar), and wrapping the captions squeezed the cards below. Here the tiles
keep their natural size and wrap into as few rows as fit, of equal count (8 tiles: one row of
8, or two of 4; 5: one row, or 3 and 2), stretched to the full width in equal widths where
they fit, so that the rows line up like a grid. The consensus card's small tiles flow the
same way rather than wrap their captions.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class FlowLayout(QLayout):
    """Items in balanced rows, each row filling the width (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 12) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    # ---- QLayout's item list ------------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    # ---- sizes ----------------------------------------------------------------------------
    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def sizeHint(self) -> QSize:  # all in one row
        shown = self._shown()
        left, top, right, bottom = self.getContentsMargins()
        width = sum(item.sizeHint().width() for item in shown)
        width += self.spacing() * max(0, len(shown) - 1)
        height = max((item.sizeHint().height() for item in shown), default=0)
        return QSize(width + left + right, height + top + bottom)

    def minimumSize(self) -> QSize:  # the widest item alone
        left, top, right, bottom = self.getContentsMargins()
        widest = QSize(0, 0)
        for item in self._shown():
            widest = widest.expandedTo(item.sizeHint())
        return QSize(widest.width() + left + right, widest.height() + top + bottom)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    # ---- placing --------------------------------------------------------------------------
    def _shown(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty()]

    def rows(self, width: int) -> list[list[QLayoutItem]]:
        """The shown items in the fewest rows of equal count whose natural widths fit."""
        shown = self._shown()
        for count in range(1, len(shown) + 1):
            per = math.ceil(len(shown) / count)
            rows = [shown[k : k + per] for k in range(0, len(shown), per)]
            if all(self._natural(row) <= width for row in rows):
                return rows
        return [[item] for item in shown]

    def _natural(self, row: list[QLayoutItem]) -> int:
        return sum(item.sizeHint().width() for item in row) + self.spacing() * (len(row) - 1)

    def _widths(self, row: list[QLayoutItem], width: int, per: int) -> list[int]:
        """One width for every item, a full row's share (`per` items a row), when each item
        fits it: the rows then line up as columns, a shorter last row left-aligned. Else each
        item its natural width plus an equal part of what the row leaves."""
        share = (width - self.spacing() * (per - 1)) // per
        if all(item.sizeHint().width() <= share for item in row):
            return [share] * len(row)
        spare = max(0, width - self._natural(row))
        return [min(item.sizeHint().width() + spare // len(row), width) for item in row]

    def _arrange(self, rect: QRect, move: bool) -> int:
        """Place the items in `rect` (when `move`); the height they take."""
        left, top, right, bottom = self.getContentsMargins()
        area = rect.adjusted(left, top, -right, -bottom)
        y = area.y()
        rows = self.rows(area.width())
        for row in rows:
            height = max(item.sizeHint().height() for item in row)
            widths = self._widths(row, area.width(), len(rows[0]))
            x = area.x()
            for item, width in zip(row, widths, strict=True):
                if move:
                    item.setGeometry(QRect(QPoint(x, y), QSize(width, height)))
                x += width + self.spacing()
            y += height + self.spacing()
        return max(0, y - self.spacing() - area.y()) + top + bottom
