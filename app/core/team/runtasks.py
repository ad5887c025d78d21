"""Many tasks at once, written as a write run (app.core.storage.runs): in short chunks, unseen
until the last short transaction publishes them (issue 14: no writer holds the lock for more
than about 1 s, and the user still sees all or nothing).

An assignment of a million tasks, or an adjudication round, is decided from one read snapshot
(`Seen` records what it saw of the tasks), then written in chunks sized to hold the write lock
about CHUNK_SECONDS each, with the lock free between them. The last transaction re-checks what
was decided (`made_since`: tasks of the same kind that another writer made meanwhile) and
either refuses, which discards the run, or writes the one audit event and publishes.

The run's tasks are named by a random 20-hex-digit prefix and a 12-digit counter (as an
automation run names its tasks): the UUID index then grows at its end, and the run's one
audit event names the prefix and the count instead of one hash-chained event per task, which
cost two thirds of a million-task assignment and cannot be undone after a cancel.

A run may also close existing tasks when it publishes (a reassignment's moved tasks): `write_run`
marks them first, in chunks too (`mark_chunks`, runs.mark_closed), and the caller's close
settle (runs.close) writes their status after the publish.

Limit of `made_since`: it finds other writers' tasks by id (above the snapshot's newest, or of
a run that was loading then). A task id below the snapshot's newest is reused only after the
newest tasks are deleted (a discarded run's), which a check of that rare case does not cover.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from app.core.errors import ProjectError
from app.core.ids import new_uuid
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.project import Project
from app.core.storage import runs
from app.core.storage.retry import held_write
from app.core.storage.sqlite import driver_connection
from app.core.storage.staging import next_chunk
from app.core.team.tasks import NewTask

FIRST_CHUNK = 5_000  # tasks in the first chunk; later ones are sized to hold the lock about...
CHUNK_SECONDS = 0.4  # ...this long
YIELD_SECONDS = 0.01  # a pause between chunks, in which a waiting writer takes the lock

_INSERT = (
    "INSERT INTO task (uuid, datapoint_id, annotator_id, kind, status, created_at, run_id)"
    " VALUES (?, ?, ?, ?, 'todo', ?, ?)"
)


@dataclass(frozen=True)
class Seen:
    """What a read snapshot saw of the tasks: the newest id, and the runs loading then (their
    tasks were unseen by it)."""

    top: int
    loading: tuple[int, ...]


def seen_tasks(conn: Connection | sqlite3.Connection) -> Seen:
    """`Seen` of the caller's read snapshot (take it in the transaction that decides)."""
    raw = driver_connection(conn)
    top = raw.execute("SELECT coalesce(max(id), 0) FROM task").fetchone()[0]
    loading = raw.execute(f"SELECT id FROM write_run WHERE state <> {runs.PUBLISHED}").fetchall()
    return Seen(int(top), tuple(row[0] for row in loading))


@dataclass
class TaskRun:
    """A run being written: its id, its UUID prefix, and the id ranges its chunks took (other
    writers' tasks lie between them)."""

    id: int
    prefix: str = field(default_factory=lambda: new_uuid()[:20])
    count: int = 0
    ranges: list[tuple[int, int]] = field(default_factory=list)
    marked: int = 0  # existing tasks it closes when it publishes (runs.mark_closed)


def made_since(
    raw: sqlite3.Connection, seen: Seen, run: TaskRun, kind: str | None, annotator_id: int = 0
) -> set[int]:
    """The datapoints of visible, not cancelled `kind` tasks (of any kind if None; only this
    annotator's if given) that others made after the snapshot `seen`: in id ranges between and
    after the run's chunks, or of a run loading then and published since. Rowid range scans and
    the run index: cheap inside the last transaction."""
    bounds, low = [], seen.top
    for first, last in run.ranges:
        if first > low + 1:
            bounds.append((low, first))
        low = max(low, last)
    bounds.append((low, None))
    base = (
        f"SELECT datapoint_id FROM task WHERE status != 'cancelled' AND {runs.task_visible('task')}"
    )
    params: tuple = ()
    if kind is not None:
        base, params = base + " AND kind = ?", (kind,)
    if annotator_id:
        base, params = base + " AND annotator_id = ?", (*params, annotator_id)
    found: set[int] = set()
    for above, below in bounds:
        sql = base + " AND id > ?" + ("" if below is None else " AND id < ?")
        found.update(
            r[0] for r in raw.execute(sql, (*params, above, *(() if below is None else (below,))))
        )
    if seen.loading:
        sql = base + f" AND run_id IN ({','.join('?' * len(seen.loading))})"
        found.update(row[0] for row in raw.execute(sql, (*params, *seen.loading)))
    return found


