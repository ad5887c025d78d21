"""A bulk label of many items as a write run (issue 14: no writer holds the write lock for more
than about a second, and a user sees all of one action or nothing of it).

A select-all in the grid, then a label key, is one `SetAnnotations` of up to 100k items: in
one transaction it held the lock 3-9 s, and its undo as long again. Above RUN_THRESHOLD new
labels (items this annotator had no annotation on), `label_in_run` writes it as a write run
(app.core.storage.runs), as an automation run does:

1. one read snapshot decides which changes are new labels (the run) and which change or add
   another annotation (the rest), and checks every value;
2. the new annotations and their annotation_label rows go in short transactions sized by time
   (about staging.TARGET_SECONDS each) with run_id set, so that every read leaves them out.
   Each chunk leaves out an item that has an annotation of this annotator by then (saved
   meanwhile in another window or process: the newer label is kept), or that is gone;
3. the last short transaction checks that the label schema is the same, applies the rest
   (updates and deletes of existing annotations: a relabel, which must appear at once, so it
   stays in this one transaction, as do new drafts, skips and discards), derives those items'
   statuses, publishes the run, marks its statuses to be settled and writes the audit event
   as before (without the items left out). The rest is worked out before the lock
   (app.core.annotation.relabel: its states before, their audit text, one UPDATE per value
   set) and written set-based after one check that its rows are as read (else item by item):
   50,000 relabels hold the lock ~0.4 s of CPU, not ~1.3 s;
4. `runs.settle` then writes the run's items' statuses in short transactions; meanwhile every
   status read counts them as labelled (runs.status_expr).

A single save by this annotator that meets a hidden row of the run (bulk.write_states) takes
it out of the run (run_id NULL): it shows at once, outlives a cancelled or killed run, and is
kept. So does every other write onto such a row (bulk.leave_hidden_run: a review correction,
a bundle merge's last transaction; an import's attached label takes the row's place). A
cancel or an error removes the run's rows (runs.writing); a killed run is swept when the
project next opens.

Undo (`UndoLabelRun`) hides the run again in one short transaction (runs.unpublish, refused if
one of its annotations was edited or removed since), in which it also puts back the rest's
earlier values (planned before the lock, as the rest was) and writes the audit event; the
run's items then get their statuses derived again in short steps (runs.unsettle: about 1 s per
100k items, during which a status read may still count such an item as labelled) and
runs.discard removes the rows. When the unpublish is refused, the undo is the one-transaction
inverse, as below the threshold. Redo is the same bulk label again, with the same UUIDs: a new
run.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy import Connection

from app.core import audit
from app.core.annotation import bulk, relabel
from app.core.annotation.states import (
    AnnotationState,
    Applied,
    Command,
    audit_json,
    read_states,
    status_changes,
)
from app.core.annotation.values import LabelParser
from app.core.errors import ProjectError
from app.core.ids import new_uuid, now_iso
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.project import Project, current_schema
from app.core.storage import retry, runs, sqlite, staging
from app.core.storage.sqlite import driver_connection
from app.core.storage.tables import DatapointStatus
from app.core.storage.visibility import loader_tag, snapshot

RUN_THRESHOLD = 5_000  # more new labels than this: a write run (tests lower it)
FIRST_CHUNK = 2_000  # rows in the first transaction; later ones are sized by time
KIND = "bulk_label"
Change = tuple[int, AnnotationState | None]
Row = tuple[int, AnnotationState, str]  # (datapoint id, state, UUID) of a new annotation

# the items of a chunk that still exist and have no annotation of this annotator, hidden or not
FREE = (
    "SELECT j.value FROM json_each(?) j"
    " WHERE EXISTS (SELECT 1 FROM datapoint d WHERE d.id = j.value)"
    " AND NOT EXISTS (SELECT 1 FROM annotation a WHERE a.datapoint_id = j.value"
    " AND a.annotator_id = ?)"
)
_SETTLED_ELSEWHERE = ",".join(  # statuses a settle (0 -> 1) does not turn into labelled
    str(int(s)) for s in (DatapointStatus.SKIPPED, DatapointStatus.DISCARDED)
)


class Labelling(Protocol):
    """What label_in_run needs of a SetAnnotations (app.core.annotation.commands)."""

    annotator_id: int
    changes: tuple[Change, ...]
    description: str

    @property
    def datapoints(self) -> tuple[int, ...]: ...

    def validate(self, project: Project, conn: Connection, schema: Any) -> None: ...


MakeCommand = Callable[[int, tuple[Change, ...], str], Command]


def label_in_run(
    project: Project,
    command: Labelling,
    make: MakeCommand,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> Applied | None:
    """Apply `command` as a write run, or None (nothing done) when it has RUN_THRESHOLD new
    labels or fewer; `make(annotator id, changes, description)` builds its undo's fallback and
    its redo (a SetAnnotations)."""
    ids = list(command.datapoints)
    changes = dict(command.changes)  # an item named twice: its last state wins
    with project.engine.connect() as conn:  # one read snapshot: what to write
        raw = driver_connection(conn)
        snapshot(raw)
        found = bulk.existing(raw, command.annotator_id, list(changes))
        new = [
            (dp_id, state)
            for dp_id, state in changes.items()
            if dp_id not in found and state is not None and state.status == "complete"
        ]
        if len(new) <= RUN_THRESHOLD:
            return None
        schema = current_schema(conn)
        before_status = bulk.statuses(raw, ids)
        bulk.check_exist(ids, before_status)
        command.validate(project, conn, schema)
    fresh = bulk.new_uuids(len(new))  # made before any lock
    rows = [(dp_id, state, state.uuid or fresh[k]) for k, (dp_id, state) in enumerate(new)]
    run_ids = {dp_id for dp_id, _state in new}
    rest = [(dp_id, state) for dp_id, state in changes.items() if dp_id not in run_ids]
    stamp = now_iso()
    with runs.writing(project.engine, KIND) as run:
        writer = _Writer(run.id, command.annotator_id, schema.id, stamp, project.task_type)
        _write_chunks(project, rows, writer, progress, cancel)
        check_cancel(cancel)
        after = audit_json(changes)
        plan = _plan(project, command.annotator_id, rest)
        fresh_rest = bulk.new_uuids(len(rest))
        last = _Publish(writer, command, rest, changes, fresh_rest, run_ids, after, plan)
        kept, before, rest_uuids = retry.run_write(project.engine, last.publish)
    total = len(rows)
    statuses = "Updating the items' statuses"
    runs.settle(project.engine, run.id, lambda done: progress(done, total, statuses))
    with project.engine.connect() as conn:
        after_status = bulk.statuses(driver_connection(conn), ids)
    uuids = {dp_id: uuid for dp_id, _state, uuid in rows if dp_id in kept}
    uuids.update(zip([dp_id for dp_id, _state in rest], rest_uuids, strict=True))
    applied = [dp_id for dp_id in changes if dp_id in kept or dp_id not in run_ids]
    inverse = UndoLabelRun(
        command.annotator_id,
        tuple((dp_id, before.get(dp_id)) for dp_id in applied),
        f"undo {command.description}",
        run.id,
        stamp,
        tuple(sorted(kept)),
        tuple((dp_id, _with_uuid(changes[dp_id], uuids.get(dp_id))) for dp_id in applied),
        command.description,
        make,
    )
    return Applied(inverse, status_changes(before_status, after_status))


def _plan(project: Project, annotator_id: int, changes: list[Change]) -> relabel.Plan | None:
    """The relabel of the items that are not the run's, worked out before the lock."""
    if not changes:
        return None
    with project.engine.connect() as conn:
        return relabel.plan(driver_connection(conn), annotator_id, changes)


