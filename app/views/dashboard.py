"""The project dashboard: progress, throughput, labels, agreement and open flags, as charts.

The figures come from `app.core.report.project_report`, computed off the GUI thread by a Job;
the charts are drawn with QPainter (no chart library), in the colours and scales of the HTML
report (`app.core.report_html`), and "Save HTML report…" writes that report from the same
figures, so what the team lead hands on is what they saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core import report_html as look
from app.core.errors import TagloopError
from app.core.project import Project
from app.core.report import project_report
from app.core.report_html import write_html
from app.workers.job import Job

INK = QColor(look.INK)
MUTED = QColor(look.MUTED)
GRID = QColor(look.GRID)
TRACK = QColor("#F1F4F5")


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
            painter.setPen(MUTED)
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
            painter.setPen(INK)
            painter.drawText(QRectF(cx + 16, cy, w, 17), Qt.AlignmentFlag.AlignVCenter, shown)
            cx += w
        painter.setFont(self.font())
        return cy - y + 20

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
        self, colours: dict[str, str], parent: QWidget | None = None, *, empty_text: str = ""
    ) -> None:
        super().__init__(parent)
        self.colours = colours
        self.empty_text = empty_text or self.empty_text

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
            painter.setPen(INK)
            painter.setFont(self.font())
            painter.drawText(
                QRectF(0, y, self.NAME_W - 8, self.ROW_H - 4),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                self.elided(name, self.NAME_W - 10),
            )
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
            painter.setPen(MUTED)
            painter.drawText(
                QRectF(x + 6, y, self.TOTAL_W, self.ROW_H - 4),
                Qt.AlignmentFlag.AlignVCenter,
                f"{sum(counts.get(s, 0) for s in self.colours):,}",
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
        step = look.nice_step(peak)
        y_top = step * max(1, -(-peak // step))
        small = self.small_font()
        painter.setFont(small)
        tick = 0.0
        while tick <= y_top + 1e-9:
            y = plot.bottom() - plot.height() * tick / y_top
            painter.setPen(QPen(GRID, 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(MUTED)
            painter.drawText(
                QRectF(0, y - 8, left - 6, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                look.fmt_tick(tick),
            )
            tick += step

        def x_of(k: int) -> float:
            if len(days) < 2:
                return plot.center().x()
            return plot.left() + plot.width() * k / (len(days) - 1)

        every = max(1, -(-len(days) // 7))
        for k in range(0, len(days), every):
            painter.drawText(
                QRectF(x_of(k) - 30, plot.bottom() + 4, 60, 16),
                Qt.AlignmentFlag.AlignCenter,
                days[k][5:],
            )
        for name, values in series.items():
            colour = QColor(self.colours[name])
            points = [
                QPointF(x_of(k), plot.bottom() - plot.height() * v / y_top)
                for k, v in enumerate(values)
            ]
            path = QPainterPath(points[0])
            for point in points[1:]:
                path.lineTo(point)
            painter.setPen(QPen(colour, 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
            painter.setBrush(colour)
            painter.drawEllipse(points[-1], 3.5, 3.5)


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
            painter.setPen(INK)
            painter.drawText(
                QRectF(0, y, self.NAME_W - 8, self.ROW_H),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                self.elided(name, self.NAME_W - 10),
            )
            painter.fillRect(QRectF(self.NAME_W, y + 4, bar_w, self.ROW_H - 8), TRACK)
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
            painter.setPen(QPen(MUTED, 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x, 13), QPointF(x, top + self.ROW_H * len(self.data)))
            painter.setFont(small)
            painter.drawText(
                QRectF(x - 40, 0, 80, 13), Qt.AlignmentFlag.AlignCenter, f"{self.marker}"
            )


class HeatMap(Chart):
    """Annotator pairs' kappa: data = (names, matrix, items or None); diagonal left blank."""

    empty_text = "No item has been completed by two annotators yet"
    LABEL_W, HEAD_H = 150, 92

    def is_empty(self) -> bool:
        return not self.data or len(self.data[0]) < 2

    def cell(self) -> float:
        n = len(self.data[0]) if self.data else 1
        return max(30.0, min(64.0, (max(self.width(), 480) - self.LABEL_W - 150) / max(1, n)))

    def height_for(self, data: Any) -> int:
        if not data or len(data[0]) < 2:
            return 80
        n = len(data[0])
        cell = max(30.0, min(64.0, (max(self.width(), 480) - self.LABEL_W - 150) / n))
        return int(self.HEAD_H + cell * n + 52)

    def draw(self, painter: QPainter) -> None:
        names, matrix, items = self.data
        n, cell = len(names), self.cell()
        small = self.small_font()
        painter.setFont(small)
        for j, name in enumerate(names):
            painter.save()
            painter.translate(self.LABEL_W + j * cell + cell / 2 + 2, self.HEAD_H - 6)
            painter.rotate(-45)
            painter.setPen(INK)
            painter.drawText(QPointF(0, 0), self.elided(name, 120, small))
            painter.restore()
        bold = QFont(small)
        bold.setBold(True)
        tiny = self.small_font(0.75)
        for i, name in enumerate(names):
            y = self.HEAD_H + i * cell
            painter.setFont(self.font())
            painter.setPen(INK)
            painter.drawText(
                QRectF(0, y, self.LABEL_W - 8, cell),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                self.elided(name, self.LABEL_W - 10),
            )
            for j in range(n):
                rect = QRectF(self.LABEL_W + j * cell, y, cell - 2, cell - 2)
                if i == j:
                    painter.setPen(QPen(GRID, 1))
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
                        look.fmt_number(value),
                    )
                    painter.setFont(tiny)
                    painter.drawText(
                        QRectF(rect.x(), rect.y() + cell * 0.55, rect.width(), cell * 0.3),
                        Qt.AlignmentFlag.AlignCenter,
                        f"n={behind:,}",
                    )
                else:
                    painter.setFont(bold)
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, look.fmt_number(value))
        # the colour scale
        y = self.HEAD_H + n * cell + 10
        x = 12.0
        w = min(96.0, (self.width() - x - 8) / len(look.KAPPA_BANDS))
        painter.setFont(tiny)
        for value, span, band in look.KAPPA_BANDS:
            painter.fillRect(QRectF(x, y, w - 2, 10), QColor(look.kappa_colour(value)))
            painter.setPen(INK)
            painter.drawText(QRectF(x - 4, y + 11, w + 6, 14), Qt.AlignmentFlag.AlignCenter, span)
            painter.setPen(MUTED)
            painter.drawText(
                QRectF(x - 4, y + 24, w + 6, 14),
                Qt.AlignmentFlag.AlignCenter,
                self.elided(band, w + 4, tiny),
            )
            x += w


