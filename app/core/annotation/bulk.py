"""Set-based writes of one annotator's annotations on many datapoints (a bulk label in the grid).

`SetAnnotations` (app.core.annotation.commands) once wrote each item with three SQLAlchemy
statements: 10k items held the write lock for about 5 s, nearly all of it Python building
statements. Here every step is one statement over all the items, or one `executemany` on
the raw driver: the ids travel as one JSON array (`json_each`), which also lifts SQLite's
limit on bound parameters (a select-all of 100k items). The rows written, their UUIDs, the
label index and the derived statuses are the same as item by item.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from app.core.annotation.values import LabelParser
from app.core.errors import ProjectError
from app.core.ids import new_uuid
from app.core.storage import runs
from app.core.storage.tables import STATUS_NAMES

IDS = "(SELECT value FROM json_each(?))"  # the datapoint ids, bound as one JSON array

# A datapoint is labeled if anyone completed it, else discarded, else skipped, else unlabeled;
# an unpublished run's annotations (app.core.storage.runs) do not count yet.
DERIVE = runs.derive_status_sql("{ids}")


def leave_hidden_run(column: str = "run_id", keep: int | None = None) -> str:
    """SQL, an UPDATE's assignment: an annotation row of an unpublished run (but run `keep`)
    leaves the run. Every write that changes an existing row does it in the same transaction:
    the row now holds that write's value, which must show at once and outlive the run's
    cancel, or its kill and the sweep on the next open (app.core.storage.runs)."""
    kept = f" AND {column} <> {int(keep)}" if keep is not None else ""
    return f"run_id = CASE WHEN {column} IN ({runs.HIDDEN_RUNS}){kept} THEN NULL ELSE {column} END"


def ids_json(ids: Sequence[int]) -> str:
    return json.dumps(list(ids))


def statuses(raw: sqlite3.Connection, ids: Sequence[int]) -> dict[int, str]:
    """The datapoints' status names (absent ids are left out)."""
    rows = raw.execute(f"SELECT id, status FROM datapoint WHERE id IN {IDS}", (ids_json(ids),))
    return {dp_id: STATUS_NAMES[status] for dp_id, status in rows}


def check_exist(ids: Sequence[int], found: dict[int, str]) -> None:
    """Refuse a change of a datapoint that is gone (`found`: `statuses` of those that exist)."""
    missing = sorted(set(ids) - found.keys())
    if missing:
        raise ProjectError(f"datapoint {missing[0]} no longer exists")


def derive_statuses(raw: sqlite3.Connection, ids: Sequence[int]) -> None:
    """Derive the datapoints' stored status from their annotations."""
    raw.execute(DERIVE.format(ids=IDS), (ids_json(ids),))


def existing(raw: sqlite3.Connection, annotator_id: int, ids: Sequence[int]) -> dict[int, tuple]:
    """{datapoint id: (annotation id, uuid)} of the annotator's annotations on these items."""
    rows = raw.execute(
        f"SELECT datapoint_id, id, uuid FROM annotation WHERE annotator_id = ?"
        f" AND datapoint_id IN {IDS}",
        (annotator_id, ids_json(ids)),
    )
    return {dp_id: (annotation_id, uuid) for dp_id, annotation_id, uuid in rows}


