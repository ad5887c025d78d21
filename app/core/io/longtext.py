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

LONG_TEXT = 1 << 20  # characters: a shorter text is bound as a str (no encoding step)


def as_utf8(text: str) -> bytes:
    """The text's UTF-8, for the INSERT's CAST(? AS TEXT); the caller drops its str."""
    return text.encode("utf-8")
