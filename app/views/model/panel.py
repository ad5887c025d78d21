"""The model panel: the learning curve across versions and the newest version's figures.

Charts are drawn with QPainter (PySide6-Essentials has no QtCharts): a line chart of the
headline metric against the number of labels, and one horizontal bar per label. While a
training runs, a box at the top says what is trained, on how many items, which step and about
how long is left, with a progress bar and Cancel (the controller's TrainingState).
"""

from __future__ import annotations

import html
from itertools import pairwise

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.core import settings
from app.core.project import modelstore
from app.core.project.modelstore import ModelVersion
from app.ml.policy import quality_bar
from app.views.glossary import caption_html, explain_on
from app.views.model.training import TrainingState
from app.views.theme import palette


def antialiased(widget: QWidget) -> QPainter:
    """A painter on the widget that smooths lines and shapes."""
    painter = QPainter(widget)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    return painter


class LearningCurve(QWidget):
    """Cross-validated score (y, 0..1) against labels trained on (x), one point per version."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.points: list[tuple[int, float]] = []
        self.bar = 0.8
        self.empty = "No model versions yet"  # what an empty chart says
        self.setMinimumSize(420, 220)

    def set_points(self, points: list[tuple[int, float]], bar: float) -> None:
        self.points, self.bar = points, bar
        self.update()

    def paintEvent(self, _event) -> None:
        colours = palette()
        axis, line = QColor(colours.muted), QColor(colours.model)
        painter = antialiased(self)
        area = QRectF(self.rect()).adjusted(48, 14, -16, -34)
        painter.setPen(QPen(axis, 1))
        painter.drawRect(area)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = area.bottom() - tick * area.height()
            painter.drawText(QRectF(0, y - 8, 42, 16), Qt.AlignmentFlag.AlignRight, f"{tick:.2f}")
        y = area.bottom() - self.bar * area.height()
        painter.setPen(QPen(QColor(colours.warning_strong), 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        painter.drawText(QPointF(area.left() + 4, y - 3), f"suggestions from {self.bar:.2f}")
        painter.setPen(QPen(axis, 1))
        if not self.points:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, self.empty)
            return
        top = max(n for n, _ in self.points) or 1
        painter.drawText(
            QRectF(area.left(), area.bottom() + 4, area.width(), 16),
            Qt.AlignmentFlag.AlignRight,
            f"{top:,} labels",
        )
        painter.drawText(QRectF(area.left(), area.bottom() + 4, 80, 16), 0, "0")
        painter.drawText(
            QRectF(area.left(), area.bottom() + 16, area.width(), 16),
            Qt.AlignmentFlag.AlignCenter,
            "labels trained on",
        )
        coords = [
            QPointF(area.left() + n / top * area.width(), area.bottom() - s * area.height())
            for n, s in self.points
        ]
        painter.setPen(QPen(line, 2))
        for a, b in pairwise(coords):
            painter.drawLine(a, b)
        painter.setBrush(line)
        for point in coords:
            painter.drawEllipse(point, 3.5, 3.5)


class LabelBars(QWidget):
    """One bar per label: its cross-validated F1, with precision and recall as text."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, dict]] = []
        self.colours: dict[str, QColor] = {}
        self.setMinimumWidth(420)

    def set_rows(self, per_label: dict[str, dict], colours: dict[str, QColor]) -> None:
        self.rows = list(per_label.items())
        self.colours = colours
        self.setMinimumHeight(24 * len(self.rows) + 8)
        self.update()

    @staticmethod
    def figures(figures: dict) -> str:
        return (
            f"F1 {float(figures.get('f1') or 0):.2f} · P {float(figures.get('precision') or 0):.2f}"
            f" · R {float(figures.get('recall') or 0):.2f} · n {figures.get('support', 0):,}"
        )

    def widths(self) -> tuple[int, int]:
        """(name column, figures column), measured in the widget's font so that neither a
        long label nor a four-digit count is cut (the names take at most a third)."""
        metrics = self.fontMetrics()
        names = max((metrics.horizontalAdvance(label) for label, _ in self.rows), default=0)
        figures = max((metrics.horizontalAdvance(self.figures(f)) for _, f in self.rows), default=0)
        return min(names + 12, max(80, self.width() // 3)), figures + 12

    def paintEvent(self, _event) -> None:
        colours = palette()
        track, fallback = QColor(colours.neutral_background), QColor(colours.model)
        painter = antialiased(self)
        name_width, figure_width = self.widths()
        width = max(40, self.width() - name_width - figure_width - 12)
        for i, (label, figures) in enumerate(self.rows):
            y = 4 + i * 24
            painter.setPen(self.palette().text().color())
            name = self.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, name_width - 6)
            painter.drawText(
                QRectF(0, y, name_width - 6, 20),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
            f1 = float(figures.get("f1") or 0.0)
            painter.fillRect(QRectF(name_width, y + 3, width, 14), track)
            painter.fillRect(
                QRectF(name_width, y + 3, width * f1, 14),
                self.colours.get(label, fallback),
            )
            painter.drawText(
                QRectF(name_width + width + 8, y, figure_width, 20),
                Qt.AlignmentFlag.AlignVCenter,
                self.figures(figures),
            )


class TrainingBox(QFrame):
    """The running training: what, on how many items, which step, time left; Cancel."""

    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.headline = QLabel()
        self.step = QLabel()
        self.step.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.cancel = QPushButton("Cancel training")
        self.cancel.clicked.connect(controller.cancel)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.step)
        layout.addLayout(row)
        self.hide()

    def show_state(self, state: TrainingState | None) -> None:
        if state is None:
            self.hide()
            return
        self.headline.setText(f"<b>{html.escape(state.headline())}</b>")
        self.step.setText(state.step())
        if state.fraction is None:
            self.bar.setRange(0, 0)  # busy: the step's length is not known
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(1000 * state.fraction))
        self.cancel.setEnabled(not state.cancelling)
        self.show()


