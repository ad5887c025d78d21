"""SQL over JSON columns, in SQLite's dialect (json_each, json_extract, json_type, json_object).

Annotation values and audit before/after are JSON texts. Querying inside them needs each
database's own JSON functions, so the queries and fragments that do live here, in storage:
the report and the audit trail call these functions and spell no dialect of their own. A
PostgreSQL back end would give this module a jsonb twin.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Row, text

from app.core.storage.runs import annotation_visible

_CLASSIFICATION_LABELS = (
    "SELECT a.annotator_id, json_extract(a.value, '$') AS label, count(*)"
    " FROM annotation a WHERE a.status = 'complete' AND json_valid(a.value)"
    f" AND json_type(a.value) = 'text' AND {annotation_visible('a')}"
    " GROUP BY a.annotator_id, label"
)
_LIST_LABELS = (
    "SELECT a.annotator_id, {pick} AS label, count(*)"
    " FROM annotation a, json_each(a.value) j"
    " WHERE a.status = 'complete' AND json_valid(a.value) AND json_type(a.value) = 'array'"
    f" AND {annotation_visible('a')} GROUP BY a.annotator_id, label"
)


def complete_label_counts(conn: Connection, task_type: str) -> Iterable[Row]:
    """(annotator id, label, count) over complete annotations: one label per classification,
    each label of a multilabel answer, each span's label. A malformed value yields a label
    that is not a string, which the caller skips."""
    if task_type == "classification":
        sql = _CLASSIFICATION_LABELS
    else:
        pick = "j.value" if task_type == "multilabel" else "json_extract(j.value, '$.label')"
        sql = _LIST_LABELS.format(pick=pick)
    return conn.execute(text(sql))


_ITEM_EVENTS = (
    "SELECT id, at, actor_id, action, entity, entity_uuid, before, after FROM audit_event"
    " WHERE (entity = 'annotation' AND (json_type(after, :key) IS NOT NULL"
    " OR json_type(before, :key) IS NOT NULL))"
    " OR entity_uuid IN (SELECT value FROM json_each(:uuids))"
    " OR (entity IN ('flag', 'comment') AND json_valid(after)"
    " AND json_extract(after, '$.datapoint') = :dp)"
    " ORDER BY id"
)


def item_audit_events(conn: Connection, datapoint_id: int, uuids: Sequence[str]) -> list[Row]:
    """The audit events about one datapoint, in id order: annotation events whose before or
    after names it (they are keyed by datapoint id), events on one of `uuids` (its
    annotations, flags and comments), and flag or comment events whose after names it."""
    params = {
        "key": f'$."{datapoint_id}"',
        "dp": datapoint_id,
        "uuids": json.dumps(sorted(uuids)),
    }
    return list(conn.execute(text(_ITEM_EVENTS), params).all())


def json_object_sql(pairs: dict[str, str]) -> str:
    """A fragment that builds a JSON object from SQL expressions: {key: expression}."""
    return "json_object(" + ", ".join(f"'{key}', {expr}" for key, expr in pairs.items()) + ")"
