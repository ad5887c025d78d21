"""Before an import: what a file holds (format, encoding, columns, first records) and how its
columns map to the project's inputs, for the import dialog and the CLI.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from app.core.errors import DataError
from app.core.fileio import open_regular
from app.core.io import readers, sources
from app.core.io.decoding import DEFAULT_MAX_FIELD, check_encoding
from app.core.io.formats import registry
from app.core.io.formats.base import ReadOptions
from app.core.project.project import Project

PREVIEW_ROWS = 50


@dataclass
class Preview:
    """The first records of a file, for the import dialog, with what was detected."""

    format: str
    encoding: str
    columns: list[str]
    rows: list[dict[str, Any]]
    peer: bool = False  # the format places text and labels itself: no column mapping


def open_file(path: Path) -> BinaryIO:
    """The file, opened for reading bytes; a DataError naming it if it cannot be."""
    try:
        return open_regular(Path(path))  # a FIFO or a device is refused, never waited on
    except OSError as exc:
        raise DataError(str(path), None, f"cannot be read: {exc.strerror or exc}") from None


def preview(
    path: Path,
    fmt: str | None = None,
    max_rows: int = PREVIEW_ROWS,
    max_field: int = DEFAULT_MAX_FIELD,
    encoding: str | None = None,
    task_type: str = "classification",
    sheet: str | None = None,
) -> Preview:
    """Detect format, encoding and columns from the start of the file, without importing.
    A peer format (Label Studio, Prodigy...) shows its text, context fields and answers."""
    if encoding:
        check_encoding(encoding, str(path))
    fmt = registry.resolve(path, fmt)
    if fmt not in registry.FAST_PATH:
        options = ReadOptions(task_type, encoding=encoding, sheet=sheet, max_field=max_field)
        source = sources.open_records(Path(path), fmt, options)
        try:
            records = [record for _line, record in islice(source.records, max_rows)]
        finally:
            source.close()
        if registry.get(fmt).tabular:
            return Preview(fmt, source.encoding, source.columns, [r.context for r in records])
        rows = [sources.preview_row(record) for record in records]
        return Preview(fmt, source.encoding, sources.dict_columns(rows), rows, peer=True)
    with open_file(path) as stream:
        source = readers.open_source(Path(path), stream, fmt, max_field, encoding)
        try:
            records = [record for _line, record in islice(source.records, max_rows)]
        finally:
            source.close()  # while the file is still open
    if source.columns:
        columns = list(source.columns)
        rows = [dict(zip(columns, record, strict=False)) for record in records]
        if fmt == "txt":
            rows = [{readers.TEXT_COLUMN: record} for record in records]
    else:
        seen: dict[str, None] = {}  # the columns in order of appearance, in linear time
        rows = []
        for record in records:
            if isinstance(record, str):
                record = {readers.TEXT_COLUMN: record}
            if isinstance(record, dict):
                rows.append(record)
                seen.update(dict.fromkeys(record))
        columns = list(seen)
    return Preview(fmt, source.encoding, columns, rows)


def suggest_mapping(columns: list[str], project: Project) -> dict[str, str]:
    """Map file columns to project inputs by name (case-insensitive), or the lone text column."""
    by_lower = {column.lower(): column for column in columns}
    mapping: dict[str, str] = {}
    for spec in project.inputs:
        column = by_lower.get(spec.name.lower())
        if column is not None:
            mapping[column] = spec.name
    if project.annotated_input not in mapping.values():
        candidates = [
            c for c in columns if c not in mapping and c.lower() not in ("label", "labels")
        ]
        for guess in ("text", "sms", "body", "content", "sentence", "document", "message"):
            if guess in by_lower and by_lower[guess] in candidates:
                mapping[by_lower[guess]] = project.annotated_input
                break
        else:
            if len(candidates) == 1:
                mapping[candidates[0]] = project.annotated_input
    return mapping


def check_mapping(project: Project, mapping: dict[str, str], name: str) -> None:
    """Refuse a mapping to unknown inputs, to one input twice, or without the annotated one."""
    inputs = {spec.name for spec in project.inputs}
    for column, target in mapping.items():
        if target not in inputs:
            raise DataError(
                name,
                None,
                f"column {column!r} is mapped to {target!r}, which is not an input "
                f"of this project ({', '.join(sorted(inputs))})",
            )
    targets = list(mapping.values())
    twice = sorted(target for target, n in Counter(targets).items() if n > 1)
    if twice:
        raise DataError(name, None, f"more than one column is mapped to {', '.join(twice)}")
    if project.annotated_input not in targets:
        raise DataError(
            name,
            None,
            f"no column is mapped to the annotated input {project.annotated_input!r}; "
            f"map one with --map COLUMN={project.annotated_input}",
        )
