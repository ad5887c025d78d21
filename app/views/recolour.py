"""Re-colour what views built from the old palette into items and text documents.

A theme switch gives Qt the new palette and rewrites style sheets (appearance.restyle), but the
colours a view put into a list or table item (`setForeground`) or into a text document
(`setHtml` with `color:`) are values, not roles: left alone they keep the old theme until the
view rebuilds them, which may be never. These helpers swap each old palette colour for its
role's new one in place, without rebuilding (so selection, scroll and undo stay as they are).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QStandardItemModel,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListWidget,
    QPlainTextEdit,
    QTableWidget,
    QTextEdit,
    QTreeWidget,
    QWidget,
)

ROLES = (Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole)


def mapped(brush: object, mapping: dict[str, str]) -> QColor | None:
    """The new colour for a brush or colour of the old palette, or None to leave it."""
    if isinstance(brush, QBrush):
        if brush.style() == Qt.BrushStyle.NoBrush:
            return None
        brush = brush.color()
    if not isinstance(brush, QColor) or not brush.isValid():
        return None
    new = mapping.get(brush.name().lower())
    return QColor(new) if new is not None and new.lower() != brush.name().lower() else None


def recolour_document(document: QTextDocument, mapping: dict[str, str]) -> int:
    """Swap palette colours in a document's character and block formats; how many changed."""
    changes: list[tuple[int, int, str, QColor]] = []
    block = document.begin()
    while block.isValid():
        colour = mapped(block.blockFormat().background(), mapping)
        if colour is not None:
            changes.append((block.position(), -1, "block", colour))
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.isValid():
                fmt = fragment.charFormat()
                for kind, brush in (("fg", fmt.foreground()), ("bg", fmt.background())):
                    colour = mapped(brush, mapping)
                    if colour is not None:
                        changes.append((fragment.position(), fragment.length(), kind, colour))
            it += 1
        block = block.next()
    if not changes:
        return 0
    cursor = QTextCursor(document)
    cursor.beginEditBlock()
    for position, length, kind, colour in changes:
        cursor.setPosition(position)
        if kind == "block":
            fmt = cursor.blockFormat()
            fmt.setBackground(colour)
            cursor.setBlockFormat(fmt)
            continue
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        single = QTextCharFormat()  # merge only this one brush, keep the rest of the format
        if kind == "fg":
            single.setForeground(colour)
        else:
            single.setBackground(colour)
        cursor.mergeCharFormat(single)
    cursor.endEditBlock()
    return len(changes)


def recolour_items(view: QAbstractItemView, mapping: dict[str, str]) -> int:
    """Swap palette colours in the items of an item widget or a standard model; how many."""
    count = 0
    if isinstance(view, QListWidget):
        items = [view.item(i) for i in range(view.count())]
    elif isinstance(view, QTableWidget):
        items = [view.item(r, c) for r in range(view.rowCount()) for c in range(view.columnCount())]
    elif isinstance(view, QTreeWidget):
        items = []
        stack = [view.topLevelItem(i) for i in range(view.topLevelItemCount())]
        while stack:
            item = stack.pop()
            for column in range(view.columnCount()):
                for role in ROLES:
                    colour = mapped(item.data(column, role), mapping)
                    if colour is not None:
                        item.setData(column, role, QBrush(colour))
                        count += 1
            stack.extend(item.child(i) for i in range(item.childCount()))
    elif isinstance(view.model(), QStandardItemModel):
        model = view.model()
        items = [
            model.item(r, c) for r in range(model.rowCount()) for c in range(model.columnCount())
        ]
    else:
        return 0  # a model of our own asks the palette when it paints: nothing to swap
    for item in items:
        if item is None:
            continue
        for role in ROLES:
            colour = mapped(item.data(role), mapping)
            if colour is not None:
                item.setData(role, QBrush(colour))
                count += 1
    return count


def recolour(widget: QWidget, mapping: dict[str, str]) -> None:
    """Re-colour one open widget's items or document, if it has either."""
    if isinstance(widget, QTextEdit | QPlainTextEdit):
        recolour_document(widget.document(), mapping)
    elif isinstance(widget, QAbstractItemView):
        recolour_items(widget, mapping)