def write_states(
    raw: sqlite3.Connection,
    task_type: str,
    annotator_id: int,
    changes: Sequence[tuple[int, Any]],
    schema_version_id: int,
    now: str,
    fresh: Sequence[str] = (),
) -> list[str | None]:
    """Write each (datapoint id, AnnotationState or None) of one annotator: insert, update or
    (None) delete, with the label index of complete ones, stamped `now`; the UUIDs written,
    in order (of a removed annotation its old UUID, None where there was nothing to remove)."""
    if len({dp_id for dp_id, _state in changes}) < len(changes):
        changes = list(dict(changes).items())  # an item named twice: its last state wins
    found = existing(raw, annotator_id, [dp_id for dp_id, _state in changes])
    gone: list[tuple[int]] = []
    updates: list[tuple] = []
    inserts: list[tuple] = []
    labelled: list[tuple[int, int, Any]] = []  # (annotation id or -k-1 for insert k, dp, value)
    uuids: list[str | None] = []
    dumped: dict[str, str] = {}  # a bulk label sets one value on every item: dumped once
    for dp_id, state in changes:
        known = found.get(dp_id)
        if state is None:
            if known is not None:
                gone.append((known[0],))
            uuids.append(known[1] if known is not None else None)
            continue
        value = _as_json(state.value, dumped)
        fields = (value, state.status, schema_version_id, state.time_spent_ms, state.origin)
        if known is None:
            uuid = state.uuid or (fresh[len(uuids)] if fresh else new_uuid())
            inserts.append((uuid, dp_id, annotator_id, *fields, now, now))
            key = -len(inserts)
        else:
            uuid, key = known[1], known[0]
            updates.append((*fields, now, key))
        if state.status == "complete":
            labelled.append((key, dp_id, state.value))
        uuids.append(uuid)
    first = _apply(raw, gone, updates, inserts)
    raw.executemany(
        "INSERT OR IGNORE INTO annotation_label (annotation_id, label, datapoint_id)"
        " VALUES (?, ?, ?)",
        (
            (first - key - 1 if key < 0 else key, label, dp_id)
            for key, dp_id, value in labelled
            for label in LabelParser.labels_of(value, task_type)
        ),
    )
    return uuids


class Decoded:
    """json.loads of annotation values, decoding each distinct text once when it is a plain
    label (a string, immutable: safe to share); lists and spans are decoded every time."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}

    def __call__(self, text: str | None) -> Any:
        if text is None:
            return None
        found = self._labels.get(text)
        if found is not None:
            return found
        value = json.loads(text)
        if isinstance(value, str):
            self._labels[text] = value
        return value


def new_uuids(count: int) -> list[str]:
    """`count` random (version 4) UUIDs as hex, as ids.new_uuid makes them, from one read of
    the system's random source (uuid4 one by one costs ~20 us each: 2 s for a select-all)."""
    raw = os.urandom(16 * count)
    out = []
    for start in range(0, 16 * count, 16):
        value = int.from_bytes(raw[start : start + 16], "big")
        value = (value & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
        out.append(f"{value:032x}")
    return out


def to_validate(changes: Sequence[tuple[int, Any]], task_type: str) -> Iterator[tuple[int, Any]]:
    """The changes whose value needs checking: of a bulk label's one value set on every item,
    the first only (spans are checked on each item: they depend on its text)."""
    checked: set[tuple[str, str]] = set()
    for dp_id, state in changes:
        if state is None:
            continue
        if task_type != "spans" and isinstance(state.value, str):
            key = (state.value, state.status)
            if key in checked:
                continue
            checked.add(key)
        yield dp_id, state


def _as_json(value: Any, dumped: dict[str, str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value not in dumped:
        dumped[value] = json.dumps(value, ensure_ascii=False)
    return dumped[value]


def _apply(raw: sqlite3.Connection, gone: list, updates: list, inserts: list) -> int:
    """Delete, update and insert the annotations; the id of the first one inserted (they
    take consecutive ids from the table's end, as SQLite would give them one by one). An
    update of a row of an unpublished run (a bulk label still being written: the same
    annotator in another window) takes it out of the run: it shows at once and outlives a
    cancel of the run, which leaves that item out (app.core.annotation.bulk_runs)."""
    raw.executemany("DELETE FROM annotation WHERE id = ?", gone)  # labels go by cascade
    raw.executemany(
        "UPDATE annotation SET value = ?, status = ?, schema_version_id = ?, time_spent_ms = ?,"
        f" origin = ?, updated_at = ?, {leave_hidden_run()} WHERE id = ?",
        updates,
    )
    raw.executemany(
        "DELETE FROM annotation_label WHERE annotation_id = ?", ((row[-1],) for row in updates)
    )
    first = int(raw.execute("SELECT coalesce(max(id), 0) + 1 FROM annotation").fetchone()[0])
    raw.executemany(
        "INSERT INTO annotation (id, uuid, datapoint_id, annotator_id, value, status,"
        " schema_version_id, time_spent_ms, origin, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ((first + k, *row) for k, row in enumerate(inserts)),
    )
    return first
