"""Import a dataset file into a project: streamed, cancellable, and all-or-nothing.

Rows go in through the DB-API connection with executemany over a generator of tuples, because
the ORM would be an order of magnitude slower at a million rows. They are committed in short
chunks (each holds the write lock about CHUNK_SECONDS, so another program's label save never
waits long) under a dataset in state LOADING, which every read that lists or counts datapoints
leaves out (app.core.storage.visibility); the last short transaction does what touches visible
rows (labels of duplicates already there, labels added to the schema, the audit event) and
publishes the dataset. A cancelled or failed import removes what it committed, in short
chunks too (app.core.storage.staging); a killed one leaves it hidden, and opening the project
removes it. The search index is built after the publish, in resumable chunks
(app.core.storage.fts), and search stays correct while rows wait for it.

SQLite-bound: it writes on the raw sqlite3 driver for speed.
"""

from __future__ import annotations

import contextlib
import io
import itertools
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
from app.core.fileio import display_name
from app.core.ids import new_uuid, now_iso
from app.core.io import longtext, readers, sources
from app.core.io.answers import Answers
from app.core.io.decoding import DEFAULT_MAX_FIELD, check_encoding
from app.core.io.feed import (
    RowFeed,
    UuidRun,
    check_new_labels,
    insert_annotations,
    take_hidden_places,
)
from app.core.io.formats import registry
from app.core.io.formats.base import ReadOptions
from app.core.io.preview import check_mapping, open_file, suggest_mapping
from app.core.io.preview import preview as preview  # callers import it from here
from app.core.io.summary import import_summary
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.annotators import annotator_by_name, name_problem
from app.core.project.label_schema import LabelSpec
from app.core.project.project import Project, current_schema, update_schema
from app.core.storage import fts, retry, sqlite, staging, visibility
from app.core.storage.retry import run_write
from app.core.storage.tables import DatapointStatus

