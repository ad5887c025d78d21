"""The writing steps of an automation run (app.core.quality.automation.write_run), each a short
transaction of a write run (app.core.storage.runs), so that no other writer (a person saving a
label, an import) waits on a million auto-labels for more than about half a second.

- `write_in_chunks` writes rows in transactions sized by time (about staging.TARGET_SECONDS
  each, as the importer and the removal do), with the cancel check and the progress report
  between two transactions, when the write lock is free;
- `AutoLabels` writes the auto-labels (annotation rows with run_id, by the annotator `model`)
  and their annotation_label rows; `TaskWriter` the routed and audit tasks (task.run_id);
- `Publish` is the last transaction: it leaves out the items a person labelled meanwhile,
  writes the run's facts and its audit event, publishes the run and marks its statuses to be
  settled (runs.settle writes them afterwards, in short transactions too).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine

from app.core import audit
from app.core.errors import ProjectError
from app.core.jobs import CancelCheck, Progress, check_cancel
from app.core.project.project import set_meta
from app.core.quality import automation_status as status
from app.core.storage import retry, runs, sqlite, staging
from app.core.storage.sqlite import driver_connection
from app.core.storage.tables import DatapointStatus
from app.core.team.tasks import REVIEW, TaskRow, insert_task_rows

if TYPE_CHECKING:
    from app.core.quality.automation import RunPlan

FIRST_CHUNK = 2_000  # rows in the first transaction; later ones are sized by time
ORIGIN = "model"
META_PREFIX = "automation:"  # automation.RUN_META_PREFIX
Row = TypeVar("Row")
_LABELLED = ",".join(str(int(s)) for s in DatapointStatus if s != DatapointStatus.UNLABELED)


def write_in_chunks(
    engine: Engine,
    rows: Sequence[Row],
    write: Callable[[sqlite3.Connection, int, Sequence[Row]], None],
    cancel: CancelCheck,
    progress: Progress,
    what: str,
) -> None:
    """`write(raw, offset, part)` over consecutive parts of `rows`, each in its own short
    write transaction (waiting out a busy lock: retry.held_write), sized to take about
    staging.TARGET_SECONDS; the cancel check and progress come between two of them.

    One connection for them all, with foreign keys off (as the importer does): every key
    written points at rows read before the run (its datapoints, the model annotator, the
    schema version, the team) or written by it, so checking them row by row is pure cost."""
    size = FIRST_CHUNK
    done = 0
    with engine.connect() as sa_conn, sqlite.pragmas(sa_conn, {"foreign_keys": "OFF"}):
        while done < len(rows):
            check_cancel(cancel)
            part = rows[done : done + size]
            started = time.perf_counter()
            with retry.held_write(sa_conn) as raw:
                write(raw, done, part)
            done += len(part)
            progress(done, len(rows), f"Writing {what} ({done:,} of {len(rows):,})")
            size = staging.next_chunk(size, len(part), time.perf_counter() - started)


def labels_by_value(auto: Sequence[tuple[int, str, float]], task_type: str) -> dict[str, list]:
    """The annotation_label rows of each distinct auto-label value, worked out once."""
    from app.core.annotation.values import LabelParser

    values = {value for _id, value, _c in auto}
    return {value: LabelParser.labels_of(json.loads(value), task_type) for value in values}


@dataclass
class AutoLabels:
    """Writes auto-labels: annotation rows of the run (ids ascending from the table's end, so
    every index takes appends; UUIDs: the run's random prefix and the item's plan index)."""

    run_id: int
    model_id: int
    schema_id: int
    stamp: str
    prefix: str
    labels: dict[str, list] = field(default_factory=dict)

    def write(
        self, raw: sqlite3.Connection, offset: int, part: Sequence[tuple[int, str, float]]
    ) -> None:
        first = raw.execute("SELECT coalesce(max(id), 0) + 1 FROM annotation").fetchone()[0]
        tail = (self.schema_id, self.stamp, self.stamp, self.run_id)
        try:
            raw.executemany(
                "INSERT INTO annotation (id, uuid, datapoint_id, annotator_id, value, status,"
                " schema_version_id, time_spent_ms, origin, created_at, updated_at, run_id)"
                f" VALUES (?, ?, ?, ?, ?, 'complete', ?, 0, '{ORIGIN}', ?, ?, ?)",
                (
                    (
                        first + k,
                        f"{self.prefix}{offset + k:012x}",
                        dp_id,
                        self.model_id,
                        value,
                        *tail,
                    )
                    for k, (dp_id, value, _c) in enumerate(part)
                ),
            )
        except Exception as exc:  # e.g. an item that has an auto-label already
            if "UNIQUE" not in str(exc):
                raise
            raise ProjectError(
                f"the database refused the run ({exc}); nothing was written"
            ) from None
        raw.executemany(
            "INSERT OR IGNORE INTO annotation_label (annotation_id, label, datapoint_id)"
            " VALUES (?, ?, ?)",
            (
                (first + k, label, dp_id)
                for k, (dp_id, value, _c) in enumerate(part)
                for label in self.labels[value]
            ),
        )


@dataclass
class TaskWriter:
    """Writes tasks of the run (their UUIDs were made with the plan)."""

    run_id: int

    def write(self, raw: sqlite3.Connection, _offset: int, part: Sequence[TaskRow]) -> None:
        before = raw.execute("SELECT coalesce(max(id), 0) FROM task").fetchone()[0]
        insert_task_rows(raw, part)
        raw.execute("UPDATE task SET run_id = ? WHERE id > ?", (self.run_id, before))


@dataclass
class Dropped:
    """What the last transaction left out: items a person labelled while the run wrote."""

    auto: int = 0
    routed: int = 0
    label_tasks: int = 0
    audit_tasks: int = 0


@dataclass
class Publish:
    """The run's last transaction (re-runnable: run_write may retry it)."""

    run_id: int
    plan: RunPlan
    model_id: int
    run_uuid: str
    actor_id: int | None
    event: dict
    facts: str

    def publish(self, conn: Connection) -> Dropped:
        stopped = status.stopped_reason(conn)
        if stopped:
            raise status.AutomationStopped(stopped)
        raw = driver_connection(conn)
        dropped = self._leave_out_labelled(raw)
        facts = self.facts
        if dropped.auto:
            facts = self._facts_without(raw)
        set_meta(conn, META_PREFIX + self.run_uuid, facts)
        event = dict(self.event)
        if dropped.auto or dropped.routed:
            event["auto_labelled"] -= dropped.auto
            event["label_tasks"] -= dropped.label_tasks
            event["audit_tasks"] -= dropped.audit_tasks
            event["left_out_labelled_meanwhile"] = dropped.auto + dropped.routed
        audit.record(conn, self.actor_id, "automate", "automation_run", self.run_uuid, after=event)
        runs.publish(raw, self.run_id)
        runs.mark_settling(raw, self.run_id)
        return dropped

    def _leave_out_labelled(self, raw: Any) -> Dropped:
        """Delete the run's hidden rows on items that a person labelled since it began (they
        were all unlabelled then): found from the status index, on the run's id span only."""
        planned = [dp_id for dp_id, _v, _c in self.plan.auto] + list(self.plan.routed)
        if not planned:
            return Dropped()
        span = (min(planned), max(planned))
        changed = [
            row[0]
            for row in raw.execute(
                "SELECT id FROM datapoint INDEXED BY ix_datapoint_status"
                f" WHERE status IN ({_LABELLED}) AND id BETWEEN ? AND ?",
                span,
            )
        ]
        changed = list(dict.fromkeys(changed + runs.unsettled_items(raw, span, self.run_id)))
        if not changed:
            return Dropped()
        auto_ids = {dp_id for dp_id, _v, _c in self.plan.auto}
        routed = set(self.plan.routed)
        hit = json.dumps([dp_id for dp_id in changed if dp_id in auto_ids or dp_id in routed])
        kinds = dict(
            raw.execute(
                "SELECT kind, count(*) FROM task WHERE run_id = ? AND datapoint_id IN"
                " (SELECT value FROM json_each(?)) GROUP BY kind",
                (self.run_id, hit),
            ).fetchall()
        )
        raw.execute(
            "DELETE FROM task WHERE run_id = ?"
            " AND datapoint_id IN (SELECT value FROM json_each(?))",
            (self.run_id, hit),
        )
        labels = (
            "SELECT id FROM annotation WHERE annotator_id = ? AND run_id = ?"
            " AND datapoint_id IN (SELECT value FROM json_each(?))"
        )
        args = (self.model_id, self.run_id, hit)
        raw.execute(f"DELETE FROM annotation_label WHERE annotation_id IN ({labels})", args)
        auto = raw.execute(f"DELETE FROM annotation WHERE id IN ({labels})", args).rowcount
        return Dropped(
            auto=auto,
            routed=sum(1 for dp_id in changed if dp_id in routed),
            label_tasks=int(kinds.get("label", 0)),
            audit_tasks=int(kinds.get(REVIEW, 0)),
        )

    def _facts_without(self, raw: Any) -> str:
        """The run's facts for the auto-labels it kept."""
        kept = {
            row[0]
            for row in raw.execute(
                "SELECT datapoint_id FROM annotation WHERE run_id = ?", (self.run_id,)
            )
        }
        auto = [(dp_id, c) for dp_id, _v, c in self.plan.auto if dp_id in kept]
        return json.dumps(
            {
                "model_version": self.plan.model_version_uuid,
                "ids": [dp_id for dp_id, _c in auto],
                "confidence": [round(c, 4) for _id, c in auto],
            },
            separators=(",", ":"),
        )