def _with_uuid(state: AnnotationState | None, uuid: str | None) -> AnnotationState | None:
    return state if state is None or uuid is None else replace(state, uuid=uuid)


@dataclass
class _Writer:
    """Writes a chunk of the run's new annotations (ids ascending from the table's end, so
    every index takes appends) with their annotation_label rows."""

    run_id: int
    annotator_id: int
    schema_id: int
    stamp: str
    task_type: str
    kept: list[int] = field(default_factory=list)  # the items written, chunk after chunk
    _values: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def value(self, value: Any) -> tuple[str, list[str]]:
        """The value as JSON and its labels (worked out once for a plain label)."""
        if isinstance(value, str) and value in self._values:
            return self._values[value]
        out = (json.dumps(value, ensure_ascii=False), LabelParser.labels_of(value, self.task_type))
        if isinstance(value, str):
            self._values[value] = out
        return out

    def write(self, raw: sqlite3.Connection, part: Sequence[Row]) -> list[int]:
        """Write the part's rows whose item is still free; their datapoint ids."""
        args = (json.dumps([dp_id for dp_id, _state, _uuid in part]), self.annotator_id)
        free = {row[0] for row in raw.execute(FREE, args)}
        rows = [row for row in part if row[0] in free]
        if not rows:
            return []
        first = raw.execute("SELECT coalesce(max(id), 0) + 1 FROM annotation").fetchone()[0]
        values = [self.value(state.value) for _dp, state, _uuid in rows]
        raw.executemany(
            "INSERT INTO annotation (id, uuid, datapoint_id, annotator_id, value, status,"
            " schema_version_id, time_spent_ms, origin, created_at, updated_at, run_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    first + k,
                    uuid,
                    dp_id,
                    self.annotator_id,
                    values[k][0],
                    state.status,
                    self.schema_id,
                    state.time_spent_ms,
                    state.origin,
                    self.stamp,
                    self.stamp,
                    self.run_id,
                )
                for k, (dp_id, state, uuid) in enumerate(rows)
            ),
        )
        raw.executemany(
            "INSERT OR IGNORE INTO annotation_label (annotation_id, label, datapoint_id)"
            " VALUES (?, ?, ?)",
            (
                (first + k, label, dp_id)
                for k, (dp_id, _state, _uuid) in enumerate(rows)
                for label in values[k][1]
            ),
        )
        return [dp_id for dp_id, _state, _uuid in rows]