# Indexes of datapoint that bundle open (app.core.bundle.open) drops and rebuilds around its
# bulk insert into a new file. An import no longer does: the table is shared and live, and
# rebuilding an index over it would hold the write lock for seconds.
REBUILT_INDEXES = ("ix_datapoint_dataset", "ix_datapoint_status", "ix_datapoint_id")
INSERT_CACHE_KB = -1024  # the page cache while rows are inserted (negative: KiB)
# Rows of the first chunk; each later chunk is sized to hold the write lock about CHUNK_SECONDS
# (app.core.storage.staging.next_chunk), so that no other writer waits on an import for long.
FIRST_CHUNK = 2_000
CHUNK_SECONDS = 0.4
# The lock is left free this long after each chunk: writers that wait through
# app.core.storage.retry try every few milliseconds, so one of them gets in before the next
# chunk (without it, the import took the lock back at once and a label save waited chunks).
YIELD_SECONDS = 0.01
TOP_ID = "SELECT coalesce(max(id), 0) FROM datapoint"


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
        self.get_label = None
        if label_column:
            get_cell = self.source.getter(label_column, optional=True)
            decoded = longtext.decoded  # a long label cell (or a long string in it) as a str

            def get_label(record: Any, line: int) -> Any:
                return decoded(get_cell(record, line))

            self.get_label = get_label
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
    if encoding:  # every format's reader, peer formats too, gets a text encoding or nothing
        check_encoding(encoding, str(path))
    if annotator is not None:  # an empty --annotator is a mistake, not the default
        check_annotator_name(str(path), annotator)
    fmt = registry.resolve(path, fmt, tabular=mapping is not None or label_column is not None)
    _check_format_options(str(path), fmt, sheet, spans_key)
    started = time.perf_counter()
    options = ReadOptions(
        project.task_type,
        encoding=encoding,
        sheet=sheet,
        spans_key=spans_key,
        max_field=max_field,
        long_bytes=True,  # a long text cell may stay UTF-8 (Parquet, Arrow, xlsx)
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
    if source.lines is not None and not peer:
        source.lines.long_bytes = True  # a long text stays UTF-8 (app.core.io.longtext)
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
    """The import, marked as running in this process while it lasts (its loading dataset is
    then waited for by other loads, and kept by the sweep on open)."""
    tag = visibility.loader_tag()
    with staging.load_running(tag):
        return _load(job, tag)


def _load(job: _Job, tag: str) -> ImportReport:
    """The import in short transactions: the dataset row (loading, unseen), its rows in
    chunks, then the publish. A failure or a cancel removes what was committed, also in
    short transactions (app.core.storage.staging); nothing of it was ever visible."""
    project = job.project
    dataset_uuid = new_uuid()
    dataset_id = _claim_dataset(job, dataset_uuid, tag)
    report = ImportReport(dataset_id, dataset_uuid, display_name(job.path.name))
    created: list[int] = []  # annotators this import added (named by the file)
    try:
        with project.engine.connect() as sa_conn:
            raw = sqlite.driver_connection(sa_conn)
            # Every key this import writes points at rows it has just written itself (its
            # dataset, datapoints, annotations) or has read (annotator, schema version), so
            # checking them row by row is pure cost. A small page cache while rows go in: a
            # long text then spills to the file rather than staying in memory.
            with sqlite.pragmas(
                sa_conn,
                {"foreign_keys": "OFF", "temp_store": "MEMORY", "cache_size": INSERT_CACHE_KB},
            ):
                _import_rows(job, raw, sa_conn, report, created)
    except BaseException:
        # The error that stopped the import is what the user must see; if removing its rows
        # fails too (say, the disk is full), they stay hidden, and the first open after this
        # program has ended sweeps them.
        with contextlib.suppress(Exception):
            staging.delete_loading(project.engine, dataset_id)
            staging.forget_annotators(project.engine, created, dataset_uuid)
        raise
    return report


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


def _import_rows(
    job: _Job, conn: sqlite3.Connection, sa_conn: Connection, report: ImportReport, created: list
) -> None:
    """Everything the import writes, each chunk its own short transaction, then the publish."""
    schema = current_schema(sa_conn)
    sa_conn.rollback()  # end that read: each chunk begins its own write transaction
    # New ids go above both the newest datapoint and the search index's mark (app.core.storage.fts).
    indexed_upto, top = fts.pending(conn)
    feed = RowFeed(job, conn, report, max(top, indexed_upto) + 1)
    if job.get_label is not None or job.peer:
        feed.parser = LabelParser(job.project.task_type, schema, job.name)
        answers = Answers(feed.parser, job.name, job.annotator)
        feed.valuer = answers.of_record if job.peer else answers.of_cell(job.get_label)
    feed.load_seen()
    loader = ChunkLoader(job, feed, sa_conn, schema.id, created)
    loader.run(report.dataset_id)
    report.rows = feed.added
    if feed.records == 0:
        raise DataError(job.name, None, "the file holds no records (only a header, or nothing)")
    added = feed.parser.unknown_labels() if feed.parser is not None else []
    if added:
        check_new_labels(job.name, feed.parser.first_unknown_line, added, schema.label_names)
        if not job.add_labels:
            raise UnknownLabelsError(job.name, feed.parser.first_unknown_line, added)
    check_cancel(job.cancel)
    with retry.held_write(sa_conn) as conn:
        _publish(job, conn, sa_conn, loader, added)


def _publish(
    job: _Job, conn: sqlite3.Connection, sa_conn: Connection, loader: ChunkLoader, added: list[str]
) -> None:
    """The last short transaction: what touches visible rows (labels of duplicates already in
    the project, labels added to the schema, the audit event), then the dataset shows."""
    feed, report = loader.feed, loader.feed.report
    schema = current_schema(sa_conn)  # under the lock: another user may have changed it
    new = [label for label in added if label not in schema.label_names]
    if new:
        labels = [*schema.labels, *(LabelSpec(label) for label in new)]
        schema = update_schema(job.project, labels=labels, actor_id=job.actor_id, conn=sa_conn)
    if added:
        report.added_labels = added
        # This import's annotations were written under the schema it began with.
        conn.execute(
            "UPDATE annotation SET schema_version_id = ?"
            " WHERE datapoint_id >= ? AND datapoint_id < ? AND schema_version_id = ?",
            (schema.id, feed.first_id, feed.first_id + feed.added, loader.schema_id),
        )
    if feed.attached:
        annotator_ids = loader.annotators({item[3] for item in feed.attached})
        attached = feed.new_attached(annotator_ids)
        kind = job.project.task_type
        rest = take_hidden_places(conn, attached, annotator_ids, schema.id, kind)
        report.annotations += (
            len(attached)
            - len(rest)
            + insert_annotations(conn, rest, annotator_ids, schema.id, kind, loader.uuids)
        )
        _mark_labeled(conn, [item[0] for item in attached])
        report.attached = len(attached)
    staging.clear_annotators(conn, report.dataset_uuid)  # they are the project's now
    sha256 = job.sha256()
    conn.execute(
        "UPDATE dataset SET sha256 = ?, row_count = ?, duplicate_count = ?, state = ?,"
        " loader = NULL WHERE id = ?",
        (sha256, report.rows, report.duplicates, visibility.READY, report.dataset_id),
    )
    audit.record(
        sa_conn,
        job.actor_id,
        "import",
        "dataset",
        report.dataset_uuid,
        after={
            "source": display_name(job.path.name),
            "sha256": sha256,
            "rows": report.rows,
            "duplicates": report.duplicates,
            "skipped": report.skipped,
            "annotations": report.annotations,
            "attached": report.attached,
        },
    )


def _mark_labeled(conn: sqlite3.Connection, datapoint_ids: list[int]) -> None:
    """Unlabeled datapoints that an import gave a label become labeled."""
    if datapoint_ids:
        conn.executemany(
            f"UPDATE datapoint SET status = {int(DatapointStatus.LABELED)}"
            f" WHERE id = ? AND status = {int(DatapointStatus.UNLABELED)}",
            [(dp_id,) for dp_id in datapoint_ids],
        )


class ChunkLoader:
    """The rows of the file into the (loading) dataset, in chunks each committed on its own,
    sized to hold the write lock about CHUNK_SECONDS; each chunk's annotations go with it.
    Progress is reported between chunks, when the lock is free."""

    def __init__(
        self, job: _Job, feed: RowFeed, sa_conn: Connection, schema_id: int, created: list[int]
    ) -> None:
        self.job = job
        self.feed = feed
        self.sa_conn = sa_conn
        self.schema_id = schema_id
        self.annotator_ids: dict[str, int] = {}
        self.created = created  # annotators added, removed again if the import fails
        self.uuids = UuidRun()  # the annotations' UUIDs, in order (see UuidRun)

    def annotators(self, names: set[str]) -> dict[str, int]:
        """The ids of annotators named by the file (added if new), inside a transaction."""
        for name in sorted(names - self.annotator_ids.keys()):
            check_annotator_name(self.job.name, name, by_file=True)
            top = self.sa_conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM annotator")
            known = top.scalar_one()
            self.annotator_ids[name] = annotator_by_name(self.sa_conn, name)
            if self.annotator_ids[name] > known:
                self.created.append(self.annotator_ids[name])
                # noted with them, for the sweep on open if this process is killed
                raw = sqlite.driver_connection(self.sa_conn)
                staging.note_annotators(raw, self.feed.report.dataset_uuid, self.created)
        return self.annotator_ids

    def run(self, dataset_id: int) -> None:
        job, feed = self.job, self.feed
        rows = feed.rows()
        sql = feed.insert_sql(dataset_id)
        size = FIRST_CHUNK
        while not feed.done:
            check_cancel(job.cancel)
            started = time.perf_counter()
            with retry.held_write(self.sa_conn) as conn:
                if conn.execute(TOP_ID).fetchone()[0] >= feed.next_id:
                    raise ProjectError(
                        f"{job.project.path}: another program added datapoints while "
                        f"{job.path.name} was being imported; nothing was imported. Try again"
                        " when it has finished."
                    )
                changes = conn.total_changes
                conn.executemany(sql, itertools.islice(rows, size))
                count = conn.total_changes - changes
                if feed.parser is not None:
                    self.annotate(conn)
            size = staging.next_chunk(size, count, time.perf_counter() - started, CHUNK_SECONDS)
            job.progress(job.position(), job.total_bytes, f"Reading {job.path.name}")
            time.sleep(YIELD_SECONDS)  # a writer waiting for the lock takes it now

    def annotate(self, conn: sqlite3.Connection) -> None:
        """The labels read with this chunk's rows, as annotations by their annotators."""
        feed = self.feed
        pending = feed.take_pending()
        if pending:
            annotator_ids = self.annotators({item[3] for item in pending})
            feed.report.annotations += insert_annotations(
                conn, pending, annotator_ids, self.schema_id, self.job.project.task_type,
                self.uuids,
            )  # fmt: skip
        _mark_labeled(conn, feed.take_relabeled())


def _check_format_options(file: str, fmt: str, sheet: str | None, spans_key: str | None) -> None:
    """--sheet means something to xlsx only, --spans-key to a spaCy DocBin only: given for
    another format, either was silently ignored (red team, session 6)."""
    if sheet is not None and fmt != "xlsx":
        raise DataError(file, None, f"--sheet is for an xlsx workbook; this file is read as {fmt}")
    if spans_key is not None and fmt != "spacy":
        raise DataError(
            file, None, f"--spans-key is for a spaCy DocBin; this file is read as {fmt}"
        )


def check_annotator_name(file: str, name: str, by_file: bool = False) -> None:
    """An annotator named by a file or by --annotator must be a name (annotators.name_problem);
    a file may name "model" (a Tagloop export of auto-labels), --annotator may not."""
    problem = name_problem(name, model_allowed=by_file)
    if problem:
        raise DataError(file, None, problem)


def _claim_dataset(job: _Job, dataset_uuid: str, tag: str) -> int:
    """The loading dataset row of this import, inserted once no other program of this machine
    is loading one (an import or a merge would take the same new datapoint ids): checked and
    inserted in one write transaction, so two imports that start together take turns."""

    def claim(conn: Connection) -> int | str:
        raw = sqlite.driver_connection(conn)
        other = staging.other_live_load(raw)
        return other if other is not None else _insert_dataset(job, raw, dataset_uuid, tag)

    while True:
        claimed = run_write(job.project.engine, claim)
        if isinstance(claimed, int):
            return claimed
        staging.wait_turn(claimed, job.progress, job.cancel)


def _insert_dataset(job: _Job, conn: sqlite3.Connection, dataset_uuid: str, tag: str) -> int:
    """The dataset row, loading (unseen) and naming this process, its checksum and counts
    filled in when it is published; its id."""
    return int(
        conn.execute(
            "INSERT INTO dataset (uuid, source_name, sha256, format, mapping, label_column,"
            " row_count, duplicate_count, imported_at, imported_by, state, loader)"
            f" VALUES (?, ?, '', ?, ?, ?, 0, 0, ?, ?, {visibility.LOADING}, ?)",
            (
                dataset_uuid,
                display_name(job.path.name),
                job.fmt,
                json.dumps(job.mapping, ensure_ascii=False),
                job.label_column,
                now_iso(),
                job.actor_id,
                tag,
            ),
        ).lastrowid
    )
