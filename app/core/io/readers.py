"""Streaming readers for dataset files: CSV, TSV, JSON (array), JSON Lines and plain text.

Each reader yields (line number, record) one record at a time and never holds the file in
memory. Decoding is strict: UTF-8 (with or without a BOM) or UTF-16 with a BOM; anything else
is a DataError naming the line, never mojibake.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from app.core import jsoncheck
from app.core.errors import DataError
from app.core.io import csvrecord, jsonarray, jsonlong, longtext, spreadsheet
from app.core.io.decoding import (
    DEFAULT_MAX_FIELD,
    HEAD,
    JSON_CHUNK,
    LINE_CHUNK,
    TextLines,
    bad_bytes,
    check_encoding,
    detect_encoding,
    size_text,
)

FORMATS = ("csv", "tsv", "json", "jsonl", "txt")
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "txt",
    ".text": "txt",
}
TEXT_COLUMN = "text"  # the one column of a plain-text file, or of a JSON array of strings

# Our own row limit (decoding.TextLines) is the one that holds; the csv module's is only lifted.
csv.field_size_limit(1 << 30)


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise DataError(
                str(path), None, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}"
            )
        return fmt
    found = SUFFIX_FORMATS.get(Path(path).suffix.lower())
    if not found:
        raise DataError(
            str(path),
            None,
            f"cannot tell the format from the name; give it with --format ({', '.join(FORMATS)})",
        )
    return found


class HashingReader(io.RawIOBase):
    """A binary file that hashes (SHA-256) and counts every byte read through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.position += n
        return n or 0


@dataclass
class Source:
    """An opened dataset file: its columns (when known up front) and its records."""

    name: str
    format: str
    encoding: str
    columns: list[str]
    records: Iterator[tuple[int, Any]]
    getter: Callable[..., Callable[[Any, int], Any]]  # (column, optional=False)
    lines: TextLines | None = None

    def close(self) -> None:
        """Stop reading before the file is closed (a preview reads only the first records)."""
        close = getattr(self.records, "close", None)
        if close is not None:
            close()
        if self.lines is not None:
            self.lines.release()


BLANK = b"\xef\xbb\xbf\xff\xfe \t\r\n"


def open_source(
    path: Path,
    stream: BinaryIO,
    fmt: str,
    max_field: int = DEFAULT_MAX_FIELD,
    encoding: str | None = None,
) -> Source:
    """Open a binary stream of a dataset file as a Source of (line, record) pairs.

    No record (a line; a CSV row; an element of a JSON array) may be longer than `max_field`
    bytes: a longer one is a DataError naming its line, found without reading all of it.
    `encoding` (e.g. "cp1252" for a CSV saved by Excel) overrides the detection, which only
    knows UTF-8 and UTF-16 with a BOM.
    """
    name = str(path)
    longtext.steady_malloc()  # the peak of a long record, the same from one import to the next
    head = stream.peek(HEAD)[:HEAD] if hasattr(stream, "peek") else b""
    if encoding:
        encoding = check_encoding(encoding, name)
    else:
        encoding = detect_encoding(head, name) if head else "utf-8-sig"
    blank = BLANK + (b"\x00" if encoding.startswith("utf-16") else b"")
    if len(head) < HEAD and not head.strip(blank):
        raise DataError(name, None, "the file is empty")
    lines = TextLines(stream, encoding, name, max_field)
    if fmt in ("csv", "tsv"):
        source = _csv_source(name, fmt, encoding, lines)
    elif fmt == "jsonl":
        source = Source(name, fmt, encoding, [], _jsonl_records(name, lines), _dict_getter(name))
    elif fmt == "json":
        source = Source(
            name, fmt, encoding, [], _json_records(name, lines, max_field), _dict_getter(name)
        )
    else:
        source = Source(name, fmt, encoding, [TEXT_COLUMN], _txt_records(lines), _txt_getter)
    source.lines = lines
    return source


def _txt_records(lines: TextLines) -> Iterator[tuple[int, Any]]:
    lines.keep_ends = False
    lines.raw_long = True  # a long line comes as bytes: decoded here, or kept as a LongText
    number = 0  # not enumerate: its cached result tuple would keep the last line alive
    for line in lines:
        number += 1
        if line.__class__ is bytearray:
            line = _long_line(line, lines, number)
            if line.__class__ is longtext.LongText:
                box = [(number, line)]  # not held here while it is imported
                del line
                yield box.pop()
                continue
        if line and not line.isspace():
            if len(line) < LINE_CHUNK:
                yield number, line
            else:
                box = [(number, line)]  # `yield x` would keep x alive in this paused frame
                del line
                yield box.pop()


