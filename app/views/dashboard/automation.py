"""The dashboard's automation card (issue 12): the promised precision, the audited precision
with its confidence interval, and the coverage, side by side; the drift guard's alert in red
when it has stopped automation. Hidden for a project that never automated."""

from __future__ import annotations

from app.core.report.sections import Automation, ProjectReport
from app.views.dashboard.widgets import Card, MiniTiles, plain_label, set_bad

TILES = ("promised precision", "audited precision", "coverage")


class AutomationCard(Card):
    def __init__(self) -> None:
        super().__init__(
            "Automation",
            "What the model labels by itself: the precision promised, what the audit of its"
            " labels found, and the share of items it labelled.",
        )
        box = MiniTiles(TILES)
        self.values, self.frames = box.values, box.frames
        self.alert = plain_label("automationAlert")
        box.grid.addWidget(self.alert, 1, 0, 1, len(TILES))
        self.set_body(box)

    def show_report(self, report: ProjectReport) -> None:
        automation = report.automation
        self.setVisible(automation is not None)
        if automation is not None:
            self.show_automation(automation)

    def show_automation(self, automation: Automation) -> None:
        promised = automation.promised_precision
        self.values["promised precision"].setText("—" if promised is None else f"{promised:g}")
        audited = "not audited yet"
        if automation.audited_precision is not None and automation.audited_interval:
            low, high = automation.audited_interval
            audited = (
                f"{automation.audited_precision:.1%} ({low:.0%}–{high:.0%},"
                f" {automation.audited:,} checked)"
            )
        self.values["audited precision"].setText(audited)
        coverage = automation.coverage
        self.values["coverage"].setText(
            "—" if coverage is None else f"{coverage:.1%} ({automation.auto_labels:,} items)"
        )
        set_bad(self.frames["audited precision"], automation.alert is not None)
        self.alert.setVisible(automation.alert is not None)
        self.alert.setText(f"ALERT: {automation.alert}" if automation.alert else "")
