"""Import a dataset file into a project: streamed, cancellable, and all-or-nothing.

Rows go in as one transaction through the DB-API connection with one executemany over a
generator of tuples, because the ORM would be an order of magnitude slower at a million rows;
a cancelled or failed import leaves no trace. The search index is built after the commit, in
resumable chunks (app.core.storage.fts), and search stays correct while rows wait for it.

SQLite-bound: it writes on the raw sqlite3 driver (app.core.storage.sqlite.bulk_write) for
speed, and rebuilds datapoint indexes from sqlite_master.
"""

from __future__ import annotations

import io
import json
import sqlite3
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from app.core import audit
from app.core.annotation.values import LabelParser
from app.core.errors import Cancelled, DataError, ProjectError, UnknownLabelsError
from app.core.ids import new_uuid, now_iso
from app.core.io import readers
from app.core.io.decoding import DEFAULT_MAX_FIELD
from app.core.io.preview import (
    check_mapping,
    open_file,
    preview,
    suggest_mapping,
)
from app.core.io.summary import import_summary
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.annotators import annotator_by_name
from app.core.project.label_schema import (
    MAX_LABEL_LENGTH,
    MAX_LABELS,
    LabelSpec,
    label_too_long,
)
from app.core.project.project import Project, current_schema, update_schema
from app.core.storage import fts, sqlite
from app.core.storage.tables import DatapointStatus

BATCH = 20_000
# Indexes of datapoint rebuilt at the end of an import into a project holding fewer rows than
# the file probably brings (its size / BYTES_PER_ROW). The partial flagged index stays: rows
# come in unflagged, so it costs nothing to keep.
REBUILT_INDEXES = ("ix_datapoint_dataset", "ix_datapoint_status", "ix_datapoint_id")
BYTES_PER_ROW = 100
INSERT_CACHE_KB = -4096  # the page cache while rows are inserted (negative: KiB)


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
        """One paragraph for a person (app.core.io.summary words it)."""
        return import_summary(self)


@dataclass
class _Job:
    """What one import works with, from the file and the caller, shared by its steps."""

    project: Project
    path: Path
    fmt: str
    source: readers.Source
    stream: readers.HashingReader
    total_bytes: int
    mapping: dict[str, str]
    label_column: str | None
    annotator: str | None
    skip_duplicates: bool
    add_labels: bool
    progress: Progress
    cancel: CancelCheck
    get_text: Any = None
    context_getters: list[tuple[str, Any]] = field(default_factory=list)
    get_label: Any = None
    actor_id: int = 0

    @property
    def name(self) -> str:
        return str(self.path)

    def bind_columns(self) -> None:
        """Check the mapping and get the readers of the text, context and label columns."""
        project = self.project
        check_mapping(project, self.mapping, self.name)
        inverse = {target: column for column, target in self.mapping.items()}
        self.get_text = self.source.getter(inverse[project.annotated_input])
        self.context_getters = [
            (spec, self.source.getter(inverse[spec]))
            for spec in project.context_inputs
            if spec in inverse
        ]
        label_column = self.label_column
        self.get_label = self.source.getter(label_column, optional=True) if label_column else None
        if label_column and label_column in self.mapping:
            raise DataError(
                self.name, 1, f"the label column {label_column!r} is also mapped as an input"
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
    max_field: int = DEFAULT_MAX_FIELD,
) -> ImportReport:
    """Import one file as a new dataset of the project. Either all of it lands, or nothing.

    The rows are committed first; then, if `index` (the default), they are added to the search
    index (app.core.storage.fts.index_pending), which is what makes `report.seconds` (rows
    committed) and `report.index_seconds` (search index ready) two figures. A cancel during indexing
    keeps the committed import and leaves the rest of the index pending (`report.indexed` is
    False); search stays correct meanwhile, and index_pending resumes it. With index=False
    the caller runs index_pending itself (e.g. in a background job).

    `max_field` caps one record (a line, a CSV row, an element of a JSON array) in bytes: a
    longer one is a DataError naming its line, found after reading at most that much of it.
    """
    path = Path(path)
    if duplicates not in ("keep", "skip"):
        raise ProjectError(f"duplicates must be 'keep' or 'skip', not {duplicates!r}")
    fmt = readers.detect_format(path, fmt)
    started = time.perf_counter()
    total_bytes = path.stat().st_size if path.exists() else 0

    with open_file(path) as raw:
        stream = readers.HashingReader(raw)
        buffered = io.BufferedReader(stream, 1 << 20)
        source = readers.open_source(path, buffered, fmt, max_field)
        try:
            if mapping is None:
                columns = source.columns or preview(path, fmt, max_field=max_field).columns
                mapping = suggest_mapping(columns, project)
            job = _Job(
                project,
                path,
                fmt,
                source,
                stream,
                total_bytes,
                mapping,
                label_column,
                annotator,
                duplicates == "skip",
                add_labels,
                progress,
                cancel,
            )
            job.bind_columns()
            job.actor_id = project.local_annotator_id  # before BEGIN: it may write on its own
            report = _write(job)
        finally:
            source.close()  # stop reading while the file is still open
    report.seconds = time.perf_counter() - started
    progress(total_bytes, total_bytes, report.summary())
    _index(project, report, index, progress, cancel)
    return report


