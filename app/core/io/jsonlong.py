"""One long JSON Lines record decoded from its bytes, its long strings without a second copy.

json.loads needs the line as a str, and builds each string value as another str: a line that
is mostly one long text is held twice as text, four times its UTF-8 when the text mixes CJK
into ASCII (two bytes a character). Here the long string literals (over LONG bytes) are cut
out of the line's bytes; the rest, with a placeholder for each, goes through jsoncheck.loads
as usual; each long literal is unescaped in place in the bytes and decoded once.

Anything unusual (a long key, many quotes, a literal that does not close, an escape or a
control character the strict decoder refuses, a lone surrogate, bytes that are not UTF-8)
returns None: the caller then decodes the whole line the ordinary way, which gives exactly
the error (and line and column) it always gave.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from app.core import jsoncheck
from app.core.io import longtext

LONG = 1 << 16  # bytes: a string literal longer than this is decoded on its own
MAX_QUOTES = 10_000  # more quotes than this in a line: the ordinary path (no Python loop)
CHUNK = 1 << 16  # bytes of a literal unescaped at a time
BACKSLASH = 0x5C
_CONTROL = re.compile(rb"[\x00-\x1f]")
_SPACE = b" \t\r\n"


FALLBACK = object()  # what loads returns when the ordinary path must read the line


def loads(buf: bytearray, name: str, line: int, long_bytes: bool = False) -> Any:
    """The record of the JSON Lines line `buf` (its UTF-8, line end stripped), or FALLBACK
    when the ordinary path must read it. `buf` is changed (unescaped in place): the caller
    decodes it for the ordinary path only if `changed(buf)` is False. With `long_bytes`, a
    long literal of more than longtext.LONG_TEXT characters is a longtext.LongText (its
    UTF-8 copied out of the line, never decoded as one str)."""
    if buf.count(b'"') > MAX_QUOTES:
        return FALLBACK
    spans = _long_literals(buf)
    if not spans:
        return FALLBACK
    token = secrets.token_hex(8)
    marks = {f"\x01tagloop-{token}-{i}": span for i, span in enumerate(spans)}
    pieces = []
    at = 0
    for i, (start, end) in enumerate(spans):
        pieces.append(bytes(buf[at:start]))
        pieces.append(f'"\\u0001tagloop-{token}-{i}"'.encode())
        at = end
    pieces.append(bytes(buf[at:]))
    try:
        skeleton = b"".join(pieces).decode("utf-8")
        value = jsoncheck.loads(skeleton, name, line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return FALLBACK
    # Everything that can fail is checked before the first byte is unescaped in place: after
    # that, the ordinary path could no longer read the line.
    texts: dict[str, Any] = {}
    escaped = []
    with memoryview(buf) as view:
        for mark, (start, end) in marks.items():
            first, last = start + 1, end - 1
            if _CONTROL.search(buf, first, last) is not None:
                return FALLBACK  # "Invalid control character": the ordinary path says where
            if buf.find(b"\\", first, last) >= 0:
                if _unescape(buf, first, last, write=False) is None:
                    return FALLBACK
                escaped.append((mark, first, last))
                continue
            try:
                texts[mark] = _text(view, first, last, long_bytes)
            except (UnicodeDecodeError, longtext.BadUtf8):
                return FALLBACK
    for mark, first, last in escaped:
        last = _unescape(buf, first, last, write=True)  # type: ignore[assignment]
        with memoryview(buf) as view:
            texts[mark] = _text(view, first, last, long_bytes)  # checked by _unescape
    return _put_back(value, texts)


def _text(view: memoryview, first: int, last: int, long_bytes: bool) -> Any:
    """The string of a literal's unescaped UTF-8: a str, or a LongText if asked and long."""
    if long_bytes and last - first > longtext.LONG_TEXT:
        return longtext.text_of(bytearray(view[first:last]))
    return str(view[first:last], "utf-8")


def _long_literals(buf: bytearray) -> list[tuple[int, int]] | None:
    """(start, end) of each string literal over LONG bytes that is a value (not a key), the
    quotes included; None if a literal does not close or a long one is a key."""
    spans = []
    pos = 0
    while True:
        start = buf.find(b'"', pos)
        if start < 0:
            return spans
        end = start + 1
        while True:
            end = buf.find(b'"', end)
            if end < 0:
                return None
            slashes = 0
            while buf[end - 1 - slashes] == BACKSLASH:
                slashes += 1
            if slashes % 2 == 0:
                break
            end += 1
        end += 1  # past the closing quote
        if end - start > LONG:
            after = end
            while after < len(buf) and buf[after] in _SPACE:
                after += 1
            if after < len(buf) and buf[after] == 0x3A:  # ':' a key
                return None
            spans.append((start, end))
        pos = end


def _unescape(buf: bytearray, first: int, last: int, write: bool) -> int | None:
    """Undo the JSON escapes of buf[first:last] a chunk at a time (never splitting an escape,
    a UTF-8 sequence or a surrogate pair), in place if `write`: the new end, or None if the
    strict decoder would refuse the literal (a bad escape, bytes, or a lone surrogate)."""
    out = first
    read = first
    while read < last:
        stop = _safe_split(buf, read, min(read + CHUNK, last), last)
        try:
            piece = json.loads(b'"' + bytes(buf[read:stop]) + b'"')
            data = piece.encode("utf-8")  # a lone surrogate fails here
        except (ValueError, UnicodeEncodeError):
            return None
        del piece
        if write:
            buf[out : out + len(data)] = data  # never longer than the escaped bytes
        out += len(data)
        read = stop
    return out


def _safe_split(buf: bytearray, read: int, stop: int, last: int) -> int:
    """A split point at or just after `stop` that no escape, UTF-8 sequence or surrogate pair
    straddles: the start of an escape (not a low surrogate), or a character with no backslash
    in the 6 bytes before it. The bytes before `read` were split the same way."""
    if stop >= last:
        return last
    for at in range(stop, min(last, stop + 64)):
        byte = buf[at]
        if byte == BACKSLASH:
            slashes = 0
            while at - 1 - slashes >= read and buf[at - 1 - slashes] == BACKSLASH:
                slashes += 1
            if slashes % 2 == 0 and not _low_surrogate(buf, at):
                return at
        elif byte & 0xC0 != 0x80 and buf.find(b"\\", max(read, at - 6), at) < 0:
            return at
    return last  # nothing safe near: the rest in one piece (the JSON is odd anyway)


def _low_surrogate(buf: bytearray, at: int) -> bool:
    """Whether an escape \\uDC00-\\uDFFF (the second half of a pair) starts at `at`."""
    return buf[at + 1 : at + 2] == b"u" and bytes(buf[at + 2 : at + 4]).lower() in (
        b"dc",
        b"dd",
        b"de",
        b"df",
    )


def _put_back(value: Any, texts: dict[str, str]) -> Any:
    """`value` with each placeholder string replaced by its long text (values only)."""
    if isinstance(value, str):
        return texts.pop(value, value)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(child, str) and child in texts:
                    item[key] = texts.pop(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
        elif isinstance(item, list):
            for index, child in enumerate(item):
                if isinstance(child, str) and child in texts:
                    item[index] = texts.pop(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
    return value
