"""The report's automation section (issue 12): promised against audited precision and
coverage, and the drift guard's alert, from app.core.quality.automation_status."""

from __future__ import annotations

from sqlalchemy import Connection, text

from app.core.annotation.browse import Seen
from app.core.project.project import Project
from app.core.report.sections import Automation
from app.core.storage import runs


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def model_only(conn: Connection) -> int:
    """Items labelled by the model alone: not counted among the labeled datapoints."""
    sql = Seen.of(conn).model_only()  # an unfinished import's or run's rows left out
    return int(conn.execute(text(f"SELECT count(*) FROM ({sql})")).scalar() or 0)


def automation_part(project: Project) -> Automation | None:
    """The section, or None for a project that never automated (then absent from the JSON)."""
    from app.core.quality.automation_status import automation_status

    status = automation_status(project)
    if not status.runs and not status.alert:
        return None
    interval = status.audited_interval
    return Automation(
        runs=status.runs,
        promised_precision=status.promised_precision,
        confidence=status.confidence,
        audited_precision=_rounded(status.audited_precision),
        audited_interval=None
        if interval is None
        else (round(interval[0], 4), round(interval[1], 4)),
        audited=status.audited,
        audited_right=status.audited_right,
        coverage=_rounded(status.coverage),
        auto_labels=status.auto_labels,
        routed=status.routed,
        alert=status.alert,
        auto_labels_total=_auto_labels_total(project),
    )


def _auto_labels_total(project: Project) -> int:
    """Every finished auto-label (origin "model"): shown beside people's annotations."""
    with project.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM annotation a WHERE origin = 'model'"
                    " AND status IN ('complete', 'skipped', 'discarded')"
                    + runs.and_visible(runs.annotation_where(conn))
                )
            ).scalar_one()
        )
