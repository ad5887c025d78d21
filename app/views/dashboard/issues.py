"""The dashboard's open issues: the open flags, and the open rejections once the project
uses the review workflow."""

from __future__ import annotations

from app.core.report.sections import ProjectReport, Rejections
from app.views.dashboard.widgets import (
    Card,
    column,
    fill_table,
    make_table,
    plain_label,
    subheading,
)


def _at(stamp: object) -> str:
    """A timestamp to the minute, as shown in the tables."""
    return str(stamp)[:16].replace("T", " ")


class IssuesCard(Card):
    def __init__(self) -> None:
        super().__init__("Open issues", "Flags and rejections still to deal with.")
        self.flags = make_table(["Datapoint", "Reason", "By", "At (UTC)"], stretch=1)
        self.rejections = make_table(
            ["Datapoint", "Reason", "Annotator", "Reviewer", "At (UTC)"], stretch=1
        )
        self.flags_note = plain_label("note")
        self.rejections_heading = subheading("Rejections")
        self.rejections_note = plain_label("note")
        self.set_body(
            column(
                subheading("Flags"),
                self.flags_note,
                self.flags,
                8,
                self.rejections_heading,
                self.rejections_note,
                self.rejections,
            )
        )

    def show_report(self, report: ProjectReport) -> None:
        issues = report.open_issues
        flags = issues.flags
        fill_table(
            self.flags,
            [(str(flag.datapoint_id), flag.reason, flag.by, _at(flag.at)) for flag in flags],
            numeric=(0,),
        )
        shown = f" The newest {len(flags):,} are listed." if issues.flags_open > len(flags) else ""
        self.flags_note.setText(
            f"{issues.flags_open:,} open, {issues.flags_resolved:,} resolved.{shown}"
        )
        self.show_rejections(issues.rejections)

    def show_rejections(self, rejections: Rejections | None) -> None:
        for widget in (self.rejections_heading, self.rejections_note, self.rejections):
            widget.setVisible(rejections is not None)
        if rejections is None:
            return
        listed = rejections.items
        fill_table(
            self.rejections,
            [
                (
                    str(r.datapoint_id),
                    (r.reason or "") + (f" ({r.decision})" if r.decision != "reject" else ""),
                    r.annotator,
                    r.reviewer,
                    _at(r.at),
                )
                for r in listed
            ],
            numeric=(0,),
        )
        self.rejections.setVisible(bool(listed))
        shown = f" The newest {len(listed):,} are listed." if rejections.open > len(listed) else ""
        self.rejections_note.setText(
            f"{rejections.open:,} open (to fix), {rejections.resolved:,} resolved.{shown}"
        )
