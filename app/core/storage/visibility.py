"""Which datapoints the user sees: those of published datasets, never an unfinished import's.

An import commits its rows in short chunks (so that no writer waits on it for more than about
a second) under a dataset in state LOADING, and publishes them all at once in its last short
transaction by setting the state to READY. Until then, and forever if the importing process
dies, those rows must be left out of everything that ENUMERATES or COUNTS datapoints (browse,
worklist, stats, exports, bundles, training data, search results, duplicate checks...). Reads
of a datapoint by an explicit id need no filter: an id only comes from a visible list.

Use `visible("d")` in SQL text (d: the alias of the datapoint table, or its name) and
`visible_clause()` in SQLAlchemy Core; both say the same thing. The subquery is evaluated once
per statement and the dataset table is tiny, but the filter needs each row's dataset_id, which
keeps SQLite from answering from the narrow id-only indexes: a count or a deep page over 1M
rows takes 5-10x longer. The hot paths (browse, worklist) therefore use `visible_where(conn)`,
which gives the filter only while some dataset is loading, in one snapshot with the query.

A dataset being removed (state REMOVING) is hidden the same way, from the moment its removal
begins until its last row is gone.

`loader_tag()` names the loading (or removing) process (host, pid, start time, as
app.core.fileio names a temporary file's writer), and `loader_is_gone(tag)` tells whether that
process has ended, for the sweep on open (app.core.io.datasets).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time

from sqlalchemy import ColumnElement, Connection, Table, select

from app.core.fileio import host_tag, process_alive, process_start
from app.core.storage import tables as t
from app.core.storage.sqlite import driver_connection

READY = 0  # dataset.state: published, its datapoints are seen
LOADING = 1  # dataset.state: an import is (or was) writing it; its datapoints are unseen
# dataset.state: being removed (app.core.io.datasets.remove_dataset). One short transaction
# hides it (the filters below hide every state but READY) and records the audit event; its
# rows then go in short transactions (app.core.storage.staging). It never becomes READY again:
# a removal cancelled or killed midway stays hidden and is finished when the project next opens.
REMOVING = 2

# A loading dataset of another machine (a shared folder) is left alone until it is this old:
# its pid means nothing here, and its import may still be running there.
FOREIGN_LOADER_AGE = 24 * 3600  # seconds
_LOADS = itertools.count(1)  # the loads begun by this process (see loader_tag)

_HIDDEN = f"SELECT id FROM dataset WHERE state <> {READY}"


def visible(alias: str = "d") -> str:
    """SQL: the datapoint (alias or table name `alias`) belongs to a published dataset."""
    column = f"{alias}.dataset_id" if alias else "dataset_id"
    return f"{column} NOT IN ({_HIDDEN})"


def visible_id(column: str = "datapoint_id") -> str:
    """SQL: the datapoint id in `column` (of an annotation, a label, a prediction...) is one
    of a published dataset. It costs a lookup of the loading datasets' rows alone (on the
    dataset_id index), so it suits tables keyed by datapoint better than a join."""
    return f"{column} NOT IN (SELECT id FROM datapoint WHERE dataset_id IN ({_HIDDEN}))"


def visible_clause(table: Table | None = None) -> ColumnElement[bool]:
    """The SQLAlchemy clause of `visible` for the datapoint table (or an alias of it)."""
    table = t.datapoint if table is None else table
    hidden = select(t.dataset.c.id).where(t.dataset.c.state != READY)
    return table.c.dataset_id.not_in(hidden.scalar_subquery())


def snapshot(conn: Connection | sqlite3.Connection) -> None:
    """Begin a read transaction on `conn` unless it is in one, so that the statements after
    this see one state of the database (e.g. `loading` and the query that it shapes). It ends
    with the connection's transaction: when a SQLAlchemy connection goes back to its pool."""
    raw = driver_connection(conn)
    if not raw.in_transaction:
        raw.execute("BEGIN")


def loading(conn: Connection | sqlite3.Connection) -> bool:
    """Whether some dataset is loading (an import running, or one killed midway)."""
    sql = f"SELECT 1 FROM dataset WHERE state <> {READY} LIMIT 1"
    return driver_connection(conn).execute(sql).fetchone() is not None


def visible_where(conn: Connection | sqlite3.Connection, alias: str = "d") -> str | None:
    """`visible(alias)` if some dataset is loading, else None: for the hot read paths (browse
    pages, counts, the worklist), which then run exactly as fast as before when no import is
    running (the filter keeps SQLite from answering on the narrow id-only indexes). It takes
    a snapshot first (see `snapshot`), so the answer holds for the queries that follow."""
    snapshot(conn)
    return visible(alias) if loading(conn) else None


def ready_datasets(alias: str = "") -> str:
    """SQL: the dataset row (alias or table name `alias`) is published."""
    column = f"{alias}.state" if alias else "state"
    return f"{column} = {READY}"


def loader_tag() -> str:
    """This process and this load, as HOST-PID-START-TIME-N: where, which, since when, when it
    began loading (the time lets another machine's stale import be swept after a day), and a
    count that tells apart two loads of one process begun in the same second."""
    pid = os.getpid()
    return f"{host_tag()}-{pid}-{process_start(pid)}-{int(time.time())}-{next(_LOADS)}"


def loader_is_gone(tag: str | None, now: float | None = None) -> bool:
    """Whether the process named by `tag` (see loader_tag) can no longer be loading.

    Same machine: its pid is not alive, or is now another process (a different start time).
    Another machine: only once the load began more than FOREIGN_LOADER_AGE ago. A tag that
    cannot be read (none, or garbled) counts as gone: no live import writes such a tag."""
    try:
        host, pid_text, start_text, began_text = (tag or "").split("-")[:4]  # and N, if any
        pid, start, began = int(pid_text), int(start_text), int(began_text)
    except ValueError:
        return True
    if host != host_tag():
        return (time.time() if now is None else now) - began > FOREIGN_LOADER_AGE
    if not process_alive(pid):
        return True
    current = process_start(pid)
    return bool(start and current and start != current)


def loader_is_live_here(tag: str | None) -> bool:
    """Whether `tag` names a process of this machine that is still running (so it may still
    be loading). Another machine's loader is never waited for: nothing here can tell whether
    it still runs."""
    host = (tag or "").split("-")[0]
    return host == host_tag() and not loader_is_gone(tag)