def _write_chunks(
    project: Project, rows: Sequence[Row], writer: _Writer, progress: Progress, cancel: CancelCheck
) -> None:
    """The rows in short write transactions (waiting out a busy lock: retry.held_write), each
    sized to take about staging.TARGET_SECONDS; the cancel check and the progress report come
    between two of them, when the lock is free. One connection with foreign keys off, as the
    automation run's: every key written points at a row read in the same transaction (the
    datapoint, checked by FREE) or there before the run (the annotator, the schema)."""
    size = FIRST_CHUNK
    done = 0
    with project.engine.connect() as sa_conn, sqlite.pragmas(sa_conn, {"foreign_keys": "OFF"}):
        while done < len(rows):
            check_cancel(cancel)
            part = rows[done : done + size]
            started = time.perf_counter()
            with retry.held_write(sa_conn) as raw:
                written = writer.write(raw, part)
            writer.kept.extend(written)  # once committed
            done += len(part)
            progress(done, len(rows), f"Saving {done:,} of {len(rows):,} labels")
            size = staging.next_chunk(size, len(part), time.perf_counter() - started)


@dataclass
class _Publish:
    """The run's last transaction (re-runnable: run_write may retry it)."""

    writer: _Writer
    command: Labelling
    rest: list[Change]
    changes: dict[int, AnnotationState | None]
    fresh: list[str]
    run_items: set[int]
    after: str  # the audit event's `after` if every item of the run is kept (dumped before)
    plan: relabel.Plan | None  # the rest, worked out before the lock

    def publish(self, conn: Connection) -> tuple[set[int], dict[int, AnnotationState], list]:
        """Apply the rest, publish the run, and audit; (the run's items kept, the rest's
        states before, the UUIDs the rest wrote)."""
        writer = self.writer
        if current_schema(conn).id != writer.schema_id:
            raise ProjectError(
                "the label schema changed while the bulk label was being saved; nothing was"
                " saved: label the items again"
            )
        raw = driver_connection(conn)
        kept = set(writer.kept)
        count = raw.execute(
            "SELECT count(*) FROM annotation WHERE run_id = ?", (writer.run_id,)
        ).fetchone()[0]
        if count != len(kept):  # a save meanwhile took some out of the run
            kept = {
                row[0]
                for row in raw.execute(
                    "SELECT datapoint_id FROM annotation WHERE run_id = ?", (writer.run_id,)
                )
            }
        rest_ids = [dp_id for dp_id, _state in self.rest]
        who, now = writer.annotator_id, now_iso()
        plan = self.plan
        uuids = None
        if plan is not None:  # set-based, if nothing changed since the plan
            uuids = relabel.write(raw, plan, writer.task_type, writer.schema_id, now, self.fresh)
        if plan is not None and uuids is not None:
            before, before_json = plan.before, plan.before_json
            derive = [dp_id for dp_id in rest_ids if dp_id not in plan.stays_labelled]
        else:
            before = read_states(conn, who, rest_ids) if rest_ids else {}
            uuids = bulk.write_states(
                raw, writer.task_type, who, self.rest, writer.schema_id, now, self.fresh
            )
            before_json = audit_json(before)
            # a complete answer relabelled keeps its item labelled: no status to derive there
            derive = [dp for dp, state in self.rest if not _stays_complete(before, dp, state)]
        runs.publish(raw, writer.run_id)
        derive += _settled_elsewhere(raw, kept)
        if derive:
            bulk.derive_statuses(raw, derive)
        runs.mark_settling(raw, writer.run_id)
        after = self.after
        if len(kept) < len(self.run_items):  # without the items left out
            shown = {k: v for k, v in self.changes.items() if k in kept or k not in self.run_items}
            after = audit_json(shown)
        record(conn, who, self.command.description, before_json, after)
        return kept, before, uuids


