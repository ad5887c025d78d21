"""Write runs: long writes of tasks and annotations, committed in short chunks, unseen until
published.

An assignment of a million datapoints, an automation run or an adjudication round writes more
rows than one short transaction can hold. Such a job begins a run (`begin`: a `write_run` row
in state LOADING, with the loader tag of its process), writes its tasks and annotations in
short transactions with `run_id` set to the run, and flips the run to PUBLISHED in its last
short transaction (`publish`), in which it also writes what must appear at once (counts,
statuses, its audit event). Until then, every read of tasks and annotations leaves the run's
rows out:

- `task_visible`, `annotation_visible`, `label_visible` are the SQL conditions (for a task,
  an annotation, an annotation_label row);
- `task_where`, `annotation_where`, `label_where` give them only while some run is loading
  (else None), checked in the same read snapshot as the query, as visibility.visible_where
  does for datapoints: with no run loading, the hot reads keep their index-only plans.

A cancelled or failed run is removed by `discard` in short transactions; one whose process was
killed is removed when the project next opens (`sweep_abandoned`). Published runs keep their
row (state PUBLISHED), so that a run id is never reused: rows of an old run stay visible.

A run may also close existing tasks when it publishes (a reassignment closes the moved ones):
it marks them (`task.close_run_id`, migration 0009) in short chunks while it loads, and a mark
means nothing until the run publishes; from then on `task_visible` leaves the task out, as if
it were cancelled, and `close` writes status 'cancelled' in short steps afterwards (the "close
settle", below).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from app.core.errors import ProjectError
from app.core.ids import now_iso
from app.core.jobs import CancelCheck, never_cancel
from app.core.storage.retry import run_write
from app.core.storage.sqlite import driver_connection
from app.core.storage.staging import in_steps, load_abandoned, load_running
from app.core.storage.visibility import loader_tag, snapshot

PUBLISHED = 0
LOADING = 1
HIDDEN_RUNS = f"SELECT id FROM write_run WHERE state <> {PUBLISHED}"


def _run_column(alias: str) -> str:
    return f"{alias}.run_id" if alias else "run_id"


def _written(alias: str) -> str:
    """SQL: the row (alias or table name `alias`) belongs to no run, or to a published one."""
    column = _run_column(alias)
    return f"({column} IS NULL OR {column} NOT IN ({HIDDEN_RUNS}))"


def task_visible(alias: str = "t") -> str:
    """SQL: the task (alias or table name `alias`) belongs to no run, or to a published one,
    and no published run has closed it (`close_run_id`: a mark of a loading run means nothing).

    A task closed that way but not settled yet is left out, not shown as cancelled: every read
    of tasks either wants open ones (worklist, counts, the pool, bundles of assignments) or
    those not cancelled (review, gold, report figures), for which a closed task is gone either
    way. A read of every task (the report's list of annotators with work, a project bundle's
    tasks) misses it for the seconds the close settle takes, then finds it cancelled: for the
    project bundle, which carries statuses to other machines, `task_status_sql` gives the
    status with the close counted, so a bundle made meanwhile still carries the cancel."""
    close = f"{alias}.close_run_id" if alias else "close_run_id"
    return f"({_written(alias)} AND ({close} IS NULL OR {close} IN ({HIDDEN_RUNS})))"


def task_written(alias: str = "t") -> str:
    """SQL: the task belongs to no run, or to a published one, closed or not (pair it with
    `task_status_sql`)."""
    return _written(alias)


def task_status_sql(alias: str = "t", status: str | None = None) -> str:
    """SQL: the task's status (`status`, an expression, else the column), 'cancelled' where a
    published run has closed it and the close settle has not written it yet."""
    close = f"{alias}.close_run_id" if alias else "close_run_id"
    column = status or (f"{alias}.status" if alias else "status")
    return (
        f"(CASE WHEN {close} IS NOT NULL AND {close} NOT IN ({HIDDEN_RUNS})"
        f" THEN 'cancelled' ELSE {column} END)"
    )


def annotation_visible(alias: str = "a") -> str:
    """SQL: the annotation (alias or table name `alias`) is of no run, or of a published one."""
    return _written(alias)


def label_visible(alias: str = "al") -> str:
    """SQL: the annotation_label row (alias `alias`) is of a visible annotation. It costs a
    lookup of the loading runs' annotations alone (on the partial run_id index)."""
    column = f"{alias}.annotation_id" if alias else "annotation_id"
    return f"{column} NOT IN (SELECT id FROM annotation WHERE run_id IN ({HIDDEN_RUNS}))"


