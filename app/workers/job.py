"""Run core work off the GUI thread: progress and cancel from core become Qt signals.

Core functions take `progress(done, total, message)` and `cancel()`. A Job runs one on a plain
worker thread that never touches a Qt object: it only puts events on a thread-safe queue,
which a timer on the GUI thread drains into the Job's signals (app.workers.drain). A running
Job is kept alive by a registry until its last event is delivered, so the garbage collector
can never delete a Job (or its dialog) while its thread still reports to it. (Qt objects used
or deleted across threads crashed the test suite at random.)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from app.core.errors import Cancelled, TagloopError
from app.workers.drain import QueueDrain

log = logging.getLogger(__name__)

POLL_MS = 15
_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tagloop-job")
_RUNNING: set[Job] = set()


class Job(QObject):
    """One background run of a core function. Signals arrive on the GUI thread."""

    progress = Signal(int, int, str)  # done, total (-1 if unknown), message
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._cancel = threading.Event()
        self._drain = QueueDrain(POLL_MS, self)
        self._drain.arrived.connect(self._deliver)
        self._drain.drained.connect(self._report_progress)
        self._latest_progress: tuple[Any, ...] | None = None  # not yet reported
        self.future: Future | None = None
        self.done = False
        self.error: Exception | None = None  # the failure, for callers that offer a remedy

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def start(self, executor: Executor | None = None) -> Job:
        """Run the function (on `executor`, by default the shared pool); connect the signals
        first."""
        _RUNNING.add(self)
        self.future = (executor or _EXECUTOR).submit(
            _run, self._fn, self._args, self._kwargs, self._cancel, self._drain.queue
        )
        self._drain.start()
        return self

    def _deliver(self, event: tuple[Any, ...]) -> None:
        """One of the worker's events as a signal, on the GUI thread."""
        kind = event[0]
        if kind == "progress":
            self._latest_progress = event[1:]  # only the newest matters to a progress bar
            return
        self._report_progress()
        if kind == "succeeded":
            self.succeeded.emit(event[1])
        elif kind == "failed":
            self.error = event[2]
            self.failed.emit(event[1])
        elif kind == "cancelled":
            self.cancelled.emit()
        elif kind == "finished":
            self._drain.stop()
            self.done = True
            self.finished.emit()
            _RUNNING.discard(self)

    def _report_progress(self) -> None:
        """The newest progress not yet reported, if any (before any other event, and once the
        queue is empty)."""
        if self._latest_progress is not None:
            latest, self._latest_progress = self._latest_progress, None
            self.progress.emit(*latest)


def _run(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    cancel: threading.Event,
    events: queue.SimpleQueue,
) -> None:
    """The worker side: plain Python only, results go on the queue."""

    def progress(done: int, total: int | None, message: str) -> None:
        events.put(("progress", int(done), -1 if total is None else int(total), message))

    try:
        result = fn(*args, progress=progress, cancel=cancel.is_set, **kwargs)
    except Cancelled:
        events.put(("cancelled",))
    except TagloopError as exc:
        events.put(("failed", str(exc), exc))
    except Exception as exc:  # a bug: log it whole, show a short message
        log.exception("background job failed")
        events.put(("failed", f"Unexpected error: {type(exc).__name__}: {exc}", exc))
    else:
        events.put(("succeeded", result))
    finally:
        events.put(("finished",))


def wait_for_jobs(timeout: float = 10.0) -> bool:
    """Wait until every running job's function has returned (at exit, and in tests)."""
    futures = [job.future for job in list(_RUNNING) if job.future is not None]
    _done, not_done = wait(futures, timeout=timeout)
    return not not_done


def run_with_progress(
    parent: QWidget | None, title: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Job:
    """A Job behind a window-modal progress dialog whose Cancel cancels the job.

    Not started: connect its signals, then call start(). A job that finished before its
    signals were connected would report to nobody.
    """
    job = Job(fn, *args, **kwargs)
    dialog = QProgressDialog(title, "Cancel", 0, 0, parent)
    dialog.setWindowTitle(title)
    dialog.setMinimumDuration(300)
    dialog.setMinimumWidth(420)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.canceled.connect(job.cancel)

    def on_progress(done: int, total: int, message: str) -> None:
        if total > 0:
            scale = max(1, total // 1_000_000 + 1)  # QProgressDialog takes ints
            dialog.setMaximum(total // scale)
            dialog.setValue(min(done, total) // scale)
        dialog.setLabelText(message)

    job.progress.connect(on_progress)
    job.finished.connect(dialog.close)
    job.finished.connect(dialog.deleteLater)
    job.dialog = dialog  # type: ignore[attr-defined]
    return job
