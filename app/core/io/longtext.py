"""A long text goes into the database as its UTF-8 bytes, and the str is let go of first.

Python's sqlite3 binds a str through its UTF-8 form, which CPython caches inside a non-ASCII
str for as long as the str lives; SQLite then copies the bound value, and copies it again into
the row's record. A 16 MB text of mostly ASCII with one CJK character (two bytes a character
as a str) then held 5x its size while its row was inserted. Bound as bytes, with the str gone
(the feed drops its record too), the peak is the bytes, SQLite's copy and the record: 3x for
any text. Such a row goes in through its own statement, which casts the value to TEXT (the
column's type is what it always was), and which is then bound again to nothing (`insert`).
"""

from __future__ import annotations

import ctypes
import sqlite3
import sys
from typing import Any

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LONG_TEXT = 1 << 20  # characters: a shorter text is bound as a str (no encoding step)


def statement(insert: str) -> str:
    """The import's `INSERT INTO datapoint (...) VALUES (...)` for a row with a long text: the
    text bound as bytes and cast to TEXT, and a last parameter that, false, inserts nothing."""
    head, values = insert.split(" VALUES (", 1)
    columns = head[head.index("(") + 1 : head.rindex(")")].split(", ")
    items = values[: values.rindex(")")].split(", ")
    position = columns.index("text")
    if items[position] != "?":
        raise ValueError(f"the text is not a parameter in {insert!r}")
    items[position] = "CAST(? AS TEXT)"
    return f"{head} SELECT {', '.join(items)} WHERE ?"


def insert(conn: sqlite3.Connection, sql: str, row: list[Any]) -> None:
    """Insert one row (id, row, text, ...) whose text is long, the caller holding no other
    reference to the text: as its UTF-8, then the statement is bound again with a row that
    inserts nothing. Python's sqlite3 keeps a statement, and the last values bound to it, in
    its cache for the life of the (pooled) connection: the text would stay in memory, during
    the search indexing and after the import."""
    row[2] = row[2].encode("utf-8")  # the str goes here
    conn.execute(sql, (*row, 1))
    row[2] = None
    conn.execute(sql, (*(None for _ in row), 0))


_steady = False


def steady_malloc() -> None:
    """Have glibc give blocks of 1 MB and more back to the system as soon as they are freed.

    By default glibc raises its mmap threshold to the size of the largest block freed so far
    (up to 32 MB): after the first long record, the next ones come from the heap, whose freed
    space is not always reused, so the peak of one import ended 1x higher or not depending on
    the order of allocations (bench/import_memory.py: 3.2x or 4.1x for the same 16 MB text).
    A fixed threshold turns that adjustment off. Once per process; nothing outside glibc.
    """
    global _steady
    if _steady:
        return
    _steady = True
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to do
        pass
