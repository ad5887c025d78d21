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
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, text

from app.core.ids import new_uuid, now_iso
from app.core.storage import tables as t

if TYPE_CHECKING:
    from app.core.project.project import Project

GENESIS = "0" * 64
_ORIGINS = {"imported": "imported with the dataset", "suggestion": "accepted model suggestion"}
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
    select = (
        "SELECT lower(hex(randomblob(16))), :at, :actor, :action, 'task', t.uuid, NULL,"
        " json_object('datapoint', t.datapoint_id, 'annotator', a.uuid, 'kind', t.kind,"
        " 'status', t.status) FROM task t JOIN annotator a ON a.id = t.annotator_id"
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


# -- an item's history -------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One step of a datapoint's lineage."""

    at: str
    actor: str | None  # the annotator's name
    actor_uuid: str | None
    what: str  # label, change, remove, reopen, review, correction, adjudication, flag, ...
    before: Any
    after: Any
    schema_version: int | None  # the label schema version (number) it was made under
    source: str  # the table it comes from
    ref: str | None  # that row's UUID
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_value(value: Any) -> str:
    """A value as a person reads it: labels, spans as label "text"[start:end], or a dash."""
    if value is None:
        return "—"
    if (
        isinstance(value, dict)
        and "value" in value
        and set(value)
        <= {
            "value",
            "status",
            "origin",
        }
    ):
        shown = format_value(value["value"])
        status = value.get("status")
        return shown if status in (None, "complete") else f"{shown} ({status})"
    if isinstance(value, list):
        if not value:
            return "(none)"
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict) and {"start", "end", "label"} <= set(value):
        return f"{value['label']}[{value['start']}:{value['end']}]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {format_value(v)}" for k, v in value.items() if v is not None)
    return str(value)


def _loads(raw: str | None) -> Any:
    return None if raw is None else json.loads(raw)


def item_history(project: Project, datapoint_id: int) -> list[HistoryEntry]:
    """A datapoint's lineage, oldest first: who labeled it and when, each change with its
    before and after, review decisions and corrections, adjudications, flags and comments, and
    the label schema version each annotation was made under.

    Merges the annotation, annotation_history, review_decision, adjudication and audit_event
    rows about the item (annotation audit events list their datapoints by id)."""
    with project.engine.connect() as conn:
        return _item_history(conn, datapoint_id)