def _stays_complete(
    before: dict[int, AnnotationState], dp_id: int, state: AnnotationState | None
) -> bool:
    """Whether a complete annotation stays complete (its item stays labelled; a row of a
    published run keeps its run_id, so a settle still pending counts it too)."""
    was = before.get(dp_id)
    now = state.status if state is not None else None
    return was is not None and was.status == "complete" and now == "complete"


def _settled_elsewhere(raw: sqlite3.Connection, kept: set[int]) -> list[int]:
    """The run's items whose stored status is skipped or discarded (another annotator's): a
    settle only turns 0 into 1, so these are derived in the publishing transaction. Found
    from the status index, over the run's id span only: they are rare."""
    if not kept:
        return []
    found = raw.execute(
        "SELECT id FROM datapoint INDEXED BY ix_datapoint_status"
        f" WHERE status IN ({_SETTLED_ELSEWHERE}) AND id BETWEEN ? AND ?",
        (min(kept), max(kept)),
    )
    return [row[0] for row in found if row[0] in kept]


@dataclass(frozen=True)
class UndoLabelRun:
    """The undo of a bulk label written as a write run: the run hidden again in one short
    transaction, then removed in short ones; the one-transaction inverse (`changes`) when the
    run's annotations changed since. Its own inverse (the redo) is the bulk label again."""

    annotator_id: int
    changes: tuple[Change, ...]  # each applied item's state before the bulk label
    description: str
    run_id: int
    stamp: str  # the run's annotations' updated_at
    items: tuple[int, ...]  # the run's items, ascending
    redo_changes: tuple[Change, ...]  # what the bulk label wrote (with UUIDs)
    redo_description: str
    make: MakeCommand

    @property
    def datapoints(self) -> tuple[int, ...]:
        return tuple(dp_id for dp_id, _state in self.changes)

    def apply(
        self, project: Project, progress: Progress = no_progress, cancel: CancelCheck = never_cancel
    ) -> Applied:
        check_cancel(cancel)  # only before anything is written: the undo then goes to its end
        engine = project.engine
        ids = list(self.datapoints)
        with engine.connect() as conn:
            before_status = bulk.statuses(driver_connection(conn), ids)
        items = set(self.items)
        restore = [(dp_id, state) for dp_id, state in self.changes if dp_id not in items]
        shown, back = audit_json(dict(self.redo_changes)), audit_json(dict(self.changes))
        tag = loader_tag()
        plan = _plan(project, self.annotator_id, restore)  # the earlier values, set-based

        def hide(conn: Connection) -> bool:
            if not runs.unpublish(conn, self.run_id, self.stamp, len(self.items), tag):
                return False
            raw = driver_connection(conn)
            if restore:
                schema_id = current_schema(conn).id
                who, kind = self.annotator_id, project.task_type
                derive = [dp_id for dp_id, _state in restore]
                written = None
                if plan is not None:
                    written = relabel.write(raw, plan, kind, schema_id, now_iso())
                if written is not None:
                    derive = [dp_id for dp_id in derive if dp_id not in plan.stays_labelled]
                else:  # changed since the plan: item by item, as it is now
                    bulk.write_states(raw, kind, who, restore, schema_id, now_iso())
                if derive:
                    bulk.derive_statuses(raw, derive)
            if self.items:
                runs.mark_unsettling(raw, self.run_id, self.items[0], self.items[-1])
            record(conn, self.annotator_id, self.description, shown, back)
            return True

        with staging.load_running(tag):
            hidden = retry.run_write(engine, hide)
            if hidden:
                total = len(self.items)
                undoing = "Undoing the labels"
                runs.unsettle(engine, self.run_id, lambda n: progress(n, total, undoing))
                runs.discard(engine, self.run_id)
        if not hidden:  # changed since: the one-transaction inverse, as below the threshold
            return self.make(self.annotator_id, self.changes, self.description).apply(project)
        with engine.connect() as conn:
            after_status = bulk.statuses(driver_connection(conn), ids)
        redo = self.make(self.annotator_id, self.redo_changes, self.redo_description)
        return Applied(redo, status_changes(before_status, after_status))


def record(conn: Connection, actor_id: int, action: str, before: str, after: str) -> None:
    """The event audit.record writes for a SetAnnotations of many items, from JSON texts made
    before (as the bulk writers do: insert, then audit.link_pending)."""
    driver_connection(conn).execute(
        "INSERT INTO audit_event (uuid, at, actor_id, action, entity, entity_uuid, before,"
        " after) VALUES (?, ?, ?, ?, 'annotation', NULL, ?, ?)",
        (new_uuid(), now_iso(), actor_id, action, before, after),
    )
    audit.link_pending(conn)