def _table(headers: list[str], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    for column in range(len(headers)):
        header.setSectionResizeMode(
            column,
            QHeaderView.ResizeMode.Stretch
            if column == stretch
            else QHeaderView.ResizeMode.ResizeToContents,
        )
    return table


def _fill(table: QTableWidget, rows: list[tuple[str, ...]], numeric: tuple[int, ...]) -> None:
    """Put rows of text in a table (each cell's full text as its tooltip), sized to at most
    about ten rows."""
    table.setRowCount(len(rows))
    for row, cells in enumerate(rows):
        for column, value in enumerate(cells):
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            if column in numeric:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, column, item)
    rows_shown = min(10, max(2, len(rows)))
    table.setFixedHeight(
        table.horizontalHeader().sizeHint().height()
        + table.verticalHeader().defaultSectionSize() * rows_shown
        + 2 * table.frameWidth()
    )


class Card(QFrame):
    """A white panel with a title, a note and a chart."""

    def __init__(self, title: str, note: str, body: QWidget, extra: QWidget | None = None):
        super().__init__()
        self.setObjectName("card")
        self.note = QLabel(note)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setObjectName("note")
        self.note.setWordWrap(True)
        heading = QLabel(title)
        heading.setObjectName("heading")
        top = QHBoxLayout()
        top.addWidget(heading, 1)
        if extra is not None:
            top.addWidget(extra)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 14)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(body)
        layout.addStretch(1)


_STYLE = """
#board { background: #F4F6F7; }
#card { background: white; border: 1px solid #E0E5E8; border-radius: 8px; }
#heading { font-weight: 600; font-size: 11pt; color: #263238; }
#note { color: #607D8B; }
#tile { background: white; border: 1px solid #E0E5E8; border-radius: 8px; }
#tileValue { font-size: 16pt; font-weight: 600; color: #263238; }
#tileName { color: #607D8B; }
"""


