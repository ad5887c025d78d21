"""Audit events: who did what, when, with before and after values; hash-chained.

Every event is a link of a hash chain kept per project *file*: in id order,

    prev_hash = the previous event's hash (GENESIS for the first event)
    hash      = sha256(prev_hash + canonical JSON of
                       [uuid, at, actor uuid, action, entity, entity_uuid, before, after])

where before/after are the JSON texts as stored and the canonical JSON is compact
(separators "," and ":", UTF-8). Altering, removing or reordering an event breaks the chain
at that event, which `verify_chain` names (removing the newest events leaves a shorter,
valid chain: keep the head hash `tagloop audit verify` prints to detect that too).

An event is written with no hash and linked at once inside the writing transaction, after the
INSERT took the write lock (`link_pending`), so the previous hash read is the newest committed
one and two writers cannot fork the chain; a unique index on prev_hash refuses a fork anyway.
Bulk writers (bundle open and merge) insert their rows and call `link_pending` once: events
merged from another machine are appended to this file's chain in merge order, and opening a
bundle builds a new chain for the new file. Chains therefore differ between copies of a
project; the events (by UUID) are the same.

This module stays tied to SQLite: bulk writers hand it their raw sqlite3 connection (`_run`
takes either kind), and `record_tasks` makes event UUIDs in SQL with `randomblob`. Reading an
item's lineage from these events is `app.core.audit.history`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, text

from app.core.ids import new_uuid, now_iso
from app.core.storage import tables as t
from app.core.storage.json_sql import json_object_sql

if TYPE_CHECKING:
    from app.core.project.project import Project

GENESIS = "0" * 64
BATCH = 5000

_EVENTS = (
    "SELECT e.id, e.uuid, e.at, a.uuid, e.action, e.entity, e.entity_uuid, e.before, e.after,"
    " e.prev_hash, e.hash FROM audit_event e LEFT JOIN annotator a ON a.id = e.actor_id"
    " WHERE e.id > :last ORDER BY e.id LIMIT :n"
)


def canonical(
    uuid: str,
    at: str,
    actor_uuid: str | None,
    action: str,
    entity: str,
    entity_uuid: str | None,
    before: str | None,
    after: str | None,
) -> str:
    """The canonical JSON an event's hash covers (before/after as their stored JSON texts)."""
    fields = [uuid, at, actor_uuid, action, entity, entity_uuid, before, after]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def event_hash(prev_hash: str, *fields: Any) -> str:
    """sha256(prev_hash + canonical JSON of the event's fields), as hex."""
    return hashlib.sha256((prev_hash + canonical(*fields)).encode("utf-8")).hexdigest()


def _run(conn: Connection | sqlite3.Connection, sql: str, params: Any = None):
    """Run SQL with :named parameters on a SQLAlchemy or a raw sqlite3 connection."""
    if isinstance(conn, sqlite3.Connection):
        if isinstance(params, list):
            return conn.executemany(sql, params)
        return conn.execute(sql, params or {})
    return conn.execute(text(sql), params or {})


def link_pending(conn: Connection | sqlite3.Connection) -> int:
    """Link the events written since the last linked one into the chain, in id order.

    Call it inside the writing transaction, after the inserts (the write lock is held then).
    Works on a SQLAlchemy connection or on the raw sqlite3 connection of a bulk writer.
    Returns how many events it linked."""
    last = _run(
        conn,
        "SELECT id, hash FROM audit_event WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1",
    ).fetchone()
    last_id, prev = (last[0], last[1]) if last else (0, GENESIS)
    linked = 0
    while True:
        rows = _run(conn, _EVENTS, {"last": last_id, "n": BATCH}).fetchall()
        if not rows:
            return linked
        updates = []
        for row in rows:
            digest = event_hash(prev, *row[1:9])
            updates.append({"id": row[0], "prev": prev, "hash": digest})
            prev, last_id = digest, row[0]
        _run(
            conn,
            "UPDATE audit_event SET prev_hash = :prev, hash = :hash WHERE id = :id",
            updates,
        )
        linked += len(updates)


