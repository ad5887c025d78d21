"""A long text goes into the database without SQLite or Python ever holding two copies of it.

Bound as a parameter, a text is held three times while its row is inserted: Python's bytes,
SQLite's copy of the bound value (the sqlite3 module binds with SQLITE_TRANSIENT), and the
record SQLite builds for the row. A row with a long text is inserted instead with a
placeholder of the text's final UTF-8 length (`CAST(zeroblob(n) AS TEXT)`: typeof stays
'text', and SQLite's cost is the placeholder and its record, 2x, with nothing of the text in
Python at that moment), then the text is written into it with incremental blob I/O
(`Connection.blobopen`) a chunk at a time. So that Python holds nothing while SQLite builds
the placeholder, the text is first spilled, as UTF-8 a chunk at a time, to a temporary file
beside the project (not /tmp, which may be memory), and the str is let go of.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import sys
import tempfile
from typing import Any, BinaryIO

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LONG_TEXT = 1 << 20  # characters: a shorter text is bound as a str (no spill, no blob I/O)
CHUNK = 1 << 20  # characters encoded, or bytes copied, at a time
TEXT_COLUMN = 2  # the position of the text in a datapoint row (id, row, text, ...)


def statement(insert: str) -> str:
    """The import's `INSERT INTO datapoint (...) VALUES (...)` for a row with a long text:
    the text's parameter becomes its UTF-8 length, and the text a placeholder of that size."""
    head, values = insert.split(" VALUES (", 1)
    columns = head[head.index("(") + 1 : head.rindex(")")].split(", ")
    items = values[: values.rindex(")")].split(", ")
    position = columns.index("text")
    if items[position] != "?":
        raise ValueError(f"the text is not a parameter in {insert!r}")
    items[position] = "CAST(zeroblob(?) AS TEXT)"
    return f"{head} VALUES ({', '.join(items)})"


def insert(conn: sqlite3.Connection, sql: str, row: list[Any]) -> None:
    """Insert one row (id, row, text, ...) whose text is long, the caller holding no other
    reference to the text (a str, or its UTF-8 as bytes or a bytearray): spilled to a file,
    let go of, the row inserted with a placeholder, then the text written into it."""
    with tempfile.TemporaryFile(dir=spill_dir(conn)) as spill:
        size = spill_text(row[TEXT_COLUMN], spill)
        row[TEXT_COLUMN] = size  # the text goes here
        conn.execute(sql, row)
        spill.seek(0)
        with conn.blobopen("datapoint", "text", row[0]) as blob:
            while chunk := spill.read(CHUNK):
                blob.write(chunk)


def spill_text(text: str | bytes | bytearray, out: BinaryIO) -> int:
    """Write `text` as UTF-8 to `out` a chunk at a time (never a second whole copy); its size."""
    size = 0
    if isinstance(text, str):
        for start in range(0, len(text), CHUNK):
            size += out.write(text[start : start + CHUNK].encode("utf-8"))
    else:
        with memoryview(text) as view:
            for start in range(0, len(view), CHUNK):
                size += out.write(view[start : start + CHUNK])
    out.flush()
    return size


def spill_dir(conn: sqlite3.Connection) -> str | None:
    """The project's folder (a temporary file there is on disk, like the project), or None
    (the system's temporary folder) for a database that has no file."""
    for _seq, name, path in conn.execute("PRAGMA database_list"):
        if name == "main" and path:
            return os.path.dirname(path)
    return None


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
