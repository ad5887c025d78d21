"""Changes of many existing annotations (a relabel), worked out before the write lock and
written under it in a few set-based statements (issue 14: no writer holds the lock for more
than about a second).

A select-all over items this annotator had labelled already changes 50,000 visible rows. A
row that everyone sees cannot be changed unseen in chunks (that would take copy-on-write rows,
which the UNIQUE(datapoint_id, annotator_id) index forbids), so the change stays one
transaction; what this module takes out of it is the work that needs no lock. `plan` reads the
annotator's rows in a read snapshot (their states before, for the undo and the audit event,
decoded and dumped there) and groups the changes by the state they set (a bulk label sets one).
Under the lock, `write` first checks that every row is still exactly as read (one fetch of
the raw columns, no decoding): if so, each group is one UPDATE over its ids, its label rows
are changed in place (`UPDATE OR IGNORE` then the leftovers), deletions are one DELETE; if a
save, a merge or an undo changed one of them meanwhile, it returns None and the caller writes
item by item as before (bulk.write_states), reading the states under the lock. Either way the
newest write wins, as before.

A SetAnnotations of PLAN_FROM items or more (a relabel-only select-all is no write run: it has
no new labels) is planned the same way. Measured with bench/lock_holds.py (200k rows, CPU time
of the longest write transaction): a 100k select-all with 50k relabelled 1.27 / 0.98 s -> 0.41
/ 0.41 s; 100k relabelled 2.30 / 2.41 s -> 0.81 / 0.84 s (see its docstring).

Any write that changes a row of an unpublished run takes it out of the run
(bulk.leave_hidden_run); `unchanged` falls back when a row was in one, or is in one now (a
published run hidden again by its undo), so this path never meets such a row.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core.annotation import bulk
from app.core.annotation.states import AnnotationState, audit_json
from app.core.annotation.values import LabelParser
from app.core.storage import runs
from app.core.storage.visibility import snapshot

_COLUMNS = (
    "datapoint_id, id, value, status, time_spent_ms, uuid, origin, updated_at,"
    " schema_version_id, run_id, synced_from"
)
_MINE = f"FROM annotation WHERE annotator_id = ? AND datapoint_id IN {bulk.IDS}"
ROWS = f"SELECT {_COLUMNS} {_MINE}"  # the annotator's rows on the items
# ...as one text made in SQL (no row goes through Python): equal at the lock, nothing changed
# (in the order of the ids given: the plan of a json_each join is a loop over them)
FINGERPRINT = f"SELECT json_group_array(json_array({_COLUMNS})) {_MINE}"
Change = tuple[int, AnnotationState | None]
PLAN_FROM = 1_000  # a SetAnnotations of this many items or more is planned before the lock


@dataclass
class Group:
    """The existing annotations that one change sets to the same state."""

    state: AnnotationState
    ids: list[int] = field(default_factory=list)  # annotation ids


@dataclass
class Plan:
    """One annotator's changes on many items, worked out in a read snapshot."""

    annotator_id: int
    changes: list[Change]  # an item named twice: once, its last state
    rows: dict[int, tuple]  # {datapoint id: raw row} at the snapshot
    fingerprint: str  # the rows as FINGERPRINT gives them
    run_ids: list[int]  # the runs whose rows are among them
    hidden: bool  # some row belonged to an unpublished run: no fast path
    before: dict[int, AnnotationState]  # the visible states at the snapshot
    before_json: str  # `before` as the audit event dumps it
    groups: dict[tuple, Group]
    gone: list[int]  # annotation ids to delete
    inserts: list[Change]  # items with no annotation yet (few: drafts, skips, discards)
    stays_labelled: set[int]  # items whose complete annotation stays complete

    @property
    def ids(self) -> list[int]:
        return [dp_id for dp_id, _state in self.changes]

    def uuids(self, inserted: Sequence[str | None]) -> list[str | None]:
        """The UUIDs written, in the order of `changes` (as bulk.write_states gives them)."""
        new = iter(inserted)
        out: list[str | None] = []
        for dp_id, state in self.changes:
            row = self.rows.get(dp_id)
            out.append(row[5] if row is not None else (None if state is None else next(new)))
        return out


