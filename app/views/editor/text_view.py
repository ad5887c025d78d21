"""The text of the item being annotated: large, wrapped, selectable, with spans painted on it.

Spans are painted, not inserted: the document holds only the text, so a 50,000-character
item lays out once, and each repaint draws just the spans inside the visible area. Spans at
stacking level 0 get a tinted background; every span gets a coloured bar and its label in the
gap below the line, one row per level, so overlapping spans stay readable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QPainter,
    QPen,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
    QTextOption,
)
from PySide6.QtWidgets import QTextEdit

from app.views.editor.offsets import TextOffsets
from app.views.theme import palette

LINE_HEIGHT_PLAIN = 135  # percent of the font's height
LINE_HEIGHT_SPANS = 190
LINE_HEIGHT_STACKED = 250


def stack_levels(spans: list[dict[str, Any]]) -> list[int]:
    """The lowest free level for each span (sorted by start), like lanes on a timeline."""
    ends: list[int] = []
    levels = []
    for span in spans:
        for level, end in enumerate(ends):
            if end <= span["start"]:
                ends[level] = span["end"]
                levels.append(level)
                break
        else:
            ends.append(span["end"])
            levels.append(len(ends) - 1)
    return levels


class TextView(QTextEdit):
    painted = Signal(float)  # time.perf_counter() when a paint finished (for benchmarks)
    span_clicked = Signal(int)  # index into spans, or -1 for a click outside every span
    selection_released = Signal(bool)  # a mouse selection ended; True when Alt was held

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Text to annotate")
        self.setReadOnly(True)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setFrameShape(QTextEdit.Shape.NoFrame)
        self.document().setDocumentMargin(18)
        option = self.document().defaultTextOption()
        option.setTextDirection(Qt.LayoutDirection.LayoutDirectionAuto)  # RTL paragraphs
        self.document().setDefaultTextOption(option)
        self.offsets = TextOffsets("")
        self.spans: list[dict[str, Any]] = []
        self.levels: list[int] = []
        self.colours: dict[str, QColor] = {}
        self.selected_span = -1
        self.suggested: list[dict[str, Any]] = []
        self.stacked = False
        self.span_mode = False
        self.needles: list[str] = []  # the find bar's words, marked again on a theme switch

    # --- content ----------------------------------------------------------------------------

    def set_text(self, text: str) -> None:
        self.offsets = TextOffsets(text)
        self.spans, self.levels, self.selected_span = [], [], -1
        self.suggested = []
        document = self.document()
        document.clear()
        cursor = QTextCursor(document)
        block = QTextBlockFormat()
        height = LINE_HEIGHT_PLAIN
        if self.span_mode:
            height = LINE_HEIGHT_STACKED if self.stacked else LINE_HEIGHT_SPANS
        block.setLineHeight(height, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
        cursor.setBlockFormat(block)
        cursor.insertText(self.offsets.display)
        self.moveCursor(QTextCursor.MoveOperation.Start)
        self.verticalScrollBar().setValue(0)

    def set_spans(
        self, spans: list[dict[str, Any]], colours: dict[str, QColor], selected: int = -1
    ) -> None:
        self.spans = sorted(spans, key=lambda s: (s["start"], s["end"], s["label"]))
        self.levels = stack_levels(self.spans)
        self.colours = colours
        self.selected_span = selected
        self.viewport().update()

    def set_suggestions(self, spans: list[dict[str, Any]]) -> None:
        """The model's suggested spans, drawn dashed until the annotator accepts them."""
        self.suggested = sorted(spans, key=lambda s: (s["start"], s["end"]))
        self.viewport().update()

    def set_point_size(self, points: float) -> None:
        font = self.font()
        font.setPointSizeF(points)
        self.setFont(font)
        self.document().setDefaultFont(font)

    def highlight(self, needles: list[str]) -> None:
        """Mark every case-insensitive occurrence of these words (the find bar)."""
        self.needles = list(needles)
        selections = []
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(palette().search_highlight))
        fmt.setProperty(QTextFormat.Property.FullWidthSelection, False)
        haystack = self.offsets.text.casefold()
        for needle in (n.casefold() for n in needles if n.strip()):
            start = haystack.find(needle)
            while start >= 0 and len(selections) < 2000:
                selection = QTextEdit.ExtraSelection()
                cursor = QTextCursor(self.document())
                cursor.setPosition(self.offsets.to_qt(start))
                cursor.setPosition(
                    self.offsets.to_qt(start + len(needle)), QTextCursor.MoveMode.KeepAnchor
                )
                selection.cursor = cursor
                selection.format = fmt
                selections.append(selection)
                start = haystack.find(needle, start + len(needle))
        self.setExtraSelections(selections)

    def retheme(self) -> None:
        """A theme switch: the find bar's marks take the new palette's colour (spans are painted
        with it already, at the next repaint)."""
        if self.needles:
            self.highlight(self.needles)
        self.viewport().update()

    # --- selection in Python offsets ------------------------------------------------------------

    def selection(self) -> tuple[int, int] | None:
        cursor = self.textCursor()
        if not cursor.hasSelection():
            return None
        return self.offsets.to_py(cursor.selectionStart()), self.offsets.to_py(
            cursor.selectionEnd()
        )

    def select(self, start: int, end: int) -> None:
        cursor = self.textCursor()
        cursor.setPosition(self.offsets.to_qt(start))
        cursor.setPosition(self.offsets.to_qt(end), QTextCursor.MoveMode.KeepAnchor)
        self.setTextCursor(cursor)

    def clear_selection(self) -> None:
        cursor = self.textCursor()
        cursor.clearSelection()
        self.setTextCursor(cursor)

    def span_at(self, index: int) -> int:
        """The innermost (highest-level) span containing a Python index, or -1."""
        found, found_level = -1, -1
        for i, span in enumerate(self.spans):
            if span["start"] > index:
                break
            if span["start"] <= index < span["end"] and self.levels[i] > found_level:
                found, found_level = i, self.levels[i]
        return found

    # --- events ----------------------------------------------------------------------------

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if event.button() != Qt.MouseButton.LeftButton or not self.span_mode:
            return
        if self.textCursor().hasSelection():
            alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
            self.selection_released.emit(alt)
        else:
            position = self.cursorForPosition(event.position().toPoint()).position()
            self.span_clicked.emit(self.span_at(self.offsets.to_py(position)))

    def paintEvent(self, event) -> None:
        if self.span_mode and self.spans:
            self._paint_spans(background=True)
        super().paintEvent(event)
        if self.span_mode and self.spans:
            self._paint_spans(background=False)
        if self.span_mode and self.suggested:
            self._paint_suggestions()
        self.painted.emit(time.perf_counter())

    def _visible_range(self) -> tuple[int, int]:
        rect = self.viewport().rect()
        first = self.cursorForPosition(rect.topLeft()).position()
        last = self.cursorForPosition(rect.bottomRight()).position()
        return self.offsets.to_py(first), self.offsets.to_py(last) + 1

    def _rects(self, start: int, end: int) -> list[QRectF]:
        """Boxes of the text between two Qt positions, one per visual line, in viewport pixels."""
        document = self.document()
        layout = document.documentLayout()
        dx = -self.horizontalScrollBar().value()
        dy = -self.verticalScrollBar().value()
        rects = []
        block = document.findBlock(start)
        while block.isValid() and block.position() < end:
            text_layout = block.layout()
            origin = layout.blockBoundingRect(block).topLeft()
            base = block.position()
            for i in range(text_layout.lineCount()):
                line = text_layout.lineAt(i)
                line_start = base + line.textStart()
                line_end = line_start + line.textLength()
                s, e = max(start, line_start), min(end, line_end)
                if s >= e:
                    continue
                x1 = line.cursorToX(s - base)[0]
                x2 = line.cursorToX(e - base)[0]
                rects.append(
                    QRectF(
                        min(x1, x2) + origin.x() + dx,
                        line.y() + origin.y() + dy,
                        abs(x2 - x1),
                        line.height(),
                    )
                )
            block = block.next()
        return rects

    def _tag_painter(self, *, italic: bool) -> tuple[QPainter, int]:
        """A painter on the viewport in the small font of span tags (italic for suggestions,
        bold for spans), and that font's line height."""
        painter = QPainter(self.viewport())
        tag_font = QFont(self.font())
        tag_font.setPointSizeF(max(6.0, self.font().pointSizeF() * 0.62))
        if italic:
            tag_font.setItalic(True)
        else:
            tag_font.setBold(True)
        painter.setFont(tag_font)
        return painter, painter.fontMetrics().height()

    def _visible_spans(self, spans: list[dict]) -> Iterator[tuple[int, dict, list[QRectF]]]:
        """(index, span, its rectangles) of the spans (sorted by start) that show on screen."""
        first, last = self._visible_range()
        for i, span in enumerate(spans):
            if span["start"] > last:
                break
            if span["end"] < first:
                continue
            rects = self._rects(self.offsets.to_qt(span["start"]), self.offsets.to_qt(span["end"]))
            if rects:
                yield i, span, rects

    def _paint_suggestions(self) -> None:
        painter, tag_height = self._tag_painter(italic=True)
        theme = palette()
        for _i, span, rects in self._visible_spans(self.suggested):
            colour = self.colours.get(span["label"], QColor(theme.suggested_span))
            painter.setPen(QPen(colour, 1.5, Qt.PenStyle.DashLine))
            for rect in rects:
                painter.drawRect(rect.adjusted(-1, 0, 1, 0))
            first_rect = rects[0]
            painter.setPen(colour.darker(130))
            baseline = first_rect.top() + first_rect.height() + 3 + tag_height * 0.8
            painter.drawText(QPointF(first_rect.left(), baseline), f"{span['label']}?")
        painter.end()

    def _paint_spans(self, background: bool) -> None:
        painter, tag_height = self._tag_painter(italic=False)
        theme = palette()
        # sorted by start; a few thousand at most
        for i, span, rects in self._visible_spans(self.spans):
            colour = self.colours.get(span["label"], QColor(theme.span_fallback))
            level = self.levels[i]
            if background:
                if level == 0:
                    tint = QColor(colour)
                    tint.setAlpha(theme.span_tint_alpha)
                    for rect in rects:
                        painter.fillRect(rect, tint)
                continue
            bar_y = rects[0].height() + 1 + level * (tag_height + 3)
            for rect in rects:
                painter.fillRect(QRectF(rect.left(), rect.top() + bar_y, rect.width(), 2), colour)
            first_rect = rects[0]
            label_point = QPointF(
                first_rect.left(), first_rect.top() + bar_y + 2 + tag_height * 0.8
            )
            painter.setPen(colour.darker(150))
            painter.drawText(label_point, span["label"])
            if i == self.selected_span:
                painter.setPen(QPen(QColor(theme.selected_span_outline), 2, Qt.PenStyle.DashLine))
                for rect in rects:
                    painter.drawRect(rect.adjusted(-1, -1, 1, 1))
        painter.end()
