"""The project dashboard: progress, throughput, labels, agreement, gold accuracy and drift,
assignments, consensus and open issues (flags, rejections), as charts.

The figures come from `app.core.report.figures.project_report`, computed off the GUI thread by a
Job; the charts (`app.views.widgets.charts`) are drawn with QPainter (no chart library), in the
colours and scales of the HTML report (`app.core.report.html`), and "Save HTML report…" writes that
report from the same figures, so what the team lead hands on is what they saw. This module is the
view's layout and wiring.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
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
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import TagloopError
from app.core.project.project import Project
from app.core.report import html as look
from app.core.report.figures import project_report
from app.core.report.html import write_html
from app.views.widgets.charts import AccuracyChart, HBars, HeatMap, LineChart, StackedBars
from app.workers.job import Job


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
#tile[bad="true"] { background: #FDECEA; border-color: #F5C2BE; }
#tile[bad="true"] #tileValue { color: #C62828; }
#mini { background: #F4F6F7; border-radius: 6px; }
#miniValue { font-size: 14pt; font-weight: 600; color: #263238; }
#mini[bad="true"] { background: #FDECEA; }
#mini[bad="true"] #miniValue { color: #C62828; }
#alert { background: #FDECEA; color: #B71C1C; border-left: 4px solid #C62828;
  border-radius: 4px; padding: 6px 10px; }
#ok { background: #E8F5E9; color: #2E7D32; border-left: 4px solid #59A14F;
  border-radius: 4px; padding: 5px 10px; }
#badge { background: #C62828; color: white; border-radius: 9px; padding: 1px 9px;
  font-weight: 600; }
#subheading { font-weight: 600; color: #263238; margin-top: 6px; }
"""


def _plain_label(name: str = "") -> QLabel:
    """A label that shows user text as text, never as rich text."""
    label = QLabel("")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    return label


