"""Import a dataset file into a project: streamed, cancellable, and all-or-nothing.

Rows go in as one transaction through the DB-API connection with one executemany over a
generator of tuples, because the ORM would be an order of magnitude slower at a million rows;
a cancelled or failed import leaves no trace. The search index is built after the commit, in
resumable chunks (app.core.storage.fts), and search stays correct while rows wait for it.
"""

from __future__ import annotations

import io
import json
import sqlite3
import time
from array import array
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from app.core.annotation.values import LabelParser
from app.core.audit import chain as audit
from app.core.errors import Cancelled, DataError, ProjectError, UnknownLabelsError
from app.core.ids import new_uuid, now_iso
from app.core.io import readers
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.label_schema import LabelSpec
from app.core.project.project import Project, annotator_by_name, current_schema, update_schema
from app.core.storage import fts, sqlite
from app.core.storage.tables import STATUS_CODES

BATCH = 20_000
# Indexes of datapoint rebuilt at the end of an import into a project holding fewer rows than
# the file probably brings (its size / BYTES_PER_ROW). The partial flagged index stays: rows
# come in unflagged, so it costs nothing to keep.
REBUILT_INDEXES = ("ix_datapoint_dataset", "ix_datapoint_status", "ix_datapoint_id")
BYTES_PER_ROW = 100
PREVIEW_ROWS = 50


@dataclass
class Preview:
    """The first records of a file, for the import dialog, with what was detected."""

    format: str
    encoding: str
    columns: list[str]
    rows: list[dict[str, Any]]


@dataclass
class ImportReport:
    dataset_id: int
    dataset_uuid: str
    source: str
    rows: int = 0
    duplicates: int = 0
    skipped: int = 0
    attached: int = 0  # labels of skipped duplicates added to the datapoints already there
    empty: int = 0
    annotations: int = 0
    seconds: float = 0.0  # until the rows were committed
    index_seconds: float = 0.0  # then until the search index was ready
    indexed: bool = True  # False: part of the search index is still pending (app.core.storage.fts)
    added_labels: list[str] = field(default_factory=list)
    duplicate_examples: list[tuple[int, int]] = field(default_factory=list)  # (line, first line)

    def summary(self) -> str:
        parts = [f"Imported {self.rows:,} datapoints from {self.source}"]
        if self.annotations:
            parts.append(f"{self.annotations:,} annotations")
        if self.duplicates:
            verb = "skipped" if self.skipped else "kept"
            parts.append(f"{self.duplicates:,} exact duplicate texts ({verb})")
        if self.attached:
            parts.append(f"{self.attached:,} labels added to the datapoints already there")
        if self.empty:
            parts.append(f"{self.empty:,} records with empty text skipped")
        if self.added_labels:
            parts.append(f"labels added to the schema: {', '.join(self.added_labels)}")
        rate = self.rows / self.seconds if self.seconds else 0
        done = "; ".join(parts) + f" in {self.seconds:.1f} s ({rate:,.0f} rows/s)."
        if not self.indexed:
            return done + " The search index is still being built."
        if self.index_seconds:
            return done + f" Search index built in {self.index_seconds:.1f} s."
        return done


def _open(path: Path):
    try:
        return Path(path).open("rb")
    except OSError as exc:
        raise DataError(str(path), None, f"cannot be read: {exc.strerror or exc}") from None


def preview(path: Path, fmt: str | None = None, max_rows: int = PREVIEW_ROWS) -> Preview:
    """Detect format, encoding and columns from the start of the file, without importing."""
    fmt = readers.detect_format(path, fmt)
    with _open(path) as stream:
        source = readers.open_source(Path(path), stream, fmt)
        records = [record for _line, record in islice(source.records, max_rows)]
    if source.columns:
        columns = list(source.columns)
        rows = [dict(zip(columns, record, strict=False)) for record in records]
        if fmt == "txt":
            rows = [{readers.TEXT_COLUMN: record} for record in records]
    else:
        columns = []
        rows = []
        for record in records:
            if isinstance(record, str):
                record = {readers.TEXT_COLUMN: record}
            if isinstance(record, dict):
                rows.append(record)
                columns.extend(key for key in record if key not in columns)
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