def _long_line(raw: bytearray, lines: TextLines, number: int) -> Any:
    """A long line's bytes (from TextLines.raw_long) as its str, or as a LongText when the
    importer asked for one (TextLines.long_bytes)."""
    if not lines.long_bytes:
        return _decoded(raw, lines.name, number)
    try:
        return longtext.text_of(raw)
    except longtext.BadUtf8 as exc:
        raise bad_bytes(lines.name, number, exc.error) from None


def _txt_getter(column: str, optional: bool = False) -> Callable[[Any, int], Any]:
    return lambda record, _line: record


def _csv_source(name: str, fmt: str, encoding: str, lines: TextLines) -> Source:
    # TSV (IANA text/tab-separated-values) has no quoting: a " is just a character. CSV follows
    # RFC 4180, strictly, so broken quoting is an error rather than silently merged rows.
    delimiter = "\t" if fmt == "tsv" else ","

    def new_reader() -> Any:
        if fmt == "tsv":
            return csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE, strict=True)
        return csv.reader(lines, delimiter=",", strict=True)

    reader = new_reader()
    lines.multiline = True  # a quoted field may span lines: the row is held to the limit
    if encoding == "utf-8-sig":
        lines.big = csvrecord.BIG  # longer records: read by csvrecord, not held 7x by csv
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(name, None, "the file is empty") from None
    except csvrecord.BigRecord:
        header = _big_record(name, fmt, lines, 1)
        reader = new_reader()
    except csv.Error as exc:
        raise DataError(name, 1, f"broken header: {exc}") from None
    header = [column.strip() for column in header]
    header, restore = spreadsheet.reading(header)  # undo the export's formula quoting
    if not any(header):
        raise DataError(name, 1, "the header line is empty; the first line must name the columns")
    check_unique_columns(name, 1, header)
    width = len(header)
    lines.start_record()

    def records() -> Iterator[tuple[int, Any]]:
        nonlocal reader
        start = lines.number + 1
        long = False
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csvrecord.BigRecord:
                row = _big_record(name, fmt, lines, start)
                reader = new_reader()  # csv's own was part way through this record
                long = True
            except csv.Error as exc:
                message = str(exc)
                if "unexpected end of data" in message or lines.number > start + 1000:
                    message = (
                        "a quoted field starts here and is never closed (an unmatched double quote)"
                    )
                else:
                    message = f"broken quoting: {message}"
                raise DataError(name, start, message) from None
            if row and len(row) != width:
                if len(row) == 1 and isinstance(row[0], str) and not row[0].strip():
                    start = lines.number + 1
                    lines.start_record()
                    long = False
                    continue
                hint = (
                    f"an unquoted {delimiter!r} in a value?"
                    if len(row) > width
                    else "a missing field?"
                )
                raise DataError(
                    name, start, f"{len(row)} fields, but the header has {width} ({hint})"
                )
            lines.start_record()
            if row and restore is not None:
                for index, cell in enumerate(row):  # in place: a long cell is not held twice
                    is_long = cell.__class__ is longtext.LongText
                    row[index] = cell.restore(restore) if is_long else restore(cell)
                    del cell
            if long:
                long = False
                box = [(start, row)]  # not held here while it is imported
                del row
                yield box.pop()
            elif row:
                yield start, row
            start = lines.number + 1

    index = {column: i for i, column in enumerate(header)}

    def getter(column: str, optional: bool = False) -> Callable[[Any, int], Any]:
        if column not in index:
            shown = names_text(header, 30, len(header))
            raise DataError(name, 1, f"missing column {column!r}; the file has: {shown}")
        position = index[column]
        return lambda record, _line: record[position]

    return Source(name, fmt, encoding, header, records(), getter)


def check_unique_columns(name: str, line: int | None, columns: Iterable[str]) -> None:
    """Refuse a header (a CSV's, a sheet's, a Parquet or Arrow schema's) that names a column
    twice: which of the two would --map or --label-column mean? Parquet and Arrow took the
    last one without a word (red team, session 7); CSV, xlsx and JSON refuse."""
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise DataError(
                name, line, f"the column {names_text([column], 1)!r} appears twice in the header"
            )
        seen.add(column)


