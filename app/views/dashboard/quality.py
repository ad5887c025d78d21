"""The dashboard's quality panels: gold accuracy over time with its drift alerts, the
derived status of each assignment, and consensus. Each hides itself when the project does
not use its workflow (no gold items, no tasks)."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QWidget

from app.core.report.html import (
    alert_annotators,
    annotator_colours,
    consensus_tiles,
    task_status_captions,
    task_status_rows,
)
from app.core.report.scales import accuracy_series, fmt_percent
from app.core.report.sections import Consensus, Gold, ProjectReport
from app.core.report.svg import PALETTE
from app.views.dashboard.flow import FlowLayout
from app.views.dashboard.widgets import (
    Card,
    Tile,
    column,
    fill_table,
    make_table,
    plain_label,
    set_bad,
)
from app.views.theme import palette
from app.views.widgets.charts import AccuracyChart, StackedBars

CONSENSUS_TILES = (
    "items with two or more votes",
    "consensus reached",
    "disagreements",
    "adjudicated",
    "awaiting adjudication",
)

GOLD_HEADER_TIPS = {
    2: "Right answers / gold answers given",
    3: "Accuracy in the latest bucket",
}


class GoldCard(Card):
    """Each annotator's accuracy on gold per bucket, the alert box (or all clear), a badge
    in the heading, and a table with the latest bucket."""

    def __init__(self) -> None:
        badge = QLabel("")
        badge.setObjectName("badge")
        badge.hide()
        super().__init__("Gold accuracy over time", "", badge)
        self.badge = badge
        self.chart = AccuracyChart()
        self.alert = plain_label("alert")
        self.table = make_table(["Annotator", "Accuracy", "Right", "Latest", ""], stretch=0)
        for column_index, tip in GOLD_HEADER_TIPS.items():  # short headers: names stay whole
            self.table.horizontalHeaderItem(column_index).setToolTip(tip)
        self.set_body(column(self.alert, self.chart, self.table))

    def show_report(self, report: ProjectReport) -> None:
        gold = report.gold
        self.setVisible(gold is not None)
        if gold is None:
            self.chart.set_data(None)
            self.badge.hide()
            return
        buckets, series, items = accuracy_series(gold)
        alerted = alert_annotators(report)
        self.chart.set_series(
            buckets, series, items, annotator_colours(report), gold.threshold, alerted
        )
        self.note.setText(
            f"Accuracy on the {gold.gold_items:,} gold items per {gold.window_days}-day"
            f" bucket. Dashed line: the alert threshold ({gold.threshold:.0%}); an alert needs"
            f" at least {gold.min_items:,} answers in the latest bucket."
        )
        self.show_alerts(gold, bool(series))
        self.show_table(gold, alerted)

    def show_alerts(self, gold: Gold, has_series: bool) -> None:
        """The alert box and the badge, or the all-clear."""
        alerts = gold.alerts
        if alerts:
            plural = "s" if len(alerts) != 1 else ""
            self.alert.setObjectName("alert")
            self.alert.setText(
                f"⚠ Drift alert: {len(alerts):,} annotator{plural} below {gold.threshold:.0%}\n"
                + "\n".join(f"• {a.message}" for a in alerts)
            )
            self.badge.setText(f"⚠ {len(alerts):,} alert{plural}")
        else:
            self.alert.setObjectName("ok")
            self.alert.setText(
                f"No drift: every latest bucket of at least {gold.min_items:,} answers is"
                f" at or above {gold.threshold:.0%}."
            )
        self.alert.style().unpolish(self.alert)
        self.alert.style().polish(self.alert)
        self.alert.setVisible(has_series)
        self.badge.setVisible(bool(alerts))

    def show_table(self, gold: Gold, alerted: dict[str, str]) -> None:
        fill_table(
            self.table,
            [
                (
                    name,
                    fmt_percent(p.accuracy),
                    f"{p.correct:,} / {p.items:,}",
                    fmt_percent(p.over_time[-1].accuracy if p.over_time else None),
                    "⚠ drift alert" if name in alerted else "",
                )
                for name, p in gold.per_annotator.items()
            ],
            numeric=(1, 2, 3),
        )
        alert_ink = QColor(palette().danger)
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() in alerted:
                for col in (3, 4):
                    self.table.item(row, col).setForeground(alert_ink)
        self.table.setVisible(bool(gold.per_annotator))


class AssignmentsCard(Card):
    def __init__(self) -> None:
        super().__init__(
            "Assignments",
            "Tasks by derived status (an issue is an open rejection or flag), and the"
            " status of each assignment.",
        )
        self.task_bars = StackedBars(
            dict(PALETTE.task_status), empty_text="No tasks yet", caption_w=130
        )
        self.set_body(self.task_bars)

    def show_report(self, report: ProjectReport) -> None:
        present = report.open_issues.assignments is not None
        self.setVisible(present)
        if not present:
            self.task_bars.set_data([])
            return
        self.task_bars.set_captions(task_status_captions(report))
        self.task_bars.set_data(task_status_rows(report))


class ConsensusCard(Card):
    """The consensus figures as small tiles; "awaiting adjudication" warns when not 0."""

    def __init__(self) -> None:
        super().__init__(
            "Consensus", "Items with two or more votes; disagreements go to adjudication."
        )
        box = QWidget()
        flow = FlowLayout(box, spacing=8)
        self.values: dict[str, QLabel] = {}
        self.frames: dict[str, Tile] = {}
        for name in CONSENSUS_TILES:  # captions kept whole: the tiles wrap into rows instead
            tile = Tile("mini", name)
            tile.name.setWordWrap(False)
            self.values[name], self.frames[name] = tile.value, tile
            flow.addWidget(tile)
        self.set_body(box)

    def show_report(self, report: ProjectReport) -> None:
        self.show_consensus(report.consensus)

    def show_consensus(self, consensus: Consensus) -> None:
        values = {name: value for value, name in consensus_tiles(consensus)}
        for key, label in self.values.items():
            label.setText(values[key])
        set_bad(self.frames["awaiting adjudication"], bool(consensus.open))
        self.note.setText(
            f"Items with two or more votes: {consensus.unanimous:,} unanimous,"
            f" {consensus.majority:,} by majority. Disagreements go to adjudication"
            " (gold items are settled by their answer)."
        )