def _write(job: _Job) -> ImportReport:
    """The import's one bulk transaction."""
    project = job.project
    with (
        project.engine.connect() as sa_conn,
        sqlite.bulk_write(
            sa_conn,
            job.cancel,
            lambda exc: ProjectError(f"{project.path}: the database refused the import ({exc})"),
            # Every key this import writes points at rows it has just written itself (its
            # dataset, datapoints, annotations) or has read (annotator, schema version), so
            # checking them row by row is pure cost.
            pragmas={"foreign_keys": "OFF", "temp_store": "MEMORY"},
            cancel_every=50_000,
        ) as conn,
    ):
        return _import_rows(job, conn, sa_conn)


def _index(
    project: Project, report: ImportReport, index: bool, progress: Progress, cancel: CancelCheck
) -> None:
    """Add the committed rows to the search index, unless the caller does it later."""
    if index:
        indexing = time.perf_counter()
        try:
            fts.index_pending(project, progress, cancel)
        except Cancelled:
            report.indexed = False
        report.index_seconds = time.perf_counter() - indexing
    else:
        report.indexed = False


def _import_rows(job: _Job, conn: sqlite3.Connection, sa_conn: Connection) -> ImportReport:
    """Everything the import writes, inside its transaction."""
    schema = current_schema(sa_conn)
    dataset_uuid = new_uuid()
    dataset_id = _insert_dataset(job, conn, dataset_uuid)
    report = ImportReport(dataset_id, dataset_uuid, job.path.name)
    # New ids go above both the newest datapoint and the search index's mark (app.core.storage.fts).
    indexed_upto, top = fts.pending(conn)
    feed = _RowFeed(job, conn, report, max(top, indexed_upto) + 1)
    if job.get_label is not None:
        feed.parser = LabelParser(job.project.task_type, schema, job.name)
        feed.annotator_id = annotator_by_name(sa_conn, job.annotator or "imported")
    feed.load_seen()
    # Into an empty or small project, building the id/status/dataset indexes once at the end
    # is faster than growing them row by row; same transaction, so still all-or-nothing.
    rebuild = _drop_indexes(conn) if top * BYTES_PER_ROW < job.total_bytes else []
    # A small page cache while rows go in: a long text then spills to the file as it is
    # written rather than staying in memory next to Python's and SQLite's copies of it.
    cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size={INSERT_CACHE_KB}")
    try:
        conn.executemany(feed.insert_sql(dataset_id), feed.rows())
    finally:
        conn.execute(f"PRAGMA cache_size={int(cache_size)}")
    job.progress(job.stream.position, job.total_bytes, f"Reading {job.path.name}")
    check_cancel(job.cancel)
    for _index_name, index_sql in rebuild:
        conn.execute(index_sql)
    report.rows = feed.added
    if feed.records == 0:
        raise DataError(job.name, None, "the file holds no records (only a header, or nothing)")
    if feed.parser is not None:
        _add_annotations(job, conn, sa_conn, feed, schema)
    conn.execute(
        "UPDATE dataset SET sha256 = ?, row_count = ?, duplicate_count = ? WHERE id = ?",
        (job.stream.sha256.hexdigest(), report.rows, report.duplicates, dataset_id),
    )
    audit.record(
        sa_conn,
        job.actor_id,
        "import",
        "dataset",
        dataset_uuid,
        after={
            "source": job.path.name,
            "sha256": job.stream.sha256.hexdigest(),
            "rows": report.rows,
            "duplicates": report.duplicates,
            "skipped": report.skipped,
            "annotations": report.annotations,
            "attached": report.attached,
        },
    )
    return report