def record(
    conn: Connection,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_uuid: str | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    """Add an audit event inside the caller's transaction, so it commits with the change, and
    link it into the hash chain (after the INSERT: the write lock is held by then)."""
    conn.execute(
        insert(t.audit_event).values(
            uuid=new_uuid(),
            at=now_iso(),
            actor_id=actor_id,
            action=action,
            entity=entity,
            entity_uuid=entity_uuid,
            before=None if before is None else json.dumps(before, ensure_ascii=False),
            after=None if after is None else json.dumps(after, ensure_ascii=False),
        )
    )
    link_pending(conn)


def record_tasks(
    conn: Connection | sqlite3.Connection,
    actor_id: int | None,
    action: str,
    *,
    after_id: int | None = None,
    task_ids: list[int] | None = None,
) -> None:
    """One audit event per task: those created after task id `after_id` (action "create"),
    or the listed ones (e.g. "cancel"), with the task's state after the change. One INSERT ...
    SELECT, then one chain link, so an assignment of a million tasks stays a bulk write."""
    stamp = now_iso()
    after = json_object_sql(
        {
            "datapoint": "t.datapoint_id",
            "annotator": "a.uuid",
            "kind": "t.kind",
            "status": "t.status",
        }
    )
    select = (
        "SELECT lower(hex(randomblob(16))), :at, :actor, :action, 'task', t.uuid, NULL,"
        f" {after} FROM task t JOIN annotator a ON a.id = t.annotator_id"
    )
    insert_sql = (
        "INSERT INTO audit_event (uuid, at, actor_id, action, entity, entity_uuid, before, after) "
    )
    params = {"at": stamp, "actor": actor_id, "action": action}
    if after_id is not None:
        _run(
            conn,
            insert_sql + select + " WHERE t.id > :after ORDER BY t.id",
            {**params, "after": after_id},
        )
    for start in range(0, len(task_ids or []), 500):
        chunk = (task_ids or [])[start : start + 500]
        marks = ", ".join(f":t{i}" for i in range(len(chunk)))
        _run(
            conn,
            insert_sql + select + f" WHERE t.id IN ({marks}) ORDER BY t.id",
            {**params, **{f"t{i}": task_id for i, task_id in enumerate(chunk)}},
        )
    link_pending(conn)


def last_task_id(conn: Connection | sqlite3.Connection) -> int:
    """The newest task id now: pass it to record_tasks after creating tasks."""
    return _run(conn, "SELECT coalesce(max(id), 0) FROM task").fetchone()[0]


# -- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int  # events checked (up to and including the first bad one)
    first_bad_id: int | None = None
    problem: str | None = None
    head: str | None = None  # the newest event's hash when the chain is intact

    def summary(self) -> str:
        if self.ok:
            return f"OK: {self.checked:,} events, chain intact"
        return f"FAILED: event {self.first_bad_id}: {self.problem}"


def _stream(conn: Connection) -> Iterator[tuple]:
    last = 0
    while True:
        rows = conn.execute(text(_EVENTS), {"last": last, "n": BATCH}).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def verify_chain(project: Project) -> VerifyReport:
    """Walk the audit events in id order, recomputing every link; names the first bad event.

    Streams in batches, so memory stays flat however long the trail is."""
    with project.engine.connect() as conn:
        return verify_connection(conn)


def verify_connection(conn: Connection) -> VerifyReport:
    expected = GENESIS
    checked = 0
    previous_id: int | None = None
    for row in _stream(conn):
        checked += 1
        event_id, prev_hash, stored = row[0], row[9], row[10]
        if stored is None or prev_hash is None:
            return VerifyReport(False, checked, event_id, "it is not linked into the chain")
        if prev_hash != expected:
            if previous_id is None:
                problem = "the chain does not start here: events before it were removed or altered"
            else:
                problem = (
                    f"it does not follow event {previous_id}: an event between them was removed,"
                    " or the events were reordered or rehashed"
                )
            return VerifyReport(False, checked, event_id, problem)
        if event_hash(prev_hash, *row[1:9]) != stored:
            return VerifyReport(
                False,
                checked,
                event_id,
                "its content was altered: it does not match its hash",
            )
        expected, previous_id = stored, event_id
    return VerifyReport(True, checked, head=None if previous_id is None else expected)