def _big_record(name: str, fmt: str, lines: TextLines, start: int) -> list[str]:
    """The fields of a record longer than csvrecord.BIG, read from its raw bytes: each field
    decoded once (the bytes go when this returns)."""
    buf = lines.take_record()
    delimiter = b"\t" if fmt == "tsv" else b","
    try:
        spans = csvrecord.split_record(buf, lines.more, delimiter, fmt != "tsv")
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            message = "a quoted field starts here and is never closed (an unmatched double quote)"
        else:
            message = f"broken quoting: {exc}"
        raise DataError(name, start, message) from None

    return csvrecord.decode_fields(
        buf,
        spans,
        lambda lines_before, exc: bad_bytes(name, start + lines_before, exc),
        keep_long=lines.long_bytes,
    )


def _dict_getter(name: str) -> Callable[..., Callable[[Any, int], Any]]:
    def getter(column: str, optional: bool = False) -> Callable[[Any, int], Any]:
        """A value by key; a missing key is an error unless `optional` (then None)."""

        def get(record: Any, line: int) -> Any:
            if isinstance(record, str) and column == TEXT_COLUMN:
                return record
            if not isinstance(record, dict):
                raise DataError(
                    name, line, f"expected an object with a {column!r} key, found {kind_of(record)}"
                )
            try:
                return record[column]
            except KeyError:
                if optional:
                    return None
                keys = names_text(record, 20) or "no keys"
                raise DataError(
                    name, line, f"missing key {column!r}; this record has: {keys}"
                ) from None

        return get

    return getter


def names_text(names: Iterable[Any], most: int, total: int | None = None) -> str:
    """Column or key names for a message: the first `most`, each cut to 40 characters (a
    file's header can hold a megabyte-long name; the message stays readable)."""
    first = [str(n) for n in islice(names, most + 1)]
    text = ", ".join(n if len(n) <= 40 else n[:40] + "…" for n in first[:most])
    if total is not None and total > most:
        return f"{text} and {total - most:,} more"
    return text + (" and more" if len(first) > most else "")