def running(conn: Connection | sqlite3.Connection) -> bool:
    """Whether some run is loading (under way, or killed midway and not swept yet)."""
    sql = f"SELECT 1 FROM write_run WHERE state <> {PUBLISHED} LIMIT 1"
    return driver_connection(conn).execute(sql).fetchone() is not None


def closing(conn: Connection | sqlite3.Connection) -> bool:
    """Whether some task carries a close mark (a run loading, or a close not settled yet):
    one probe of the partial index ix_task_close_run."""
    sql = "SELECT 1 FROM task WHERE close_run_id IS NOT NULL LIMIT 1"
    return driver_connection(conn).execute(sql).fetchone() is not None


def task_where(conn: Connection | sqlite3.Connection, alias: str = "t") -> str | None:
    """`task_visible(alias)` if some run is loading or some close is not settled yet, else
    None (the hot reads keep their plans); in a read snapshot taken first
    (visibility.snapshot), so that the answer holds for the queries that follow."""
    snapshot(conn)
    return task_visible(alias) if running(conn) or closing(conn) else None


def annotation_where(conn: Connection | sqlite3.Connection, alias: str = "a") -> str | None:
    """`annotation_visible(alias)` if some run is loading, else None (see task_where)."""
    snapshot(conn)
    return annotation_visible(alias) if running(conn) else None


def label_where(conn: Connection | sqlite3.Connection, alias: str = "al") -> str | None:
    """`label_visible(alias)` if some run is loading, else None (see task_where)."""
    snapshot(conn)
    return label_visible(alias) if running(conn) else None


def and_visible(condition: str | None, *more: str | None) -> str:
    """` AND ...` of the conditions that are not None, or "" (to append to a WHERE)."""
    parts = [c for c in (condition, *more) if c]
    return "".join(f" AND {part}" for part in parts)


@dataclass(frozen=True)
class Run:
    """A run begun by this process: its id and its loader tag."""

    id: int
    tag: str


def begin(engine: Engine, kind: str) -> Run:
    """Begin a run of `kind` (assign, automate, adjudicate...) in its own short transaction."""
    tag = loader_tag()

    def insert(conn: Connection) -> int:
        raw = driver_connection(conn)
        cursor = raw.execute(
            "INSERT INTO write_run (kind, state, loader, created_at) VALUES (?, ?, ?, ?)",
            (kind, LOADING, tag, now_iso()),
        )
        return int(cursor.lastrowid or 0)

    return Run(run_write(engine, insert), tag)


@contextlib.contextmanager
def writing(engine: Engine, kind: str, cancel: CancelCheck = never_cancel) -> Iterator[Run]:
    """Begin a run for the block, known to this process as running (the sweep leaves it
    alone); if the block ends without publishing it (an error, a cancel), its rows are
    removed in short transactions before the error goes on."""
    run = begin(engine, kind)
    with load_running(run.tag):
        try:
            yield run
        except BaseException:
            discard(engine, run.id)
            raise


def publish(conn: Connection | sqlite3.Connection, run_id: int) -> None:
    """Publish the run, inside the caller's last write transaction: its rows appear at once.
    A run that is no longer loading (swept meanwhile) is refused: its rows are gone."""
    raw = driver_connection(conn)
    updated = raw.execute(
        f"UPDATE write_run SET state = {PUBLISHED} WHERE id = ? AND state = {LOADING}",
        (run_id,),
    ).rowcount
    if updated != 1:
        raise ProjectError("the work in progress was removed meanwhile; please start again")


