"""The dashboard's panels on the work done: progress by status and annotator, completed work
over time, throughput, and the label distribution."""

from __future__ import annotations

from app.core.report.html import annotator_colours, label_rows, throughput_rows
from app.core.report.scales import cumulative_series
from app.core.report.sections import ProjectReport
from app.core.report.svg import PALETTE
from app.views.dashboard.widgets import Card, column
from app.views.widgets.charts import HBars, LineChart, StackedBars


class ProgressCard(Card):
    """Datapoints by status in one bar, then each annotator's annotations by status."""

    def __init__(self) -> None:
        super().__init__("Progress", "Datapoints by status, then annotations by annotator.")
        self.status_bar = StackedBars(
            dict(PALETTE.datapoint_status), empty_text="No datapoints yet"
        )
        self.progress_bars = StackedBars(
            dict(PALETTE.annotation_status), empty_text="No annotations yet"
        )
        self.set_body(column(self.status_bar, self.progress_bars))

    def show_report(self, report: ProjectReport) -> None:
        progress = report.progress
        self.status_bar.set_data([("Datapoints", progress.by_status)])
        self.progress_bars.set_data(list(progress.by_annotator.items()))


class TimelineCard(Card):
    def __init__(self) -> None:
        super().__init__(
            "Completed over time", "Cumulative complete annotations per annotator (UTC days)."
        )
        self.chart = LineChart()
        self.set_body(self.chart)

    def show_report(self, report: ProjectReport) -> None:
        days, series = cumulative_series(report.progress.over_time)
        self.chart.set_series(days, series, annotator_colours(report))


class ThroughputCard(Card):
    def __init__(self) -> None:
        super().__init__(
            "Throughput",
            "Items per hour of measured editor time (at most 10 min per item), median"
            " time per item.",
        )
        self.chart = HBars(empty_text="No finished annotations yet")
        self.set_body(self.chart)

    def show_report(self, report: ProjectReport) -> None:
        self.chart.set_data(throughput_rows(report))


class LabelsCard(Card):
    def __init__(self) -> None:
        super().__init__("Label distribution", "Complete annotations.")
        self.chart = HBars(empty_text="No labels yet")
        self.set_body(self.chart)

    def show_report(self, report: ProjectReport) -> None:
        self.chart.set_data(label_rows(report))
