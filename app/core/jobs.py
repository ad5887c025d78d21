"""The progress/cancel contract of long work: core reports, the caller decides how to show it."""

from __future__ import annotations

from collections.abc import Callable

from app.core.errors import Cancelled

# progress(done, total or None, message)
Progress = Callable[[int, int | None, str], None]
CancelCheck = Callable[[], bool]


def no_progress(done: int, total: int | None, message: str) -> None:
    """A progress callback that shows nothing."""


def never_cancel() -> bool:
    return False


def check_cancel(cancel: CancelCheck) -> None:
    """Raise Cancelled if the user asked to stop; the caller's transaction then rolls back."""
    if cancel():
        raise Cancelled()
