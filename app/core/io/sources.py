"""A file opened for import or preview, whatever its format, as one readers.Source.

The five line/array formats are read on the streamed fast path (app.core.io.readers: rows as
tuples or dicts, columns by getter). Every other format comes from the registry as Records
(app.core.io.formats.base), wrapped here in the same Source shape: (line, Record) pairs and
getters over Record.context, so the importer and the preview never know the format.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from app.core.errors import DataError, TagloopError
from app.core.io import readers
from app.core.io.formats import registry
from app.core.io.formats.base import ReadOptions, Record

PEEK = 50
TEXT = "text"
LABELS = "labels"


def peek(source: readers.Source, count: int = PEEK) -> list[tuple[int, Any]]:
    """The first `count` records, put back in front of the source's stream."""
    first = list(islice(source.records, count))
    source.records = _chained(deque(first), source.records)
    return first


def _chained(first: deque[Any], rest: Iterator[Any]) -> Iterator[Any]:
    """`first`, then `rest`, each record let go of once it is handed on (a long record is not
    held while the import goes on); closing it closes `rest` (a reader stops before its file
    is closed)."""
    try:
        while first:
            yield first.popleft()
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()


def dict_columns(records: list[Any]) -> list[str]:
    """The keys of the records in order of appearance (a string record is the text column)."""
    seen: dict[str, None] = {}
    for record in records:
        if isinstance(record, Record):
            record = record.context
        elif isinstance(record, str):
            record = {readers.TEXT_COLUMN: record}
        if isinstance(record, dict):
            seen.update(dict.fromkeys(record))
    return list(seen)


def _context_getter(name: str, columns: list[str]) -> Any:
    def getter(column: str, optional: bool = False) -> Any:
        if column not in columns and not optional:
            shown = readers.names_text(columns, 30) or "no columns"
            raise DataError(name, 1, f"missing column {column!r}; the file has: {shown}")
        return lambda record, _line: record.context.get(column)

    return getter


def open_records(path: Path, name: str, options: ReadOptions) -> readers.Source:
    """A registry format's Records as a Source of (line, Record) pairs. Its columns: for a
    tabular format, those of the first records' rows; for a peer format, the context fields."""
    fmt = registry.get(name, path)
    pairs = _guarded(fmt.read(Path(path), options), str(path), name)
    source = readers.Source(str(path), name, options.encoding or "utf-8", [], pairs, None)  # type: ignore[arg-type]
    first = peek(source)
    if not first:  # a tabular one said "no column is mapped", naming a column it has
        what = "records (only a header, or nothing)" if fmt.tabular else f"{name} records"
        raise DataError(str(path), None, f"the file holds no {what}")
    source.columns = dict_columns([record for _line, record in first])
    source.getter = _context_getter(str(path), source.columns)
    return source


def _guarded(records: Iterator[Record], file: str, name: str) -> Iterator[tuple[int, Record]]:
    """(line, Record) pairs; a reader that chokes on content it did not expect ends in a
    DataError naming the file and where it got to, never a traceback."""
    line = 0
    try:
        for record in records:
            line = record.line
            box = [(line, record)]  # not held here while it is imported (a long text)
            del record
            yield box.pop()
    except TagloopError:
        raise
    except OSError as exc:
        raise DataError(file, None, f"cannot be read: {exc.strerror or exc}") from None
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
        where = f"after the record at line {line}" if line else "at its start"
        raise DataError(
            file,
            None,
            f"not a {name} file as Tagloop reads it {where} ({type(exc).__name__}: {exc})",
        ) from None


def preview_row(record: Record) -> dict[str, Any]:
    """A peer format's Record as one row of the import preview: text, context, answers."""
    row: dict[str, Any] = {TEXT: record.text, **record.context}
    answers = [
        f"{item.annotator or 'imported'}: {_short(item.value)}"
        for item in record.values
        if item.status == "complete"
    ]
    row[LABELS] = "; ".join(answers) if answers else "(unlabelled)"
    return row


def _short(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return ", ".join(
            f"{span.get('label')} {span.get('start')}-{span.get('end')}" for span in value
        )
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return str(value)


def file_digest(path: Path) -> str:
    """SHA-256 of the file, or of a folder's files (names and bytes, sorted by name)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode("utf-8") + b"\0")
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def total_size(path: Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0