def _insert_dataset(job: _Job, conn: sqlite3.Connection, dataset_uuid: str) -> int:
    """The dataset row (its checksum and counts are filled in at the end); its id."""
    return int(
        conn.execute(
            "INSERT INTO dataset (uuid, source_name, sha256, format, mapping, label_column,"
            " row_count, duplicate_count, imported_at, imported_by)"
            " VALUES (?, ?, '', ?, ?, ?, 0, 0, ?, ?)",
            (
                dataset_uuid,
                job.path.name,
                job.fmt,
                json.dumps(job.mapping, ensure_ascii=False),
                job.label_column,
                now_iso(),
                job.actor_id,
            ),
        ).lastrowid
    )


def _drop_indexes(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Drop the datapoint indexes rebuilt at the end; (name, SQL) of each, to rebuild them."""
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
    return rebuild


def _add_annotations(
    job: _Job,
    conn: sqlite3.Connection,
    sa_conn: Connection,
    feed: _RowFeed,
    schema: Any,
) -> None:
    """The file's labels as annotations (labels new to the schema added, if allowed)."""
    parser = feed.parser
    report = feed.report
    added = parser.unknown_labels()
    if added:
        _check_new_labels(job.name, parser.first_unknown_line, added, len(schema.labels))
        if not job.add_labels:
            raise UnknownLabelsError(job.name, parser.first_unknown_line, added)
        labels = [*schema.labels, *(LabelSpec(label) for label in added)]
        schema = update_schema(job.project, labels=labels, actor_id=job.actor_id, conn=sa_conn)
        report.added_labels = added
    report.annotations = _insert_annotations(
        conn, feed.pending + feed.attached, feed.annotator_id, schema.id, job.project.task_type
    )
    if feed.attached:
        conn.executemany(
            f"UPDATE datapoint SET status = {int(DatapointStatus.LABELED)}"
            f" WHERE id = ? AND status = {int(DatapointStatus.UNLABELED)}",
            [(dp_id,) for dp_id, _line, _value in feed.attached],
        )
        report.attached = len(feed.attached)


def _check_new_labels(name: str, line: int, added: list[str], present: int) -> None:
    """Refuse labels too long to be labels, or more than a schema can hold, before listing
    them or adding them (a text column read as the labels would bring thousands)."""
    long = next((label for label in added if len(label) > MAX_LABEL_LENGTH), None)
    if long is not None:
        raise DataError(name, None, f"{label_too_long(long)}: is the label column right?")
    if present + len(added) > MAX_LABELS:
        raise DataError(
            name,
            line,
            f"{len(added):,} labels not in the schema, the first on this line; a schema holds "
            f"at most {MAX_LABELS:,} labels (it has {present:,}): is the label column right?",
        )


class _RowFeed:
    """The datapoint rows of the file, as tuples for one executemany, with exact-duplicate
    detection: texts already in the project, then the file's own. hash(text) -> datapoint id of
    its first occurrence; a hit is confirmed by comparing the texts before a row is skipped."""

    def __init__(
        self, job: _Job, conn: sqlite3.Connection, report: ImportReport, first_id: int
    ) -> None:
        self.job = job
        self.conn = conn
        self.report = report
        self.first_id = first_id
        self.seen: dict[int, int] = {}
        self.lines_of = array("q")  # the line of each row of this file, by id - first_id
        self.parser: LabelParser | None = None
        self.annotator_id: int | None = None
        self.pending: list[tuple[int, int, Any]] = []  # (datapoint id, line, parsed value)
        self.attached: list[tuple[int, int, Any]] = []  # labels for datapoints already there
        self._already_theirs: set[int] | None = None
        self.added = 0
        self.records = 0

    @property
    def simple(self) -> bool:
        """Rows with the text only: no context, no label."""
        return not self.job.context_getters and self.parser is None

    def load_seen(self) -> None:
        if self.first_id > 1:
            setdefault = self.seen.setdefault
            for count, (dp_id, text) in enumerate(
                self.conn.execute("SELECT id, text FROM datapoint")
            ):
                setdefault(hash(text), dp_id)
                if count % 50_000 == 0:
                    check_cancel(self.job.cancel)

    def insert_sql(self, dataset_id: int) -> str:
        unlabeled = int(DatapointStatus.UNLABELED)
        if self.simple:
            return (
                "INSERT INTO datapoint (id, dataset_id, row, text, status, flagged)"
                f" VALUES (?, {dataset_id}, ?, ?, {unlabeled}, 0)"
            )
        return (
            "INSERT INTO datapoint (id, dataset_id, row, text, context, status, flagged)"
            f" VALUES (?, {dataset_id}, ?, ?, ?, ?, 0)"
        )

    def attach(self, dp_id: int, line: int, raw: Any, text: str) -> None:
        """A skipped duplicate's label becomes this annotator's label of the existing
        datapoint (several people's labels of the same texts, imported one file each)."""
        value = self.parser.parse(raw, line, text)
        if value is LabelParser.ABSENT:
            return
        if self._already_theirs is None:
            self._already_theirs = {
                row[0]
                for row in self.conn.execute(
                    "SELECT datapoint_id FROM annotation WHERE annotator_id = ?",
                    (self.annotator_id,),
                )
            }
        if dp_id in self._already_theirs:
            return  # their own earlier label stays; an import never overwrites
        self._already_theirs.add(dp_id)
        self.attached.append((dp_id, line, value))

    def check_labels(self) -> None:
        """Stop early when the new labels are already too many or too long."""
        parser = self.parser
        _check_new_labels(
            self.job.name, parser.first_unknown_line, parser.unknown_labels(), len(parser.known)
        )

    def original_text(self, dp_id: int) -> str | None:
        found = self.conn.execute("SELECT text FROM datapoint WHERE id = ?", (dp_id,)).fetchone()
        return found[0] if found else None

    def duplicate(self, line: int, first: int) -> None:
        """Count a duplicate text and keep the first few as examples."""
        report = self.report
        report.duplicates += 1
        if len(report.duplicate_examples) < 5:
            report.duplicate_examples.append((line, _line_of(self.lines_of, first, self.first_id)))

    def rows(self) -> Iterator[tuple]:
        """The datapoint rows to insert, as tuples; counts and duplicates go to the report."""
        job, report, first_id = self.job, self.report, self.first_id
        next_id = first_id
        row_number = 0
        dumps = json.dumps
        append_line = self.lines_of.append
        seen = self.seen
        seen_get = seen.get
        parser, get_label, get_text = self.parser, job.get_label, job.get_text
        context_getters = job.context_getters
        simple = self.simple
        skip = job.skip_duplicates
        labeled_code = int(DatapointStatus.LABELED)
        unlabeled_code = int(DatapointStatus.UNLABELED)
        try:
            for line, record in job.source.records:
                row_number += 1
                if not row_number % BATCH:
                    job.progress(job.stream.position, job.total_bytes, f"Reading {job.path.name}")
                    check_cancel(job.cancel)
                    if parser is not None and parser.first_unknown_line:
                        self.check_labels()
                text = get_text(record, line)
                if text.__class__ is not str:
                    if text is None or isinstance(text, dict | list):
                        raise DataError(
                            job.name, line, f"the text is {readers.kind_of(text)}, not a string"
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
                    if self.original_text(first) == text:
                        report.skipped += 1
                        self.duplicate(line, first)
                        if parser is not None and first < first_id:
                            self.attach(first, line, get_label(record, line), text)
                        continue
                else:
                    self.duplicate(line, first)
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
                    status = unlabeled_code
                    if parser is not None:
                        value = parser.parse(get_label(record, line), line, text)
                        if value is not LabelParser.ABSENT:
                            self.pending.append((next_id, line, value))
                            status = labeled_code
                    yield (next_id, row_number, text, context, status)
                next_id += 1
        finally:
            self.added = next_id - first_id
            self.records = row_number


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
