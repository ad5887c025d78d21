"""Ctrl-C as the Cancel of a long command whose work ends in steps after it is saved.

A reassignment (its close settle) and an automation run (its status settle) go on writing in
short steps after the work is saved; a plain KeyboardInterrupt there would say "nothing was
changed", which is false. Under `interrupt_cancels`, the first Ctrl-C only asks the work to
stop at its next cancel check (app.core.jobs): before the save that is Cancelled (nothing
changed, as the entry point says); after it the work returns its report, whose summary says
that it stands and that the next open finishes the steps left. A second Ctrl-C interrupts at
once, as usual.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

from app.core.jobs import CancelCheck


@contextlib.contextmanager
def interrupt_cancels() -> Iterator[CancelCheck]:
    """For the block, the first SIGINT sets the cancel check it yields (main thread only;
    elsewhere the check is never set and Ctrl-C works as usual)."""
    asked = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield asked.is_set
        return
    previous = signal.getsignal(signal.SIGINT)

    def first_interrupt(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGINT, previous)  # the next one interrupts at once
        asked.set()
        print(
            "\ntagloop: stopping at the next safe point (Ctrl-C again to interrupt at once)",
            file=sys.stderr,
        )

    signal.signal(signal.SIGINT, first_interrupt)
    try:
        yield asked.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
