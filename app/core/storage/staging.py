"""The rows of an unfinished import: removed in short transactions, and swept on open.

An import writes its datapoints in short committed chunks under a dataset in state LOADING
(app.core.storage.visibility), unseen until its last transaction publishes them. When it is
cancelled or fails, `delete_loading` removes what it committed, chunk by chunk, each chunk a
short transaction (so other writers never wait long), and the dataset row last. When its
process was killed outright, nothing could; `sweep_abandoned`, run when a project opens,
removes the loading datasets whose process is gone (visibility.loader_is_gone). Neither
records an audit event: the rows were never visible.

A dataset removal (app.core.io.datasets.remove_dataset) reuses both: it hides the dataset
first (state REMOVING, its own audit event), then deletes it through `delete_loading`; a
removal cancelled midway, or whose process was killed, is finished by `sweep_abandoned`.

The annotators an import adds for the names in its file are noted in project_meta (key
ANNOTATORS_META + the dataset's UUID) in the transaction that adds them, and the note is cleared
when the import publishes. A failed import forgets them (`forget_annotators`); after a killed
one, the sweep does, once the dataset's rows are gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.storage.retry import run_write
from app.core.storage.sqlite import driver_connection
from app.core.storage.visibility import (
    LOADING,
    READY,
    REMOVING,
    loader_is_gone,
    loader_is_live_here,
)

FIRST_CHUNK = 2_000  # rows removed by the first delete; later ones are sized to take...
TARGET_SECONDS = 0.3  # ...about this long each
MAX_CHUNK = 100_000
ANNOTATORS_META = "import_annotators:"  # + a loading dataset's UUID: annotators its import added
WAIT_POLL_SECONDS = 0.25  # how often a load waiting for another one looks again

# The removals running in this process, as (project URL, dataset id): the sweep on open leaves
# them alone, and finishes any other removal of this process (one cancelled earlier).
_running: set[tuple[str, int]] = set()
_running_lock = threading.Lock()
# The loader tags of the loads (imports, merges bringing datasets) running in this process: a
# loading dataset of this process whose tag is not here is left over from a load that could
# not clean up after itself; it is neither waited for nor kept by the sweep.
_loads: set[str] = set()


@dataclass(frozen=True)
class SweptImport:
    """An unfinished import removed when the project opened."""

    dataset_uuid: str
    source_name: str
    rows: int
    removal: bool = False  # a dataset removal that was stopped midway, now finished

    def summary(self) -> str:
        if self.removal:
            return (
                f"finished removing the dataset {self.source_name} ({self.rows:,} more rows"
                " deleted; its removal had been cancelled or its program had ended midway)"
            )
        return (
            f"removed {self.rows:,} rows of an unfinished import of {self.source_name} "
            "(its program had ended before publishing them; they were never shown)"
        )


def next_chunk(size: int, rows: int, seconds: float, target: float = TARGET_SECONDS) -> int:
    """The size of the next chunk, so that it takes about `target` seconds, from how long the
    last one took for its `rows`: at most doubled or halved at once, within [500, MAX_CHUNK]."""
    if rows <= 0 or seconds <= 0:
        return min(size * 2, MAX_CHUNK)
    wanted = int(rows * target / seconds)
    return max(500, min(MAX_CHUNK, size * 2, max(size // 2, wanted)))


def _delete_step(conn: Connection, dataset_id: int, size: int) -> int | None:
    """Delete up to `size` rows of a loading dataset, or the dataset row once it has none.
    The count deleted; None when the dataset is gone (or is published: never touched)."""
    raw = driver_connection(conn)
    found = raw.execute("SELECT state FROM dataset WHERE id = ?", (dataset_id,)).fetchone()
    if found is None or found[0] == READY:
        return None
    (high,) = raw.execute(
        "SELECT max(id) FROM (SELECT id FROM datapoint WHERE dataset_id = ? ORDER BY id LIMIT ?)",
        (dataset_id, size),
    ).fetchone()
    if high is None:
        raw.execute("DELETE FROM dataset WHERE id = ?", (dataset_id,))
        return 0
    # predictions are a derived cache with no cascade (migration 0005)
    raw.execute(
        "DELETE FROM prediction WHERE model_version_id IN (SELECT id FROM model_version)"
        " AND datapoint_id IN (SELECT id FROM datapoint WHERE dataset_id = ? AND id <= ?)",
        (dataset_id, high),
    )
    return raw.execute(
        "DELETE FROM datapoint WHERE dataset_id = ? AND id <= ?", (dataset_id, high)
    ).rowcount


def delete_loading(
    engine: Engine,
    dataset_id: int,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    total: int = 0,
    message: str = "Removing",
) -> int:
    """Remove a loading (or REMOVING) dataset and its rows (annotations go with them by
    cascade), in short transactions; the number of datapoints removed. A published dataset is
    left alone. `progress(done, total, message)` and the cancel check (Cancelled) come between
    two transactions, never inside one: the write lock is free then."""
    return in_steps(
        engine,
        lambda conn, size: _delete_step(conn, dataset_id, size),
        lambda removed: progress(removed, max(total, removed), message),
        cancel,
    )


def in_steps(
    engine: Engine,
    step: Callable[[Connection, int], int | None],
    done: Callable[[int], None] = lambda _count: None,
    cancel: CancelCheck = never_cancel,
) -> int:
    """Run `step(conn, size)` in one short write transaction after another until it returns
    0 or None, each sized (`size`, rows) to take about TARGET_SECONDS from how long the last
    one took; the sum of what the steps returned. The cancel check (Cancelled) and
    `done(sum so far)` come between two transactions, never inside one: the lock is free."""
    total = 0
    size = FIRST_CHUNK
    while True:
        check_cancel(cancel)
        started = time.perf_counter()
        count = run_write(engine, lambda conn, size=size: step(conn, size))
        if not count:
            return total
        total += count
        done(total)
        size = next_chunk(size, count, time.perf_counter() - started)


@contextlib.contextmanager
def removal_running(engine: Engine, dataset_id: int) -> Iterator[None]:
    """Mark a dataset removal as running in this process for the block (see `_running`)."""
    key = (str(engine.url), dataset_id)
    with _running_lock:
        _running.add(key)
    try:
        yield
    finally:
        with _running_lock:
            _running.discard(key)


@contextlib.contextmanager
def load_running(tag: str) -> Iterator[None]:
    """Mark the load whose datasets carry loader tag `tag` as running in this process for the
    block (see `_loads`)."""
    with _running_lock:
        _loads.add(tag)
    try:
        yield
    finally:
        with _running_lock:
            _loads.discard(tag)


def _of_this_process(loader: str | None) -> bool:
    parts = (loader or "").split("-")
    return len(parts) >= 4 and loader_is_live_here(loader) and parts[1] == str(os.getpid())


def load_is_live(loader: str | None) -> bool:
    """Whether a loading dataset's loader may still be writing it: a running process of this
    machine, and, if it is this process, a load that is still under way."""
    if not loader_is_live_here(loader):
        return False
    if not _of_this_process(loader):
        return True
    with _running_lock:
        return loader in _loads


def load_abandoned(loader: str | None) -> bool:
    """Whether nobody is writing a hidden load (a dataset's, or a write run's) any more: its
    process is gone (another machine's after a day), or it is this process's and no longer
    running (its cleanup failed)."""
    if loader_is_gone(loader):
        return True
    return _of_this_process(loader) and not load_is_live(loader)


def _abandoned(engine: Engine, dataset_id: int, state: int, loader: str | None) -> bool:
    """Whether nobody is writing (or removing) this hidden dataset any more: its process is
    gone, or it is a removal of this process that is not running (cancelled earlier)."""
    if loader_is_gone(loader):
        return True
    if state == LOADING and _of_this_process(loader):
        return not load_is_live(loader)
    if state != REMOVING or not loader_is_live_here(loader):
        return False
    if int((loader or "").split("-")[1]) != os.getpid():
        return False
    with _running_lock:
        return (str(engine.url), dataset_id) not in _running


def sweep_abandoned(engine: Engine) -> list[SweptImport]:
    """Remove every loading dataset whose importing process is gone (see
    visibility.loader_is_gone: another machine's is kept for a day), and finish every dataset
    removal that no process is running any more; what was removed."""
    with engine.connect() as conn:
        loading = conn.exec_driver_sql(
            f"SELECT id, uuid, source_name, loader, state FROM dataset WHERE state <> {READY}"
        ).all()
    swept = []
    for dataset_id, uuid, source_name, loader, state in loading:
        if _abandoned(engine, dataset_id, state, loader):
            with removal_running(engine, dataset_id):
                rows = delete_loading(engine, dataset_id)
            swept.append(SweptImport(uuid, source_name, rows, removal=state == REMOVING))
    sweep_annotators(engine)
    return swept


def note_annotators(conn: sqlite3.Connection, dataset_uuid: str, annotator_ids: list[int]) -> None:
    """Note the annotators a loading import has added so far, in the transaction that adds
    them: if its process is killed, the sweep on open knows whom to forget."""
    conn.execute(
        "INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)",
        (ANNOTATORS_META + dataset_uuid, json.dumps(sorted(annotator_ids))),
    )


def clear_annotators(conn: sqlite3.Connection, dataset_uuid: str) -> None:
    """Drop an import's note of its added annotators (it published: they are the project's)."""
    conn.execute("DELETE FROM project_meta WHERE key = ?", (ANNOTATORS_META + dataset_uuid,))


def _forget(raw: sqlite3.Connection, annotator_ids: list[int]) -> None:
    for annotator_id in annotator_ids:
        with contextlib.suppress(sqlite3.IntegrityError):
            raw.execute("DELETE FROM annotator WHERE id = ?", (annotator_id,))


def forget_annotators(
    engine: Engine, annotator_ids: list[int], dataset_uuid: str | None = None
) -> None:
    """Remove the annotators that a failed import added for the names in its file, once its
    rows are gone; one that anything refers to meanwhile (the foreign keys say so) stays. The
    import's note of them (`note_annotators`) goes in the same transaction."""

    def forget(conn: Connection) -> None:
        raw = driver_connection(conn)
        _forget(raw, annotator_ids)
        if dataset_uuid is not None:
            clear_annotators(raw, dataset_uuid)

    if annotator_ids:  # none added: nothing noted either
        run_write(engine, forget)


def sweep_annotators(engine: Engine) -> int:
    """Forget the annotators noted by imports whose dataset is gone (killed, then swept, or a
    cleanup that failed halfway), and drop the notes of published ones; a note of a dataset
    still loading stays. The number of annotators removed."""

    def notes(raw: sqlite3.Connection) -> list[tuple[str, str, int | None]]:
        return raw.execute(
            "SELECT m.key, m.value, ds.state FROM project_meta m LEFT JOIN dataset ds"
            " ON ds.uuid = substr(m.key, ?) WHERE substr(m.key, 1, ?) = ?",
            (len(ANNOTATORS_META) + 1, len(ANNOTATORS_META), ANNOTATORS_META),
        ).fetchall()

    def sweep(conn: Connection) -> int:
        raw = driver_connection(conn)
        removed = 0
        for key, value, state in notes(raw):
            if state is not None and state != READY:
                continue  # still loading (or being removed): its import or the sweep owns it
            if state is None:
                with contextlib.suppress(ValueError, TypeError):
                    before = raw.total_changes
                    _forget(raw, [int(i) for i in json.loads(value)])
                    removed += raw.total_changes - before
            raw.execute("DELETE FROM project_meta WHERE key = ?", (key,))
        return removed

    with engine.connect() as conn:  # most opens find no note: no write transaction then
        if not notes(driver_connection(conn)):
            return 0
    return run_write(engine, sweep)


def other_live_load(raw: sqlite3.Connection) -> str | None:
    """The source name of a dataset that another running process of this machine is loading
    (an import or a merge under way), or None. Two loads at once would take the same new
    datapoint ids, so the second waits for the first (see `wait_turn`)."""
    for source_name, loader in raw.execute(  # a removal takes no new ids: never waited for
        f"SELECT source_name, loader FROM dataset WHERE state = {LOADING}"
    ):
        if load_is_live(loader):
            return str(source_name)
    return None


def wait_turn(other: str, progress: Progress, cancel: CancelCheck) -> None:
    """One pause of a load that waits for another to publish (`other`, its source name): it
    says so, and a cancel ends the wait."""
    progress(0, 0, f"Waiting for the import of {other} in another program to finish")
    check_cancel(cancel)
    time.sleep(WAIT_POLL_SECONDS)
    check_cancel(cancel)
