"""Output helpers of the command line: the progress bar that long commands draw on stderr.

A module of its own so that every command group can use it without importing the entry point
(the entry point imports the groups).
"""

from __future__ import annotations

import sys
import time


class TextProgress:
    """A one-line progress bar on stderr, shown only on a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int | None, message: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and (total is None or done < total):
            return
        self.last = now
        if total:
            filled = int(30 * min(done / total, 1.0))
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {100 * done / total:5.1f}%"
        else:
            bar = f"{done:,}"
        sys.stderr.write(f"\r{bar} {message[:60]:<60}")
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