def kind_of(value: Any) -> str:
    """What a JSON value is, in words, for error messages."""
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _jsonl_records(name: str, lines: TextLines) -> Iterator[tuple[int, Any]]:
    loads = jsoncheck.loads
    lines.keep_ends = False
    lines.raw_long = True  # a long line comes as bytes: jsonlong reads its long strings
    number = 0  # not enumerate: it would keep the last line alive
    for line in lines:
        number += 1
        if line.__class__ is bytearray:
            record = jsonlong.loads(line, name, number, lines.long_bytes)
            if record is not jsonlong.FALLBACK:
                del line
                box = [(number, record)]  # not held here while it is imported
                del record
                yield box.pop()
                continue
            line = _decoded(line, name, number)
        if not line or line.isspace():
            continue
        try:
            record = loads(line, name, number)
        except json.JSONDecodeError as exc:
            raise DataError(name, number, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        if len(line) < LINE_CHUNK:
            del line
            yield number, record
        else:
            del line  # only the record, while it is imported
            box = [(number, record)]  # not held here while it is imported
            del record
            yield box.pop()


def _decoded(raw: bytearray, name: str, number: int) -> str:
    """A long JSON Lines line that jsonlong handed back, decoded as TextLines would have."""
    try:
        with memoryview(raw) as view:
            return str(view, "utf-8")
    except UnicodeDecodeError as exc:
        raise bad_bytes(name, number, exc) from None


class _JsonArray:
    """A sliding window over the text of a JSON array file: decoded chunk by chunk, with the
    line number of any position, and the consumed part dropped as it goes."""

    def __init__(self, chunks: Iterator[str], lines: TextLines | None = None) -> None:
        self.chunks = chunks
        self.lines = lines  # a UTF-8 file's: a long element is read from its bytes (jsonarray)
        self.buffer = ""
        self.eof = False
        self.line = 1  # the line of buffer[counted]
        self.counted = 0

    def fill(self, at_least: int = 1) -> bool:
        """Append at least `at_least` more characters (or what is left); False at the end."""
        if self.eof:
            return False
        buffer, self.buffer = self.buffer, ""  # the one reference: += then grows it in place
        added = 0
        while added < at_least:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.eof = True
                break
            buffer += chunk
            added += len(chunk)
        self.buffer = buffer
        return added > 0

    def line_of(self, pos: int) -> int:
        """Line number of buffer[pos]; positions only move forward."""
        self.line += self.buffer.count("\n", self.counted, pos)
        self.counted = pos
        return self.line

    def skip_space(self, pos: int) -> int:
        while True:
            pos = _SPACE.match(self.buffer, pos).end()  # type: ignore[union-attr]
            if pos < len(self.buffer) or not self.fill():
                return pos
            pos = self.compact(pos)

    def compact(self, pos: int) -> int:
        """Drop the consumed part of the buffer once it is large; returns the new position."""
        if pos < JSON_CHUNK:
            return pos
        self.line_of(pos)
        self.buffer = self.buffer[pos:]
        self.counted = 0
        return 0


_SPACE = re.compile(r"[ \t\r\n]*")


def _json_records(name: str, lines: TextLines, max_field: int) -> Iterator[tuple[int, Any]]:
    """The elements of a top-level JSON array, decoded one at a time from a sliding buffer."""
    utf8 = lines.encoding == "utf-8-sig"
    window = _JsonArray(lines.chunks(JSON_CHUNK), lines if utf8 else None)
    window.fill()
    pos = window.skip_space(0)
    if pos >= len(window.buffer) or window.buffer[pos] != "[":
        raise DataError(name, window.line_of(pos), "expected a JSON array ('[' ... ']') of records")
    pos += 1
    first = True
    while True:
        pos = window.skip_space(window.compact(pos))
        buffer = window.buffer
        if pos >= len(buffer):
            raise DataError(
                name,
                window.line_of(pos),
                "the file ends before the JSON array is closed (truncated?)",
            )
        if buffer[pos] == "]":
            pos = window.skip_space(pos + 1)
            if pos < len(window.buffer):
                raise DataError(
                    name, window.line_of(pos), "unexpected data after the end of the JSON array"
                )
            return
        if not first:
            if buffer[pos] != ",":
                raise DataError(
                    name, window.line_of(pos), "invalid JSON: expected ',' or ']' between records"
                )
            pos = window.skip_space(pos + 1)
        del buffer  # window.fill grows the buffer in place only when it is the one reference
        record, pos = _json_element(name, window, pos, max_field)
        pos = window.compact(pos)  # a long element's text goes before it is imported
        first = False
        box = [record]  # not held here while it is imported
        del record
        yield box.pop()


def _json_element(name: str, window: _JsonArray, pos: int, max_field: int) -> tuple[Any, int]:
    """((line, element), end) of the array element at pos, reading more of the file as needed:
    twice as much at each try, so a long element is decoded a few times, not once a chunk."""
    line = window.line_of(pos)
    as_bytes = window.lines is not None and window.lines.long_bytes
    while True:
        try:
            item, end = jsoncheck.raw_decode(window.buffer, pos, name, line)
            if end < len(window.buffer) or window.eof:
                break
            failure = ("a number is cut short", end)  # at the end of what is read so far
        except json.JSONDecodeError as exc:
            failure = (exc.msg, exc.pos)  # not exc itself: it holds the buffer
        item = None
        span = len(window.buffer) - pos
        if span > max_field:
            raise _too_big(name, line, max_field)
        if as_bytes and span > jsonarray.LONG:
            as_bytes = False  # once: if the ordinary path must read it, it reads all of it
            read = jsonarray.read_long(
                window, pos, window.lines, line, lambda: _too_big(name, line, max_field)
            )
            if read is not None:
                return (line, read[0]), read[1]
            pos = 0  # the element is the window's text again: parsed again as it is
            continue
        if not window.fill(max(span, JSON_CHUNK)):
            raise DataError(name, window.line_of(failure[1]), f"invalid JSON: {failure[0]}")
    if end - pos > max_field:
        raise _too_big(name, line, max_field)
    return (line, item), end


def _too_big(name: str, line: int, max_field: int) -> DataError:
    return DataError(
        name,
        line,
        f"this element of the JSON array is longer than the {size_text(max_field)} limit for "
        "one record (raise the limit with --max-field-mb)",
    )
