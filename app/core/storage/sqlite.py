"""What ties Tagloop to SQLite, in one place: the driver connection under SQLAlchemy, and the
one bulk-write transaction that the big writers (import, bundle open, bundle merge) share.

Code that needs SQLite's own API (bulk paths on the raw driver, progress handlers) gets the
connection here, so that a move to another database finds every such place through this module.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping

from sqlalchemy import Connection

from app.core.errors import Cancelled
from app.core.jobs import CancelCheck

# How many SQLite virtual-machine steps run between two calls of the cancel check.
CANCEL_EVERY = 100_000


def driver_connection(conn: Connection | sqlite3.Connection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLAlchemy connection (inside its transaction); a
    sqlite3 connection as it is, so that a function may take either."""
    if isinstance(conn, sqlite3.Connection):
        return conn
    return conn.connection.driver_connection  # type: ignore[return-value]


@contextlib.contextmanager
def bulk_write(
    sa_conn: Connection,
    cancel: CancelCheck,
    refused: Callable[[sqlite3.OperationalError], Exception],
    *,
    pragmas: Mapping[str, str] | None = None,
    cancel_every: int = CANCEL_EVERY,
    checkpoint: bool = False,
) -> Iterator[sqlite3.Connection]:
    """One all-or-nothing write transaction on the raw driver, cancellable at any statement.

    Yields the sqlite3 connection inside a transaction that holds the write lock from its
    first statement (BEGIN IMMEDIATE: a long job never fails midway on a busy database), and
    commits when the block ends. `pragmas` (e.g. {"foreign_keys": "OFF"}) are set before the
    transaction, where SQLite allows them, and each is put back to its former value after.
    With `checkpoint`, the WAL is folded into the database file after the commit.

    A `cancel()` that turns true interrupts the running statement: the transaction rolls
    back and Cancelled is raised, so nothing is left behind. Any other refusal of the database
    (sqlite3.OperationalError) is raised as `refused(exc)`.
    """
    conn = driver_connection(sa_conn)
    former = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in pragmas or {}}
    try:
        for name, value in (pragmas or {}).items():
            conn.execute(f"PRAGMA {name}={value}")
        conn.set_progress_handler(lambda: 1 if cancel() else 0, cancel_every)
        try:
            with sa_conn.begin():
                conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not midway
                yield conn
            if checkpoint:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise Cancelled() from None
            raise refused(exc) from exc
    finally:
        conn.set_progress_handler(None, 0)
        if former:
            if conn.in_transaction:  # cannot happen after the block; never hand back a lax one
                sa_conn.invalidate()
            else:
                for name, value in former.items():
                    conn.execute(f"PRAGMA {name}={value}")


@contextlib.contextmanager
def pragmas(sa_conn: Connection, values: Mapping[str, str | int]) -> Iterator[sqlite3.Connection]:
    """Set pragmas on a connection outside any transaction (e.g. {"foreign_keys": "OFF"}) for
    the block, and put each back to its former value after, so that the pool never hands a
    lax connection to anyone else (if that cannot be done, the connection is discarded)."""
    conn = driver_connection(sa_conn)
    former = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in values}
    try:
        for name, value in values.items():
            conn.execute(f"PRAGMA {name}={value}")
        yield conn
    finally:
        if conn.in_transaction:
            sa_conn.invalidate()
        else:
            for name, value in former.items():
                conn.execute(f"PRAGMA {name}={value}")
