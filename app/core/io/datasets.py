"""The datasets of a project: listing them, and removing one with all its datapoints."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import delete, select, text

from app.core import audit
from app.core.errors import ProjectError
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.project import Project
from app.core.storage import tables as t
from app.core.storage.retry import write_transaction
from app.core.storage.visibility import READY

DELETE_CHUNK = 50_000


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
    """Delete a dataset, its datapoints and everything attached to them, in one transaction."""
    actor = project.local_annotator_id
    with write_transaction(project.engine) as conn:
        found = conn.execute(
            select(t.dataset).where(t.dataset.c.id == dataset_id, t.dataset.c.state == READY)
        ).one_or_none()
        if found is None:
            raise ProjectError(f"{project.path}: no dataset with id {dataset_id}")
        low, high = conn.execute(
            text("SELECT min(id), max(id) FROM datapoint WHERE dataset_id = :d"), {"d": dataset_id}
        ).one()
        removed = 0
        if low is not None:
            for start in range(low, high + 1, DELETE_CHUNK):
                check_cancel(cancel)
                # predictions are a derived cache with no cascade (migration 0005)
                conn.execute(
                    text(
                        "DELETE FROM prediction WHERE model_version_id IN"
                        " (SELECT id FROM model_version) AND datapoint_id IN (SELECT id FROM"
                        " datapoint WHERE dataset_id = :d AND id >= :a AND id < :b)"
                    ),
                    {"d": dataset_id, "a": start, "b": start + DELETE_CHUNK},
                )
                removed += conn.execute(
                    text("DELETE FROM datapoint WHERE dataset_id = :d AND id >= :a AND id < :b"),
                    {"d": dataset_id, "a": start, "b": start + DELETE_CHUNK},
                ).rowcount
                progress(min(start + DELETE_CHUNK, high + 1) - low, high + 1 - low, "Removing")
        conn.execute(delete(t.dataset).where(t.dataset.c.id == dataset_id))
        audit.record(
            conn,
            actor,
            "delete",
            "dataset",
            found.uuid,
            before={"source": found.source_name, "sha256": found.sha256, "rows": removed},
        )
    return removed
