"""One long element of a JSON array file, read from its bytes: its long texts kept as UTF-8.

The JSON array reader (app.core.io.readers) decodes the file into a sliding str window and
parses each element from it: a long element was held as the window's text and again as the
value's str, 4x its UTF-8 for text mixing CJK into ASCII (two bytes a character). When an
element runs past the window by more than LONG bytes and the importer asked for long texts as
UTF-8 (TextLines.long_bytes), the window's part of it is encoded back to bytes, the rest is
read undecoded (TextLines.raw_read) up to the element's end, found by scanning its brackets
and strings (a UTF-8 sequence never holds a quote, a backslash or a bracket byte), and the
element is parsed by app.core.io.jsonlong (its long strings become longtext.LongText). The
bytes read past it go back into the window, decoded.

Anything unusual (brackets that do not balance, the file ending inside the element, a line
jsonlong will not read) puts the element back in the window as text: the ordinary path then
reads it, or gives exactly the error it always gave.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.core.io import jsonlong
from app.core.io.decoding import JSON_CHUNK, TextLines

LONG = 1 << 16  # characters of an unfinished element in the window before it is read here
QUOTE = 0x22
BACKSLASH = 0x5C
OPEN = frozenset(b"[{")
_STRUCTURE = re.compile(rb'["\[\]{}]')
_SCALAR_END = re.compile(rb"[ \t\r\n,\]}]")


class Unfinished(Exception):
    """The element does not end (the file ends first): the ordinary path says so."""


def value_end(buf: bytearray, more: Callable[[bytearray], bool]) -> int:
    """The end (exclusive) of the JSON value at the start of `buf`, reading more with
    `more(buf)` (False at the end of the file). Only brackets and strings are followed;
    whether the value is valid JSON is the parser's to say."""
    pos = 0
    first = buf[0]
    if first == QUOTE:
        return _string_end(buf, 0, more) + 1
    if first not in OPEN:
        while True:
            found = _SCALAR_END.search(buf, pos)
            if found is not None:
                return found.start()
            pos = len(buf)
            if not more(buf):
                return pos
    depth = 0
    while True:
        found = _STRUCTURE.search(buf, pos)
        if found is None:
            pos = len(buf)
            if not more(buf):
                raise Unfinished
            continue
        at = found.start()
        byte = buf[at]
        if byte == QUOTE:
            pos = _string_end(buf, at, more) + 1
            continue
        depth += 1 if byte in OPEN else -1
        pos = at + 1
        if depth == 0:
            return pos
        if depth < 0:
            raise Unfinished


def _string_end(buf: bytearray, start: int, more: Callable[[bytearray], bool]) -> int:
    """The closing quote of the string literal opening at `start`."""
    pos = start + 1
    while True:
        end = buf.find(b'"', pos)
        if end < 0:
            pos = len(buf)
            if not more(buf):
                raise Unfinished
            continue
        slashes = 0
        while buf[end - 1 - slashes] == BACKSLASH:
            slashes += 1
        if slashes % 2 == 0:
            return end
        pos = end + 1


def read_long(window: Any, pos: int, lines: TextLines, line: int, too_big: Any) -> Any:
    """The element starting at window.buffer[pos] (line `line`), read from its bytes: (its
    value, the window position after it), or None when the ordinary path must read it (the
    window then holds it again, as text). `too_big()` is the error of an element over the
    limit (lines.limit bytes)."""
    head = window.buffer[pos:]
    window.buffer = ""  # the element's text, held once: as bytes from here
    buf = bytearray(head.encode("utf-8"))
    del head
    limit = lines.limit

    def more(buf: bytearray) -> bool:
        if len(buf) > limit:
            raise too_big()
        raw = lines.raw_read(JSON_CHUNK)
        buf += raw
        return bool(raw)

    try:
        end = value_end(buf, more)
    except Unfinished:
        end = -1
    if end > limit:
        raise too_big()
    record: Any = jsonlong.FALLBACK
    rest = b""
    if end > 0:
        rest = bytes(buf[end:])
        del buf[end:]
        record = jsonlong.loads(buf, lines.name, line, long_bytes=True)
    if record is jsonlong.FALLBACK:  # as text again (buf is unchanged), then the rest
        buf += rest
        window.buffer = lines.decode_more(buf)
        window.counted = 0
        window.line = line
        return None
    lines_in = buf.count(b"\n")
    del buf
    window.buffer = lines.decode_more(rest)
    window.line = line + lines_in
    window.counted = 0
    box = [record]  # not held here while it is imported
    del record
    return box.pop(), 0
