"""An item's history: a datapoint's lineage, oldest first, told from the audit trail and the
rows about it.

Split out of `app.core.audit.chain` (which records and verifies the hash-chained events) because
reading a lineage is a different job: it merges the audit events about the item with its
annotation, annotation_history, review_decision and adjudication rows, one kind of event per
step below. Annotation audit events list their datapoints by id; the JSON query that finds
them is `app.core.storage.json_sql.item_audit_events`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, text

from app.core.storage import runs
from app.core.storage.json_sql import item_audit_events

if TYPE_CHECKING:
    from app.core.project.project import Project

_ORIGINS = {
    "imported": "imported with the dataset",
    "suggestion": "accepted model suggestion",
    "model": "auto-label by the model",
}
_TABLE_ORDER = 1 << 40
"""Rows from the tables sort after audit events of the same instant."""


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


def item_history(project: Project, datapoint_id: int) -> list[HistoryEntry]:
    """A datapoint's lineage, oldest first: who labeled it and when, each change with its
    before and after, review decisions and corrections, adjudications, flags and comments, and
    the label schema version each annotation was made under.

    Merges the annotation, annotation_history, review_decision, adjudication and audit_event
    rows about the item (annotation audit events list their datapoints by id)."""
    with project.engine.connect() as conn:
        return _item_history(conn, datapoint_id)


def _loads(raw: str | None) -> Any:
    return None if raw is None else json.loads(raw)


# -- what is known of the item ---------------------------------------------------------------


@dataclass
class _Lineage:
    """The item's rows, the lookups every step needs, and the entries told so far."""

    dp: int
    names: dict[int, tuple[str, str]]  # annotator id -> (name, uuid)
    schemas: list[Row]  # (id, version, created_at), oldest first
    annotations: list[Row]
    history: list[Row]
    reviews: list[Row]
    adjudications: list[Row]
    notes: dict[str, str]  # flag or comment uuid -> "flag" / "comment"
    comment_bodies: dict[str, str]
    entries: list[tuple[str, int, HistoryEntry]] = field(default_factory=list)
    order: int = _TABLE_ORDER
    audited_annotators: set[int | None] = field(default_factory=set)
    last_annotation_entry: dict[int | None, int] = field(default_factory=dict)

    def who(self, actor_id: int | None) -> tuple[str | None, str | None]:
        return self.names.get(actor_id, (None, None))  # type: ignore[arg-type]

    def version_of(self, schema_id: int | None) -> int | None:
        return next((version for id_, version, _at in self.schemas if id_ == schema_id), None)

    def version_at(self, at: str) -> int | None:
        """The label schema version in force at that time."""
        current = None
        for _id, version, created in self.schemas:
            if created <= at:
                current = version
        return current

    def authors(self) -> dict[str, int]:
        """Annotation uuid -> its annotator id, current and earlier versions."""
        return {r[0]: r[1] for r in self.annotations} | {r[1]: r[2] for r in self.history}

    def add(self, order: int, entry: HistoryEntry) -> None:
        self.entries.append((entry.at, order, entry))

    def add_row(self, entry: HistoryEntry) -> None:
        """An entry from a table row: after the audit events of the same instant."""
        self.order += 1
        self.add(self.order, entry)


def _rows(conn: Connection, sql: str, dp: int) -> list[Row]:
    return list(conn.execute(text(sql), {"dp": dp}).all())