class DashboardView(QDialog):
    """The dashboard of one project. The report is computed by a background Job on open
    (and on Refresh); `report` holds the newest one."""

    report_ready = Signal(object)

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.report: dict[str, Any] | None = None
        self.job: Job | None = None
        self.setWindowTitle(f"Dashboard: {project.name}")
        self.setStyleSheet(_STYLE)

        self.tiles = QHBoxLayout()
        self.tile_labels: dict[str, QLabel] = {}
        for key in ("datapoints", "labeled", "annotations", "annotators", "alpha", "flags"):
            self.tiles.addWidget(self._tile(key))

        self.status_bar = StackedBars(look.DATAPOINT_COLOURS, empty_text="No datapoints yet")
        self.progress_bars = StackedBars(look.STATUS_COLOURS, empty_text="No annotations yet")
        self.timeline = LineChart()
        self.throughput = HBars(empty_text="No finished annotations yet")
        self.labels = HBars(empty_text="No labels yet")
        self.heatmap = HeatMap()
        self.alpha = HBars(
            scale_max=1.0, marker=look.LOW_ALPHA, empty_text="No items with two annotators yet"
        )
        self.heat_label = QComboBox()
        self.heat_label.currentIndexChanged.connect(self._show_heatmap)
        self.flags = _table(["Datapoint", "Reason", "By", "At (UTC)"], stretch=1)
        self.disagreements = _table(["Datapoint", "Agreement", "Answers"], stretch=2)
        self.low_labels = QLabel("")
        self.low_labels.setTextFormat(Qt.TextFormat.PlainText)  # label names are user text
        self.low_labels.setObjectName("note")
        self.low_labels.setWordWrap(True)
        alpha_box = QWidget()
        box = QVBoxLayout(alpha_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.alpha)
        box.addSpacing(6)
        box.addWidget(self.low_labels)
        box.addWidget(self.disagreements)

        progress_box = QWidget()
        box = QVBoxLayout(progress_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.status_bar)
        box.addWidget(self.progress_bars)
        self.cards = {
            "progress": Card(
                "Progress", "Datapoints by status, then annotations by annotator.", progress_box
            ),
            "timeline": Card(
                "Completed over time",
                "Cumulative complete annotations per annotator (UTC days).",
                self.timeline,
            ),
            "throughput": Card(
                "Throughput",
                "Items per hour of measured editor time (at most 10 min per item), median"
                " time per item.",
                self.throughput,
            ),
            "labels": Card("Label distribution", "Complete annotations.", self.labels),
            "heatmap": Card(
                "Agreement between annotators",
                "Cohen's κ of each pair, with the items they share.",
                self.heatmap,
                self.heat_label,
            ),
            "alpha": Card(
                "Agreement per label",
                f"Krippendorff's α of each label against the rest; dashed line {look.LOW_ALPHA}.",
                alpha_box,
            ),
            "flags": Card("Open flags", "", self.flags),
        }
        board = QWidget()
        board.setObjectName("board")
        grid = QGridLayout(board)
        grid.setContentsMargins(14, 14, 14, 14)
        grid.setSpacing(12)
        grid.addLayout(self.tiles, 0, 0, 1, 2)
        placement = {
            "progress": (1, 0),
            "timeline": (1, 1),
            "throughput": (2, 0),
            "labels": (2, 1),
            "heatmap": (3, 0),
            "alpha": (3, 1),
        }
        for key, (row, column) in placement.items():
            grid.addWidget(self.cards[key], row, column)
        grid.addWidget(self.cards["flags"], 4, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(5, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(board)

        self.busy = QProgressBar()
        self.busy.setMaximumWidth(220)
        self.busy.setTextVisible(False)
        self.message = QLabel("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # may quote a path or an error
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.save_button = QPushButton("Save HTML report…")
        self.save_button.clicked.connect(self.save_html)
        self.save_button.setEnabled(False)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(14, 8, 14, 10)
        buttons.addWidget(self.busy)
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.resize(1320, 940)
        self.refresh()

    def _tile(self, key: str) -> QFrame:
        frame = QFrame()
        frame.setObjectName("tile")
        value = QLabel("…")
        value.setObjectName("tileValue")
        name = QLabel("")
        name.setObjectName("tileName")
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(14, 8, 14, 8)
        layout.setSpacing(0)
        layout.addWidget(value)
        layout.addWidget(name)
        self.tile_labels[key] = value
        self.tile_labels[key + "_name"] = name
        return frame

    # --- the job ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Compute the report again in the background (a running one is cancelled)."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
        job = Job(project_report, self.project)
        # bound methods, not lambdas: Qt drops the connections if this dialog is destroyed
        job.progress.connect(self._progress)
        job.succeeded.connect(self._ready)
        job.failed.connect(self._failed)
        self.job = job
        self.busy.setRange(0, 0)
        self.busy.show()
        self.message.setText("Computing the figures…")
        self.refresh_button.setEnabled(False)
        job.start()

    def _current(self) -> bool:
        """Whether the signal being handled comes from the newest job (not a stale run)."""
        return self.sender() is self.job

    def _progress(self, done: int, total: int, message: str) -> None:
        if not self._current():
            return
        if total > 0:
            self.busy.setRange(0, total)
            self.busy.setValue(done)
        self.message.setText(message)

    def _ready(self, report: dict[str, Any]) -> None:
        if not self._current():
            return
        self.busy.hide()
        self.refresh_button.setEnabled(True)
        self.save_button.setEnabled(True)
        self.message.setText(f"Figures of {report['generated_at'][:19].replace('T', ' ')} UTC")
        self.show_report(report)
        self.report_ready.emit(report)

    def _failed(self, message: str) -> None:
        if not self._current():
            return
        self.busy.hide()
        self.refresh_button.setEnabled(True)
        self.message.setText(f"Could not compute the report: {message}")

    def done(self, result: int) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()
        super().done(result)

    # --- drawing ----------------------------------------------------------------------------

    def show_report(self, report: dict[str, Any]) -> None:
        self.report = report
        counts = report["project"]["counts"]
        overall = report["agreement"]["overall"]
        total = counts["datapoints"] or 1
        tiles = {
            "datapoints": (f"{counts['datapoints']:,}", "datapoints"),
            "labeled": (f"{100 * counts['labeled_datapoints'] / total:.1f}%", "labeled"),
            "annotations": (f"{counts['annotations']:,}", "finished annotations"),
            "annotators": (f"{counts['annotators']:,}", "annotators"),
            "alpha": (
                look.fmt_number(overall.get("krippendorff_alpha")),
                f"Krippendorff's α, {overall['items']:,} items",
            ),
            "flags": (f"{report['open_issues']['flags_open']:,}", "open flags"),
        }
        for key, (value, name) in tiles.items():
            self.tile_labels[key].setText(value)
            self.tile_labels[key + "_name"].setText(name)

        progress = report["progress"]
        self.status_bar.set_data([("Datapoints", progress["by_status"])])
        self.progress_bars.set_data(list(progress["by_annotator"].items()))
        colours = look.annotator_colours(report)
        days, series = look.cumulative_series(progress["over_time"])
        self.timeline.set_series(days, series, colours)
        self.throughput.set_data(look.throughput_rows(report))
        self.labels.set_data(look.label_rows(report))
        self.alpha.set_data(look.alpha_rows(report))

        heat = report["agreement"]["heatmap"]
        self.heat_label.blockSignals(True)
        self.heat_label.clear()
        self.heat_label.addItem("All labels", None)
        for label in heat.get("per_label", {}):
            self.heat_label.addItem(label, label)
        self.heat_label.blockSignals(False)
        self._show_heatmap()
        figures = (
            f"Cohen's κ of each pair, with the items they share. Overall: Krippendorff's α"
            f" {look.fmt_number(overall.get('krippendorff_alpha'))} on {overall['items']:,}"
            f" items, Fleiss' κ {look.fmt_number(overall.get('fleiss_kappa'))}"
            f" on {overall.get('fleiss_items', 0):,}."
        )
        self.cards["heatmap"].note.setText(figures)

        low = report["agreement"]["low_agreement"]
        self.low_labels.setText(
            f"Labels below {look.LOW_ALPHA}: {', '.join(low['labels']) or 'none'}."
            + (" Items whose annotators agree least:" if low["items"] else "")
        )
        _fill(
            self.disagreements,
            [
                (
                    str(item["datapoint_id"]),
                    f"{item['agreement']:.2f}",
                    " · ".join(
                        f"{who}: {look.value_text(value)}"
                        for who, value in zip(item["annotators"], item["values"], strict=False)
                    ),
                )
                for item in low["items"]
            ],
            numeric=(0, 1),
        )
        self.disagreements.setVisible(bool(low["items"]))

        issues = report["open_issues"]
        flags = issues["flags"]
        _fill(
            self.flags,
            [
                (
                    str(flag["datapoint_id"]),
                    flag["reason"],
                    flag["by"],
                    str(flag["at"])[:16].replace("T", " "),
                )
                for flag in flags
            ],
            numeric=(0,),
        )
        shown = (
            f" The newest {len(flags):,} are listed." if issues["flags_open"] > len(flags) else ""
        )
        self.cards["flags"].note.setText(
            f"{issues['flags_open']:,} open, {issues['flags_resolved']:,} resolved.{shown}"
        )

    def _show_heatmap(self, *_args) -> None:
        if self.report is None:
            return
        heat = self.report["agreement"]["heatmap"]
        label = self.heat_label.currentData()
        if label is None:
            self.heatmap.set_data((heat["annotators"], heat["kappa"], heat["items"]))
        else:
            self.heatmap.set_data((heat["annotators"], heat["per_label"][label], heat["items"]))

    # --- saving -----------------------------------------------------------------------------

    def save_html(self) -> Path | None:
        """Ask where, then write the report shown as one self-contained HTML file."""
        if self.report is None:
            return None
        suggested = self.project.path.with_name(f"{self.project.path.stem}-report.html")
        name, _filter = QFileDialog.getSaveFileName(
            self, "Save HTML report", str(suggested), "HTML files (*.html)"
        )
        if not name:
            return None
        out = Path(name)
        if out.suffix.lower() not in (".html", ".htm"):
            out = out.with_suffix(".html")
        try:
            write_html(self.report, out)
        except (OSError, TagloopError) as exc:
            QMessageBox.warning(self, "Save HTML report", f"Could not write {out}:\n{exc}")
            return None
        self.message.setText(f"Saved {out}")
        return out
