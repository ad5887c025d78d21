"""Streaming readers for dataset files: CSV, TSV, JSON (array), JSON Lines and plain text.

Each reader yields (line number, record) one record at a time and never holds the file in
memory. Decoding is strict: UTF-8 (with or without a BOM) or UTF-16 with a BOM; anything else
is a DataError naming the line, never mojibake.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from app.core.errors import DataError
from app.core.io import spreadsheet

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
JSON_CHUNK = 1 << 20
JSON_MAX_ITEM = 64 << 20  # one JSON array element larger than this is refused

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
            f"cannot tell the format from the name; give it explicitly ({', '.join(FORMATS)})",
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


def detect_encoding(head: bytes, name: str) -> str:
    """'utf-8-sig' or 'utf-16' from the first bytes; refuse what we cannot decode safely."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise DataError(name, 1, "the file is UTF-32; save it as UTF-8 and import again")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head[:4096]:
        raise DataError(
            name,
            1,
            "the file holds NUL bytes: it looks like UTF-16 without a byte-order mark, or is "
            "not a text file; save it as UTF-8 and import again",
        )
    return "utf-8-sig"  # also strips a BOM that is absent: harmless


def _bad_bytes(name: str, line: int, exc: UnicodeDecodeError) -> DataError:
    byte = exc.object[exc.start : exc.start + 1].hex().upper()
    return DataError(
        name,
        line,
        f"not valid UTF-8 (byte 0x{byte} at position {exc.start + 1} of the line); the file, "
        "or this part of it, is in another encoding such as Latin-1 or Windows-1252. "
        "Save it as UTF-8 and import again",
    )


def text_lines(stream: BinaryIO, encoding: str, name: str) -> Iterator[str]:
    """Decoded lines, keeping their line endings; a decoding error names its line."""
    if encoding == "utf-8-sig":
        first = True
        for number, raw in enumerate(stream, 1):
            if first:
                raw = raw.removeprefix(codecs.BOM_UTF8)
                first = False
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _bad_bytes(name, number, exc) from None
        return
    reader = io.TextIOWrapper(stream, encoding=encoding, newline="")  # type: ignore[arg-type]
    number = 0
    try:
        for number, line in enumerate(reader, 1):  # noqa: B007 - number is read after the loop
            yield line
    except UnicodeDecodeError:
        raise DataError(
            name, number + 1, "not valid UTF-16 here; the file is damaged or mixes encodings"
        ) from None
    finally:
        reader.detach()


@dataclass
class Source:
    """An opened dataset file: its columns (when known up front) and its records."""

    name: str
    format: str
    encoding: str
    columns: list[str]
    records: Iterator[tuple[int, Any]]
    getter: Callable[..., Callable[[Any, int], Any]]  # (column, optional=False)


def open_source(path: Path, stream: BinaryIO, fmt: str) -> Source:
    """Open a binary stream of a dataset file as a Source of (line, record) pairs."""
    name = str(path)
    head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
    if not head.strip(b"\xef\xbb\xbf\xff\xfe \t\r\n\x00"):
        raise DataError(name, None, "the file is empty")
    encoding = detect_encoding(head, name)
    lines = text_lines(stream, encoding, name)
    if fmt in ("csv", "tsv"):
        return _csv_source(name, fmt, encoding, lines)
    if fmt == "jsonl":
        return Source(name, fmt, encoding, [], _jsonl_records(name, lines), _dict_getter(name))
    if fmt == "json":
        return Source(name, fmt, encoding, [], _json_records(name, lines), _dict_getter(name))
    return Source(name, fmt, encoding, [TEXT_COLUMN], _txt_records(lines), _txt_getter)


def _txt_records(lines: Iterator[str]) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if line.strip():
            yield number, line


def _txt_getter(column: str, optional: bool = False) -> Callable[[Any, int], Any]:
    return lambda record, _line: record


