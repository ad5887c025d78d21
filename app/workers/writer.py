"""The one serialized executor for database writes from the GUI.

Edits run in order on a single background thread, so the window never waits on a busy
database, and no two writes from this window ever race. Results come back as Qt signals on
the GUI thread. The writer thread never touches Qt: it only puts finished futures on a queue,
which a short timer on the GUI thread drains while writes are pending (app.workers.drain), so
no Qt object is ever used from a thread Qt does not know about.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.core.errors import TagloopError
from app.workers.drain import QueueDrain

POLL_MS = 4


class Writer(QObject):
    """Runs write functions one after another; `done`/`failed` carry the caller's token."""

    done = Signal(object, object)  # token, result
    failed = Signal(object, str)  # token, message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagloop-writer")
        self._drain = QueueDrain(POLL_MS, self)
        self._drain.arrived.connect(self._deliver)
        self._drain.drained.connect(self._stop_when_idle)
        self._pending = 0

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

    def _deliver(self, finished: tuple[Future, object]) -> None:
        """Report one finished write on the GUI thread (they come in the order made)."""
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
        """Wait until every write submitted so far is committed, and report them."""
        self._executor.submit(lambda: None).result()
        self._drain.drain()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