class ModelPanel(QDialog):
    def __init__(self, project, controller, parent=None) -> None:
        super().__init__(parent)
        self.project = project
        self.controller = controller
        self.setWindowTitle("Model")
        self.curve = LearningCurve()
        self.bars = LabelBars()
        self.figures = QTextBrowser()
        self.figures.setMinimumHeight(150)
        self.bar = QDoubleSpinBox()
        self.bar.setRange(0.0, 1.0)
        self.bar.setSingleStep(0.05)
        self.bar.setDecimals(2)
        self.bar.setValue(quality_bar())
        self.bar.valueChanged.connect(self._bar_changed)
        self.train_button = train = QPushButton("Train now (Ctrl+T)")
        train.clicked.connect(controller.train)
        self.training = TrainingBox(controller)
        form = QFormLayout()
        form.addRow("Suggest labels when cross-validated macro-F1 is at least", self.bar)
        explain_on(self.bar, "macro-F1")
        buttons = QHBoxLayout()
        buttons.addLayout(form, 1)
        buttons.addWidget(train)
        layout = QVBoxLayout(self)
        layout.addWidget(self.training)
        layout.addWidget(
            explain_on(
                QLabel("<b>Learning curve</b> (cross-validated macro-F1 per version)"), "macro-F1"
            )
        )
        layout.addWidget(self.curve, 2)
        layout.addWidget(QLabel("<b>Per label</b>, newest version"))
        layout.addWidget(self.bars)
        layout.addWidget(self.figures, 1)
        layout.addLayout(buttons)
        controller.version_ready.connect(lambda _v: self.refresh())
        controller.training_changed.connect(self._training_changed)
        self.resize(760, 720)
        self.refresh()

    def _training_changed(self, state: TrainingState | None) -> None:
        self.training.show_state(state)
        if state is None or state.first:
            self.refresh()  # the "first model is training" notes come and go

    def _bar_changed(self, value: float) -> None:
        settings.set_preference(modelstore.QUALITY_BAR_KEY, value)
        self.controller.refresh()
        self.refresh()

    def refresh(self) -> None:
        versions = modelstore.versions(self.project)
        self.curve.set_points(
            [(v.label_count, v.score) for v in versions if v.score is not None], self.bar.value()
        )
        latest = versions[-1] if versions else None
        colours = {label.name: QColor(label.colour) for label in self.project.schema.labels}
        self.bars.set_rows(latest.metrics.get("per_label", {}) if latest else {}, colours)
        state = self.controller.training
        self.training.show_state(state)
        self.curve.empty = (
            "The first model is training…" if state is not None else "No model versions yet"
        )
        self.curve.update()
        self.figures.setHtml(_figures_html(latest, state))


FIGURES = (("macro_f1", "macro-F1"), ("accuracy", "accuracy"), ("ece", "ECE"))


def _figures_html(version: ModelVersion | None, training: TrainingState | None = None) -> str:
    if version is None and training is not None:
        return (
            f"<p>{html.escape(training.headline())}: its figures appear here when it is"
            " done. Labeling goes on meanwhile.</p>"
        )
    if version is None:
        return "<p>No model yet. Label some items, or press <b>Train now</b>.</p>"
    metrics = version.metrics
    parts = [
        f"<p><b>Version {version.id}</b>, trained {html.escape(version.created_at[:16])} on"
        f" {version.label_count:,} labels ({html.escape(version.format)})."
    ]
    for key, name in FIGURES:
        if metrics.get(key) is not None:
            parts.append(f" {name} <b>{metrics[key]:.3f}</b>")
    parts.append(f" · {metrics.get('folds', '?')}-fold cross-validation.</p>")
    parts.append(caption_html(*(n for k, n in FIGURES if metrics.get(k) is not None)))
    confusion = metrics.get("confusion")
    if confusion and confusion.get("labels"):
        labels = confusion["labels"]
        head = "".join(f"<th>{html.escape(str(x))}</th>" for x in labels)
        rows = "".join(
            f"<tr><th>{html.escape(str(label))}</th>"
            + "".join(f"<td align='right'>{n}</td>" for n in row)
            + "</tr>"
            for label, row in zip(labels, confusion["matrix"], strict=False)
        )
        parts.append(
            "<p><b>Confusion matrix</b> (rows: given label, columns: model)</p>"
            f"<table cellpadding='4' border='1' cellspacing='0'><tr><th></th>{head}</tr>"
            f"{rows}</table>"
        )
    return "".join(parts)