def _set_bad(widget: QWidget, bad: bool) -> None:
    """Switch a tile's warning look (a dynamic property the style sheet matches)."""
    if widget.property("bad") != bad:
        widget.setProperty("bad", bad)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
        for child in widget.findChildren(QLabel):
            child.style().unpolish(child)
            child.style().polish(child)


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
        self.tile_frames: dict[str, QFrame] = {}
        for key in (
            "datapoints",
            "labeled",
            "annotations",
            "annotators",
            "alpha",
            "flags",
            "rejections",
            "alerts",
        ):
            self.tiles.addWidget(self._tile(key))
        for key in ("rejections", "alerts"):  # shown when the project uses the workflow
            self.tile_frames[key].hide()

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
        self.rejections = _table(
            ["Datapoint", "Reason", "Annotator", "Reviewer", "At (UTC)"], stretch=1
        )
        self.flags_note = _plain_label("note")
        self.rejections_heading = QLabel("Rejections")
        self.rejections_heading.setObjectName("subheading")
        self.rejections_note = _plain_label("note")
        self.gold_chart = AccuracyChart()
        self.gold_alert = _plain_label("alert")
        self.gold_badge = QLabel("")
        self.gold_badge.setObjectName("badge")
        self.gold_badge.hide()
        self.gold_table = _table(
            ["Annotator", "Accuracy", "Right / answers", "Latest bucket", ""], stretch=0
        )
        self.task_bars = StackedBars(
            look.TASK_STATUS_COLOURS, empty_text="No tasks yet", caption_w=130
        )
        self.consensus_values: dict[str, QLabel] = {}
        consensus_box = QWidget()
        minis = QGridLayout(consensus_box)
        minis.setContentsMargins(0, 0, 0, 0)
        minis.setSpacing(8)
        self.consensus_frames: dict[str, QFrame] = {}
        for k, key in enumerate(
            (
                "items with two or more votes",
                "consensus reached",
                "disagreements",
                "adjudicated",
                "awaiting adjudication",
            )
        ):
            minis.addWidget(self._mini(key), 0, k)
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

        gold_box = QWidget()
        box = QVBoxLayout(gold_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.gold_alert)
        box.addWidget(self.gold_chart)
        box.addWidget(self.gold_table)

        issues_box = QWidget()
        box = QVBoxLayout(issues_box)
        box.setContentsMargins(0, 0, 0, 0)
        flags_heading = QLabel("Flags")
        flags_heading.setObjectName("subheading")
        box.addWidget(flags_heading)
        box.addWidget(self.flags_note)
        box.addWidget(self.flags)
        box.addSpacing(8)
        box.addWidget(self.rejections_heading)
        box.addWidget(self.rejections_note)
        box.addWidget(self.rejections)

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
            "gold": Card("Gold accuracy over time", "", gold_box, self.gold_badge),
            "assignments": Card(
                "Assignments",
                "Tasks by derived status (an issue is an open rejection or flag), and the"
                " status of each assignment.",
                self.task_bars,
            ),
            "consensus": Card(
                "Consensus",
                "Items with two or more votes; disagreements go to adjudication.",
                consensus_box,
            ),
            "flags": Card("Open issues", "Flags and rejections still to deal with.", issues_box),
        }
        quality = QWidget()
        box = QVBoxLayout(quality)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(12)
        box.addWidget(self.cards["assignments"])
        box.addWidget(self.cards["consensus"])
        box.addStretch(1)
        board = QWidget()
        board.setObjectName("board")
        grid = QGridLayout(board)
        grid.setContentsMargins(14, 14, 14, 14)
        grid.setSpacing(12)
        grid.addLayout(self.tiles, 0, 0, 1, 2)
        placement = {
            "progress": (1, 0),
            "timeline": (1, 1),
            "gold": (2, 0),
            "throughput": (3, 0),
            "labels": (3, 1),
            "heatmap": (4, 0),
            "alpha": (4, 1),
        }
        for key, (row, column) in placement.items():
            grid.addWidget(self.cards[key], row, column)
        grid.addWidget(quality, 2, 1)
        grid.addWidget(self.cards["flags"], 5, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(6, 1)
        self.cards["gold"].hide()
        self.cards["assignments"].hide()
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
        self.tile_frames[key] = frame
        return frame

    def _mini(self, key: str) -> QFrame:
        frame = QFrame()
        frame.setObjectName("mini")
        value = QLabel("…")
        value.setObjectName("miniValue")
        name = QLabel(key)
        name.setObjectName("note")
        name.setWordWrap(True)
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(0)
        layout.addWidget(value)
        layout.addWidget(name)
        layout.addStretch(1)
        self.consensus_values[key] = value
        self.consensus_frames[key] = frame
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
        rejections = report["open_issues"].get("rejections")
        gold = report.get("gold")
        if rejections is not None:
            tiles["rejections"] = (f"{rejections['open']:,}", "open rejections")
        if gold is not None:
            tiles["alerts"] = (f"{len(gold['alerts']):,}", "gold drift alerts")
        self.tile_frames["rejections"].setVisible(rejections is not None)
        self.tile_frames["alerts"].setVisible(gold is not None)
        _set_bad(self.tile_frames["alerts"], bool(gold and gold["alerts"]))
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
        self.flags_note.setText(
            f"{issues['flags_open']:,} open, {issues['flags_resolved']:,} resolved.{shown}"
        )
        self._show_rejections(issues.get("rejections"))
        self._show_assignments(report)
        self._show_consensus(report["consensus"])
        self._show_gold(report)

    def _show_rejections(self, rejections: dict[str, Any] | None) -> None:
        for widget in (self.rejections_heading, self.rejections_note, self.rejections):
            widget.setVisible(rejections is not None)
        if rejections is None:
            return
        listed = rejections["items"]
        _fill(
            self.rejections,
            [
                (
                    str(r["datapoint_id"]),
                    (r["reason"] or "")
                    + (f" ({r['decision']})" if r["decision"] != "reject" else ""),
                    r["annotator"],
                    r["reviewer"],
                    str(r["at"])[:16].replace("T", " "),
                )
                for r in listed
            ],
            numeric=(0,),
        )
        self.rejections.setVisible(bool(listed))
        shown = (
            f" The newest {len(listed):,} are listed." if rejections["open"] > len(listed) else ""
        )
        self.rejections_note.setText(
            f"{rejections['open']:,} open (to fix), {rejections['resolved']:,} resolved.{shown}"
        )

    def _show_assignments(self, report: dict[str, Any]) -> None:
        present = "assignments" in report["open_issues"]
        self.cards["assignments"].setVisible(present)
        if not present:
            self.task_bars.set_data([])
            return
        self.task_bars.set_captions(look.task_status_captions(report))
        self.task_bars.set_data(look.task_status_rows(report))

    def _show_consensus(self, consensus: dict[str, Any]) -> None:
        values = {name: value for value, name in look.consensus_tiles({"consensus": consensus})}
        for key, label in self.consensus_values.items():
            label.setText(values[key])
        _set_bad(self.consensus_frames["awaiting adjudication"], bool(consensus["open"]))
        self.cards["consensus"].note.setText(
            f"Items with two or more votes: {consensus['unanimous']:,} unanimous,"
            f" {consensus['majority']:,} by majority. Disagreements go to adjudication"
            " (gold items are settled by their answer)."
        )

    def _show_gold(self, report: dict[str, Any]) -> None:
        gold = report.get("gold")
        self.cards["gold"].setVisible(gold is not None)
        if gold is None:
            self.gold_chart.set_data(None)
            self.gold_badge.hide()
            return
        threshold = gold["threshold"]
        buckets, series, items = look.accuracy_series(gold)
        alerted = look.alert_annotators(report)
        self.gold_chart.set_series(
            buckets, series, items, look.annotator_colours(report), threshold, alerted
        )
        self.cards["gold"].note.setText(
            f"Accuracy on the {gold['gold_items']:,} gold items per {gold['window_days']}-day"
            f" bucket. Dashed line: the alert threshold ({threshold:.0%}); an alert needs at"
            f" least {gold['min_items']:,} answers in the latest bucket."
        )
        alerts = gold["alerts"]
        if alerts:
            plural = "s" if len(alerts) != 1 else ""
            self.gold_alert.setObjectName("alert")
            self.gold_alert.setText(
                f"⚠ Drift alert: {len(alerts):,} annotator{plural} below {threshold:.0%}\n"
                + "\n".join(f"• {a['message']}" for a in alerts)
            )
            self.gold_badge.setText(f"⚠ {len(alerts):,} alert{plural}")
        else:
            self.gold_alert.setObjectName("ok")
            self.gold_alert.setText(
                f"No drift: every latest bucket of at least {gold['min_items']:,} answers is"
                f" at or above {threshold:.0%}."
            )
        self.gold_alert.style().unpolish(self.gold_alert)
        self.gold_alert.style().polish(self.gold_alert)
        self.gold_alert.setVisible(bool(series))
        self.gold_badge.setVisible(bool(alerts))
        _fill(
            self.gold_table,
            [
                (
                    name,
                    look.fmt_percent(p["accuracy"]),
                    f"{p['correct']:,} / {p['items']:,}",
                    look.fmt_percent(p["over_time"][-1]["accuracy"] if p["over_time"] else None),
                    "⚠ drift alert" if name in alerted else "",
                )
                for name, p in gold["per_annotator"].items()
            ],
            numeric=(1, 2, 3),
        )
        alert_ink = QColor(look.ALERT)
        for row in range(self.gold_table.rowCount()):
            if self.gold_table.item(row, 0).text() in alerted:
                for column in (3, 4):
                    self.gold_table.item(row, column).setForeground(alert_ink)
        self.gold_table.setVisible(bool(gold["per_annotator"]))

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