def _load(conn: Connection, dp: int) -> _Lineage:
    comments = _rows(conn, "SELECT uuid, body FROM comment WHERE datapoint_id = :dp", dp)
    return _Lineage(
        dp=dp,
        names={
            r[0]: (r[1], r[2]) for r in conn.execute(text("SELECT id, name, uuid FROM annotator"))
        },
        schemas=list(
            conn.execute(
                text(
                    "SELECT id, version, created_at FROM schema_version"
                    " ORDER BY created_at, version"
                )
            ).all()
        ),
        annotations=_rows(
            conn,
            "SELECT uuid, annotator_id, value, status, origin, schema_version_id, created_at,"
            " updated_at, synced_from FROM annotation WHERE datapoint_id = :dp"
            f" AND {runs.annotation_visible('annotation')}",  # not an unpublished run's
            dp,
        ),
        history=_rows(
            conn,
            "SELECT uuid, annotation_uuid, annotator_id, value, status, origin,"
            " schema_version_id, updated_at, reason FROM annotation_history"
            " WHERE datapoint_id = :dp",
            dp,
        ),
        reviews=_rows(
            conn,
            "SELECT uuid, annotation_uuid, reviewer_id, decision, reason, correction_uuid,"
            " created_at FROM review_decision WHERE datapoint_id = :dp",
            dp,
        ),
        adjudications=_rows(
            conn,
            "SELECT uuid, value, decided_by, decided_at FROM adjudication WHERE datapoint_id = :dp",
            dp,
        ),
        notes={
            r[0]: r[1]
            for r in _rows(
                conn,
                "SELECT uuid, 'flag' FROM flag WHERE datapoint_id = :dp"
                " UNION ALL SELECT uuid, 'comment' FROM comment WHERE datapoint_id = :dp",
                dp,
            )
        },
        comment_bodies={r[0]: r[1] for r in comments},
    )


def _item_history(conn: Connection, dp: int) -> list[HistoryEntry]:
    item = _load(conn, dp)
    events = item_audit_events(conn, dp, set(item.authors()) | set(item.notes))
    _tell_audit_events(item, events)
    _tell_annotations(item)
    _tell_earlier_versions(item)
    _tell_reviews(item)
    _tell_adjudications(item)
    _name_automation_runs(conn, item)
    item.entries.sort(key=lambda e: (e[0], e[1]))
    return [entry for _at, _order, entry in item.entries]


def _name_automation_runs(conn: Connection, item: _Lineage) -> None:
    """An auto-label's entry names the automation run that made it (issue 12): the run's audit
    event records the instant its labels carry (after.labelled_at)."""
    made = {r[6] for r in item.annotations if r[4] == "model"}
    if not made:
        return
    runs: dict[str, str] = {}
    for uid, after in conn.execute(
        text("SELECT entity_uuid, after FROM audit_event WHERE action = 'automate'")
    ):
        found = _loads(after) or {}
        if found.get("labelled_at") in made:
            runs[found["labelled_at"]] = (
                f"automation run {uid} (model version {found.get('model_version')},"
                f" threshold {found.get('threshold')}, target precision {found.get('target')})"
            )
    for index, (at, order, entry) in enumerate(item.entries):
        if entry.source == "annotation" and entry.at in runs:
            note = f"{entry.note}: {runs[entry.at]}" if entry.note else runs[entry.at]
            item.entries[index] = (at, order, replace(entry, note=note))


# -- one step per kind of event --------------------------------------------------------------


def _tell_audit_events(item: _Lineage, events: list[Row]) -> None:
    """The audit events: annotation changes, flags and comments, and any other action."""
    table_uuids = {r[0] for r in item.reviews} | {r[0] for r in item.adjudications}
    for event_id, at, actor_id, action, entity, entity_uuid, before_raw, after_raw in events:
        if entity_uuid in table_uuids:
            continue  # the review_decision or adjudication row tells it, below
        name, actor_uuid = item.who(actor_id)
        before, after = _loads(before_raw), _loads(after_raw)
        version = item.version_at(at)
        if entity == "annotation":
            entry = _annotation_event(item.dp, action, before, after)
            if entry is None:
                continue
            what, b, a, note = entry
            item.audited_annotators.add(actor_id)
            item.add(
                event_id,
                HistoryEntry(
                    at, name, actor_uuid, what, b, a, version, "audit_event", entity_uuid, note
                ),
            )
            if action != "reopen":
                item.last_annotation_entry[actor_id] = len(item.entries) - 1
        elif entity in ("flag", "comment"):
            detail = after if isinstance(after, dict) else {}
            value = (
                detail.get("reason") or detail.get("body") or item.comment_bodies.get(entity_uuid)
            )
            removing = action in ("unflag", "uncomment")
            item.add(
                event_id,
                HistoryEntry(
                    at,
                    name,
                    actor_uuid,
                    action,
                    value if removing else None,
                    None if removing else value,
                    version,
                    "audit_event",
                    entity_uuid,
                ),
            )
        else:
            item.add(
                event_id,
                HistoryEntry(
                    at, name, actor_uuid, action, before, after, version, "audit_event", entity_uuid
                ),
            )


