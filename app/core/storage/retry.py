"""Short writes that wait out a busy database instead of failing.

Another process (a long import, a bundle merge) may hold a project's write lock for tens of
seconds, longer than SQLite's busy timeout. Every short write (a label, a model version, an
audit event, a review decision) goes through this module, which

- takes the write lock first (BEGIN IMMEDIATE), so that everything the transaction reads
  is read under the lock: no read-then-write race with another process, and no write can
  fail midway on a lock that another writer took after our first read;
- retries on SQLITE_BUSY / "database is locked", every few milliseconds for the first
  seconds (so it takes the short gaps a chunked import leaves), then with backoff, until a deadline
  (`write_timeout()`: TAGLOOP_WRITE_TIMEOUT seconds, 120 by default), then raises
  DatabaseBusy, a ProjectError with a clear message (never a traceback).

`run_write(engine, fn)` re-runs the whole transaction function `fn(conn)` on busy, so `fn`
must be re-runnable: it reads what it needs inside the transaction and has no effects
outside it. `write_transaction(engine)` is the context-manager form for a block: it retries
taking the lock (the only step that waits in WAL mode), then runs the block once.

A client that may give its writes up (the window's "Switch anyway") runs them under
`abandonable(hook)`: once `hook.abandon()` has returned, none of them commits. A write still
waiting for the lock stops (WriteAbandoned) when its attempt ends: one whose attempt gets the
lock rolls back before its first read, and the commit itself is gated, so a write is either
committed before abandon() returns, or never; SQLite rolls back the rest.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from app.core.errors import ProjectError
from app.core.storage.sqlite import driver_connection

T = TypeVar("T")

DEFAULT_WRITE_TIMEOUT = 120.0  # seconds; outlasts a 25 s bulk write several times over
FIRST_PAUSE = 0.02  # seconds between attempts, doubled up to MAX_PAUSE (with jitter)
MAX_PAUSE = 1.0
ATTEMPT_WAIT = 10.0  # longest wait inside SQLite's own busy handler per attempt
# For the first FINE_SECONDS of a wait, attempts come every few milliseconds (SQLite's busy
# handler waits at most POLL_WAIT, then FINE_PAUSE): its own handler sleeps up to 100 ms at a
# time, and so kept missing the short gaps that a chunked import leaves between its chunks
# (app.core.io.importer), waiting several chunks instead of one.
FINE_SECONDS = 5.0
POLL_WAIT = 0.004
FINE_PAUSE = 0.002
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_held = threading.local()  # engines whose write lock this thread holds (nesting guard)


class DatabaseBusy(ProjectError):
    """The project's write lock stayed taken by another program for the whole wait."""

    def __init__(self, waited: float, where: str = "") -> None:
        self.waited = waited
        at = f"{where}: " if where else ""
        super().__init__(
            f"{at}the project file is busy: another program (e.g. a long import or merge)"
            f" has held its write lock for {waited:.0f} s; nothing was changed. Try again when"
            " it has finished."
        )


class WriteAbandoned(ProjectError):
    """A write given up by its client (`Abandon`) before it committed: nothing was written."""

    def __init__(self, where: str = "") -> None:
        at = f"{where}: " if where else ""
        super().__init__(f"{at}not saved: this write was given up before it was committed")


class Abandon:
    """One client's hook for giving up its writes for good (see `abandonable`). The lock
    makes abandon() and a commit exclusive: after abandon() no write of the client commits."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()

    def abandon(self) -> None:
        with self._lock:  # waits for a commit under way (milliseconds), then none begins
            self._event.set()

    @property
    def abandoned(self) -> bool:
        return self._event.is_set()

    def check(self, where: str = "") -> None:
        if self._event.is_set():
            raise WriteAbandoned(where)

    def sleep(self, seconds: float) -> None:
        """A pause between two attempts, ended early by abandon()."""
        self._event.wait(seconds)

    @contextlib.contextmanager
    def commit_gate(self, where: str = "") -> Iterator[None]:
        """Held around a commit: raises (so the transaction rolls back) if already abandoned."""
        with self._lock:
            self.check(where)
            yield


@contextlib.contextmanager
def abandonable(hook: Abandon) -> Iterator[None]:
    """Run this thread's writes in the block under `hook` (see Abandon)."""
    former = getattr(_held, "abandon", None)
    _held.abandon = hook
    try:
        hook.check()
        yield
    finally:
        _held.abandon = former


