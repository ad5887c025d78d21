"""A long text goes into the database as its UTF-8 bytes, and the str is let go of first.

Python's sqlite3 binds a str through its UTF-8 form, which CPython caches inside a non-ASCII
str for as long as the str lives; SQLite then copies the bound value, and copies it again into
the row's record. A 16 MB text of mostly ASCII with one CJK character (two bytes a character
as a str) then held 5x its size while its row was inserted. Bound as bytes, with the str gone
(the feed drops its record too), the peak is the bytes, SQLite's copy and the record: 3x for
any text. The INSERT casts the bound value to TEXT, so the column's type is what it always
was (a no-op for a str).
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LONG_TEXT = 1 << 20  # characters: a shorter text is bound as a str (no encoding step)


def as_utf8(text: str) -> bytes:
    """The text's UTF-8, for the INSERT's CAST(? AS TEXT); the caller drops its str."""
    return text.encode("utf-8")


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
