"""Run core work off the GUI thread: progress and cancel from core become Qt signals.

Core functions take `progress(done, total, message)` and `cancel()`; a Job passes both in,
runs the function on the global QThreadPool, and re-emits everything on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from app.core.errors import Cancelled, TagloopError

log = logging.getLogger(__name__)


class Job(QObject):
    """One background run of a core function. Signals arrive on the thread that made the Job."""

    progress = Signal(int, int, str)  # done, total (-1 if unknown), message
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._cancel = threading.Event()
        self.done = False
        self.error: Exception | None = None  # the failure, for callers that offer a remedy

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def start(self) -> Job:
        QThreadPool.globalInstance().start(_Runner(self))
        return self

    def _emit(self, signal_name: str, *args: Any) -> None:
        try:
            getattr(self, signal_name).emit(*args)
        except RuntimeError:  # the Job's Qt side is gone (app shutting down): nobody listens
            self._cancel.set()

    def _run(self) -> None:
        def progress(done: int, total: int | None, message: str) -> None:
            self._emit("progress", int(done), -1 if total is None else int(total), message)

        try:
            result = self._fn(
                *self._args, progress=progress, cancel=self._cancel.is_set, **self._kwargs
            )
        except Cancelled:
            self._emit("cancelled")
        except TagloopError as exc:
            self.error = exc
            self._emit("failed", str(exc))
        except Exception as exc:  # a bug: log it whole, show a short message
            log.exception("background job failed")
            self._emit("failed", f"Unexpected error: {type(exc).__name__}: {exc}")
        else:
            self._emit("succeeded", result)
        finally:
            self.done = True
            self._emit("finished")


class _Runner(QRunnable):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job

    def run(self) -> None:
        self.job._run()


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
