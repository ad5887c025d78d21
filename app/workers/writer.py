"""The one serialized executor for database writes from the GUI.

Edits run in order on a single background thread, so the window never waits on a busy
database, and no two writes from this window ever race. Results come back as Qt signals on
the GUI thread. The writer thread never touches Qt: it only puts finished futures on a queue,
which a short timer on the GUI thread drains while writes are pending (app.workers.drain), so
no Qt object is ever used from a thread Qt does not know about.

A write that another program's lock keeps out (a long import or merge in another process)
is never dropped: core's writes already wait out a busy database (app.core.storage.retry);
when even that wait runs out, `keep_trying` reports `waiting` once and tries again, and the
writes queued after it wait their turn, so the order of edits is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from app.core.errors import TagloopError
from app.core.storage.retry import DatabaseBusy
from app.workers.drain import QueueDrain

T = TypeVar("T")
POLL_MS = 4
RETRY_PAUSE = 2.0  # seconds between two tries of a write the database kept out


class _Waiting:
    """Put on the queue by the writer thread: the write for `token` is not saved yet."""

    def __init__(self, token: object, message: str) -> None:
        self.token = token
        self.message = message


class Writer(QObject):
    """Runs write functions one after another; `done`/`failed` carry the caller's token."""

    done = Signal(object, object)  # token, result
    failed = Signal(object, str)  # token, message
    waiting = Signal(object, str)  # token, message: kept out by a lock, kept and retried

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagloop-writer")
        self._drain = QueueDrain(POLL_MS, self)
        self._drain.arrived.connect(self._deliver)
        self._drain.drained.connect(self._stop_when_idle)
        self._pending = 0
        self._closing = threading.Event()
        self._stalled = threading.Event()  # a write is waiting for another program's lock
        self._given_up: DatabaseBusy | None = None  # closing, and the lock did not go

    @property
    def pending(self) -> int:
        """Writes submitted whose result has not been reported yet."""
        return self._pending

    def submit(self, fn: Callable[[], Any], token: object = None) -> Future:
        self._pending += 1
        future = self._executor.submit(fn)
        finished = self._drain.queue
        # Runs on the writer thread: a thread-safe queue, no Qt.
        future.add_done_callback(lambda f: finished.put((f, token)))
        self._drain.start()
        return future

    @property
    def stalled(self) -> bool:
        """Whether a write is kept out by another program's lock (and being retried)."""
        return self._stalled.is_set()

    def keep_trying(self, fn: Callable[[], T], token: object = None) -> T:
        """Run `fn` (on the writer thread, inside a submitted function) until the database
        lets it in: on DatabaseBusy, report `waiting` once and try again every RETRY_PAUSE
        seconds. Once the writer is shutting down, a busy database is given up on (raised), and
        the writes queued after it are not tried any more."""
        told = False
        if self._given_up is not None:
            raise self._given_up
        try:
            while True:
                try:
                    return fn()
                except DatabaseBusy as exc:
                    if self._closing.is_set():
                        self._given_up = exc
                        raise
                    self._stalled.set()
                    if not told:
                        told = True
                        self._drain.queue.put(_Waiting(token, waiting_message(exc)))
                    self._closing.wait(RETRY_PAUSE)
        finally:
            self._stalled.clear()

    def _deliver(self, finished: tuple[Future, object] | _Waiting) -> None:
        """Report one finished write on the GUI thread (they come in the order made)."""
        if isinstance(finished, _Waiting):
            self.waiting.emit(finished.token, finished.message)
            return
        future, token = finished
        self._pending -= 1
        try:
            result = future.result()
        except TagloopError as exc:
            self.failed.emit(token, str(exc))
        except Exception as exc:  # a bug or a disk error: still reported, never swallowed
            self.failed.emit(token, f"{type(exc).__name__}: {exc}")
        else:
            self.done.emit(token, result)

    def _stop_when_idle(self) -> None:
        """No ticks while no write is pending: an idle window costs nothing."""
        if not self._pending:
            self._drain.stop()

    def flush(self) -> None:
        """Wait until every write submitted so far is committed (or kept out by another
        program's lock: then this returns, and those writes are saved later), and report."""
        done = self._executor.submit(lambda: None)
        while True:
            try:
                done.result(timeout=0.05)
                break
            except FutureTimeout:
                if self._stalled.is_set():
                    break
        self._drain.drain()

    def shutdown(self) -> None:
        """Finish the writes submitted so far. A write kept out by a lock gets one last full
        wait (app.core.storage.retry.write_timeout()), then fails, as do the writes after it,
        and the failures are reported (a window asks first while `stalled`)."""
        self._closing.set()
        self._executor.shutdown(wait=True)
        self._drain.drain()


def waiting_message(exc: DatabaseBusy) -> str:
    return (
        f"Not saved yet: another program (e.g. a long import or merge) has kept the project"
        f" locked for {exc.waited:.0f} s. Your edits are kept, and Tagloop saves them as"
        " soon as the project is free; keep Tagloop open until then."
    )
