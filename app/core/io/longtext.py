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

import codecs
import contextlib
import ctypes
import hashlib
import os
import re
import sqlite3
import sys
import tempfile
from typing import Any, BinaryIO

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LONG_TEXT = 1 << 20  # characters: a shorter text is bound as a str (no spill, no blob I/O)
CHUNK = 1 << 20  # characters encoded, or bytes copied, at a time
SCAN = 1 << 16  # bytes decoded at a time to count characters (a 1 MB piece took up to 4 MB)
TEXT_COLUMN = 2  # the position of the text in a datapoint row (id, row, text, ...)
CONTEXT_COLUMN = 3  # and of its context, in a row that has one (id, row, text, context, status)
_QUOTES = re.compile(rb"'*")


class BadUtf8(ValueError):
    """Bytes of a long text that are not UTF-8: `offset` is where, in the text's bytes."""

    def __init__(self, offset: int, error: UnicodeDecodeError) -> None:
        super().__init__(str(error))
        self.offset = offset
        self.error = error


class LongText:
    """A long text as its UTF-8 bytes (checked), never decoded as one str.

    A str of mostly ASCII text with one CJK character takes two bytes a character: decoding
    a 16 MB field then held its bytes and a 32 MB str, 3x, before the import went on. The
    fast readers (txt, CSV/TSV, JSON Lines) give a text this long as a LongText when the
    importer asks (`TextLines.long_bytes`); the feed keys it for duplicates by its SHA-256
    (`key`, the same for the str of the same text) and `insert` writes its bytes."""

    __slots__ = ("chars", "data")

    def __init__(self, data: bytearray, chars: int) -> None:
        self.data = data
        self.chars = chars

    def __len__(self) -> int:
        """Its length in characters, as a str's (span offsets are checked against it)."""
        return self.chars

    def decode(self) -> str:
        """The text as a str (a context value, a label, a text that spans are checked on)."""
        with memoryview(self.data) as view:
            return str(view, "utf-8")

    def restore(self, restore: Any) -> LongText:
        """app.core.io.spreadsheet's `restore` applied to this text, on its first bytes."""
        data = self.data
        quotes = _QUOTES.match(data).end()  # type: ignore[union-attr]
        head = bytes(data[: quotes + 4]).decode("utf-8", "ignore")
        if quotes and restore(head) != head:
            del data[:1]
            self.chars -= 1
        return self


def scan(data: bytearray | memoryview) -> tuple[int, bool]:
    """(characters, whether all of them are white space) of UTF-8 bytes, decoded a chunk at a
    time; BadUtf8 (with the offset of the bad byte) if they are not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    chars = 0
    blank = True
    step = min(CHUNK, SCAN)
    with memoryview(data) as view:
        size = len(view)
        for start in range(0, max(size, 1), step):
            pending = len(decoder.getstate()[0])
            try:
                piece = decoder.decode(view[start : start + step], final=start + step >= size)
            except UnicodeDecodeError as exc:
                raise BadUtf8(start - pending + exc.start, exc) from None
            chars += len(piece)
            blank = blank and (not piece or piece.isspace())
    return chars, blank


def text_of(data: bytearray) -> str | LongText:
    """A checked LongText of `data` (the caller's bytes, now its own) if it holds more than
    LONG_TEXT characters, else its str (a short or blank text takes the ordinary path)."""
    chars, blank = scan(data)
    if chars > LONG_TEXT and not blank:
        return LongText(data, chars)
    with memoryview(data) as view:
        return str(view, "utf-8")


def key(text: str | LongText) -> int:
    """The duplicate key of a text over LONG_TEXT characters: its UTF-8's SHA-256, hashed
    (a LongText and the str of the same text have the same key). Computed a chunk at a time."""
    digest = hashlib.sha256()
    if isinstance(text, LongText):
        digest.update(text.data)
    else:
        for start in range(0, len(text), CHUNK):
            digest.update(text[start : start + CHUNK].encode("utf-8"))
    return hash(digest.digest())


def plain(value: Any) -> Any:
    """A value as the rest of the import reads it: a LongText as its str."""
    return value.decode() if value.__class__ is LongText else value


def decoded(value: Any, keep: tuple[tuple[str, ...], ...] = ()) -> Any:
    """`value` (a JSON record) with each LongText in it, at any depth, replaced by its str:
    one at a time, each let go of once decoded. A LongText at one of the `keep` paths of keys
    (the record's text, where nothing reads it as a str) stays as it is."""
    if value.__class__ is LongText:
        return value.decode()
    kept = []
    for path in keep:
        holder = value
        for name in path[:-1]:
            holder = holder.get(name) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and holder.get(path[-1]).__class__ is LongText:
            kept.append((holder, path[-1], holder[path[-1]]))
            holder[path[-1]] = None
    _decode_all(value)
    for holder, name, text in kept:
        holder[name] = text
    return value


def _decode_all(value: Any) -> None:
    stack = [value] if isinstance(value, dict | list) else []
    while stack:
        item = stack.pop()
        keys: Any = list(item) if isinstance(item, dict) else range(len(item))
        for key in keys:
            child = item[key]
            if child.__class__ is LongText:
                item[key] = None  # the LongText is `child`'s alone while it is decoded
                item[key] = child.decode()
            elif isinstance(child, dict | list):
                stack.append(child)
            del child


def statement(insert: str, long_columns: tuple[str, ...] = ("text",)) -> str:
    """The import's `INSERT INTO datapoint (...) VALUES (...)` for a row with a long text (or
    a long context): each long column's parameter becomes its UTF-8 length, and the column a
    placeholder of that size."""
    head, values = insert.split(" VALUES (", 1)
    columns = head[head.index("(") + 1 : head.rindex(")")].split(", ")
    items = values[: values.rindex(")")].split(", ")
    for name in long_columns:
        position = columns.index(name)
        if items[position] != "?":
            raise ValueError(f"the {name} is not a parameter in {insert!r}")
        items[position] = "CAST(zeroblob(?) AS TEXT)"
    return f"{head} VALUES ({', '.join(items)})"


def insert(
    conn: sqlite3.Connection,
    sql: str,
    row: list[Any],
    long_columns: tuple[tuple[str, int], ...],
) -> None:
    """Insert one row (id, row, text, ...) whose `long_columns`, given as (name, position in
    the row), are long, the caller holding no other reference to them: each spilled to a file,
    let go of, the row inserted with placeholders, then each written into its own."""
    folder = spill_dir(conn)
    with contextlib.ExitStack() as files:
        spills: list[tuple[str, BinaryIO]] = []
        for name, position in long_columns:
            spill = files.enter_context(tempfile.TemporaryFile(dir=folder))
            spills.append((name, spill))
            value, row[position] = row[position], None
            row[position] = spill_value(value, spill)  # its size: the placeholder's
            del value
        conn.execute(sql, row)
        for name, spill in spills:
            spill.seek(0)
            with conn.blobopen("datapoint", name, row[0]) as blob:
                while chunk := spill.read(CHUNK):
                    blob.write(chunk)


def spill_value(value: Any, out: BinaryIO) -> int:
    """Write a long column's value to `out` as UTF-8: a text, or anything with a `spill`
    method of its own (app.core.io.longcontext.LongContext); its size."""
    spill = getattr(value, "spill", None)
    if spill is not None:
        return spill(out)
    return spill_text(value, out)


def spill_text(text: str | LongText | bytes | bytearray, out: BinaryIO) -> int:
    """Write `text` as UTF-8 to `out` a chunk at a time (never a second whole copy); its size."""
    size = 0
    if isinstance(text, LongText):
        text = text.data
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
