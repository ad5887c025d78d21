"""Counts per dataset, status, label and annotator: `tagloop stats` and the status bar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from app.core.annotation.browse import MODEL_ONLY, Browser, Seen
from app.core.project.project import Project
from app.core.storage import runs, visibility
from app.core.storage.tables import DatapointStatus


@dataclass(frozen=True)
class LabelingProgress:
    """How far labelling has gone: the editor's progress bar and the model's retrain trigger."""

    total: int
    labeled: int  # by people: an auto-label by the model (issue 12) is not counted
    auto: int = 0  # labelled by the model alone


LABELED = int(DatapointStatus.LABELED)
COUNT_MODEL_ONLY = text(f"SELECT count(*) FROM ({MODEL_ONLY})")


def labeling_progress(project: Project) -> LabelingProgress:
    """Datapoints in the project, how many people labeled, and how many the model alone."""
    with project.engine.connect() as conn:
        seen = Seen.of(conn)  # an import or a write run loading: leave its rows out
        where = f" WHERE {seen.datapoints}" if seen.datapoints else ""
        total, done = conn.execute(
            text(
                f"SELECT count(*), count(*) FILTER (WHERE {seen.status} ="
                f" {int(DatapointStatus.LABELED)}) FROM datapoint d{where}"
            )
        ).one()
        auto_sql = COUNT_MODEL_ONLY
        if seen.datapoints or seen.labels:
            auto_sql = text(f"SELECT count(*) FROM ({seen.model_only()})")
        auto = conn.execute(auto_sql).scalar_one()
    return LabelingProgress(total=total, labeled=done - auto, auto=auto)


def project_stats(project: Project) -> dict[str, Any]:
    with project.engine.connect() as conn:
        # an unfinished import's rows and labels are left out, while one is loading
        seen = Seen.of(conn)
        shown = visibility.visible_id() if seen.datapoints else ""
        label_shown = " AND ".join(x for x in (shown, seen.labels) if x)
        note_shown = runs.and_visible(
            shown and f"an.{shown}", seen.labels and runs.annotation_visible("an")
        )
        datasets = [
            {"dataset": name, "rows": rows, "duplicates": dups, "imported_at": at, "labeled": lab}
            for name, rows, dups, at, lab in conn.execute(
                text(
                    "SELECT ds.source_name, ds.row_count, ds.duplicate_count, ds.imported_at,"
                    " (SELECT count(*) FROM datapoint d"
                    f"  WHERE d.dataset_id = ds.id AND {seen.status} = {LABELED})"
                    f" FROM dataset ds WHERE {visibility.ready_datasets('ds')} ORDER BY ds.id"
                )
            )
        ]
        labels = {
            label: {"annotations": n, "datapoints": m}
            for label, n, m in conn.execute(
                text(
                    "SELECT label, count(*), count(DISTINCT datapoint_id) FROM annotation_label al"
                    + (f" WHERE {label_shown}" if label_shown else "")
                    + " GROUP BY label ORDER BY count(*) DESC"
                )
            )
        }
        annotators = {}
        for name, role, status, n in conn.execute(
            text(
                "SELECT a.name, a.role, an.status, count(an.id) FROM annotator a"
                " LEFT JOIN annotation an ON an.annotator_id = a.id"
                + note_shown
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
