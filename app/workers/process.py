"""Run CPU-heavy core work (training, scoring) in a child process.

Why a process: scikit-learn and NumPy hold the GIL for long stretches, and a training thread
stalled the GUI event loop by up to 200 ms (bench/retrain.py). A child process has its own
interpreter, so the window keeps every frame. The child gets a picklable target name and
arguments, reports progress over a queue, and checks a shared cancel event; it never sees a
Qt object. The calling thread (a Job's worker) just waits on the queue, which releases the
GIL.

The child is started with "spawn": forking a process that runs Qt threads is unsafe. A
cancelled child that does not stop within a grace period is terminated: every write it makes
is an SQLite transaction, so killing it loses nothing but its own unfinished work.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import queue
from collections.abc import Callable
from typing import Any

from app.core.errors import Cancelled, ProjectError
from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress
from app.core.offline import deny_network, skip_ipv6_probe

NICENESS = 10  # below the GUI: on two cores a busy child otherwise starves the event loop
GRACE_S = 3.0  # how long a cancelled child may take to notice before it is terminated
POLL_S = 0.05


class ChildFailed(RuntimeError):
    """The child raised something that is not a user-facing Tagloop error (a bug), or died."""


def resolve(target: str) -> Callable[..., Any]:
    """The function a target names ("package.module:function"): the child imports it by name,
    since a function object does not travel to a spawned process."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _child(target: str, args: tuple, events, cancel_event, parent_pid: int) -> None:
    """The child side: call the target with progress and cancel adapters."""
    skip_ipv6_probe()  # a spawned child imports spaCy afresh: no probe socket there either
    deny_network()
    if hasattr(os, "nice"):
        os.nice(NICENESS)  # the window's process gets the CPU first, always

    def progress(done: int, total: int | None, message: str) -> None:
        events.put(("progress", int(done), total, message))

    def cancel() -> bool:  # also stop if the app that asked has gone away
        return cancel_event.is_set() or os.getppid() != parent_pid

    try:
        result = resolve(target)(*args, progress=progress, cancel=cancel)
    except Cancelled:
        events.put(("cancelled",))
    except ProjectError as exc:
        events.put(("project_error", str(exc)))
    except BaseException as exc:  # report, never a silent death
        events.put(("error", f"{type(exc).__name__}: {exc}"))
    else:
        events.put(("ok", result))


def run_in_process(
    target: str,
    *args: Any,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> Any:
    """Call `module:function(*args, progress=..., cancel=...)` in a child process and return
    its (picklable) result; progress and cancel work as if it ran here."""
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    cancel_event = context.Event()
    child = context.Process(
        target=_child,
        args=(target, args, events, cancel_event, os.getpid()),
        name="tagloop-worker",
        daemon=True,  # never outlives the app
    )
    child.start()
    cancelled_at: float | None = None
    try:
        while True:
            if cancelled_at is None and cancel():
                cancel_event.set()
                cancelled_at = 0.0
            try:
                event = events.get(timeout=POLL_S)
            except queue.Empty:
                if cancelled_at is not None:
                    cancelled_at += POLL_S
                    if cancelled_at >= GRACE_S:
                        child.terminate()
                        raise Cancelled() from None
                if not child.is_alive() and events.empty():
                    raise ChildFailed(
                        f"the worker process stopped (exit code {child.exitcode})"
                    ) from None
                continue
            kind = event[0]
            if kind == "progress":
                progress(event[1], event[2], event[3])
            elif kind == "ok":
                return event[1]
            elif kind == "cancelled":
                raise Cancelled()
            elif kind == "project_error":
                raise ProjectError(event[1])
            else:
                raise ChildFailed(event[1])
    finally:
        child.join(timeout=GRACE_S)
        if child.is_alive():
            child.terminate()
            child.join(timeout=GRACE_S)
        events.close()
