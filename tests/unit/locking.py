"""The probe of the chunked writers' tests: is the write lock free between two chunks?"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def lock_is_free(path: Path | str) -> bool:
    """Whether a second connection takes the write lock at once (busy_timeout 0): False while
    a writer holds it."""
    check = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        check.execute("PRAGMA busy_timeout=0")
        check.execute("BEGIN IMMEDIATE")
        check.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        check.close()
