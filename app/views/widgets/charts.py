"""Charts drawn with QPainter from plain data: stacked bars, a line chart, horizontal bars
and an agreement heat map, on a shared Chart base (empty text, legends, eliding).

Split out of dashboard.py so that the dashboard there is only its layout and wiring, and so
that the charts can serve other views. No chart library: they are drawn in the colours and
scales of the HTML report (`app.core.report.svg`, whose `PALETTE` is the one palette of both),
so that the two show the same picture.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.core.report import scales
from app.core.report import svg as look
from app.core.report.svg import PALETTE
from app.views.theme import palette


# The chart's ink, axes, grid and bar tracks follow the theme in use (asked for at paint time);
# the data colours (statuses, annotators, kappa bands) stay the report's.
def ink() -> QColor:
    return QColor(palette().text)


def muted() -> QColor:
    return QColor(palette().muted)


def grid() -> QColor:
    return QColor(palette().border)


def track() -> QColor:
    return QColor(palette().track)


class Chart(QWidget):
    """A chart drawn with QPainter from plain data (kept in `self.data` for tests)."""

    empty_text = "Nothing to show yet"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: Any = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(420)

    def set_data(self, data: Any) -> None:
        self.data = data
        self.setFixedHeight(self.height_for(data))
        self.update()

    def height_for(self, data: Any) -> int:
        return 200

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.data is not None:  # legends wrap and cells shrink with the width
            wanted = self.height_for(self.data)
            if wanted != self.height():
                self.setFixedHeight(wanted)

    def is_empty(self) -> bool:
        return not self.data

    def small_font(self, scale: float = 0.9) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * scale))
        return font

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        if self.is_empty():
            painter.setPen(muted())
            painter.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        self.draw(painter)

    def draw(self, painter: QPainter) -> None:  # pragma: no cover - subclasses draw
        raise NotImplementedError

    # helpers shared by the charts

    def elided(self, text: str, width: float, font: QFont | None = None) -> str:
        metrics = QFontMetrics(font or self.font())
        return metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(width))

    def draw_legend(self, painter: QPainter, items: list[tuple[str, str]], x: float, y: float):
        """Swatches in rows from (x, y); returns the height used."""
        font = self.small_font()
        painter.setFont(font)
        metrics = QFontMetrics(font)
        cx, cy, right = x, y, self.width() - 8
        for name, colour in items:
            shown = self.elided(name, 160, font)
            w = 16 + metrics.horizontalAdvance(shown) + 16
            if cx + w > right and cx > x:
                cx, cy = x, cy + 18
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(QRectF(cx, cy + 3, 11, 11), 2, 2)
            painter.setPen(ink())
            painter.drawText(QRectF(cx + 16, cy, w, 17), Qt.AlignmentFlag.AlignVCenter, shown)
            cx += w
        painter.setFont(self.font())
        return cy - y + 20

    def draw_name(self, painter: QPainter, name: str, y: float, width: int, height: float) -> None:
        """A row's name, right-aligned in the first `width` pixels and elided to fit."""
        painter.drawText(
            QRectF(0, y, width - 8, height),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            self.elided(name, width - 10),
        )

    def draw_y_tick(self, painter: QPainter, plot: QRectF, y: float, text: str) -> None:
        """A grid line across the plot at `y`, with its value left of the plot."""
        painter.setPen(QPen(grid(), 1))
        painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        painter.setPen(muted())
        painter.drawText(
            QRectF(0, y - 8, plot.left() - 6, 16),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            text,
        )

    def draw_x_dates(self, painter: QPainter, dates: list[str], x_of, y: float, most: int) -> None:
        """Under the plot, at most about `most` of the dates ("YYYY-MM-DD", shown as MM-DD)."""
        every = max(1, -(-len(dates) // most))
        for k in range(0, len(dates), every):
            painter.drawText(
                QRectF(x_of(k) - 30, y + 4, 60, 16), Qt.AlignmentFlag.AlignCenter, dates[k][5:]
            )

    def draw_line(self, painter: QPainter, points: list[QPointF], colour: QColor) -> None:
        """A series as a round-capped line through its points."""
        painter.setPen(QPen(colour, 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        path = QPainterPath(points[0])
        for point in points[1:]:
            path.lineTo(point)
        painter.drawPath(path)

    def legend_height(self, items: list[tuple[str, str]], x: float) -> int:
        metrics = QFontMetrics(self.small_font())
        cx, rows, right = x, 1, (self.width() if self.width() > 200 else 560) - 8
        for name, _colour in items:
            w = 32 + metrics.horizontalAdvance(self.elided(name, 160, self.small_font()))
            if cx + w > right and cx > x:
                cx, rows = x, rows + 1
            cx += w
        return rows * 18 + 2


class StackedBars(Chart):
    """One horizontal bar per row, split by status: data = [(name, {status: count})]."""

    NAME_W, TOTAL_W, ROW_H = 150, 64, 26

    def __init__(
        self,
        colours: dict[str, str],
        parent: QWidget | None = None,
        *,
        empty_text: str = "",
        caption_w: int = 0,
    ) -> None:
        super().__init__(parent)
        self.colours = colours
        self.empty_text = empty_text or self.empty_text
        self.captions: dict[str, str] = {}  # shown after a row's total
        self.TOTAL_W = self.TOTAL_W + caption_w

    def set_captions(self, captions: dict[str, str]) -> None:
        self.captions = dict(captions)
        self.update()

    def is_empty(self) -> bool:
        return not self.data or not any(
            counts.get(s) for _name, counts in self.data for s in self.colours
        )

    def height_for(self, data: Any) -> int:
        if self.is_empty():
            return 48
        items = list(self.colours.items())
        return self.legend_height(items, self.NAME_W) + 8 + self.ROW_H * max(1, len(data or []))

    def draw(self, painter: QPainter) -> None:
        top = self.draw_legend(painter, list(self.colours.items()), self.NAME_W, 2) + 6
        bar_w = self.width() - self.NAME_W - self.TOTAL_W
        biggest = (
            max((sum(c.get(s, 0) for s in self.colours) for _n, c in self.data), default=0) or 1
        )
        small = self.small_font()
        for k, (name, counts) in enumerate(self.data):
            y = top + k * self.ROW_H
            painter.setPen(ink())
            painter.setFont(self.font())
            self.draw_name(painter, name, y, self.NAME_W, self.ROW_H - 4)
            x = float(self.NAME_W)
            painter.setFont(small)
            for status, colour in self.colours.items():
                n = counts.get(status, 0)
                if not n:
                    continue
                w = bar_w * n / biggest
                rect = QRectF(x, y + 2, w, self.ROW_H - 8)
                painter.fillRect(rect, QColor(colour))
                label = f"{n:,}"
                if w > QFontMetrics(small).horizontalAdvance(label) + 8:
                    painter.setPen(QColor(look.ink_on(colour)))
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
                x += w
            painter.setPen(muted())
            after = f"{sum(counts.get(s, 0) for s in self.colours):,}"
            if self.captions.get(name):
                after += f" · {self.captions[name]}"
            painter.drawText(
                QRectF(x + 6, y, self.TOTAL_W, self.ROW_H - 4),
                Qt.AlignmentFlag.AlignVCenter,
                self.elided(after, self.TOTAL_W - 8, small),
            )


class LineChart(Chart):
    """Cumulative counts per series by day: data = (days, {name: [count per day]})."""

    empty_text = "No completed annotations yet"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours: dict[str, str] = {}

    def set_series(self, days: list[str], series: dict[str, list[int]], colours) -> None:
        self.colours = colours
        self.set_data((days, series))

    def is_empty(self) -> bool:
        return not self.data or not self.data[1]

    def height_for(self, data: Any) -> int:
        return 260

    def draw(self, painter: QPainter) -> None:
        days, series = self.data
        legend = [(name, self.colours[name]) for name in series]
        top = self.draw_legend(painter, legend, 52, 2) + 10
        left, right, bottom = 52, 16, 26
        plot = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        peak = max((max(v) for v in series.values() if v), default=0) or 1
        step = scales.nice_step(peak)
        y_top = step * max(1, -(-peak // step))
        small = self.small_font()
        painter.setFont(small)
        tick = 0.0
        while tick <= y_top + 1e-9:
            y = plot.bottom() - plot.height() * tick / y_top
            self.draw_y_tick(painter, plot, y, scales.fmt_tick(tick))
            tick += step

        def x_of(k: int) -> float:
            if len(days) < 2:
                return plot.center().x()
            return plot.left() + plot.width() * k / (len(days) - 1)

        self.draw_x_dates(painter, days, x_of, plot.bottom(), 7)
        for name, values in series.items():
            colour = QColor(self.colours[name])
            points = [
                QPointF(x_of(k), plot.bottom() - plot.height() * v / y_top)
                for k, v in enumerate(values)
            ]
            self.draw_line(painter, points, colour)
            painter.setBrush(colour)
            painter.drawEllipse(points[-1], 3.5, 3.5)


class AccuracyChart(Chart):
    """Gold accuracy (0 to 100%) per bucket: data = (buckets, {name: [accuracy or None]},
    {name: [answers]}); the alert threshold is a dashed line, and each drift alert's bucket
    (`alerts`: name -> bucket) gets a red ring."""

    empty_text = "No gold answers yet"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours: dict[str, str] = {}
        self.threshold = 0.8
        self.alerts: dict[str, str] = {}
        self.setMouseTracking(True)

    def set_series(
        self,
        buckets: list[str],
        series: dict[str, list[float | None]],
        items: dict[str, list[int]],
        colours: dict[str, str],
        threshold: float,
        alerts: dict[str, str],
    ) -> None:
        self.colours, self.threshold, self.alerts = colours, threshold, alerts
        self.set_data((buckets, series, items))
        self.setToolTip(self._tooltip())

    def _tooltip(self) -> str:
        buckets, series, items = self.data
        lines = []
        for name, values in series.items():
            shown = [
                f"{buckets[k][5:]} {scales.fmt_percent(v)} ({items[name][k]})"
                for k, v in enumerate(values)
                if v is not None
            ]
            lines.append(f"{name}: " + ", ".join(shown))
        return "\n".join(lines)

    def is_empty(self) -> bool:
        return not self.data or not self.data[1]

    def height_for(self, data: Any) -> int:
        return 290

    def draw(self, painter: QPainter) -> None:
        buckets, series, _items = self.data
        legend = [(name, self.colours[name]) for name in series]
        top = self.draw_legend(painter, legend, 52, 2) + 10
        left, right, bottom = 52, 16, 46
        plot = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        small = self.small_font()
        painter.setFont(small)

        def y_of(value: float) -> float:
            return plot.bottom() - plot.height() * max(0.0, min(1.0, value))

        def x_of(k: int) -> float:
            if len(buckets) < 2:
                return plot.center().x()
            pad = min(24.0, plot.width() / (2 * len(buckets)))
            return plot.left() + pad + (plot.width() - 2 * pad) * k / (len(buckets) - 1)

        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            self.draw_y_tick(painter, plot, y_of(tick), f"{tick:.0%}")
        self.draw_x_dates(painter, buckets, x_of, plot.bottom(), 8)
        alert = QColor(PALETTE.alert)
        y = y_of(self.threshold)
        dashed = QPen(alert, 1.3, Qt.PenStyle.DashLine)
        painter.setPen(dashed)
        painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        # the key, under the axis: the dashed line and the ring
        key_y = self.height() - 11
        painter.drawLine(QPointF(left, key_y), QPointF(left + 26, key_y))
        painter.setPen(alert)
        metrics = QFontMetrics(small)
        key = f"alert below {self.threshold:.0%}"
        painter.drawText(
            QRectF(left + 32, key_y - 8, metrics.horizontalAdvance(key) + 4, 16),
            Qt.AlignmentFlag.AlignVCenter,
            key,
        )
        if self.alerts:
            ring_x = left + 32 + metrics.horizontalAdvance(key) + 26
            painter.setPen(QPen(alert, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(ring_x, key_y), 6, 6)
            painter.setPen(alert)
            painter.drawText(
                QRectF(ring_x + 11, key_y - 8, 120, 16),
                Qt.AlignmentFlag.AlignVCenter,
                "drift alert",
            )
        for name, values in series.items():
            colour = QColor(self.colours[name])
            points = [QPointF(x_of(k), y_of(v)) for k, v in enumerate(values) if v is not None]
            if not points:
                continue
            self.draw_line(painter, points, colour)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            for point in points:
                painter.drawEllipse(point, 3.5, 3.5)
            bucket = self.alerts.get(name)
            if bucket in buckets:
                k = buckets.index(bucket)
                value = values[k]
                if value is not None:
                    painter.setPen(QPen(alert, 2))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawEllipse(QPointF(x_of(k), y_of(value)), 7.5, 7.5)


class HBars(Chart):
    """Horizontal bars: data = [(name, value, colour, caption)], values clamped to [0, max]."""

    NAME_W, CAPTION_W, ROW_H = 150, 230, 24

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        scale_max: float | None = None,
        marker: float | None = None,
        empty_text: str = "Nothing to show yet",
    ) -> None:
        super().__init__(parent)
        self.scale_max, self.marker, self.empty_text = scale_max, marker, empty_text

    def height_for(self, data: Any) -> int:
        return (16 if self.marker is not None else 2) + self.ROW_H * max(1, len(data or [])) + 4

    def draw(self, painter: QPainter) -> None:
        top = 16 if self.marker is not None else 2
        bar_w = max(40.0, self.width() - self.NAME_W - self.CAPTION_W)
        biggest = self.scale_max or max((v for _n, v, _c, _t in self.data), default=0) or 1
        small = self.small_font()
        for k, (name, value, colour, caption) in enumerate(self.data):
            y = top + k * self.ROW_H
            painter.setFont(self.font())
            painter.setPen(ink())
            self.draw_name(painter, name, y, self.NAME_W, self.ROW_H)
            painter.fillRect(QRectF(self.NAME_W, y + 4, bar_w, self.ROW_H - 8), track())
            w = bar_w * max(0.0, min(value, biggest)) / biggest
            painter.fillRect(QRectF(self.NAME_W, y + 4, w, self.ROW_H - 8), QColor(colour))
            painter.setFont(small)
            painter.drawText(
                QRectF(self.NAME_W + bar_w + 8, y, self.CAPTION_W - 8, self.ROW_H),
                Qt.AlignmentFlag.AlignVCenter,
                self.elided(caption, self.CAPTION_W - 10, small),
            )
        if self.marker is not None:
            x = self.NAME_W + bar_w * self.marker / biggest
            painter.setPen(QPen(muted(), 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x, 13), QPointF(x, top + self.ROW_H * len(self.data)))
            painter.setFont(small)
            painter.drawText(
                QRectF(x - 40, 0, 80, 13), Qt.AlignmentFlag.AlignCenter, f"{self.marker}"
            )


class HeatMap(Chart):
    """Annotator pairs' kappa: data = (names, matrix, items or None); diagonal left blank."""

    empty_text = "No item has been completed by two annotators yet"
    LABEL_W, HEAD_H = 150, 92  # at least; set_data widens them for long annotator names
    label_w, head_h = LABEL_W, HEAD_H  # this chart's, for its names (set_data)
    NAME_MAX = 235  # a slanted column name is elided beyond this (its tooltip has it whole)

    def is_empty(self) -> bool:
        return not self.data or len(self.data[0]) < 2

    def set_data(self, data: Any) -> None:
        """Room for the names: the row names' column and the slanted heads grow to fit them
        (up to a cap), so that a name is cut only when it is very long."""
        names = list(data[0]) if data else []
        widest = max((QFontMetrics(self.font()).horizontalAdvance(n) for n in names), default=0)
        small = QFontMetrics(self.small_font())
        longest = min(self.NAME_MAX, max((small.horizontalAdvance(n) for n in names), default=0))
        self.label_w = int(min(260, max(HeatMap.LABEL_W, widest + 18)))
        self.head_h = int(max(HeatMap.HEAD_H, longest * 0.71 + 24))
        self.setToolTip("Annotators: " + ", ".join(names) if names else "")
        super().set_data(data)

    def cell(self) -> float:
        n = len(self.data[0]) if self.data else 1
        return max(30.0, min(64.0, (max(self.width(), 480) - self.label_w - 150) / max(1, n)))

    def height_for(self, data: Any) -> int:
        if not data or len(data[0]) < 2:
            return 80
        n = len(data[0])
        cell = max(30.0, min(64.0, (max(self.width(), 480) - self.label_w - 150) / n))
        return int(self.head_h + cell * n + 52)

    def draw(self, painter: QPainter) -> None:
        names, matrix, items = self.data
        n, cell = len(names), self.cell()
        small = self.small_font()
        painter.setFont(small)
        for j, name in enumerate(names):
            painter.save()
            painter.translate(self.label_w + j * cell + cell / 2 + 2, self.head_h - 6)
            painter.rotate(-45)
            painter.setPen(ink())
            painter.drawText(QPointF(0, 0), self.elided(name, self.NAME_MAX, small))
            painter.restore()
        bold = QFont(small)
        bold.setBold(True)
        tiny = self.small_font(0.75)
        for i, name in enumerate(names):
            y = self.head_h + i * cell
            painter.setFont(self.font())
            painter.setPen(ink())
            self.draw_name(painter, name, y, self.label_w, cell)
            for j in range(n):
                rect = QRectF(self.label_w + j * cell, y, cell - 2, cell - 2)
                if i == j:
                    painter.setPen(QPen(grid(), 1))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawRoundedRect(rect, 3, 3)
                    continue
                value = matrix[i][j]
                colour = look.kappa_colour(value)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(colour))
                painter.drawRoundedRect(rect, 3, 3)
                painter.setPen(QColor(look.ink_on(colour)))
                behind = items[i][j] if items else None
                if behind is not None and cell >= 44:
                    painter.setFont(bold)
                    painter.drawText(
                        QRectF(rect.x(), rect.y() + cell * 0.12, rect.width(), cell * 0.45),
                        Qt.AlignmentFlag.AlignCenter,
                        scales.fmt_number(value),
                    )
                    painter.setFont(tiny)
                    painter.drawText(
                        QRectF(rect.x(), rect.y() + cell * 0.55, rect.width(), cell * 0.3),
                        Qt.AlignmentFlag.AlignCenter,
                        f"n={behind:,}",
                    )
                else:
                    painter.setFont(bold)
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, scales.fmt_number(value))
        # the colour scale
        y = self.head_h + n * cell + 10
        x = 12.0
        w = min(96.0, (self.width() - x - 8) / len(look.KAPPA_BANDS))
        painter.setFont(tiny)
        for value, span, band in look.KAPPA_BANDS:
            painter.fillRect(QRectF(x, y, w - 2, 10), QColor(look.kappa_colour(value)))
            painter.setPen(ink())
            painter.drawText(QRectF(x - 4, y + 11, w + 6, 14), Qt.AlignmentFlag.AlignCenter, span)
            painter.setPen(muted())
            painter.drawText(
                QRectF(x - 4, y + 24, w + 6, 14),
                Qt.AlignmentFlag.AlignCenter,
                self.elided(band, w + 4, tiny),
            )
            x += w
