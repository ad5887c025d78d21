"""The precision–coverage curve of Model ▸ Automate…: for each candidate threshold, the share
of items the model would label (x) and how often it was right on held-out data (y), with the
lower confidence bound the guarantee rests on, the target line, and the chosen point marked.

Drawn with QPainter (PySide6-Essentials has no QtCharts), like the model panel's charts.
"""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QWidget

from app.ml.automate.threshold import ThresholdChoice
from app.views.theme import palette

Y_FLOOR = 0.5  # precision axis from here to 1: the interesting part


class PrecisionCoverageCurve(QWidget):
    """Precision (and its lower bound) against coverage, the target and the chosen point."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choice: ThresholdChoice | None = None
        self.setMinimumSize(460, 240)

    def set_choice(self, choice: ThresholdChoice | None) -> None:
        self.choice = choice
        self.update()

    def _y(self, area: QRectF, value: float) -> float:
        share = (max(value, Y_FLOOR) - Y_FLOOR) / (1 - Y_FLOOR)
        return area.bottom() - share * area.height()

    def paintEvent(self, _event) -> None:
        colours = palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(52, 12, -16, -38)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        axis = QColor(colours.muted)
        painter.setPen(QPen(axis, 1))
        painter.drawRect(area)
        for tick in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            y = self._y(area, tick)
            painter.drawText(QRectF(0, y - 8, 46, 16), Qt.AlignmentFlag.AlignRight, f"{tick:.1f}")
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            x = area.left() + tick * area.width()
            painter.drawText(
                QRectF(x - 20, area.bottom() + 2, 40, 14),
                Qt.AlignmentFlag.AlignCenter,
                f"{tick:.0%}",
            )
        painter.drawText(
            QRectF(area.left(), area.bottom() + 18, area.width(), 16),
            Qt.AlignmentFlag.AlignCenter,
            "coverage (share of items the model labels)  ·  y: precision on held-out labels",
        )
        choice = self.choice
        if choice is None or not choice.curve:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "No held-out labels yet")
            painter.end()
            return
        self._draw_target(painter, area, choice.target, colours)
        self._draw_series(
            painter,
            area,
            [(p.coverage, p.lower) for p in choice.curve],
            QColor(colours.muted),
            Qt.PenStyle.DashLine,
        )
        self._draw_series(
            painter,
            area,
            [(p.coverage, p.precision) for p in choice.curve],
            QColor(colours.model),
            Qt.PenStyle.SolidLine,
        )
        self._draw_chosen(painter, area, choice, colours)
        self._draw_legend(painter, area, choice, colours)
        painter.end()

    def _draw_legend(
        self, painter: QPainter, area: QRectF, choice: ThresholdChoice, colours
    ) -> None:
        x, y = area.right() - 230, area.bottom() - 36
        rows = (
            (colours.model, Qt.PenStyle.SolidLine, "precision (held out)"),
            (colours.muted, Qt.PenStyle.DashLine, f"lower bound ({choice.confidence:.0%} sure)"),
        )
        for row, (colour, style, label) in enumerate(rows):
            top = y + row * 15
            painter.setPen(QPen(QColor(colour), 2, style))
            painter.drawLine(QPointF(x, top), QPointF(x + 24, top))
            painter.setPen(QPen(QColor(colours.text_secondary), 1))
            painter.drawText(QPointF(x + 30, top + 4), label)

    def _draw_target(self, painter: QPainter, area: QRectF, target: float, colours) -> None:
        y = self._y(area, target)
        painter.setPen(QPen(QColor(colours.warning_strong), 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        painter.drawText(QPointF(area.left() + 4, y - 3), f"target {target:g}")

    def _draw_series(
        self,
        painter: QPainter,
        area: QRectF,
        points: list[tuple[float, float]],
        colour: QColor,
        style: Qt.PenStyle,
    ) -> None:
        painter.setPen(QPen(colour, 2, style))
        coords = [QPointF(area.left() + x * area.width(), self._y(area, y)) for x, y in points]
        for a, b in pairwise(coords):
            painter.drawLine(a, b)

    def _draw_chosen(
        self, painter: QPainter, area: QRectF, choice: ThresholdChoice, colours
    ) -> None:
        if choice.threshold is None or choice.precision is None:
            painter.setPen(QPen(QColor(colours.danger), 1))
            painter.drawText(
                area.adjusted(8, 8, -8, -8),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                "no threshold reaches the target",
            )
            return
        point = QPointF(
            area.left() + choice.coverage * area.width(), self._y(area, choice.precision)
        )
        painter.setPen(QPen(QColor(colours.text), 1))
        painter.setBrush(QColor(colours.accent))
        painter.drawEllipse(point, 6, 6)
        painter.drawText(
            QPointF(min(point.x() + 9, area.right() - 150), point.y() + 16),
            f"threshold {choice.threshold:.3f}",
        )
