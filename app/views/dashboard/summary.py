"""The dashboard's row of summary tiles: datapoints, labeled share, annotations, annotators,
Krippendorff's alpha, open flags, and (when the project uses those workflows) open
rejections and gold drift alerts. They wrap into balanced rows on a narrow window (FlowLayout),
so that the dashboard fits a 1024-pixel screen without squeezing the cards below."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from app.core.report.scales import fmt_number
from app.core.report.sections import ProjectReport
from app.views.dashboard.flow import FlowLayout
from app.views.dashboard.widgets import Tile, set_bad
from app.views.glossary import explain_on

TILES = ("datapoints", "labeled", "annotations", "annotators", "alpha", "flags")
WORKFLOW_TILES = ("rejections", "alerts")
"""Tiles shown only when the project uses the review workflow or gold items."""


class SummaryTiles(FlowLayout):
    """The tiles, keyed by name: `tile_frames[key]`, its value `tile_labels[key]` and its
    caption `tile_labels[key + "_name"]`."""

    def __init__(self) -> None:
        super().__init__()
        self.tile_labels: dict[str, QLabel] = {}
        self.tile_frames: dict[str, Tile] = {}
        for key in TILES + WORKFLOW_TILES:
            tile = Tile("tile")
            self.tile_labels[key] = tile.value
            self.tile_labels[key + "_name"] = tile.name
            self.tile_frames[key] = tile
            self.addWidget(tile)
        explain_on(self.tile_frames["alpha"], "Krippendorff's α")
        for key in WORKFLOW_TILES:
            self.tile_frames[key].hide()

    def show_report(self, report: ProjectReport) -> None:
        counts = report.project.counts
        overall = report.agreement.overall
        total = counts.datapoints or 1
        tiles = {
            "datapoints": (f"{counts.datapoints:,}", "datapoints"),
            "labeled": (f"{100 * counts.labeled_datapoints / total:.1f}%", "labeled"),
            "annotations": (f"{counts.annotations:,}", _annotations_caption(report)),
            "annotators": (f"{counts.annotators:,}", "annotators"),
            "alpha": (
                fmt_number(overall.krippendorff_alpha),
                f"Krippendorff's α, {overall.items:,} items",
            ),
            "flags": (f"{report.open_issues.flags_open:,}", "open flags"),
        }
        rejections = report.open_issues.rejections
        gold = report.gold
        if rejections is not None:
            tiles["rejections"] = (f"{rejections.open:,}", "open rejections")
        if gold is not None:
            tiles["alerts"] = (f"{len(gold.alerts):,}", "gold drift alerts")
        self.tile_frames["rejections"].setVisible(rejections is not None)
        self.tile_frames["alerts"].setVisible(gold is not None)
        set_bad(self.tile_frames["alerts"], bool(gold and gold.alerts))
        self.tile_frames["annotations"].setToolTip(
            "Finished annotations by people. The model's auto-labels are not among them:"
            " they count once a person confirms them."
        )
        for key, (value, name) in tiles.items():
            self.tile_labels[key].setText(value)
            self.tile_labels[key + "_name"].setText(name)


def _annotations_caption(report: ProjectReport) -> str:
    """People's finished annotations; the model's auto-labels (issue 12) beside, never in it."""
    automation = report.automation
    if automation is None or not automation.auto_labels_total:
        return "finished annotations"
    return f"by people · +{automation.auto_labels_total:,} auto"