def _check_mapping(project: Project, mapping: dict[str, str], name: str) -> None:
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
    twice = sorted({x for x in targets if targets.count(x) > 1})
    if twice:
        raise DataError(name, None, f"more than one column is mapped to {', '.join(twice)}")
    if project.annotated_input not in targets:
        raise DataError(
            name,
            None,
            f"no column is mapped to the annotated input {project.annotated_input!r}; "
            f"map one with --map COLUMN={project.annotated_input}",
        )


def import_dataset(
    project: Project,
    path: Path,
    *,
    mapping: dict[str, str] | None = None,
    label_column: str | None = None,
    annotator: str | None = None,
    duplicates: str = "keep",
    add_labels: bool = False,
    fmt: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    index: bool = True,
) -> ImportReport:
    """Import one file as a new dataset of the project. Either all of it lands, or nothing.

    The rows are committed first; then, if `index` (the default), they are added to the search
    index (app.core.storage.fts.index_pending), which is what makes `report.seconds` (rows
    committed) and `report.index_seconds` (search index ready) two figures. A cancel during indexing
    keeps the committed import and leaves the rest of the index pending (`report.indexed` is
    False); search stays correct meanwhile, and index_pending resumes it. With index=False
    the caller runs index_pending itself (e.g. in a background job).
    """
    path = Path(path)
    name = str(path)
    if duplicates not in ("keep", "skip"):
        raise ProjectError(f"duplicates must be 'keep' or 'skip', not {duplicates!r}")
    fmt = readers.detect_format(path, fmt)
    started = time.perf_counter()
    total_bytes = path.stat().st_size if path.exists() else 0

    with _open(path) as raw:
        stream = readers.HashingReader(raw)
        buffered = io.BufferedReader(stream, 1 << 20)
        source = readers.open_source(path, buffered, fmt)
        if mapping is None:
            columns = source.columns or preview(path, fmt).columns
            mapping = suggest_mapping(columns, project)
        _check_mapping(project, mapping, name)
        inverse = {target: column for column, target in mapping.items()}
        get_text = source.getter(inverse[project.annotated_input])
        context_getters = [
            (spec, source.getter(inverse[spec]))
            for spec in project.context_inputs
            if spec in inverse
        ]
        get_label = source.getter(label_column, optional=True) if label_column else None
        if label_column and label_column in mapping:
            raise DataError(
                name, 1, f"the label column {label_column!r} is also mapped as an input"
            )

        actor_id = project.local_annotator_id  # before BEGIN: it may write on its own connection
        with (
            project.engine.connect() as sa_conn,
            sqlite.bulk_write(
                sa_conn,
                cancel,
                lambda exc: ProjectError(
                    f"{project.path}: the database refused the import ({exc})"
                ),
                # Every key this import writes points at rows it has just written itself (its
                # dataset, datapoints, annotations) or has read (annotator, schema version), so
                # checking them row by row is pure cost.
                pragmas={"foreign_keys": "OFF", "temp_store": "MEMORY"},
                cancel_every=50_000,
            ) as conn,
        ):
            report = _import_rows(
                project,
                conn,
                sa_conn,
                source,
                path,
                fmt,
                mapping,
                label_column,
                annotator,
                duplicates,
                add_labels,
                actor_id,
                get_text,
                context_getters,
                get_label,
                stream,
                total_bytes,
                progress,
                cancel,
            )
    report.seconds = time.perf_counter() - started
    progress(total_bytes, total_bytes, report.summary())
    if index:
        indexing = time.perf_counter()
        try:
            fts.index_pending(project, progress, cancel)
        except Cancelled:
            report.indexed = False
        report.index_seconds = time.perf_counter() - indexing
    else:
        report.indexed = False
    return report