def _annotation_event(
    dp: int, action: str, before: Any, after: Any
) -> tuple[str, Any, Any, str] | None:
    """What an annotation audit event did to this item: (what, before, after, note), or None
    when it is not about the item's value."""
    if action == "reopen":
        what, b, a = "reopen", before, None
    elif isinstance(after, dict) and str(dp) in after:
        b = before.get(str(dp)) if isinstance(before, dict) else None
        a = after.get(str(dp))
        what = "label" if b is None else ("remove" if a is None else "change")
        if action == "correct":
            what = "correction"
    else:
        return None
    return what, b, a, "" if action in ("annotate", "correct", "reopen") else action


def _tell_annotations(item: _Lineage) -> None:
    """The present annotations: where the audit trail told the annotator's changes, its newest
    entry gets the annotation's schema version; otherwise the annotation is told as a label
    (imported, merged from a bundle, or made before the trail)."""
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
    ) in item.annotations:
        version = item.version_of(schema_id)
        if annotator_id in item.audited_annotators:
            index = item.last_annotation_entry.get(annotator_id)
            if index is not None:  # the newest audited change is the current value
                at, o, entry = item.entries[index]
                if entry.after is not None:
                    item.entries[index] = (at, o, replace(entry, schema_version=version))
            continue
        name, actor_uuid = item.who(annotator_id)
        current = {"value": _loads(value), "status": status, "origin": origin}
        source = "arrived by a bundle merge" if synced else _ORIGINS.get(origin, origin)
        item.add_row(
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
            )
        )


def _tell_earlier_versions(item: _Lineage) -> None:
    """Versions a bundle merge kept in annotation_history."""
    for uid, _ann, annotator_id, value, status, origin, schema_id, updated, reason in item.history:
        name, actor_uuid = item.who(annotator_id)
        item.add_row(
            HistoryEntry(
                updated,
                name,
                actor_uuid,
                "earlier version",
                None,
                {"value": _loads(value), "status": status, "origin": origin},
                item.version_of(schema_id),
                "annotation_history",
                uid,
                f"kept by a bundle merge ({reason})",
            )
        )


def _tell_reviews(item: _Lineage) -> None:
    """Review decisions, naming whose annotation they were about."""
    authors = item.authors()
    for uid, ann_uuid, reviewer_id, decision, reason, correction, created in item.reviews:
        name, actor_uuid = item.who(reviewer_id)
        author = item.who(authors.get(ann_uuid))[0]
        note = f"of {author}'s annotation" if author else f"of annotation {ann_uuid[:8]}"
        if reason:
            note += f"; reason: {reason}"
        if correction:
            note += "; with a correction"
        item.add_row(
            HistoryEntry(
                created,
                name,
                actor_uuid,
                "review",
                None,
                decision,
                item.version_at(created),
                "review_decision",
                uid,
                note,
            )
        )


def _tell_adjudications(item: _Lineage) -> None:
    """Adjudications in time order, each with the value it replaced."""
    previous = None
    for uid, value, decided_by, decided_at in sorted(
        item.adjudications, key=lambda r: (r[3], r[0])
    ):
        name, actor_uuid = item.who(decided_by)
        decided = _loads(value)
        item.add_row(
            HistoryEntry(
                decided_at,
                name,
                actor_uuid,
                "adjudication",
                previous,
                decided,
                item.version_at(decided_at),
                "adjudication",
                uid,
                "final value",
            )
        )
        previous = decided
