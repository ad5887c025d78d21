"""One long CSV/TSV record, parsed at the byte level: each field decoded once from its UTF-8.

Python's csv module holds a field twice while it reads it: as UCS-4 in its own buffer (four
bytes a character) and again as the str it returns, next to the decoded line it was given; a
16 MB field then costs about 7x its size. The readers keep the csv module for ordinary rows
(it is fast), and hand a record that grows past BIG bytes to `split_record` and
`decode_fields`, which read what the csv module would read (RFC 4180 as csv.reader(strict=True)
reads it; for TSV, QUOTE_NONE) from one bytearray holding the record's bytes: each field's str
is decoded from its slice, so the record is held about twice (bytes and str), then once.

Equivalence with csv.reader (fed lines split at "\\n", endings kept, as decoding.TextLines
gives them) is checked by a property test; the parts that matter:
- a field starting with a quote is quoted: it runs to the next lone quote, across lines, and
  a doubled quote inside is one quote; after the closing quote comes a delimiter or the end
  of the line, else the error "',' expected after '\"'";
- any other field runs to the next delimiter, CR or LF; a quote inside it is a character;
- the record ends at the first CR or LF outside quotes, and only CRs and LFs may follow it on
  that line ("new-line character seen in unquoted field").
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from typing import Any

from app.core.io import longtext

BIG = 1 << 20  # bytes: a record longer than this is read here rather than by the csv module
MOVE = 1 << 16  # bytes moved at a time when doubled quotes are made single
QUOTE = 0x22
CR_LF = frozenset(b"\r\n")
_ENDS = {
    b",": re.compile(rb"[,\r\n]"),
    b"\t": re.compile(rb"[\t\r\n]"),
}
_NOT_CR_LF = re.compile(rb"[^\r\n]")
NEWLINE_IN_FIELD = (
    "new-line character seen in unquoted field - do you need to open the file in "
    "universal-newline mode?"
)


class BigRecord(Exception):
    """Raised through csv.reader by the lines that feed it when a record passes BIG bytes: the
    record's lines so far are in TextLines.held; the reader reads it with `read_record`."""


# (start, end, doubled quotes inside) of each field, as offsets into the record's bytes
Span = tuple[int, int, bool]


def split_record(
    buf: bytearray, more: Callable[[bytearray], bool], delimiter: bytes, quoting: bool
) -> list[Span]:
    """The fields of the record at the start of `buf`, as spans. `more(buf)` appends the
    file's next line to `buf` and says whether there was one; it is called only inside a
    quoted field, the one place where a record runs on past the end of a line."""
    ends = _ENDS[delimiter]
    delim = delimiter[0]
    spans: list[Span] = []
    pos = 0
    while True:
        if quoting and pos < len(buf) and buf[pos] == QUOTE:
            end, doubled = _quoted_end(buf, pos + 1, more)
            spans.append((pos + 1, end, doubled))
            pos = end + 1
            if pos < len(buf) and buf[pos] == delim:
                pos += 1
                continue
            if pos < len(buf) and buf[pos] not in CR_LF:
                raise csv.Error(f"'{delimiter.decode()}' expected after '\"'")
            break
        found = ends.search(buf, pos)
        end = len(buf) if found is None else found.start()
        spans.append((pos, end, False))
        pos = end
        if pos < len(buf) and buf[pos] == delim:
            pos += 1
            continue
        break
    if _NOT_CR_LF.search(buf, pos) is not None:  # no copy of the rest of the line
        raise csv.Error(NEWLINE_IN_FIELD)
    return spans


def _quoted_end(buf: bytearray, pos: int, more: Callable[[bytearray], bool]) -> tuple[int, bool]:
    """Where the quoted field whose text starts at `pos` ends (its closing quote), reading
    more lines as needed; and whether it holds doubled quotes."""
    doubled = False
    while True:
        found = buf.find(b'"', pos)
        if found < 0:
            pos = len(buf)
            if not more(buf):
                raise csv.Error("unexpected end of data")
            continue
        if found + 1 < len(buf) and buf[found + 1] == QUOTE:
            doubled = True
            pos = found + 2
            continue
        return found, doubled


def decode_fields(
    buf: bytearray,
    spans: list[Span],
    on_error: Callable[[int, UnicodeDecodeError], Exception],
    keep_long: bool = False,
) -> list[Any]:
    """Each field's text, decoded once from its UTF-8 without copying the bytes first; doubled
    quotes are made single in the bytes beforehand (a str.replace would hold the text twice,
    four times its UTF-8 for CJK). A bad byte raises `on_error(how many line ends come before
    it in the record, error)`. With `keep_long`, a field of more than longtext.LONG_TEXT
    characters stays UTF-8, as a longtext.LongText (its bytes copied out of the record's)."""
    fields: list[Any] = []
    lines_before = 0  # counted in the bytes as read: undoubling leaves stale bytes behind
    with memoryview(buf) as view:
        for start, end, doubled in spans:
            lines_in = buf.count(b"\n", start, end)
            last = _undouble(buf, start, end) if doubled else end
            if keep_long and last - start > longtext.LONG_TEXT:
                try:
                    fields.append(longtext.text_of(bytearray(view[start:last])))
                except longtext.BadUtf8 as bad:
                    at = lines_before + buf.count(b"\n", start, start + bad.offset)
                    raise on_error(at, bad.error) from None
                lines_before += lines_in
                continue
            try:
                fields.append(str(view[start:last], "utf-8"))
            except UnicodeDecodeError as exc:
                at = lines_before + buf.count(b"\n", start, start + exc.start)
                raise on_error(at, exc) from None
            lines_before += lines_in
    return fields


def _undouble(buf: bytearray, start: int, end: int) -> int:
    """Make each doubled quote in buf[start:end] one, in place, moving the text left in
    pieces of at most MOVE bytes; returns the field's new end."""
    found = buf.find(b'""', start, end)
    if found < 0:
        return end
    write = found + 1  # the pair's first quote stays
    read = found + 2
    while True:
        found = buf.find(b'""', read, end)
        stop = end if found < 0 else found + 1
        while read < stop:
            size = min(stop - read, MOVE)
            buf[write : write + size] = buf[read : read + size]
            write += size
            read += size
        if found < 0:
            return write
        read = found + 2