def _import_rows(
    project: Project,
    conn: sqlite3.Connection,
    sa_conn,
    source: readers.Source,
    path: Path,
    fmt: str,
    mapping: dict[str, str],
    label_column: str | None,
    annotator: str | None,
    duplicates: str,
    add_labels: bool,
    actor_id: int,
    get_text,
    context_getters,
    get_label,
    stream: readers.HashingReader,
    total_bytes: int,
    progress: Progress,
    cancel: CancelCheck,
) -> ImportReport:
    name = str(path)
    schema = current_schema(sa_conn)
    dataset_uuid = new_uuid()
    dataset_id = int(
        conn.execute(
            "INSERT INTO dataset (uuid, source_name, sha256, format, mapping, label_column,"
            " row_count, duplicate_count, imported_at, imported_by)"
            " VALUES (?, ?, '', ?, ?, ?, 0, 0, ?, ?)",
            (
                dataset_uuid,
                path.name,
                fmt,
                json.dumps(mapping, ensure_ascii=False),
                label_column,
                now_iso(),
                actor_id,
            ),
        ).lastrowid
    )
    report = ImportReport(dataset_id, dataset_uuid, path.name)
    # New ids go above both the newest datapoint and the search index's mark (app.core.storage.fts).
    indexed_upto, top = fts.pending(conn)
    first_id = max(top, indexed_upto) + 1

    # Exact-duplicate detection: texts already in the project, then the file's own.
    # hash(text) -> datapoint id of its first occurrence; a hit is confirmed by comparing the
    # texts before a row is skipped. The line of each row of this file, by id - first_id.
    seen: dict[int, int] = {}
    lines_of = array("q")
    if first_id > 1:
        setdefault = seen.setdefault
        for count, (dp_id, text) in enumerate(conn.execute("SELECT id, text FROM datapoint")):
            setdefault(hash(text), dp_id)
            if count % 50_000 == 0:
                check_cancel(cancel)

    parser = LabelParser(project.task_type, schema, name) if get_label else None
    annotator_id = None
    if get_label is not None:
        annotator_id = annotator_by_name(sa_conn, annotator or "imported")
    labeled_code = STATUS_CODES["labeled"]
    pending_annotations: list[tuple[int, int, Any]] = []  # (datapoint id, line, parsed value)
    skip = duplicates == "skip"
    counts = {"rows": 0, "records": 0}

    attached: list[tuple[int, int, Any]] = []  # labels for datapoints already in the project
    already_theirs: set[int] | None = None

    def attach(dp_id: int, line: int, raw: Any, text: str) -> None:
        """A skipped duplicate's label becomes this annotator's label of the existing
        datapoint (several people's labels of the same texts, imported one file each)."""
        nonlocal already_theirs
        value = parser.parse(raw, line, text)
        if value is LabelParser.ABSENT:
            return
        if already_theirs is None:
            already_theirs = {
                row[0]
                for row in conn.execute(
                    "SELECT datapoint_id FROM annotation WHERE annotator_id = ?", (annotator_id,)
                )
            }
        if dp_id in already_theirs:
            return  # their own earlier label stays; an import never overwrites
        already_theirs.add(dp_id)
        attached.append((dp_id, line, value))

    def original_text(dp_id: int) -> str | None:
        found = conn.execute("SELECT text FROM datapoint WHERE id = ?", (dp_id,)).fetchone()
        return found[0] if found else None

    def rows():
        """The datapoint rows to insert, as tuples; counts and duplicates go to the report."""
        next_id = first_id
        row_number = 0
        examples = report.duplicate_examples
        dumps = json.dumps
        append_line = lines_of.append
        seen_get = seen.get
        simple = not context_getters and parser is None
        try:
            for line, record in source.records:
                row_number += 1
                if not row_number % BATCH:
                    progress(stream.position, total_bytes, f"Reading {path.name}")
                    check_cancel(cancel)
                text = get_text(record, line)
                if text.__class__ is not str:
                    if text is None or isinstance(text, dict | list):
                        raise DataError(
                            name, line, f"the text is {readers._kind(text)}, not a string"
                        )
                    text = str(text)
                if not text or text.isspace():
                    report.empty += 1
                    continue
                key = hash(text)
                first = seen_get(key)
                if first is None:
                    seen[key] = next_id
                elif skip:
                    if original_text(first) == text:
                        report.duplicates += 1
                        report.skipped += 1
                        if len(examples) < 5:
                            examples.append((line, _line_of(lines_of, first, first_id)))
                        if parser is not None and first < first_id:
                            attach(first, line, get_label(record, line), text)
                        continue
                else:
                    report.duplicates += 1
                    if len(examples) < 5:
                        examples.append((line, _line_of(lines_of, first, first_id)))
                append_line(line)
                if simple:
                    yield (next_id, row_number, text)
                else:
                    context = None
                    if context_getters:
                        context = dumps(
                            {spec: get(record, line) for spec, get in context_getters},
                            ensure_ascii=False,
                        )
                    status = 0
                    if parser is not None:
                        value = parser.parse(get_label(record, line), line, text)
                        if value is not LabelParser.ABSENT:
                            pending_annotations.append((next_id, line, value))
                            status = labeled_code
                    yield (next_id, row_number, text, context, status)
                next_id += 1
        finally:
            counts["rows"] = next_id - first_id
            counts["records"] = row_number

    if not context_getters and parser is None:
        sql = (
            "INSERT INTO datapoint (id, dataset_id, row, text, status, flagged)"
            f" VALUES (?, {dataset_id}, ?, ?, 0, 0)"
        )
    else:
        sql = (
            "INSERT INTO datapoint (id, dataset_id, row, text, context, status, flagged)"
            f" VALUES (?, {dataset_id}, ?, ?, ?, ?, 0)"
        )
    # Into an empty or small project, building the id/status/dataset indexes once at the end
    # is faster than growing them row by row; same transaction, so still all-or-nothing.
    rebuild = []
    if top * BYTES_PER_ROW < total_bytes:
        rebuild = [
            (name, sql)
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master"
                " WHERE type = 'index' AND tbl_name = 'datapoint' AND sql IS NOT NULL"
            )
            if name in REBUILT_INDEXES
        ]
        for index_name, _sql in rebuild:
            conn.execute(f'DROP INDEX "{index_name}"')
    conn.executemany(sql, rows())
    progress(stream.position, total_bytes, f"Reading {path.name}")
    check_cancel(cancel)
    for _index_name, index_sql in rebuild:
        conn.execute(index_sql)
    report.rows = counts["rows"]
    if counts["records"] == 0:
        raise DataError(name, None, "the file holds no records (only a header, or nothing)")

    if parser is not None:
        added = parser.unknown_labels()
        if added:
            if not add_labels:
                raise UnknownLabelsError(name, parser.first_unknown_line, added)
            labels = [*schema.labels, *(LabelSpec(label) for label in added)]
            schema = update_schema(project, labels=labels, actor_id=actor_id, conn=sa_conn)
            report.added_labels = added
        report.annotations = _insert_annotations(
            conn, pending_annotations + attached, annotator_id, schema.id, project.task_type
        )
        if attached:
            conn.executemany(
                f"UPDATE datapoint SET status = {labeled_code} WHERE id = ? AND status = 0",
                [(dp_id,) for dp_id, _line, _value in attached],
            )
            report.attached = len(attached)

    conn.execute(
        "UPDATE dataset SET sha256 = ?, row_count = ?, duplicate_count = ? WHERE id = ?",
        (stream.sha256.hexdigest(), report.rows, report.duplicates, dataset_id),
    )
    audit.record(
        sa_conn,
        actor_id,
        "import",
        "dataset",
        dataset_uuid,
        after={
            "source": path.name,
            "sha256": stream.sha256.hexdigest(),
            "rows": report.rows,
            "duplicates": report.duplicates,
            "skipped": report.skipped,
            "annotations": report.annotations,
            "attached": report.attached,
        },
    )
    return report


