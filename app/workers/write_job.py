"""A view's write, off the GUI thread: the window never freezes on another program's lock.

Core's short writes (a review decision, an adjudication, marking gold, keeping a label,
adding an annotator, acknowledging guidelines...) wait out a busy database for up to
app.core.storage.retry.write_timeout() seconds while another process (a long import or
merge) holds the project's write lock. Called on the GUI thread, that wait would freeze the
window. `start_write` runs such a verb as a Job instead, and keeps the view consistent while
it is pending: the controls that would start another write (or change what the write is
about) are disabled, the view says "Saving…", and when the write ends the controls come back
and the view hears of the result or of the failure (a clear message, never a traceback).

Writes still pending are counted (`pending_writes`), so that closing the window can ask first.
They run on daemon threads (app.workers.writer.DAEMON_WRITES), so that one still waiting for
the lock when the user closes anyway does not keep the process alive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import wait
from typing import Any

from PySide6.QtWidgets import QWidget
from shiboken6 import isValid

from app.core.storage.retry import Abandon, abandonable
from app.workers.job import Job
from app.workers.writer import DAEMON_WRITES

SAVING = "Saving… (waiting for the project if another program is writing to it)"
_PENDING: set[Job] = set()
_HOOK = [Abandon()]  # the abandon hook of the writes started from now on (abandon_writes)


def pending_writes() -> int:
    """Writes started by views that have not ended yet."""
    return len(_PENDING)


def wait_for_writes(timeout: float) -> bool:
    """Wait at most `timeout` seconds for the pending writes' functions to return; whether
    they all did (their outcomes reach the views on the next events)."""
    futures = [job.future for job in list(_PENDING) if job.future is not None]
    _done, not_done = wait(futures, timeout=timeout)
    return not not_done


def abandon_writes() -> None:
    """Give up every view write started so far ("close / switch anyway"): once this returns,
    none of them commits (app.core.storage.retry.Abandon); later writes are not affected."""
    hook, _HOOK[0] = _HOOK[0], Abandon()
    hook.abandon()


def _call(fn: Callable[[], Any], progress: Any = None, cancel: Any = None) -> Any:
    return fn()


def _guarded(hook: Abandon, fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with abandonable(hook):
            return fn()

    return run


def start_write(
    owner: QWidget,
    fn: Callable[[], Any],
    *,
    busy: Sequence[QWidget] = (),
    done: Callable[[Any], None] | None = None,
    failed: Callable[[str], None] | None = None,
    say: Callable[[str], None] | None = None,
    saving: str = SAVING,
) -> Job:
    """Run the write `fn()` on a worker thread; returns the started Job.

    Until it ends, the `busy` widgets are disabled and `say(saving)` tells the user. When it
    ends the widgets get their former state back, then `done(result)` or `failed(message)` runs
    on the GUI thread (not at all if `owner` is gone by then)."""
    job = Job(_call, _guarded(_HOOK[0], fn))
    former = [(widget, widget.isEnabled()) for widget in busy]
    for widget, _enabled in former:
        widget.setEnabled(False)
    if say is not None and saving:
        say(saving)

    def restore() -> bool:
        """Give the controls back (once); whether the owner is still there to hear the
        outcome."""
        if job in _PENDING:
            _PENDING.discard(job)
            for widget, enabled in former:
                if isValid(widget):
                    widget.setEnabled(enabled)
            if isValid(owner):
                owner.setProperty("writes", max(0, writes_pending(owner) - 1))
        return isValid(owner)

    def on_succeeded(result: Any) -> None:
        if restore() and done is not None:
            done(result)

    def on_failed(message: str) -> None:
        if restore() and failed is not None:
            failed(message)

    job.succeeded.connect(on_succeeded)
    job.failed.connect(on_failed)
    job.finished.connect(restore)
    owner.setProperty("writes", writes_pending(owner) + 1)
    _PENDING.add(job)
    return job.start(DAEMON_WRITES)


def writes_pending(owner: QWidget) -> int:
    """How many writes started for `owner` are still pending."""
    return int(owner.property("writes") or 0)
