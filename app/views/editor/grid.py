"""Bulk classification: a card grid over the session's queue; label many items in one step.

Select cards with the mouse (Ctrl/Shift+click) or the keyboard (Shift+arrows, Ctrl+A), press a
label's key: every selected item gets the label in one committed, undoable action. Cards are
fetched lazily, a batch at a time, as the grid scrolls.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPen
from PySide6.QtWidgets import (
    QLabel,
    QListView,
    QProgressBar,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.core.annotation import commands as annotate
from app.core.annotation.commands import AnnotationState, Item
from app.views.editor.keys import RoutesKeys, undo_redo_key
from app.views.editor.session import AnnotationSession
from app.views.theme import palette, text_colour_on
from app.views.wording import plural

BATCH = 120
CARD = QSize(300, 132)
PREVIEW_CHARS = 400


class CardModel(QAbstractListModel):
    """The queue's items as cards, loaded a batch at a time."""

    def __init__(self, session: AnnotationSession, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.items: list[Item] = []
        session.queue_changed.connect(self.reset)
        session.items_committed.connect(self._committed)

    def reset(self) -> None:
        self.beginResetModel()
        self.items = []
        self.endResetModel()
        if self.canFetchMore():
            self.fetchMore()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.items)

    def canFetchMore(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and len(self.items) < len(self.session)

    def fetchMore(self, parent: QModelIndex = QModelIndex()) -> None:  # noqa: B008
        queue = self.session.queue
        if queue is None:
            return
        start = len(self.items)
        stop = min(len(queue), start + BATCH)
        ids = [queue.id_at(p) for p in range(start, stop)]
        session = self.session
        loaded = annotate.load_items(
            session.project, ids, session.annotator_id, session.suggest_version
        )
        self.beginInsertRows(QModelIndex(), start, stop - 1)
        self.items.extend(loaded[i] for i in ids)
        self.endInsertRows()

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.text[:PREVIEW_CHARS]
        if role == Qt.ItemDataRole.UserRole:
            return item
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.text[:2000]
        return None

    def _committed(self, fresh: dict[int, Item]) -> None:
        for row, item in enumerate(self.items):
            if item.id in fresh:
                self.items[row] = fresh[item.id]
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def predict(self, rows: list[int], states: dict[int, AnnotationState]) -> None:
        """Show a bulk edit at once; the committed rows replace these when the write is done."""
        from dataclasses import replace

        for row in rows:
            item = self.items[row]
            self.items[row] = replace(item, annotation=states[item.id])
            index = self.index(row)
            self.dataChanged.emit(index, index)


class CardDelegate(QStyledItemDelegate):
    def __init__(self, colours: dict[str, QColor], task_type: str, parent=None) -> None:
        super().__init__(parent)
        self.colours = colours
        self.task_type = task_type

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return CARD

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        item: Item = index.data(Qt.ItemDataRole.UserRole)
        rect = option.rect.adjusted(5, 5, -5, -5)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        theme = palette()
        painter.setPen(
            QPen(QColor(theme.selection if selected else theme.cell_border), 3 if selected else 1)
        )
        fill = QColor(theme.selection_background) if selected else option.palette.base().color()
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 8, 8)
        text_rect = rect.adjusted(10, 8, -10, -34)
        painter.setPen(option.palette.text().color())
        flags = Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        metrics = painter.fontMetrics()
        elided = metrics.elidedText(
            " ".join(item.text.split())[:PREVIEW_CHARS],
            Qt.TextElideMode.ElideRight,
            text_rect.width() * max(1, text_rect.height() // metrics.lineSpacing()) - 40,
        )
        painter.drawText(text_rect, int(flags), elided)
        x = rect.left() + 10
        for name, status in self._chips(item):
            colour = self.colours.get(name, QColor(theme.label_fallback))
            if status == "draft":  # said in words too, not only by a paler chip
                name = f"✎ {name}"
            width = metrics.horizontalAdvance(name) + 16
            chip = QRect(x, rect.bottom() - 26, width, 20)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour if status == "complete" else colour.lighter(150))
            painter.drawRoundedRect(chip, 9, 9)
            painter.setPen(QColor(text_colour_on(colour)))
            painter.drawText(chip, int(Qt.AlignmentFlag.AlignCenter), name)
            x += width + 6
        self._paint_suggestion(painter, item, rect, x)
        painter.restore()

    def _paint_suggestion(self, painter: QPainter, item: Item, rect: QRect, left: int) -> None:
        """The model's suggestion on a card not labeled yet: "model: spam 92%", in a dashed
        frame (words, not only a colour, say it is the model's)."""
        found = item.suggestion
        state = item.annotation
        if found is None or (state is not None and state.status != "draft"):
            return
        value = found.value
        said = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        text = f"model: {said or 'none'} {found.confidence:.0%}"
        metrics = painter.fontMetrics()
        width = min(metrics.horizontalAdvance(text) + 14, rect.right() - 10 - left)
        if width < 40:
            return
        chip = QRect(rect.right() - 10 - width, rect.bottom() - 26, width, 20)
        colour = QColor(palette().model)
        painter.setPen(QPen(colour, 1, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(chip, 9, 9)
        elided = metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, width - 10)
        painter.drawText(chip, int(Qt.AlignmentFlag.AlignCenter), elided)

    def _chips(self, item: Item) -> list[tuple[str, str]]:
        state = item.annotation
        if state is None:
            return []
        if state.status in ("skipped", "discarded"):
            return [(state.status, state.status)]
        if self.task_type == "multilabel":
            return [(name, state.status) for name in state.value or []] or [
                ("none of these", state.status)
            ]
        return [(str(state.value), state.status)] if state.value else []


class BulkGrid(RoutesKeys, QWidget):
    """The card grid; a label key labels every selected card at once."""

    def __init__(self, session: AnnotationSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        schema = session.project.schema
        self.schema = schema
        self.hotkeys = {label.hotkey: label.name for label in schema.labels if label.hotkey}
        colours = {label.name: QColor(label.colour) for label in schema.labels}
        self.model = CardModel(session, self)
        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.view.setSpacing(2)
        self.view.setModel(self.model)
        self.view.setAccessibleName("Cards to label")
        self.view.setItemDelegate(CardDelegate(colours, session.project.task_type, self.view))
        self.view.installEventFilter(self)
        keys = ", ".join(f"{label.hotkey} {label.name}" for label in schema.labels if label.hotkey)
        self.hint = QLabel(
            f"Select cards (click, Ctrl/Shift+click, Shift+arrows, Ctrl+A), then a label key: "
            f"{keys}. Ctrl+Z undoes the whole step."
        )
        self.hint.setWordWrap(True)
        self.status = QLabel()
        self.saving = QProgressBar()  # a bulk label of many items saves in steps: how far
        self.saving.setAccessibleName("Saving the labels")
        self.saving.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.hint)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.saving)
        layout.addWidget(self.status)
        session.saving.connect(self._saving)
        self.step: tuple[int, str, str] | None = None  # undo index after the step; its notes
        session.undo_stack.indexChanged.connect(self._undo_moved)
        if session.queue is not None:
            self.model.reset()

    def key_view(self) -> QListView:
        return self.view

    def handle_key(self, event: QKeyEvent) -> bool:
        if undo_redo_key(event, self.session.undo_stack):
            return True
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        text = event.text()
        if not ctrl and text and text in self.hotkeys:
            self.apply_label(self.hotkeys[text])
            return True
        return False

    def selected_rows(self) -> list[int]:
        return sorted(index.row() for index in self.view.selectionModel().selectedIndexes())

    def apply_label(self, name: str) -> int:
        """Label every selected card; returns how many changed."""
        rows = self.selected_rows()
        if not rows:
            self.status.setText("Select some cards first.")
            return 0
        states: dict[int, AnnotationState] = {}
        for row in rows:
            item = self.model.items[row]
            old = item.annotation
            if self.session.project.task_type == "multilabel":
                labels = list(old.value) if old and isinstance(old.value, list) else []
                value: object = labels if name in labels else [*labels, name]
            else:
                value = name
            states[item.id] = AnnotationState(
                value, "complete", old.time_spent_ms if old else 0, old.uuid if old else None
            )
        self.model.predict(rows, states)
        items = plural(len(states), "item")
        self.session.set_many(states, f"label {items} {name}")
        self.step = (
            self.session.undo_stack.index(),
            f"Labeled {items} “{name}”. Ctrl+Z undoes it.",
            f"Undone: the label “{name}” on {items}. Ctrl+Shift+Z redoes it.",
        )
        self.status.setText(self.step[1])
        return len(states)

    def _saving(self, done: int, total: int, message: str) -> None:
        """A long save's progress (total 0: it has finished)."""
        if not total:
            self.saving.hide()
            return
        self.saving.setRange(0, total)
        self.saving.setValue(min(done, total))
        self.saving.setFormat(f"{message}…")
        self.saving.show()

    def _undo_moved(self, index: int) -> None:
        """The message about the last bulk step follows it through undo and redo."""
        if self.step is None:
            return
        after, done, undone = self.step
        if index == after:
            self.status.setText(done)
        elif index == after - 1 and self.session.undo_stack.count() >= after:
            self.status.setText(undone)
        else:  # another step came after it, or it is gone from the history
            self.step = None
            self.status.clear()