def _hook() -> Abandon | None:
    return getattr(_held, "abandon", None)


def write_timeout() -> float:
    """How long a short write waits for the lock: TAGLOOP_WRITE_TIMEOUT seconds, or 120."""
    raw = os.environ.get("TAGLOOP_WRITE_TIMEOUT", "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_WRITE_TIMEOUT
    return value if value > 0 else DEFAULT_WRITE_TIMEOUT


def is_busy(exc: BaseException) -> bool:
    """Whether an error is SQLite's "database is locked" (busy), raw or wrapped by SQLAlchemy."""
    if isinstance(exc, DatabaseBusy):
        return True
    if isinstance(exc, DBAPIError):
        exc = exc.orig  # type: ignore[assignment]
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    message = str(exc)
    return "database is locked" in message or "database table is locked" in message


def _where(engine: Engine) -> str:
    return str(engine.url.database or "")


@contextlib.contextmanager
def _immediate(engine: Engine, deadline: float, wait: float) -> Iterator[Connection]:
    """One attempt: a connection inside BEGIN IMMEDIATE, committed when the block ends.

    SQLite's busy handler waits at most the time left (and `wait`) for the lock."""
    held: set[int] = _held.__dict__.setdefault("engines", set())
    if id(engine) in held:  # a second connection of this thread would wait on the first
        raise RuntimeError("nested write transaction on the same project in one thread")
    hook = _hook()
    if hook is not None:
        hook.check(_where(engine))  # given up: not even BEGIN
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        raw = driver_connection(conn)
        former = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        left_ms = int(max(0.0, min(deadline - time.monotonic(), wait)) * 1000)
        raw.execute(f"PRAGMA busy_timeout={left_ms}")
        try:
            with contextlib.ExitStack() as gate, conn.begin():
                raw.execute("BEGIN IMMEDIATE")  # the write lock, before the first read
                raw.execute(f"PRAGMA busy_timeout={former}")
                held.add(id(engine))
                try:
                    if hook is not None:
                        hook.check(_where(engine))  # given up while waiting: roll back
                    yield conn
                    if hook is not None:  # held until the commit below has happened
                        gate.enter_context(hook.commit_gate(_where(engine)))
                finally:
                    held.discard(id(engine))
        finally:
            with contextlib.suppress(sqlite3.Error):
                raw.execute(f"PRAGMA busy_timeout={former}")


def _pauses(deadline: float, fine_until: float) -> Iterator[float]:
    """Sleeps between attempts: FINE_PAUSE until `fine_until`, then doubling from FIRST_PAUSE
    to MAX_PAUSE, jittered, never past the deadline; ends when the deadline has passed."""
    while (left := deadline - time.monotonic()) > 0 and time.monotonic() < fine_until:
        yield min(left, FINE_PAUSE * random.uniform(0.5, 1.5))
    pause = FIRST_PAUSE
    while (left := deadline - time.monotonic()) > 0:
        yield min(left, pause * random.uniform(0.5, 1.0))
        pause = min(pause * 2, MAX_PAUSE)


class _Attempts:
    """The clock of one write's attempts, shared by run_write and write_transaction: when it
    started, its deadline, and the pauses between busy attempts."""

    def __init__(self, engine: Engine, timeout: float | None) -> None:
        self.engine = engine
        self.started = time.monotonic()
        self.deadline = self.started + (write_timeout() if timeout is None else timeout)
        self._pauses = _pauses(self.deadline, self.started + FINE_SECONDS)

    def attempt_wait(self) -> float:
        """How long SQLite's busy handler may wait in the next attempt: briefly while the
        attempts are fine-grained, then up to ATTEMPT_WAIT."""
        fine = time.monotonic() < self.started + FINE_SECONDS
        return min(POLL_WAIT, ATTEMPT_WAIT) if fine else ATTEMPT_WAIT

    def busy(self) -> DatabaseBusy:
        """The error for a write that waited in vain."""
        return DatabaseBusy(time.monotonic() - self.started, _where(self.engine))

    def wait(self, exc: BaseException) -> None:
        """After a busy attempt: sleep before the next one, or raise DatabaseBusy (from
        `exc`) once the deadline has passed; WriteAbandoned once this thread's writes are
        given up (see `abandonable`)."""
        hook = _hook()
        if hook is not None:
            hook.check(_where(self.engine))
        pause = next(self._pauses, None)
        if pause is None:
            raise self.busy() from exc
        if hook is None:
            time.sleep(pause)
        else:
            hook.sleep(pause)
            hook.check(_where(self.engine))


def run_write(engine: Engine, fn: Callable[[Connection], T], *, timeout: float | None = None) -> T:
    """Run `fn(conn)` in one write transaction that holds the lock from its start, committed
    when `fn` returns; on busy, roll back and run `fn` again, until `timeout` seconds
    (default write_timeout()) have passed, then raise DatabaseBusy. Other errors propagate
    (after the rollback)."""
    attempts = _Attempts(engine, timeout)
    while True:
        try:
            with _immediate(engine, attempts.deadline, attempts.attempt_wait()) as conn:
                return fn(conn)
        except (sqlite3.OperationalError, DBAPIError) as exc:
            if not is_busy(exc):
                raise
            attempts.wait(exc)


@contextlib.contextmanager
def write_transaction(engine: Engine, *, timeout: float | None = None) -> Iterator[Connection]:
    """A write transaction for a block: waits (with retries, up to `timeout`) for the write
    lock, then runs the block once under it and commits. A busy error inside the block
    (which WAL mode does not produce once the lock is held) becomes DatabaseBusy."""
    attempts = _Attempts(engine, timeout)
    try:
        with contextlib.ExitStack() as stack:
            while True:
                try:
                    conn = stack.enter_context(
                        _immediate(engine, attempts.deadline, attempts.attempt_wait())
                    )
                    break
                except (sqlite3.OperationalError, DBAPIError) as exc:
                    if not is_busy(exc):
                        raise
                    attempts.wait(exc)
            yield conn
    except (sqlite3.OperationalError, DBAPIError) as exc:
        if is_busy(exc):
            raise attempts.busy() from exc
        raise


@contextlib.contextmanager
def held_write(conn: Connection, *, timeout: float | None = None) -> Iterator[sqlite3.Connection]:
    """A write transaction on a connection the caller keeps across several of them (a long
    job committing in short chunks, with its own pragmas on that connection): waits for the
    write lock with retries and backoff as write_transaction does, runs the block once under
    it, and commits; an error in the block rolls it back. Yields the sqlite3 connection."""
    attempts = _Attempts(conn.engine, timeout)
    raw = driver_connection(conn)
    former = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    while True:
        wait = attempts.attempt_wait()
        left_ms = int(max(0.0, min(attempts.deadline - time.monotonic(), wait)) * 1000)
        raw.execute(f"PRAGMA busy_timeout={left_ms}")
        transaction = conn.begin()
        try:
            raw.execute("BEGIN IMMEDIATE")  # the write lock, before the first read
            break
        except sqlite3.OperationalError as exc:
            transaction.rollback()
            if not is_busy(exc):
                raise
            attempts.wait(exc)
        finally:
            raw.execute(f"PRAGMA busy_timeout={former}")
    with transaction:
        yield raw
