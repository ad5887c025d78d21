"""The one serialized executor for database writes from the GUI.

Edits run in order on a single background thread, so the window never waits on a busy
database, and no two writes from this window ever race. Results come back as Qt signals on
the GUI thread. The writer thread never touches Qt: it only puts finished futures on a queue,
which a short timer on the GUI thread drains while writes are pending (app.workers.drain), so
no Qt object is ever used from a thread Qt does not know about.

A write that another program's lock keeps out (a long import or merge in another process)
is never dropped: core's writes already wait out a busy database (app.core.storage.retry);
when even that wait runs out, `keep_trying` reports `waiting` and tries again, and the
writes queued after it wait their turn, so the order of edits is kept. `retry_now` cuts the
pause between two tries short (the window's "Retry now").

"Close anyway" and "Switch anyway" (`abandon`) give the unsaved writes up for real: they run
under core's abandon hook (app.core.storage.retry.abandonable), so once abandon() has returned
none of them commits, even if the other program's lock frees a moment later; one waiting for
the lock stops, and SQLite rolls back anything begun. What the dialog called lost is lost.

Nothing here may keep the process alive once the user chose to close anyway: the writer's
thread and the views' write threads (`DAEMON_WRITES`) are daemon threads, and the pause
between tries ends at once when the writer closes. A write cut off by the end of the process
is an SQLite transaction never committed, which SQLite rolls back: never half a write.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Executor, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from app.core.errors import TagloopError
from app.core.storage.retry import Abandon, DatabaseBusy, abandonable
from app.workers.drain import QueueDrain

T = TypeVar("T")
POLL_MS = 4
RETRY_PAUSE = 2.0  # seconds between two tries of a write the database kept out


ABANDONED = "Not saved: Tagloop was closed while another program kept the project locked."


class SerialThread:
    """One daemon thread that runs submitted functions in order (a one-worker executor).

    Unlike a ThreadPoolExecutor's, the thread is not joined at interpreter exit, so a window
    closed on purpose while a write waits for another program's lock ("close anyway") does not
    leave an invisible process waiting for that lock: an unfinished SQLite transaction simply
    never happens. Every other close waits for the writes (shutdown(wait=True))."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future, Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._lock = threading.Lock()
        self._queued: list[Future] = []  # submitted, not started
        self._started = False
        self._shut = False

    def submit(self, fn: Callable[[], Any]) -> Future:
        future: Future = Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot submit a write after the writer has shut down")
            self._queued.append(future)
            if not self._started:
                self._started = True
                self._thread.start()
        self._queue.put((future, fn))
        return future

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn = item
            with self._lock:
                self._queued.remove(future)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn()
            except BaseException as exc:  # reported through the future, like an executor
                future.set_exception(exc)
            else:
                future.set_result(result)

    def cancel_queued(self) -> int:
        """Cancel what has not started yet; returns how many were cancelled."""
        with self._lock:
            queued = list(self._queued)
        return sum(future.cancel() for future in queued)

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            if self._shut:
                return
            self._shut = True
        self._queue.put(None)
        if wait and self._started:
            self._thread.join()