def _delete_step(conn: Connection, run_id: int, size: int) -> int | None:
    """Delete up to `size` rows of an unpublished run (labels of its annotations first), or
    the run row once it has none; the count deleted, None when the run is gone or published."""
    raw = driver_connection(conn)
    found = raw.execute("SELECT state FROM write_run WHERE id = ?", (run_id,)).fetchone()
    if found is None or found[0] == PUBLISHED:
        return None
    ids = [
        row[0]
        for row in raw.execute("SELECT id FROM annotation WHERE run_id = ? LIMIT ?", (run_id, size))
    ]
    if ids:
        marks = ",".join("?" * len(ids))
        raw.execute(f"DELETE FROM annotation_label WHERE annotation_id IN ({marks})", ids)
        return raw.execute(f"DELETE FROM annotation WHERE id IN ({marks})", ids).rowcount
    deleted = raw.execute(
        "DELETE FROM task WHERE id IN (SELECT id FROM task WHERE run_id = ? LIMIT ?)",
        (run_id, size),
    ).rowcount
    if deleted:
        return deleted
    unmarked = raw.execute(  # the tasks it was to close stay open: their marks go
        "UPDATE task SET close_run_id = NULL WHERE id IN"
        " (SELECT id FROM task WHERE close_run_id = ? LIMIT ?)",
        (run_id, size),
    ).rowcount
    if unmarked:
        return unmarked
    raw.execute("DELETE FROM write_run WHERE id = ?", (run_id,))
    return 0


def discard(engine: Engine, run_id: int, cancel: CancelCheck = never_cancel) -> int:
    """Remove an unpublished run and its rows in short transactions; how many rows. A
    published run is left alone. Used after a cancel or an error, and by the sweep."""
    return in_steps(engine, lambda conn, size: _delete_step(conn, run_id, size), cancel=cancel)


@dataclass(frozen=True)
class SweptRun:
    """An unfinished run removed when the project opened."""

    kind: str
    rows: int

    def summary(self) -> str:
        return (
            f"removed {self.rows:,} rows of an unfinished {self.kind} run (its program had "
            "ended before publishing them; they were never shown)"
        )


def sweep_abandoned(engine: Engine) -> list[SweptRun]:
    """Remove every unpublished run whose process is gone (another machine's after a day,
    as for datasets: staging.load_abandoned), or that this process no longer runs."""
    with engine.connect() as conn:
        loading = conn.exec_driver_sql(
            f"SELECT id, kind, loader FROM write_run WHERE state <> {PUBLISHED}"
        ).all()
    swept = []
    for run_id, kind, loader in loading:
        if load_abandoned(loader):
            swept.append(SweptRun(kind, discard(engine, run_id)))
    return swept


# -- settling: the datapoint statuses of a published run ---------------------------------------
#
# A run's annotations may change their items' datapoint.status (a denormalised column that
# browse, counts and the worklist read). Setting it for a million rows takes ~20 s, far too
# long for the publishing transaction, and setting it before publishing would show items as
# labelled whose labels are still unseen. So the publishing transaction marks the run as
# SETTLING (`mark_settling`: a project_meta row holding how far the settle has got), and
# `settle` then writes the statuses in short transactions. Until it is done, every status read
# uses `status_sql`/`status_expr`, which count an unsettled item of the run as labelled: the
# user sees the run's labels and statuses appear together. A settle stopped by a kill is
# finished when the project next opens (`settle_pending`).

SETTLE_PREFIX = "settle_run:"


def mark_settling(conn: Connection | sqlite3.Connection, run_id: int) -> None:
    """Inside the publishing transaction: the run's statuses are to be settled."""
    raw = driver_connection(conn)
    raw.execute(
        "INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, '0')",
        (f"{SETTLE_PREFIX}{run_id}",),
    )


def settling(conn: Connection | sqlite3.Connection) -> dict[int, int]:
    """{run id: annotation id settled up to} of the runs being settled, in a read snapshot
    taken first (as task_where), so that the answer holds for the queries that follow."""
    snapshot(conn)
    sql = "SELECT key, value FROM project_meta WHERE key >= ? AND key < ?"
    args = (SETTLE_PREFIX, SETTLE_PREFIX[:-1] + ";")
    raw = driver_connection(conn)
    return {int(key[len(SETTLE_PREFIX) :]): int(value) for key, value in raw.execute(sql, args)}