def plan(raw: sqlite3.Connection, annotator_id: int, changes: Sequence[Change]) -> Plan:
    """Read the annotator's rows on the changed items (in a read snapshot, before any lock)
    and group the changes."""
    snapshot(raw)
    unique = list(dict(changes).items())
    ids = [dp_id for dp_id, _state in unique]
    args = (annotator_id, bulk.ids_json(ids))
    rows = {row[0]: row for row in raw.execute(ROWS, args)}
    fingerprint = raw.execute(FINGERPRINT, args).fetchone()[0]
    run_ids = sorted({row[9] for row in rows.values() if row[9] is not None})
    hidden_runs = {row[0] for row in raw.execute(runs.HIDDEN_RUNS)}
    decode = bulk.Decoded()
    before = {
        dp_id: AnnotationState(decode(row[2]), row[3], row[4], row[5], row[6])
        for dp_id, row in rows.items()
    }
    groups: dict[tuple, Group] = {}
    gone: list[int] = []
    inserts: list[Change] = []
    stays: set[int] = set()
    for dp_id, state in unique:
        row = rows.get(dp_id)
        if row is None:
            if state is not None:
                inserts.append((dp_id, state))
            continue
        if state is None:
            gone.append(row[1])
            continue
        key = (_key(state.value), state.status, state.time_spent_ms, state.origin)
        groups.setdefault(key, Group(state)).ids.append(row[1])
        if row[3] == "complete" and state.status == "complete":
            stays.add(dp_id)
    before_json = audit_json(before)
    hidden = bool(hidden_runs.intersection(run_ids))
    return Plan(
        annotator_id,
        unique,
        rows,
        fingerprint,
        run_ids,
        hidden,
        before,
        before_json,
        groups,
        gone,
        inserts,
        stays,
    )


def _key(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def unchanged(raw: sqlite3.Connection, plan: Plan) -> bool:
    """Under the write lock: whether every row of the plan is exactly as it was read, no row
    appeared, and none of them belongs to an unpublished run (now or then)."""
    if plan.hidden:
        return False
    args = (plan.annotator_id, bulk.ids_json(plan.ids))
    if raw.execute(FINGERPRINT, args).fetchone()[0] != plan.fingerprint:
        return False
    if not plan.run_ids:
        return True
    hidden = raw.execute(  # a published run taken back since (an undo) hides its rows again
        f"SELECT count(*) FROM write_run WHERE id IN {bulk.IDS} AND state <> {runs.PUBLISHED}",
        (bulk.ids_json(plan.run_ids),),
    ).fetchone()[0]
    return not hidden


def write(
    raw: sqlite3.Connection,
    plan: Plan,
    task_type: str,
    schema_version_id: int,
    now: str,
    fresh: Sequence[str] = (),
) -> list[str | None] | None:
    """Under the write lock: apply the plan in set-based statements, if its rows are unchanged
    (`unchanged`); the UUIDs written in the order of its changes (as bulk.write_states), or
    None when something changed since the plan and nothing was written."""
    if not unchanged(raw, plan):
        return None
    if plan.gone:  # their label rows go by cascade
        raw.execute(f"DELETE FROM annotation WHERE id IN {bulk.IDS}", (bulk.ids_json(plan.gone),))
    for group in plan.groups.values():
        _update(raw, group, task_type, schema_version_id, now)
    inserted: list[str | None] = []
    if plan.inserts:
        extra = list(fresh[: len(plan.inserts)])
        inserted = bulk.write_states(
            raw, task_type, plan.annotator_id, plan.inserts, schema_version_id, now, extra
        )
    return plan.uuids(inserted)


def _update(
    raw: sqlite3.Connection, group: Group, task_type: str, schema_version_id: int, now: str
) -> None:
    """One UPDATE of the group's annotations, then their label rows changed in place: a row
    whose label the new value does not carry takes the first new label where it can (one index
    entry rewritten instead of a delete and an insert), the rest of those go, and the labels
    still missing are added."""
    state = group.state
    ids = bulk.ids_json(group.ids)
    value = None if state.value is None else json.dumps(state.value, ensure_ascii=False)
    raw.execute(
        "UPDATE annotation SET value = ?, status = ?, schema_version_id = ?, time_spent_ms = ?,"
        f" origin = ?, updated_at = ? WHERE id IN {bulk.IDS}",
        (value, state.status, schema_version_id, state.time_spent_ms, state.origin, now, ids),
    )
    labels = []
    if state.status == "complete":
        labels = list(dict.fromkeys(LabelParser.labels_of(state.value, task_type)))
    marks = ",".join("?" * len(labels))
    other = f" AND label NOT IN ({marks})" if labels else ""
    if labels:
        raw.execute(
            f"UPDATE OR IGNORE annotation_label SET label = ? WHERE annotation_id IN {bulk.IDS}"
            f"{other}",
            (labels[0], ids, *labels),
        )
    raw.execute(
        f"DELETE FROM annotation_label WHERE annotation_id IN {bulk.IDS}{other}", (ids, *labels)
    )
    for label in labels:
        raw.execute(
            "INSERT OR IGNORE INTO annotation_label (annotation_id, label, datapoint_id)"
            f" SELECT id, ?, datapoint_id FROM annotation WHERE id IN {bulk.IDS}",
            (label, ids),
        )