class DaemonThreads(Executor):
    """An executor that runs each function on a new daemon thread (the views' writes: few,
    short, and each may wait for another program's lock). Unlike a ThreadPoolExecutor's
    threads, they are not joined at interpreter exit, so a view's write still waiting for the
    lock does not keep a closed Tagloop running for minutes ("close anyway")."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # reported through the future, like an executor
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=run, name="tagloop-view-write", daemon=True).start()
        return future


DAEMON_WRITES = DaemonThreads()


class _Waiting:
    """Put on the queue by the writer thread: the write for `token` is not saved yet (the
    first report, or a later try that was kept out again)."""

    def __init__(self, token: object, message: str, first: bool = True) -> None:
        self.token = token
        self.message = message
        self.first = first


class Writer(QObject):
    """Runs write functions one after another; `done`/`failed` carry the caller's token."""

    done = Signal(object, object)  # token, result
    failed = Signal(object, str)  # token, message
    waiting = Signal(object, str)  # token, message: kept out by a lock, kept and retried
    still_waiting = Signal(object, str)  # token, message: a later try was kept out again

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = SerialThread("tagloop-writer")
        self._drain = QueueDrain(POLL_MS, self)
        self._drain.arrived.connect(self._deliver)
        self._drain.drained.connect(self._stop_when_idle)
        self._pending = 0
        self._closing = threading.Event()
        self._wake = threading.Event()  # ends the pause between two tries (retry now, close)
        self._stalled = threading.Event()  # a write is waiting for another program's lock
        self._given_up: DatabaseBusy | None = None  # closing, and the lock did not go
        self._abandoned = False  # closed anyway: nothing more is reported or waited for
        self._hook = Abandon()  # set by abandon(): no write of this writer commits after it

    @property
    def pending(self) -> int:
        """Writes submitted whose result has not been reported yet."""
        return self._pending

    def submit(self, fn: Callable[[], Any], token: object = None) -> Future:
        self._pending += 1
        future = self._executor.submit(lambda: self._run(fn))
        finished = self._drain.queue
        # Runs on the writer thread: a thread-safe queue, no Qt.
        future.add_done_callback(lambda f: finished.put((f, token)))
        self._drain.start()
        return future

    def _run(self, fn: Callable[[], Any]) -> Any:
        """One write on the writer thread, given up for good once abandon() has run."""
        with abandonable(self._hook):
            return fn()

    @property
    def stalled(self) -> bool:
        """Whether a write is kept out by another program's lock (and being retried)."""
        return self._stalled.is_set()

    def keep_trying(self, fn: Callable[[], T], token: object = None) -> T:
        """Run `fn` (on the writer thread, inside a submitted function) until the database
        lets it in: on DatabaseBusy, report `waiting` (then `still_waiting`) and try again
        after RETRY_PAUSE seconds, or at once on retry_now(). Once the writer is shutting down,
        a busy database is given up on (raised), and the writes queued after it are not tried
        any more."""
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
                    self._drain.queue.put(_Waiting(token, waiting_message(exc), not told))
                    told = True
                    self._wake.wait(RETRY_PAUSE)
                    self._wake.clear()
        finally:
            self._stalled.clear()

    def retry_now(self) -> None:
        """Try the write kept out by the lock again now, rather than after the pause (the
        try under way, if any, already takes the lock as soon as it is free)."""
        self._wake.set()

    def _deliver(self, finished: tuple[Future, object] | _Waiting) -> None:
        """Report one finished write on the GUI thread (they come in the order made)."""
        if self._abandoned:
            return
        if isinstance(finished, _Waiting):
            signal = self.waiting if finished.first else self.still_waiting
            signal.emit(finished.token, finished.message)
            return
        future, token = finished
        self._pending -= 1
        try:
            result = future.result()
        except CancelledError:
            self.failed.emit(token, ABANDONED)
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

    def wait_idle(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds for every write submitted so far to be committed (or
        to fail); whether they all were. The results are reported on the next drain."""
        if not self._pending:
            return True
        try:
            self._executor.submit(lambda: None).result(timeout=timeout)
        except FutureTimeout:
            return False
        return True

    def abandon(self) -> int:
        """Close or switch anyway (the user chose to): the writes not saved yet are dropped,
        nothing more is reported, and shutdown() no longer waits. Once this returns, none of
        them commits: a write waiting for the lock stops when its attempt ends, rolled back
        if that attempt got the lock. Returns how many writes were
        not saved (or not known to be)."""
        self._hook.abandon()  # first: a commit under way finishes, then none begins
        unsaved = self._pending
        self._abandoned = True
        self._closing.set()
        self._wake.set()
        self._executor.cancel_queued()
        self._drain.stop()
        return unsaved

    def shutdown(self) -> None:
        """Finish the writes submitted so far. A write kept out by a lock gets one last full
        wait (app.core.storage.retry.write_timeout()), then fails, as do the writes after it,
        and the failures are reported (a window asks first while `stalled`)."""
        self._closing.set()
        self._wake.set()
        self._executor.shutdown(wait=not self._abandoned)
        if not self._abandoned:
            self._drain.drain()


def waiting_message(exc: DatabaseBusy) -> str:
    """Why an edit is not saved yet, and what happens to it (after what was not saved)."""
    return (
        f"Another program (e.g. a long import or merge) has kept the project locked for"
        f" {exc.waited:.0f} s. Your edits are kept in memory (undo still works), and Tagloop"
        " keeps retrying and saves them as soon as the project is free; keep it open until then."
    )