def status_sql(alias: str, pending: dict[int, int]) -> str:
    """SQL: the datapoint's status (alias `alias`), counting an item of a run being settled
    (`pending`, from `settling`) as labelled (1) until the settle has written it."""
    column = f"{alias}.status" if alias else "status"
    if not pending:
        return column
    ids = f"{alias}.id" if alias else "datapoint.id"
    # a probe of the item's own annotations (on their datapoint index: `+run_id` keeps SQLite
    # off the run index, which would walk the whole run), made only for a status of 0
    unsettled = " OR ".join(
        f"(+s.run_id = {int(run_id)} AND s.id > {int(upto)})"
        for run_id, upto in sorted(pending.items())
    )
    probe = (
        f"EXISTS (SELECT 1 FROM annotation s WHERE s.datapoint_id = {ids}"
        f" AND s.status = 'complete' AND ({unsettled}))"
    )
    return f"(CASE WHEN {column} = 0 AND {probe} THEN 1 ELSE {column} END)"


def unsettled_items(
    raw: sqlite3.Connection, span: tuple[int, int], skip: int | None = None
) -> list[int]:
    """The items with ids in `span` that a run being settled (but `skip`) labelled and whose
    stored status is not written yet: what `status_sql` counts as labelled, as a list (for a
    writer that picks items by their stored status)."""
    found: list[int] = []
    for run_id, upto in settling(raw).items():
        if run_id != skip:
            found += [
                row[0]
                for row in raw.execute(
                    "SELECT datapoint_id FROM annotation WHERE run_id = ? AND id > ?"
                    " AND status = 'complete' AND datapoint_id BETWEEN ? AND ?",
                    (run_id, upto, *span),
                )
            ]
    return found


def status_expr(conn: Connection | sqlite3.Connection, alias: str = "d") -> str:
    """`status_sql(alias, settling(conn))`: the bare column when no run is being settled (the
    hot reads keep their index plans), else the expression that accounts for the settle."""
    return status_sql(alias, settling(conn))


def _settle_step(conn: Connection, run_id: int, size: int) -> int | None:
    """Set the status of up to `size` more items of the run; 0 (and the mark removed) when
    none is left, None when the run is not being settled."""
    raw = driver_connection(conn)
    key = f"{SETTLE_PREFIX}{run_id}"
    found = raw.execute("SELECT value FROM project_meta WHERE key = ?", (key,)).fetchone()
    if found is None:
        return None
    upto = int(found[0])
    high, count = raw.execute(
        "SELECT max(id), count(*) FROM (SELECT id FROM annotation WHERE run_id = ? AND id > ?"
        " ORDER BY id LIMIT ?)",
        (run_id, upto, size),
    ).fetchone()
    if not count:
        raw.execute("DELETE FROM project_meta WHERE key = ?", (key,))
        return 0
    raw.execute(
        "UPDATE datapoint SET status = 1 WHERE status = 0 AND id IN (SELECT datapoint_id FROM"
        " annotation WHERE run_id = ? AND id > ? AND id <= ? AND status = 'complete')",
        (run_id, upto, high),
    )
    raw.execute("UPDATE project_meta SET value = ? WHERE key = ?", (str(high), key))
    return int(count)


def settle(
    engine: Engine,
    run_id: int,
    progress: Callable[[int], None] | None = None,
    cancel: CancelCheck = never_cancel,
) -> int:
    """Write the statuses of a published run's items in short transactions (sized to about
    staging.TARGET_SECONDS each), then remove its mark; how many annotations it went over.

    `cancel` is checked between two transactions: Cancelled then stops the settle with its
    mark left, which is safe (the run is published, and status_expr counts its unsettled
    items meanwhile); the next open finishes it (settle_pending)."""
    return in_steps(
        engine,
        lambda conn, size: _settle_step(conn, run_id, size),
        progress or (lambda _done: None),
        cancel,
    )


def settle_pending(engine: Engine) -> int:
    """Finish every settle and close settle that a killed (or still running) process left;
    how many items. Settling twice is harmless: each step only sets a status that is still 0,
    or closes a task that still carries the mark."""
    with engine.connect() as conn:
        pending = settling(conn)
    closed = sum(close(engine, run_id) for run_id in closes_pending(engine))
    return closed + sum(settle(engine, run_id) for run_id in pending)


# -- the close settle: tasks that a published run closed ---------------------------------------
#
# A reassignment closes the moved tasks at the moment the target's new ones appear. Writing
# 'cancelled' over 500,000 rows in the publishing transaction held the lock 6.4 s, so the run
# marks them (close_run_id) in short chunks while it loads (`mark_closed`), and the mark takes
# effect when the run publishes: task_visible leaves a task closed by a published run out (and
# task_where gives that condition while any mark is left). `close` then writes the status in
# short steps, clearing the marks. No project_meta note is needed: a mark of a published run
# is the pending close itself, so a close stopped by a kill or a Cancel is found and finished
# on the next open (settle_pending -> closes_pending). A discarded run clears its marks first
# (its discard steps), so those tasks stay open.

