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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from app.core import audit
from app.core.annotation.values import LabelParser
from app.core.errors import Cancelled, DataError, ProjectError, UnknownLabelsError
from app.core.ids import new_uuid, now_iso
from app.core.io import readers, sources
from app.core.io.answers import Answers
from app.core.io.decoding import DEFAULT_MAX_FIELD
from app.core.io.feed import RowFeed, check_new_labels, insert_annotations
from app.core.io.formats import registry
from app.core.io.formats.base import ReadOptions
from app.core.io.preview import check_mapping, open_file, suggest_mapping
from app.core.io.preview import preview as preview  # callers import it from here
from app.core.io.summary import import_summary
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.annotators import annotator_by_name
from app.core.project.label_schema import LabelSpec
from app.core.project.project import Project, current_schema, update_schema
from app.core.storage import fts, sqlite
from app.core.storage.tables import DatapointStatus

# Indexes of datapoint rebuilt at the end of an import into a project holding fewer rows than
# the file probably brings (its size / BYTES_PER_ROW). The partial flagged index stays: rows
# come in unflagged, so it costs nothing to keep.
REBUILT_INDEXES = ("ix_datapoint_dataset", "ix_datapoint_status", "ix_datapoint_id")
BYTES_PER_ROW = 100
INSERT_CACHE_KB = -1024  # the page cache while rows are inserted (negative: KiB)


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
    stream: readers.HashingReader | None  # the fast path's bytes, hashed as they are read
    total_bytes: int
    mapping: dict[str, str]
    label_column: str | None
    annotator: str | None
    skip_duplicates: bool
    add_labels: bool
    progress: Progress
    cancel: CancelCheck
    peer: bool = False  # Records of a peer format: text, context and answers from the format
    digest: str = ""  # a Records format's SHA-256, computed up front (it reads the file itself)
    get_text: Any = None
    context_getters: list[tuple[str, Any]] = field(default_factory=list)
    get_label: Any = None
    actor_id: int = 0

    @property
    def name(self) -> str:
        return str(self.path)

    def position(self) -> int:
        return self.stream.position if self.stream is not None else 0

    def sha256(self) -> str:
        return self.stream.sha256.hexdigest() if self.stream is not None else self.digest

    def bind_columns(self) -> None:
        """Check the mapping and get the readers of the text, context and label columns."""
        project = self.project
        if self.peer:
            self.get_text = lambda record, _line: record.text
            self.context_getters = [
                (spec, self.source.getter(spec, optional=True))
                for spec in project.context_inputs
                if spec in self.source.columns
            ]
            return
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
    encoding: str | None = None,
    sheet: str | None = None,
    spans_key: str | None = None,
) -> ImportReport:
    """Import one file as a new dataset of the project. Either all of it lands, or nothing.

    The format is `fmt` (a name of app.core.io.formats.registry) or found from the name and
    the content; a file whose content looks like another format is refused. Tabular formats
    take `mapping` and `label_column`; a peer format (Label Studio, Prodigy, doccano, CoNLL...)
    says itself where the text and the labels are, and each annotator's answer becomes that
    annotator's annotation (`annotator` names the ones the file does not name).

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
    if not path.exists():
        open_file(path)  # the DataError naming the file
    fmt = registry.resolve(path, fmt, tabular=mapping is not None or label_column is not None)
    started = time.perf_counter()
    options = ReadOptions(
        project.task_type,
        encoding=encoding,
        sheet=sheet,
        spans_key=spans_key,
        max_field=max_field,
    )
    settings = (mapping, label_column, annotator, duplicates == "skip", add_labels)
    if fmt in registry.FAST_PATH:
        with open_file(path) as raw:
            stream = readers.HashingReader(raw)
            buffered = io.BufferedReader(stream, 1 << 20)
            source = readers.open_source(path, buffered, fmt, max_field, encoding)
            try:
                report = _run(project, path, fmt, source, stream, settings, progress, cancel)
            finally:
                source.close()  # stop reading while the file is still open
    else:
        source = sources.open_records(path, fmt, options)
        try:
            report = _run(project, path, fmt, source, None, settings, progress, cancel)
        finally:
            source.close()
    report.seconds = time.perf_counter() - started
    total = sources.total_size(path)
    progress(total, total, report.summary())
    _index(project, report, index, progress, cancel)
    return report


def _run(
    project: Project,
    path: Path,
    fmt: str,
    source: readers.Source,
    stream: readers.HashingReader | None,
    settings: tuple,
    progress: Progress,
    cancel: CancelCheck,
) -> ImportReport:
    """Bind the file's columns (or a peer format's fields) and write the import."""
    mapping, label_column, annotator, skip, add_labels = settings
    peer = not registry.get(fmt, path).tabular
    if peer:
        if mapping or label_column:
            raise DataError(
                str(path),
                None,
                f"{fmt} files say themselves where the text and the labels are: "
                "leave out --map and --label-column",
            )
        mapping = {}
    elif mapping is None:
        columns = source.columns or sources.dict_columns(
            [record for _line, record in sources.peek(source)]
        )
        mapping = suggest_mapping(columns, project)
    job = _Job(
        project,
        path,
        fmt,
        source,
        stream,
        sources.total_size(path),
        mapping,
        label_column,
        annotator,
        skip,
        add_labels,
        progress,
        cancel,
        peer=peer,
        digest="" if stream is not None else sources.file_digest(path),
    )
    job.bind_columns()
    job.actor_id = project.local_annotator_id  # before BEGIN: it may write on its own
    return _write(job)


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
    feed = RowFeed(job, conn, report, max(top, indexed_upto) + 1)
    if job.get_label is not None or job.peer:
        feed.parser = LabelParser(job.project.task_type, schema, job.name)
        answers = Answers(feed.parser, job.name, job.annotator)
        feed.valuer = answers.of_record if job.peer else answers.of_cell(job.get_label)
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
    job.progress(job.position(), job.total_bytes, f"Reading {job.path.name}")
    check_cancel(job.cancel)
    for _index_name, index_sql in rebuild:
        conn.execute(index_sql)
    report.rows = feed.added
    if feed.records == 0:
        raise DataError(job.name, None, "the file holds no records (only a header, or nothing)")
    if feed.parser is not None:
        _add_annotations(job, conn, sa_conn, feed, schema)
    sha256 = job.sha256()
    conn.execute(
        "UPDATE dataset SET sha256 = ?, row_count = ?, duplicate_count = ? WHERE id = ?",
        (sha256, report.rows, report.duplicates, dataset_id),
    )
    audit.record(
        sa_conn,
        job.actor_id,
        "import",
        "dataset",
        dataset_uuid,
        after={
            "source": job.path.name,
            "sha256": sha256,
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
    feed: RowFeed,
    schema: Any,
) -> None:
    """The file's labels as annotations, each by its annotator (created by name if new), with
    labels new to the schema added, if allowed."""
    parser = feed.parser
    report = feed.report
    added = parser.unknown_labels()
    if added:
        check_new_labels(job.name, parser.first_unknown_line, added, len(schema.labels))
        if not job.add_labels:
            raise UnknownLabelsError(job.name, parser.first_unknown_line, added)
        labels = [*schema.labels, *(LabelSpec(label) for label in added)]
        schema = update_schema(job.project, labels=labels, actor_id=job.actor_id, conn=sa_conn)
        report.added_labels = added
    names = {item[3] for item in feed.pending} | {item[3] for item in feed.attached}
    annotator_ids = {name: annotator_by_name(sa_conn, name) for name in sorted(names)}
    attached = feed.new_attached(annotator_ids)
    report.annotations = insert_annotations(
        conn, feed.unique_pending() + attached, annotator_ids, schema.id, job.project.task_type
    )
    relabeled = [item[0] for item in attached] + feed.relabeled
    if relabeled:
        conn.executemany(
            f"UPDATE datapoint SET status = {int(DatapointStatus.LABELED)}"
            f" WHERE id = ? AND status = {int(DatapointStatus.UNLABELED)}",
            [(dp_id,) for dp_id in relabeled],
        )
    report.attached = len(attached)
