"""The datasets of a project: listing them, and removing one with all its datapoints.

A removal hides the dataset at once and then deletes it in short transactions (issue 14: no
writer holds the lock for more than about a second); see `remove_dataset`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, select, text, update

from app.core import audit
from app.core.errors import ProjectError
from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress
from app.core.project.project import Project
from app.core.storage import staging
from app.core.storage import tables as t
from app.core.storage.retry import run_write
from app.core.storage.visibility import READY, REMOVING, loader_tag

RESUMES = "the next time the project opens"  # when a cancelled or killed removal is finished


@dataclass(frozen=True)
class DatasetInfo:
    id: int
    uuid: str
    source_name: str
    sha256: str
    format: str
    mapping: dict[str, str]
    label_column: str | None
    row_count: int
    duplicate_count: int
    imported_at: str


def list_datasets(project: Project) -> list[DatasetInfo]:
    """The published datasets: not one an import is still loading (app.core.storage.visibility)."""
    with project.engine.connect() as conn:
        rows = conn.execute(
            select(t.dataset).where(t.dataset.c.state == READY).order_by(t.dataset.c.id)
        ).all()
    return [
        DatasetInfo(
            r.id,
            r.uuid,
            r.source_name,
            r.sha256,
            r.format,
            json.loads(r.mapping),
            r.label_column,
            r.row_count,
            r.duplicate_count,
            r.imported_at,
        )
        for r in rows
    ]


def remove_dataset(
    project: Project,
    dataset_id: int,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> int:
    """Remove a dataset, its datapoints and everything attached to them; how many datapoints.

    One short transaction hides the dataset (state REMOVING, app.core.storage.visibility) and
    records the audit event: the user sees it gone at once. Its rows then go in short
    transactions (staging.delete_loading, sized to take about 0.3 s each), the dataset row
    last, so that no other writer waits long on a big removal. A cancel between two of them
    (Cancelled), or a killed process, leaves the dataset hidden, never half visible: its
    removal finishes the next time the project opens (staging.sweep_abandoned)."""
    actor = project.local_annotator_id

    def hide(conn: Connection) -> tuple[str, int]:
        found = conn.execute(
            select(t.dataset).where(t.dataset.c.id == dataset_id, t.dataset.c.state == READY)
        ).one_or_none()
        if found is None:
            raise ProjectError(f"{project.path}: no dataset with id {dataset_id}")
        rows = conn.execute(
            text("SELECT count(*) FROM datapoint WHERE dataset_id = :d"), {"d": dataset_id}
        ).scalar_one()
        conn.execute(
            update(t.dataset)
            .where(t.dataset.c.id == dataset_id)
            .values(state=REMOVING, loader=loader_tag())
        )
        audit.record(
            conn,
            actor,
            "delete",
            "dataset",
            found.uuid,
            before={"source": found.source_name, "sha256": found.sha256, "rows": rows},
        )
        return found.source_name, rows

    with staging.removal_running(project.engine, dataset_id):
        name, rows = run_write(project.engine, hide)
        message = (
            f"Removing {name} (if cancelled, it stays hidden and its removal finishes {RESUMES})"
        )
        progress(0, rows, message)
        staging.delete_loading(project.engine, dataset_id, progress, cancel, rows, message)
    return rows
