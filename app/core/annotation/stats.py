"""Counts per dataset, status, label and annotator: `tagloop stats` and the status bar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text

from app.core.annotation.browse import MODEL_ONLY, Browser
from app.core.project.project import Project
from app.core.storage import tables as t
from app.core.storage import visibility
from app.core.storage.tables import DatapointStatus


@dataclass(frozen=True)
class LabelingProgress:
    """How far labelling has gone: the editor's progress bar and the model's retrain trigger."""

    total: int
    labeled: int  # by people: an auto-label by the model (issue 12) is not counted
    auto: int = 0  # labelled by the model alone


COUNT_MODEL_ONLY = text(f"SELECT count(*) FROM ({MODEL_ONLY})")


def labeling_progress(project: Project) -> LabelingProgress:
    """Datapoints in the project, how many people labeled, and how many the model alone."""
    labeled = func.count().filter(t.datapoint.c.status == int(DatapointStatus.LABELED))
    with project.engine.connect() as conn:
        counting = select(func.count(), labeled).select_from(t.datapoint)
        auto_sql = COUNT_MODEL_ONLY
        if visibility.visible_where(conn):  # an import is loading: leave its rows out
            counting = counting.where(visibility.visible_clause())
            auto_sql = text(
                f"SELECT count(*) FROM ({MODEL_ONLY} AND {visibility.visible_id('a.datapoint_id')})"
            )
        total, done = conn.execute(counting).one()
        auto = conn.execute(auto_sql).scalar_one()
    return LabelingProgress(total=total, labeled=done - auto, auto=auto)


def project_stats(project: Project) -> dict[str, Any]:
    with project.engine.connect() as conn:
        # an unfinished import's rows and labels are left out, while one is loading
        hidden = visibility.visible_where(conn)
        shown = visibility.visible_id() if hidden else ""
        datasets = [
            {"dataset": name, "rows": rows, "duplicates": dups, "imported_at": at, "labeled": lab}
            for name, rows, dups, at, lab in conn.execute(
                text(
                    "SELECT ds.source_name, ds.row_count, ds.duplicate_count, ds.imported_at,"
                    " (SELECT count(*) FROM datapoint d"
                    f"  WHERE d.dataset_id = ds.id AND d.status = {int(DatapointStatus.LABELED)})"
                    f" FROM dataset ds WHERE {visibility.ready_datasets('ds')} ORDER BY ds.id"
                )
            )
        ]
        labels = {
            label: {"annotations": n, "datapoints": m}
            for label, n, m in conn.execute(
                text(
                    "SELECT label, count(*), count(DISTINCT datapoint_id) FROM annotation_label"
                    + (f" WHERE {shown}" if shown else "")
                    + " GROUP BY label ORDER BY count(*) DESC"
                )
            )
        }
        annotators = {}
        for name, role, status, n in conn.execute(
            text(
                "SELECT a.name, a.role, an.status, count(an.id) FROM annotator a"
                " LEFT JOIN annotation an ON an.annotator_id = a.id"
                + (f" AND an.{shown}" if shown else "")
                + " GROUP BY a.id, an.status ORDER BY a.id"
            )
        ):
            entry = annotators.setdefault(name, {"role": role, "annotations": 0})
            if status:
                entry[status] = n
                entry["annotations"] += n
    schema = project.schema
    for name in schema.label_names:
        labels.setdefault(name, {"annotations": 0, "datapoints": 0})
    return {
        "project": project.name,
        "task_type": project.task_type,
        "schema_version": schema.version,
        "status": Browser(project).status_counts(),
        "datasets": datasets,
        "labels": labels,
        "annotators": annotators,
    }


def format_stats(stats: dict[str, Any]) -> str:
    """A plain-text rendering for the terminal."""
    lines = [
        f"{stats['project']} ({stats['task_type']}, schema v{stats['schema_version']})",
        "",
        "Status:",
    ]
    lines += [f"  {name:<10} {n:>10,}" for name, n in stats["status"].items()]
    lines += ["", "Datasets:"]
    lines += [
        f"  {d['dataset']:<30} {d['rows']:>10,} rows  {d['labeled']:>8,} labeled"
        f"  {d['duplicates']:>6,} duplicates"
        for d in stats["datasets"]
    ] or ["  (none)"]
    lines += ["", "Labels:"]
    lines += [
        f"  {name:<30} {v['annotations']:>10,} annotations  {v['datapoints']:>8,} datapoints"
        for name, v in stats["labels"].items()
    ]
    lines += ["", "Annotators:"]
    lines += [
        f"  {name:<30} {v['role']:<10} {v['annotations']:>10,} annotations"
        for name, v in stats["annotators"].items()
    ]
    return "\n".join(lines)