_MARK = "UPDATE task SET close_run_id = ? WHERE id = ? AND status = 'todo' AND close_run_id IS NULL"


def mark_closed(raw: sqlite3.Connection, run_id: int, task_ids: Iterable[int]) -> int:
    """Inside one of the loading run's short transactions: mark these tasks as closed by it,
    if still open and not marked by another run; how many were marked."""
    return raw.executemany(_MARK, ((run_id, task_id) for task_id in task_ids)).rowcount


def marked_open(raw: sqlite3.Connection, run_id: int) -> int:
    """How many tasks the run has marked that are still open (from ix_task_close_run alone):
    its last transaction checks that none changed meanwhile."""
    sql = "SELECT count(*) FROM task WHERE close_run_id = ? AND status = 'todo'"
    return int(raw.execute(sql, (run_id,)).fetchone()[0])


def _close_step(conn: Connection, run_id: int, size: int) -> int | None:
    """Write 'cancelled' over up to `size` more tasks that the published run closed, clearing
    their marks; the count (0 when none is left), None if the run is not published."""
    raw = driver_connection(conn)
    found = raw.execute("SELECT state FROM write_run WHERE id = ?", (run_id,)).fetchone()
    if found is None or found[0] != PUBLISHED:
        return None
    return raw.execute(
        "UPDATE task SET status = 'cancelled', close_run_id = NULL WHERE id IN"
        " (SELECT id FROM task WHERE close_run_id = ? LIMIT ?)",
        (run_id, size),
    ).rowcount


def close(
    engine: Engine,
    run_id: int,
    progress: Callable[[int], None] | None = None,
    cancel: CancelCheck = never_cancel,
) -> int:
    """The close settle of a published run: its marked tasks' status written in short
    transactions (about staging.TARGET_SECONDS each); how many. Cancelled (checked between two
    transactions) leaves the rest marked, which reads already count as closed."""
    return in_steps(
        engine,
        lambda conn, size: _close_step(conn, run_id, size),
        progress or (lambda _done: None),
        cancel,
    )


def closes_pending(engine: Engine) -> list[int]:
    """The published runs whose close settle is not finished (a probe of the partial index
    per run: write_run holds one small row per run)."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT id FROM write_run w WHERE state = {PUBLISHED} AND EXISTS"
            " (SELECT 1 FROM task WHERE close_run_id = w.id) ORDER BY id"
        ).all()
    return [row[0] for row in rows]


# -- brief "bulk" (session 5): taking a published run back (the undo of a bulk label) ---------
#
# A bulk label of many items is a write run of annotations (app.core.annotation.bulk_runs).
# Its undo hides the run again in one short transaction (`unpublish`), only if its annotations
# are exactly as published; then the run's items get their statuses back in short transactions
# (`unsettle`) while its rows are hidden, and `discard` removes the rows.
#
# While `unsettle` runs (about 1 s per 100k items), an item of the run whose label is hidden
# may still show status 1 (labelled) in status-based reads: `status_expr` only accounts for
# 0 -> 1. The window is that long and no longer: the re-derive runs right after the unpublish,
# before the rows are removed, and one stopped by a kill is finished when the project next
# opens (`unsettle_pending`, from project.sweep_abandoned_imports), from a project_meta mark
# holding the run's datapoint id range and how far it has got. (The imports are local: this
# block only appends to the module.)

UNSETTLE_PREFIX = "unsettle_run:"


def derive_status_sql(ids: str) -> str:
    """SQL: derive the stored status of the datapoints whose ids `ids` (a subquery) gives,
    from their annotations: labeled if anyone completed it, else discarded, else skipped, else
    unlabeled; an unpublished run's annotations do not count."""
    from app.core.storage.tables import DatapointStatus

    has = (
        "EXISTS (SELECT 1 FROM annotation a WHERE a.datapoint_id = datapoint.id"
        f" AND a.status = '{{}}' AND {annotation_visible('a')})"
    )
    return (
        "UPDATE datapoint SET status = CASE"
        f" WHEN {has.format('complete')} THEN {int(DatapointStatus.LABELED)}"
        f" WHEN {has.format('discarded')} THEN {int(DatapointStatus.DISCARDED)}"
        f" WHEN {has.format('skipped')} THEN {int(DatapointStatus.SKIPPED)}"
        f" ELSE {int(DatapointStatus.UNLABELED)} END WHERE id IN {ids}"
    )