def _csv_source(name: str, fmt: str, encoding: str, lines: Iterator[str]) -> Source:
    # TSV (IANA text/tab-separated-values) has no quoting: a " is just a character. CSV follows
    # RFC 4180, strictly, so broken quoting is an error rather than silently merged rows.
    if fmt == "tsv":
        reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE, strict=True)
        delimiter = "\t"
    else:
        reader = csv.reader(lines, delimiter=",", strict=True)
        delimiter = ","
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(name, None, "the file is empty") from None
    except csv.Error as exc:
        raise DataError(name, 1, f"broken header: {exc}") from None
    header = [column.strip() for column in header]
    header, restore = spreadsheet.reading(header)  # undo the export's formula quoting
    if not any(header):
        raise DataError(name, 1, "the header line is empty; the first line must name the columns")
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise DataError(name, 1, f"the column {column!r} appears twice in the header")
        seen.add(column)
    width = len(header)

    def records() -> Iterator[tuple[int, Any]]:
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                message = str(exc)
                if "unexpected end of data" in message or reader.line_num > start + 1000:
                    message = (
                        "a quoted field starts here and is never closed (an unmatched double quote)"
                    )
                else:
                    message = f"broken quoting: {message}"
                raise DataError(name, start, message) from None
            if row and len(row) != width:
                if len(row) == 1 and not row[0].strip():
                    start = reader.line_num + 1
                    continue
                hint = (
                    f"an unquoted {delimiter!r} in a value?"
                    if len(row) > width
                    else "a missing field?"
                )
                raise DataError(
                    name, start, f"{len(row)} fields, but the header has {width} ({hint})"
                )
            if row:
                yield start, row if restore is None else [restore(cell) for cell in row]
            start = reader.line_num + 1

    index = {column: i for i, column in enumerate(header)}

    def getter(column: str, optional: bool = False) -> Callable[[Any, int], Any]:
        if column not in index:
            raise DataError(
                name, 1, f"missing column {column!r}; the file has: {', '.join(header)}"
            )
        position = index[column]
        return lambda record, _line: record[position]

    return Source(name, fmt, encoding, header, records(), getter)


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
                keys = ", ".join(map(str, list(record)[:20])) or "no keys"
                raise DataError(
                    name, line, f"missing key {column!r}; this record has: {keys}"
                ) from None

        return get

    return getter


def kind_of(value: Any) -> str:
    """What a JSON value is, in words, for error messages."""
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _jsonl_records(name: str, lines: Iterator[str]) -> Iterator[tuple[int, Any]]:
    loads = json.loads
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(name, number, f"invalid JSON: {exc.msg} (column {exc.colno})") from None


def _json_records(name: str, lines: Iterator[str]) -> Iterator[tuple[int, Any]]:
    """The elements of a top-level JSON array, decoded one at a time from a sliding buffer."""
    decoder = json.JSONDecoder()
    state = {"buffer": "", "eof": False, "line": 1, "counted": 0}  # line number at "counted"

    def fill() -> bool:
        if state["eof"]:
            return False
        chunk: list[str] = []
        size = 0
        for line in lines:
            chunk.append(line)
            size += len(line)
            if size >= JSON_CHUNK:
                break
        else:
            state["eof"] = True
        state["buffer"] += "".join(chunk)
        return bool(chunk)

    def line_of(pos: int) -> int:
        """Line number of buffer[pos]; positions only move forward."""
        state["line"] += state["buffer"].count("\n", state["counted"], pos)
        state["counted"] = pos
        return state["line"]

    def skip_space(pos: int) -> int:
        while True:
            buffer = state["buffer"]
            while pos < len(buffer) and buffer[pos] in " \t\r\n":
                pos += 1
            if pos < len(buffer) or not fill():
                return pos

    def compact(pos: int) -> int:
        """Drop the consumed part of the buffer once it is large; returns the new position."""
        if pos < JSON_CHUNK:
            return pos
        line_of(pos)
        state["buffer"] = state["buffer"][pos:]
        state["counted"] = 0
        return 0

    fill()
    pos = skip_space(0)
    if pos >= len(state["buffer"]) or state["buffer"][pos] != "[":
        raise DataError(name, line_of(pos), "expected a JSON array ('[' ... ']') of records")
    pos += 1
    first = True
    while True:
        pos = skip_space(compact(pos))
        buffer = state["buffer"]
        if pos >= len(buffer):
            raise DataError(
                name, line_of(pos), "the file ends before the JSON array is closed (truncated?)"
            )
        if buffer[pos] == "]":
            pos = skip_space(pos + 1)
            if pos < len(state["buffer"]):
                raise DataError(
                    name, line_of(pos), "unexpected data after the end of the JSON array"
                )
            return
        if not first:
            if buffer[pos] != ",":
                raise DataError(
                    name, line_of(pos), "invalid JSON: expected ',' or ']' between records"
                )
            pos = skip_space(pos + 1)
        while True:
            buffer = state["buffer"]
            try:
                item, end = decoder.raw_decode(buffer, pos)
                if end >= len(buffer) and not state["eof"]:
                    raise json.JSONDecodeError("needs more", buffer, end)  # a number cut short
                break
            except json.JSONDecodeError as exc:
                if len(buffer) - pos < JSON_MAX_ITEM and fill():
                    continue
                raise DataError(name, line_of(exc.pos), f"invalid JSON: {exc.msg}") from None
        yield line_of(pos), item
        first = False
        pos = end
