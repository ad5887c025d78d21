"""The one serialized executor for database writes from the GUI.

Edits run in order on a single background thread, so the window never waits on a busy
database, and no two writes from this window ever race. Results come back as Qt signals on
the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.core.errors import TagloopError


class Writer(QObject):
    """Runs write functions one after another; `done`/`failed` carry the caller's token."""

    done = Signal(object, object)  # token, result
    failed = Signal(object, str)  # token, message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagloop-writer")
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, fn: Callable[[], Any], token: object = None) -> Future:
        self._pending += 1
        future = self._executor.submit(fn)
        future.add_done_callback(lambda f: self._finished(f, token))
        return future

    def _finished(self, future: Future, token: object) -> None:
        # Runs on the writer thread; the signals are queued to the receivers' thread.
        try:
            result = future.result()
        except TagloopError as exc:
            self.failed.emit(token, str(exc))
        except Exception as exc:  # a bug or a disk error: still reported, never swallowed
            self.failed.emit(token, f"{type(exc).__name__}: {exc}")
        else:
            self.done.emit(token, result)
        finally:
            self._pending -= 1

    def flush(self) -> None:
        """Wait until every write submitted so far is committed."""
        self._executor.submit(lambda: None).result()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
