"""Functions a worker process runs in tests/unit/test_process.py (importable by name)."""

from __future__ import annotations

import os
import time

from app.core.errors import ProjectError
from app.core.jobs import check_cancel


def count(n: int, progress, cancel) -> dict[str, int]:
    for i in range(n):
        progress(i + 1, n, "counting")
    return {"n": n, "pid": os.getpid()}


def until_cancelled(progress, cancel) -> None:
    while True:
        check_cancel(cancel)
        progress(0, None, "waiting")
        time.sleep(0.01)


def ignores_cancel(progress, cancel) -> None:
    progress(0, None, "busy")
    time.sleep(60)


def refuses(progress, cancel) -> None:
    raise ProjectError("not enough labels yet")


def crashes(progress, cancel) -> None:
    os._exit(3)
