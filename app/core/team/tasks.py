"""Tasks: the one place that creates and cancels them, and the arithmetic of sharing work out.

A task is one datapoint for one annotator, of a kind (TASK_KINDS). Every workflow that hands out
work (assignment, reassignment, review, spot checks, adjudication, gold, qualification) creates
its tasks through `create_tasks`, so that each created task is one audit event, written in bulk
(app.core.audit.chain.record_tasks), and a cancelled one is too (`cancel_tasks`). The two that
can make a million (assignment, adjudication) write a run instead (app.core.team.runtasks):
UUIDs of a prefix and a counter, and one event naming them.

Tied to SQLite: the tasks are written with `executemany` on the raw driver connection
(app.core.storage.sqlite.driver_connection), so that an assignment of a million tasks streams
from a generator instead of building a list of parameter dicts.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, text

from app.core import audit
from app.core.ids import new_uuid, now_iso
from app.core.storage import runs
from app.core.storage.sqlite import driver_connection

LABEL = "label"
REVIEW = "review"
ADJUDICATE = "adjudicate"
GOLD = "gold"
QUALIFICATION = "qualification"
TASK_KINDS = (LABEL, REVIEW, ADJUDICATE, GOLD, QUALIFICATION)

NewTask = tuple[int, int, str, str]
"""A task to create: (datapoint id, annotator id, kind, created_at). Its status is 'todo'."""

TaskRow = tuple[str, int, int, str, str, str]
"""A task as stored: (uuid, datapoint id, annotator id, kind, status, created_at)."""

_INSERT = (
    "INSERT INTO task (uuid, datapoint_id, annotator_id, kind, status, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def create_tasks(
    conn: Connection,
    tasks: Iterable[NewTask],
    actor_id: int | None,
    *,
    uuid_prefix: str | None = None,
) -> int:
    """Create these tasks (each with a new UUID) inside the caller's transaction, and one audit
    event per task created (action "create"); returns how many. An empty sequence writes
    nothing; a generator is streamed.

    With `uuid_prefix` (20 hex digits), the tasks' UUIDs are that prefix and a 12-digit hex
    counter from 0, and no per-task event is written: the caller records ONE event naming the
    prefix and the count (an automation run routing a million items does)."""
    if isinstance(tasks, Sequence) and not tasks:
        return 0
    raw = driver_connection(conn)
    count = 0

    def rows() -> Iterator[TaskRow]:
        nonlocal count
        for dp_id, annotator_id, kind, created_at in tasks:
            uid = new_uuid() if uuid_prefix is None else f"{uuid_prefix}{count:012x}"
            count += 1
            yield (uid, dp_id, annotator_id, kind, "todo", created_at)

    before = audit.last_task_id(raw)
    insert_task_rows(raw, rows())
    if uuid_prefix is None:
        audit.record_tasks(raw, actor_id, "create", after_id=before)
    return count


def insert_task_rows(raw: sqlite3.Connection, rows: Iterable[TaskRow]) -> None:
    """Write tasks as they are, UUID and status included, inside the caller's transaction.

    `create_tasks` writes new tasks through here; bundle open and merge write the tasks a
    bundle carries, whose audit events travel with them (so none is recorded here)."""
    raw.executemany(_INSERT, rows)


def cancel_tasks(conn: Connection, task_ids: Sequence[int], actor_id: int | None) -> None:
    """Close these tasks (status cancelled: the record of who had them stays) inside the
    caller's transaction, with one audit event per task (action "cancel")."""
    raw = driver_connection(conn)
    raw.executemany(
        "UPDATE task SET status = 'cancelled' WHERE id = ?", ((task_id,) for task_id in task_ids)
    )
    audit.record_tasks(raw, actor_id, "cancel", task_ids=list(task_ids))


def create_missing_tasks(
    conn: Connection,
    annotator_id: int,
    kind: str,
    datapoint_ids: Iterable[int],
    actor_id: int | None,
    *,
    anyones: bool = False,
) -> int:
    """A task of this kind for the annotator on each of these datapoints (once, in order) that
    has no such task yet that is not cancelled: the annotator's own, or with anyones=True
    anybody's (one adjudicator per item is enough). Inside the caller's transaction, through
    `create_tasks`; returns how many were created."""
    have = tasked_datapoints(conn, kind, None if anyones else annotator_id)
    created = now_iso()
    wanted = [dp for dp in dict.fromkeys(datapoint_ids) if dp not in have]
    return create_tasks(conn, [(dp, annotator_id, kind, created) for dp in wanted], actor_id)


def record_assignment(conn: Connection, actor_id: int | None, what: dict[str, Any]) -> None:
    """The one audit event (action "assign" on entity "task") that a workflow writes for a
    batch of tasks it hands out, saying how (kind, to whom, how many): each task has its own
    "create" event besides (see `create_tasks`), or, for a run, `what` names the tasks' UUID
    prefix (app.core.team.runtasks)."""
    audit.record(conn, actor_id, "assign", "task", None, after=what)


def tasked_datapoints(conn: Connection, kind: str, annotator_id: int | None = None) -> set[int]:
    """The datapoints that have a task of this kind that is not cancelled (anyone's, or this
    annotator's)."""
    shown = runs.and_visible(runs.task_where(conn, "task"))  # not an unpublished run's
    sql = f"SELECT datapoint_id FROM task WHERE kind = :kind AND status != 'cancelled'{shown}"
    params: dict[str, object] = {"kind": kind}
    if annotator_id is not None:
        sql += " AND annotator_id = :who"
        params["who"] = annotator_id
    return {row[0] for row in conn.execute(text(sql), params)}


def round_half_up(x: float) -> int:
    """x rounded to the nearest integer, halves up (Python's round() rounds halves to even):
    the rule every "fraction of the items" in task generation follows."""
    return math.floor(x + 0.5 + 1e-9)


def largest_remainder(total: int, weights: list[int], caps: list[int] | None = None) -> list[int]:
    """Integers summing to `total` (as far as the caps allow), proportional to `weights`
    (largest remainder method), each at most its cap (by default its weight): how a stratified
    sample shares its items among strata."""
    caps = caps or weights
    whole = sum(weights)
    if whole == 0 or total == 0:
        return [0] * len(weights)
    quotas = [total * w / whole for w in weights]
    shares = [min(math.floor(q), c) for q, c in zip(quotas, caps, strict=True)]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - math.floor(quotas[i])), i))
    left = total - sum(shares)
    while left > 0:
        progressed = False
        for i in order:
            if left and shares[i] < caps[i]:
                shares[i] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return shares
