"""A datapoint's context whose values include a long text, written as JSON a chunk at a time.

A context is stored as the JSON text of {input name: value}. Built with json.dumps, a 16 MB
context cell was held four times (its UTF-8, its str, the JSON str, SQLite's bound copy), seven
times its UTF-8 for text with CJK in it. A value that is a longtext.LongText is instead escaped
from its UTF-8 a chunk at a time into the spill file that longtext.insert writes into the row,
byte for byte what json.dumps(..., ensure_ascii=False) gives for the same dict.
"""

from __future__ import annotations

import json
import re
from typing import Any, BinaryIO

from app.core.io import longtext
from app.core.io.longtext import LongText

# json.dumps(ensure_ascii=False) escapes only these: the quote, the backslash and controls.
_ESCAPE = re.compile(rb'[\x00-\x1f\\"]')
_NAMED = {b'"': b'\\"', b"\\": b"\\\\", b"\b": b"\\b", b"\f": b"\\f", b"\n": b"\\n", b"\r": b"\\r"}
_NAMED[b"\t"] = b"\\t"


def _escaped(match: re.Match[bytes]) -> bytes:
    found = match.group()
    return _NAMED.get(found) or b"\\u%04x" % found[0]


class LongContext:
    """A context's (name, value) pairs, at least one value a LongText (kept as UTF-8)."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.items = items

    def spill(self, out: BinaryIO) -> int:
        """Write the context's JSON to `out` as UTF-8 (json.dumps's bytes); its size. The
        pairs are let go of as they are written."""
        items, self.items = self.items, []
        size = out.write(b"{")
        for index, (name, value) in enumerate(items):
            items[index] = (name, None)
            lead = ", " if index else ""
            size += out.write(f"{lead}{json.dumps(name, ensure_ascii=False)}: ".encode())
            if value.__class__ is LongText:
                size += _spill_string(value.data, out)
            else:
                size += out.write(json.dumps(value, ensure_ascii=False).encode("utf-8"))
            del value
        size += out.write(b"}")
        out.flush()
        return size


def _spill_string(data: bytearray, out: BinaryIO) -> int:
    """A JSON string literal of this checked UTF-8, escaped a chunk at a time (an escaped byte
    is ASCII, never part of a multi-byte character, so any cut between chunks is safe)."""
    size = out.write(b'"')
    with memoryview(data) as view:
        for start in range(0, len(view), longtext.CHUNK):
            size += out.write(_ESCAPE.sub(_escaped, view[start : start + longtext.CHUNK]))
    return size + out.write(b'"')


class NotJson(ValueError):
    """A context value holds NaN or Infinity (a Parquet or Arrow float): args[0] is the input.
    JSON has no such value: json.dumps wrote a bare NaN into the stored context, which a strict
    reader of it (or of an export) refuses, and a JSON Lines record with one is refused."""


def context_value(items: list[tuple[str, Any]]) -> str | LongContext:
    """The context to store: its JSON text, or a LongContext when a value is a LongText (a
    LongText nested deeper is decoded: only a column's own long value streams). NotJson for a
    value JSON cannot write."""
    try:
        if any(value.__class__ is LongText for _name, value in items):
            short = [value for _name, value in items if value.__class__ is not LongText]
            json.dumps(short, allow_nan=False)  # checked now: LongContext.spill writes later
            return LongContext(items)
        return json.dumps(dict(items), ensure_ascii=False, allow_nan=False)
    except ValueError:
        for name, value in items:
            if value.__class__ is not LongText:
                try:
                    json.dumps(value, allow_nan=False)
                except ValueError:
                    raise NotJson(name) from None
        raise