def unpublish(
    conn: Connection | sqlite3.Connection, run_id: int, stamp: str, count: int, tag: str
) -> bool:
    """Inside the caller's write transaction: hide a published run of annotations again (state
    LOADING, with loader tag `tag`: one of this process's (visibility.loader_tag) that the
    caller holds under staging.load_running for the steps that follow), if its rows are
    exactly as it published them: `count` annotations, every one still stamped `stamp`
    (updated_at). False, and nothing changed, when one was edited, removed or taken out of
    the run since, or the run is not published. A settle still pending for it is dropped
    (`unsettle` derives the statuses again)."""
    raw = driver_connection(conn)
    rows, changed = raw.execute(
        "SELECT count(*), coalesce(sum(updated_at IS NOT ?), 0) FROM annotation WHERE run_id = ?",
        (stamp, run_id),
    ).fetchone()
    if rows != count or changed:
        return False
    flipped = raw.execute(
        f"UPDATE write_run SET state = {LOADING}, loader = ? WHERE id = ? AND state = {PUBLISHED}",
        (tag, run_id),
    ).rowcount
    if flipped != 1:
        return False
    raw.execute("DELETE FROM project_meta WHERE key = ?", (f"{SETTLE_PREFIX}{run_id}",))
    return True


def mark_unsettling(
    conn: Connection | sqlite3.Connection, run_id: int, low: int, high: int
) -> None:
    """Inside the unpublishing transaction: the datapoints low..high whose status is 1 are to
    have their status derived again (`unsettle`)."""
    import json

    raw = driver_connection(conn)
    raw.execute(
        "INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)",
        (f"{UNSETTLE_PREFIX}{run_id}", json.dumps({"upto": low - 1, "high": high})),
    )


def _unsettle_step(conn: Connection, key: str, size: int) -> int | None:
    """Derive the status of up to `size` more labelled datapoints of the marked range; 0 (and
    the mark removed) when none is left, None when there is no such mark."""
    import json

    raw = driver_connection(conn)
    found = raw.execute("SELECT value FROM project_meta WHERE key = ?", (key,)).fetchone()
    if found is None:
        return None
    mark = json.loads(found[0])
    ids = [
        row[0]
        for row in raw.execute(
            "SELECT id FROM datapoint INDEXED BY ix_datapoint_status WHERE status = 1"
            " AND id > ? AND id <= ? ORDER BY id LIMIT ?",
            (mark["upto"], mark["high"], size),
        )
    ]
    if not ids:
        raw.execute("DELETE FROM project_meta WHERE key = ?", (key,))
        return 0
    raw.execute(derive_status_sql("(SELECT value FROM json_each(?))"), (json.dumps(ids),))
    mark["upto"] = ids[-1]
    raw.execute("UPDATE project_meta SET value = ? WHERE key = ?", (json.dumps(mark), key))
    return len(ids)


def unsettle(engine: Engine, run_id: int, progress: Callable[[int], None] | None = None) -> int:
    """Derive again, in short transactions, the statuses of the datapoints marked for an
    unpublished run (`mark_unsettling`), then remove the mark; how many it went over."""
    key = f"{UNSETTLE_PREFIX}{run_id}"
    return in_steps(
        engine, lambda conn, size: _unsettle_step(conn, key, size), progress or (lambda _d: None)
    )


def unsettle_pending(engine: Engine) -> int:
    """Finish every re-derive that a killed (or still running) undo left; how many items.
    Deriving twice is harmless: it only writes what the annotations say."""
    with engine.connect() as conn:
        snapshot(conn)
        keys = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT key FROM project_meta WHERE key >= ? AND key < ?",
                (UNSETTLE_PREFIX, UNSETTLE_PREFIX[:-1] + ";"),
            )
        ]
    return sum(
        in_steps(engine, lambda conn, size, key=key: _unsettle_step(conn, key, size))
        for key in keys
    )
