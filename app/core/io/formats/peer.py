"""What the JSON-family peer formats (Label Studio, Prodigy, doccano) share: reading JSON or
JSON Lines records through the strict streamed readers, checking spans, and the answers a
writer writes for one export record."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.io import longtext, readers
from app.core.io.formats.annotated import short
from app.core.io.formats.base import ReadOptions, WriteContext
from app.core.io.formats.spancheck import check_span_text
from app.core.jobs import CancelCheck, Progress, check_cancel

PROGRESS_EVERY = 5_000


def json_objects(
    path: Path, options: ReadOptions, text_at: tuple[tuple[str, ...], ...] = ()
) -> Iterator[tuple[int, Any]]:
    """(line, object) of a JSON array file or a JSON Lines file, whichever the file is.

    Outside a spans project a long text at one of the `text_at` paths stays a
    longtext.LongText (its UTF-8, which the importer writes as it is: decoding it held the
    bytes and the str, 3.1-3.3x the field for text mixing CJK into ASCII); spans are checked
    on a str, so a spans project gets every text decoded."""
    path = Path(path)
    with path.open("rb") as raw:
        stream = io.BufferedReader(raw, 1 << 20)
        head = stream.peek(4096)[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        fmt = "json" if head.startswith(b"[") else "jsonl"
        source = readers.open_source(path, stream, fmt, options.max_field, options.encoding)
        # A long text is read as UTF-8 (a JSON array's element held 4x its size as text
        # mixing CJK into ASCII), then decoded once here: the formats read strs.
        if source.lines is not None:
            source.lines.long_bytes = True
        keep = text_at if options.task_type != "spans" else ()
        try:
            for line, record in source.records:
                box = [(line, longtext.decoded(record, keep))]  # not held here while it is imported
                del record
                yield box.pop()
        finally:
            source.close()


def first_json(head: bytes) -> Any:
    """The first complete JSON value of a head (the first element of an array), or None."""
    try:
        text = head.decode("utf-8-sig", errors="ignore").lstrip()
    except UnicodeDecodeError:
        return None
    decoder = json.JSONDecoder()
    if text.startswith("["):
        text = text[1:].lstrip()
    try:
        value, _end = decoder.raw_decode(text)
    except json.JSONDecodeError:
        return None
    return value


def need_text(record: Any, key: str, file: str, line: int) -> str:
    """The record's text: a str, or a longtext.LongText kept by `json_objects`."""
    if not isinstance(record, dict):
        raise DataError(file, line, f"expected an object, found {readers.kind_of(record)}")
    text = record.get(key)
    if not isinstance(text, str | longtext.LongText):
        raise DataError(file, line, f"the record has no {key!r} string ({readers.kind_of(text)})")
    return text


def span(start: Any, end: Any, label: Any, text: str, file: str, line: int, said: Any = None):
    """One span, its offsets and label checked, and its own text (if the file gives one)
    compared with the slice."""
    text = longtext.plain(text)  # a LongText only where no span was expected: rare
    if isinstance(start, bool) or not isinstance(start, int) or not isinstance(end, int):
        raise DataError(
            file, line, f"span offsets must be integers, not {short(start)}-{short(end)}"
        )
    if not isinstance(label, str) or not label.strip():
        raise DataError(
            file, line, f"a span's label must be a non-empty string, not {short(label)}"
        )
    found = {"start": start, "end": end, "label": label}
    if isinstance(said, str):  # first: offsets in other units may also run past the end
        check_span_text({**found, "text": said}, text, file, line)
    if not 0 <= start < end <= len(text):
        raise DataError(
            file, line, f"span {start}-{end} lies outside the text (length {len(text)})"
        )
    return found


def answers(record: dict[str, Any], context: WriteContext) -> list[tuple[str | None, Any]]:
    """(annotator, value) pairs a writer writes for one export record: with values "final",
    the record's chosen label (by no one in particular); else each complete annotation."""
    if context.values == "final":
        value = record.get("label")
        return [] if value is None else [(None, value)]
    return [
        (item["annotator"], item["value"])
        for item in record.get("annotations", ())
        if item.get("status") == "complete" and item.get("value") is not None
    ]


def context_of(record: dict[str, Any], context: WriteContext) -> dict[str, Any]:
    return {name: record.get(name) for name in context.context_inputs}


def tick(count: int, out: Path, progress: Progress, cancel: CancelCheck) -> None:
    if count % PROGRESS_EVERY == 0:
        progress(count, None, f"Exporting to {out.name}")
        check_cancel(cancel)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
