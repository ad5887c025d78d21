"""The words of the undoable verbs (app.core.annotation.commands): an annotation's state, a
command, and what applying one did. Kept apart from the commands so that the bulk label's
write run (app.core.annotation.bulk_runs), which the commands call, can name them too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection

from app.core.annotation import bulk
from app.core.project.project import Project
from app.core.storage import runs
from app.core.storage.sqlite import driver_connection

ANNOTATION_STATUSES = ("draft", "complete", "skipped", "discarded")
FINISHED = ("complete", "skipped", "discarded")


@dataclass(frozen=True)
class AnnotationState:
    """One annotator's annotation of one datapoint, as it is or as it should become."""

    value: Any
    status: str
    time_spent_ms: int = 0
    uuid: str | None = None  # kept across undo/redo, so an annotation keeps its identity
    origin: str = "human"  # human, imported, accepted (a model's suggestion), corrected

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class Applied:
    """What applying a command did: the command that undoes it, and status changes."""

    inverse: Command
    statuses: dict[int, tuple[str, str]] = field(default_factory=dict)  # id: (before, after)


class Command(Protocol):
    description: str

    @property
    def datapoints(self) -> tuple[int, ...]: ...

    def apply(self, project: Project) -> Applied: ...


def read_states(conn: Connection, annotator_id: int, ids: list[int]) -> dict[int, AnnotationState]:
    """The annotator's annotations on these datapoints (absent ones are left out, and so are
    those of an unpublished write run: a bulk label still being written is not there yet)."""
    raw = driver_connection(conn)
    hidden = runs.and_visible(runs.annotation_where(raw, ""))
    rows = raw.execute(
        "SELECT datapoint_id, value, status, time_spent_ms, uuid, origin FROM annotation"
        f" WHERE annotator_id = ? AND datapoint_id IN (SELECT value FROM json_each(?)){hidden}",
        (annotator_id, bulk.ids_json(ids)),
    )
    value_of = bulk.Decoded()  # a bulk label's items share their value: decoded once
    return {
        dp_id: AnnotationState(value_of(value), status, spent, uuid, origin)
        for dp_id, value, status, spent, uuid, origin in rows
    }


def audit_value(state: AnnotationState | None) -> Any:
    if state is None:
        return None
    return {"value": state.value, "status": state.status, "origin": state.origin}


def audit_json(states: dict[int, AnnotationState] | dict[int, AnnotationState | None]) -> str:
    """{datapoint id: state} as an annotation event's before or after text, exactly as
    audit.record dumps it (for a select-all, megabytes: made before the lock where it can)."""
    return json.dumps({str(k): audit_value(v) for k, v in states.items()}, ensure_ascii=False)


def status_changes(before: dict[int, str], after: dict[int, str]) -> dict[int, tuple[str, str]]:
    """{datapoint id: (status before, after)} of the datapoints whose status changed."""
    return {k: (before[k], after[k]) for k in after if before.get(k) != after[k]}