def _item_history(conn: Connection, dp: int) -> list[HistoryEntry]:
    names = {r[0]: (r[1], r[2]) for r in conn.execute(text("SELECT id, name, uuid FROM annotator"))}
    schemas = conn.execute(
        text("SELECT id, version, created_at FROM schema_version ORDER BY created_at, version")
    ).all()
    version_of = {r[0]: r[1] for r in schemas}

    def who(actor_id: int | None) -> tuple[str | None, str | None]:
        return names.get(actor_id, (None, None))

    def version_at(at: str) -> int | None:
        current = None
        for _id, version, created in schemas:
            if created <= at:
                current = version
        return current

    entries: list[tuple[str, int, HistoryEntry]] = []

    def add(order: int, entry: HistoryEntry) -> None:
        entries.append((entry.at, order, entry))

    annotations = conn.execute(
        text(
            "SELECT uuid, annotator_id, value, status, origin, schema_version_id, created_at,"
            " updated_at, synced_from FROM annotation WHERE datapoint_id = :dp"
        ),
        {"dp": dp},
    ).all()
    history = conn.execute(
        text(
            "SELECT uuid, annotation_uuid, annotator_id, value, status, origin,"
            " schema_version_id, updated_at, reason FROM annotation_history"
            " WHERE datapoint_id = :dp"
        ),
        {"dp": dp},
    ).all()
    reviews = conn.execute(
        text(
            "SELECT uuid, annotation_uuid, reviewer_id, decision, reason, correction_uuid,"
            " created_at FROM review_decision WHERE datapoint_id = :dp"
        ),
        {"dp": dp},
    ).all()
    adjudications = conn.execute(
        text(
            "SELECT uuid, value, decided_by, decided_at FROM adjudication WHERE datapoint_id = :dp"
        ),
        {"dp": dp},
    ).all()
    notes = {
        r[0]: r[1]
        for r in conn.execute(
            text(
                "SELECT uuid, 'flag' FROM flag WHERE datapoint_id = :dp"
                " UNION ALL SELECT uuid, 'comment' FROM comment WHERE datapoint_id = :dp"
            ),
            {"dp": dp},
        )
    }
    comment_bodies = {
        r[0]: r[1]
        for r in conn.execute(
            text("SELECT uuid, body FROM comment WHERE datapoint_id = :dp"), {"dp": dp}
        )
    }
    authors = {r[0]: r[1] for r in annotations} | {r[1]: r[2] for r in history}
    annotation_uuids = set(authors)
    table_uuids = {r[0] for r in reviews} | {r[0] for r in adjudications}

    key = f'$."{dp}"'
    events = conn.execute(
        text(
            "SELECT id, at, actor_id, action, entity, entity_uuid, before, after FROM audit_event"
            " WHERE (entity = 'annotation' AND (json_type(after, :key) IS NOT NULL"
            " OR json_type(before, :key) IS NOT NULL))"
            " OR entity_uuid IN (SELECT value FROM json_each(:uuids))"
            " OR (entity IN ('flag', 'comment') AND json_valid(after)"
            " AND json_extract(after, '$.datapoint') = :dp)"
            " ORDER BY id"
        ),
        {"key": key, "dp": dp, "uuids": json.dumps(sorted(annotation_uuids | set(notes)))},
    ).all()

    audited_annotators: set[int | None] = set()
    last_annotation_entry: dict[int | None, int] = {}
    for event_id, at, actor_id, action, entity, entity_uuid, before_raw, after_raw in events:
        name, actor_uuid = who(actor_id)
        before, after = _loads(before_raw), _loads(after_raw)
        if entity_uuid in table_uuids:
            continue  # the review_decision or adjudication row tells it, below
        if entity == "annotation":
            if action == "reopen":
                what, b, a = "reopen", before, None
            elif isinstance(after, dict) and str(dp) in after:
                b = before.get(str(dp)) if isinstance(before, dict) else None
                a = after.get(str(dp))
                what = "label" if b is None else ("remove" if a is None else "change")
                if action == "correct":
                    what = "correction"
            else:
                continue
            audited_annotators.add(actor_id)
            add(
                event_id,
                HistoryEntry(
                    at,
                    name,
                    actor_uuid,
                    what,
                    b,
                    a,
                    version_at(at),
                    "audit_event",
                    entity_uuid,
                    "" if action in ("annotate", "correct", "reopen") else action,
                ),
            )
            if action != "reopen":
                last_annotation_entry[actor_id] = len(entries) - 1
        elif entity in ("flag", "comment"):
            detail = after if isinstance(after, dict) else {}
            value = detail.get("reason") or detail.get("body") or comment_bodies.get(entity_uuid)
            removing = action in ("unflag", "uncomment")
            add(
                event_id,
                HistoryEntry(
                    at,
                    name,
                    actor_uuid,
                    action,
                    value if removing else None,
                    None if removing else value,
                    version_at(at),
                    "audit_event",
                    entity_uuid,
                ),
            )
        else:
            add(
                event_id,
                HistoryEntry(
                    at,
                    name,
                    actor_uuid,
                    action,
                    before,
                    after,
                    version_at(at),
                    "audit_event",
                    entity_uuid,
                ),
            )

    order = 1 << 40  # rows from the tables sort after audit events of the same instant
    for (
        uid,
        annotator_id,
        value,
        status,
        origin,
        schema_id,
        created,
        _updated,
        synced,
    ) in annotations:
        name, actor_uuid = who(annotator_id)
        current = {"value": _loads(value), "status": status, "origin": origin}
        version = version_of.get(schema_id)
        if annotator_id in audited_annotators:
            index = last_annotation_entry.get(annotator_id)
            if index is not None:  # the newest audited change is the current value
                at, o, entry = entries[index]
                if entry.after is not None:
                    entries[index] = (at, o, _with_version(entry, version))
            continue
        source = "arrived by a bundle merge" if synced else _ORIGINS.get(origin, origin)
        order += 1
        add(
            order,
            HistoryEntry(
                created,
                name,
                actor_uuid,
                "label",
                None,
                current,
                version,
                "annotation",
                uid,
                "" if source == "human" else source,
            ),
        )
    for uid, _ann, annotator_id, value, status, origin, schema_id, updated, reason in history:
        name, actor_uuid = who(annotator_id)
        order += 1
        add(
            order,
            HistoryEntry(
                updated,
                name,
                actor_uuid,
                "earlier version",
                None,
                {"value": _loads(value), "status": status, "origin": origin},
                version_of.get(schema_id),
                "annotation_history",
                uid,
                f"kept by a bundle merge ({reason})",
            ),
        )
    for uid, ann_uuid, reviewer_id, decision, reason, correction, created in reviews:
        name, actor_uuid = who(reviewer_id)
        author = names.get(authors.get(ann_uuid), (None, None))[0]
        note = f"of {author}'s annotation" if author else f"of annotation {ann_uuid[:8]}"
        if reason:
            note += f"; reason: {reason}"
        if correction:
            note += "; with a correction"
        order += 1
        add(
            order,
            HistoryEntry(
                created,
                name,
                actor_uuid,
                "review",
                None,
                decision,
                version_at(created),
                "review_decision",
                uid,
                note,
            ),
        )
    previous = None
    for uid, value, decided_by, decided_at in sorted(adjudications, key=lambda r: (r[3], r[0])):
        name, actor_uuid = who(decided_by)
        decided = _loads(value)
        order += 1
        add(
            order,
            HistoryEntry(
                decided_at,
                name,
                actor_uuid,
                "adjudication",
                previous,
                decided,
                version_at(decided_at),
                "adjudication",
                uid,
                "final value",
            ),
        )
        previous = decided
    entries.sort(key=lambda e: (e[0], e[1]))
    return [entry for _at, _order, entry in entries]


def _with_version(entry: HistoryEntry, version: int | None) -> HistoryEntry:
    data = entry.as_dict()
    data["schema_version"] = version
    return HistoryEntry(**data)
