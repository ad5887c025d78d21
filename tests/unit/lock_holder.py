"""Another process holding a project's write lock (as a long import or merge does), for the
tests that check the window keeps working meanwhile. It holds BEGIN IMMEDIATE until the test
releases it (or the test process ends), so no test depends on how long anything takes."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

HOLD = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.readline()  # until the test says so, or its process ends
    conn.execute("ROLLBACK")
    conn.close()
    print("released", flush=True)
    """
)


class HeldLock:
    """A child process holding the write lock of `path` until `release()`."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "locked"

    @property
    def held(self) -> bool:
        return self.process.poll() is None

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("go\n")
            self.process.stdin.flush()
            assert self.process.stdout.readline().strip() == "released"
            self.process.wait(timeout=60)


@contextlib.contextmanager
def held_lock(path: Path) -> Iterator[HeldLock]:
    lock = HeldLock(path)
    try:
        yield lock
    finally:
        lock.release()