def _line_of(lines_of: array, dp_id: int, first_id: int) -> int:
    """The line of a datapoint of this file, or 0 for one already in the project."""
    return lines_of[dp_id - first_id] if dp_id >= first_id else 0


def _insert_annotations(
    conn: sqlite3.Connection,
    pending: list[tuple[int, int, Any]],
    annotator_id: int | None,
    schema_version_id: int,
    task_type: str,
) -> int:
    """Imported labels become complete annotations by the named annotator."""
    if not pending:
        return 0
    first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM annotation").fetchone()[0]
    stamp = now_iso()
    rows = []
    label_rows = []
    for offset, (dp_id, _line, value) in enumerate(pending):
        annotation_id = first + offset
        rows.append(
            (
                annotation_id,
                new_uuid(),
                dp_id,
                annotator_id,
                json.dumps(value, ensure_ascii=False),
                schema_version_id,
                stamp,
                stamp,
            )
        )
        label_rows.extend(
            (annotation_id, label, dp_id) for label in LabelParser.labels_of(value, task_type)
        )
    conn.executemany(
        "INSERT INTO annotation (id, uuid, datapoint_id, annotator_id, value, status,"
        " schema_version_id, time_spent_ms, origin, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, 'complete', ?, 0, 'imported', ?, ?)",
        rows,
    )
    conn.executemany(
        "INSERT OR IGNORE INTO annotation_label (annotation_id, label, datapoint_id)"
        " VALUES (?, ?, ?)",
        label_rows,
    )
    return len(rows)