def write_chunks(
    conn: Connection,
    run: TaskRun,
    tasks: Iterable[NewTask],
    total: int,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> int:
    """Write the tasks under the run in short transactions on `conn` (kept across them), each
    sized by time; returns how many. A datapoint removed meanwhile (its dataset deleted) stops
    the run with a clear message (the caller's runs.writing then discards it)."""
    rows = _rows(run, tasks)
    size = FIRST_CHUNK
    while True:
        check_cancel(cancel)
        batch = list(itertools.islice(rows, size))
        if not batch:
            return run.count
        started = time.perf_counter()
        try:
            with held_write(conn) as raw:
                raw.executemany(_INSERT, batch)
                last = raw.execute("SELECT last_insert_rowid()").fetchone()[0]
        except sqlite3.IntegrityError as exc:
            raise ProjectError(
                "some of the items were removed while their tasks were being written; nothing"
                " was assigned. Please try again."
            ) from exc
        run.ranges.append((last - len(batch) + 1, last))
        run.count += len(batch)
        size = next_chunk(size, len(batch), time.perf_counter() - started, CHUNK_SECONDS)
        progress(run.count, total, "Creating tasks")
        time.sleep(YIELD_SECONDS)


def mark_chunks(
    conn: Connection,
    run: TaskRun,
    task_ids: Sequence[int],
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> int:
    """Mark existing tasks as closed by the run (runs.mark_closed: they stay open until it
    publishes) in short transactions on `conn`, sized as write_chunks sizes its own; how many
    were marked (fewer than asked if some were closed or marked by another run meanwhile)."""
    size, done, marked = FIRST_CHUNK, 0, 0
    while done < len(task_ids):
        check_cancel(cancel)
        batch = task_ids[done : done + size]
        started = time.perf_counter()
        with held_write(conn) as raw:
            marked += runs.mark_closed(raw, run.id, batch)
        done += len(batch)
        size = next_chunk(size, len(batch), time.perf_counter() - started, CHUNK_SECONDS)
        progress(done, len(task_ids), "Marking moved tasks")
        time.sleep(YIELD_SECONDS)
    return marked


def _rows(run: TaskRun, tasks: Iterable[NewTask]) -> Iterator[tuple]:
    for n, (dp_id, annotator_id, kind, created_at) in enumerate(tasks):
        yield (f"{run.prefix}{n:012x}", dp_id, annotator_id, kind, created_at, run.id)


Finish = Callable[[Connection, sqlite3.Connection, TaskRun], None]
"""The last transaction's own work (re-check what was decided, raising ProjectError to refuse;
write the audit event), called under the write lock before the run is published."""


def write_run(
    project: Project,
    run_kind: str,
    tasks: Iterable[NewTask],
    total: int,
    finish: Finish,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    closes: Sequence[int] = (),
) -> TaskRun:
    """Write `tasks` as a run of `run_kind` in chunks, then `finish` and publish it in one last
    short transaction. The tasks `closes` names (ids) are marked first, in chunks too, and
    count as closed from the publish on (runs.close writes their status afterwards: the
    caller's close settle); `run.marked` says how many were marked. A cancel, an error or a
    refusal removes the run's tasks and clears its marks (runs.writing)."""
    with runs.writing(project.engine, run_kind, cancel) as begun:
        run = TaskRun(begun.id)
        with project.engine.connect() as conn:
            run.marked = mark_chunks(conn, run, closes, progress, cancel)
            write_chunks(conn, run, tasks, total, progress, cancel)
            check_cancel(cancel)
            with held_write(conn) as raw:
                finish(conn, raw, run)
                runs.publish(raw, run.id)
    return run


def refuse_duplicates(clash: int, kind: str) -> None:
    """Refuse a run whose items got `kind` tasks from another writer meanwhile (see
    `made_since`): its arithmetic (shares, loads) was decided on a pool that no longer holds,
    so it is not written in part; running it again shares out what is left."""
    if clash:
        raise ProjectError(
            f"another assignment gave {clash:,} of these items {kind} tasks meanwhile; nothing"
            " was assigned. Run it again to share out the items still without one."
        )
