"""Opening a project or assignment bundle as a new project file.

The bundle is verified whole first (BundleReader); then a new database is built in a
temporary file beside the destination, in one transaction, and renamed into place only when
it is complete. A refused bundle, an error or a cancel leaves no destination file at all.

SQLite-bound: the new file is built on the raw sqlite3 driver (app.core.storage.sqlite.bulk_write),
with executemany over generators and index rebuilds from sqlite_master, for speed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core import settings
from app.core.bundle import members
from app.core.bundle.container import DEFAULT_LIMITS, BundleReader, Limits
from app.core.bundle.errors import BundleError
from app.core.bundle.members import Loader
from app.core.bundle.rows import (
    TASK_STATUSES,
    Checker,
    MemberProgress,
    Refs,
    annotation_labels,
    check_schema_labels,
    datapoint_fields,
    insert_annotator,
    insert_dataset,
    insert_model_version,
    insert_schema_version,
    record_audit,
)
from app.core.bundle.validate import validate_bundle
from app.core.fileio import display_name, new_part_path
from app.core.ids import now_iso
from app.core.io.importer import REBUILT_INDEXES
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.label_schema import TASK_TYPES
from app.core.project.project import (
    META_ASSIGNEE,
    META_BASE,
    META_OPENED_AT,
    META_OPENED_FROM,
    META_SOURCE_SHA256,
    PROJECT_SUFFIX,
)
from app.core.storage import db, sqlite
from app.core.storage.tables import DatapointStatus
from app.core.team.tasks import TASK_KINDS, TaskRow, insert_task_rows

BATCH = 20_000


@dataclass
class OpenReport:
    path: Path
    kind: str
    project_uuid: str
    project_name: str
    sha256: str
    encrypted: bool
    assignee: str | None = None  # the assigned annotator's name, for an assignment bundle
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        shown = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in self.counts.items() if n)
        who = f" for {self.assignee}" if self.assignee else ""
        return (
            f"Opened {self.kind} bundle{who} as {self.path}: {shown or 'nothing'}"
            f" in {self.seconds:.1f} s"
        )


def open_bundle(
    bundle: Path,
    dest: Path,
    *,
    passphrase: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> OpenReport:
    """Make a new project file `dest` from a project or an assignment bundle.

    A project bundle gives an identical project (every row of every table; the file's own
    facts in project_meta are new). An assignment bundle gives the annotator's working copy:
    work done in it is attributed to the assigned annotator, and "Return work"
    (export_work_bundle) sends back what changed since the bundle was made. Open it with
    app.core.project.project.open_project(report.path). The search index is built later
    (app.core.storage.fts.index_pending), as after an import.
    """
    started = time.perf_counter()
    bundle = Path(bundle)
    dest = Path(dest)
    if dest.suffix != PROJECT_SUFFIX:
        dest = dest.with_name(dest.name + PROJECT_SUFFIX)
    if dest.exists():
        raise BundleError(str(dest), "already exists; choose another name")
    with BundleReader.open(bundle, passphrase, limits, progress, cancel) as reader:
        if reader.kind == "work":
            raise reader.error(
                "is a work bundle: it holds returned work, not a project; merge it into the "
                "project (tagloop bundle merge PROJECT BUNDLE, or File ▸ Merge work)"
            )
        validate_bundle(reader)  # every row and the audit chain, before anything is written
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = new_part_path(dest)
        engine = db.make_engine(db.url_for(tmp))
        try:
            db.upgrade(engine)
            with (
                engine.connect() as sa_conn,
                sqlite.bulk_write(
                    sa_conn,
                    cancel,
                    lambda exc: BundleError(str(bundle), f"cannot be opened ({exc})"),
                    # Every reference is resolved here; a temporary file is fsync'd once, below.
                    pragmas={"foreign_keys": "OFF", "synchronous": "OFF"},
                    checkpoint=True,
                ) as conn,
            ):
                try:
                    report = _fill(conn, reader, dest, progress, cancel)
                except sqlite3.IntegrityError as exc:  # the checks before should leave none
                    raise BundleError(
                        str(bundle), f"holds a row the database refuses ({exc})"
                    ) from None
            engine.dispose()
            with tmp.open("rb+") as handle:
                os.fsync(handle.fileno())
            if dest.exists():
                raise BundleError(str(dest), "appeared while the bundle was opened; not replaced")
            os.replace(tmp, dest)
        except BaseException:
            engine.dispose()
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    Path(f"{tmp}{suffix}").unlink()
            raise
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{tmp}{suffix}").unlink()
    settings.add_recent_project(dest)
    report.seconds = time.perf_counter() - started
    progress(1, 1, report.summary())
    return report


def _fill(
    conn: sqlite3.Connection,
    reader: BundleReader,
    dest: Path,
    progress: Progress,
    cancel: CancelCheck,
) -> OpenReport:
    steps = MemberProgress(
        reader, progress, cancel, lambda member: f"Opening {reader.path.name}: {member}"
    )
    info = reader.project()
    task_type = _project(conn, reader, info)
    steps.advance("project.json")
    refs = Refs(conn, load=False)
    counts = _setup(conn, reader, refs, steps)
    counts["datapoints"] = _datapoints(conn, reader, refs, steps)
    loader = Loader(conn, reader, refs, strict=True, reporter=steps.reporter, advance=steps.advance)
    counts["annotations"] = _annotations(conn, reader, refs, task_type, steps)
    counts["annotation_history"] = loader.insert_rows(members.HISTORY)
    counts["tasks"] = _tasks(conn, reader, refs, steps)
    counts["comments"] = loader.insert_rows(members.COMMENTS)
    counts["flags"] = _flags(conn, reader, refs, steps)
    counts["audit_events"] = loader.insert_rows(members.AUDIT_EVENTS)
    counts.update(members.load_quality(loader))
    counts.update(_model(conn, reader, refs, steps))
    assignee_name = _identity(conn, reader, refs, counts)
    return OpenReport(
        dest,
        reader.kind,
        reader.project_uuid,
        info["name"],
        reader.sha256,
        reader.encrypted,
        assignee_name,
        counts,
    )


def _project(conn: sqlite3.Connection, reader: BundleReader, info: dict[str, Any]) -> str:
    """The project row and its inputs, from project.json; the project's task type."""
    check = Checker(reader.name, "project.json")
    task_type = check.one_of(info, "task_type", TASK_TYPES)
    if info.get("uuid") != reader.project_uuid:
        raise reader.error("project.json and the manifest name different projects")
    inputs = info.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise reader.error("project.json lists no inputs")
    conn.execute(
        "INSERT INTO project (uuid, name, task_type, language, created_at, app_version)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            reader.project_uuid,
            check.str(info, "name"),
            task_type,
            check.str(info, "language"),
            check.str(info, "created_at"),
            check.str(info, "app_version"),
        ),
    )
    annotated = 0
    for item in inputs:
        if not isinstance(item, dict):
            raise reader.error("project.json: an input is not an object")
        annotated += bool(check.bool(item, "annotated"))
        conn.execute(
            "INSERT INTO project_input (name, position, annotated) VALUES (?, ?, ?)",
            (check.str(item, "name"), check.int(item, "position"), item["annotated"]),
        )
    if annotated != 1:
        raise reader.error("project.json: exactly one input must be the annotated one")
    return task_type


def _setup(
    conn: sqlite3.Connection, reader: BundleReader, refs: Refs, steps: MemberProgress
) -> dict[str, int]:
    """Annotators, label schema versions and datasets: what every other row refers to."""
    counts: dict[str, int] = {}
    name = "annotators.jsonl"
    check = Checker(reader.name, name)
    for row in reader.rows(name):
        insert_annotator(conn, check, row, refs)
    counts["annotators"] = len(refs.annotators)
    steps.advance(name)

    name = "schema_versions.jsonl"
    check = Checker(reader.name, name)
    for row in reader.rows(name):
        uid = check.str(row, "uuid")
        labels = check_schema_labels(check, row)
        overlap = check.bool(row, "allow_overlap")
        row_id = insert_schema_version(conn, check, row, refs, check.int(row, "version"))
        refs.add_schema(uid, row_id, labels, overlap)
    if not refs.schemas:
        raise reader.error("holds no label schema version")
    counts["schema_versions"] = len(refs.schemas)
    steps.advance(name)

    name = "datasets.jsonl"
    check = Checker(reader.name, name)
    for row in reader.rows(name):
        insert_dataset(conn, check, row, refs)
    counts["datasets"] = len(refs.datasets)
    steps.advance(name)
    return counts


def _datapoints(
    conn: sqlite3.Connection, reader: BundleReader, refs: Refs, steps: MemberProgress
) -> int:
    """The bulk. Indexes rebuilt once at the end, as an import does."""
    name = "datapoints.jsonl"
    check = Checker(reader.name, name)
    rebuild = list(
        conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'datapoint'"
            " AND sql IS NOT NULL"
        )
    )
    rebuild = [(n, s) for n, s in rebuild if n in REBUILT_INDEXES]
    for index_name, _sql in rebuild:
        conn.execute(f'DROP INDEX "{index_name}"')
    datasets = refs.datasets
    points = refs.points
    next_id = 0
    highest = int(DatapointStatus.DISCARDED)

    def datapoint_rows():
        nonlocal next_id
        for row in reader.rows(name, steps.reporter(name)):
            dataset_id, number, text, context, status, flagged = datapoint_fields(
                check, row, datasets, _lacks, highest
            )
            if points.get(dataset_id, number) is not None:
                raise check.fail(row, "appears twice")
            next_id += 1
            points.add(dataset_id, number, next_id)
            yield (next_id, dataset_id, number, text, context, status, flagged)

    conn.executemany(
        "INSERT INTO datapoint (id, dataset_id, row, text, context, status, flagged)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        datapoint_rows(),
    )
    check_cancel(steps.cancel)
    steps.progress(steps.done, steps.total, f"Opening {reader.path.name}: indexing datapoints")
    for _index_name, sql in rebuild:
        conn.execute(sql)
    steps.advance(name)
    return next_id


def _lacks(exc: BaseException) -> str:
    return f"lacks {exc} or names an unknown dataset"


def _identity(
    conn: sqlite3.Connection, reader: BundleReader, refs: Refs, counts: dict[str, int]
) -> str | None:
    """The new file's facts (where it came from, whose copy it is) and its audit event; the
    assignee's name, for an assignment bundle."""
    kind = reader.kind
    assignee_name = None
    meta = {
        META_OPENED_FROM: kind,
        META_BASE: reader.manifest.get("created_at") or now_iso(),
        META_OPENED_AT: now_iso(),
        META_SOURCE_SHA256: reader.sha256,
    }
    if kind == "assignment":
        assignee = reader.manifest.get("assignee")
        if assignee not in refs.annotators:
            raise reader.error("an assignment bundle must name an annotator it holds")
        meta[META_ASSIGNEE] = assignee
        assignee_name = conn.execute(
            "SELECT name FROM annotator WHERE uuid = ?", (assignee,)
        ).fetchone()[0]
        actor = refs.annotators[assignee]
    else:
        identity = settings.local_identity()
        actor = refs.annotators.get(identity.uuid)
        if actor is None:
            actor = conn.execute(
                "INSERT INTO annotator (uuid, name, role, created_at) VALUES (?, ?, ?, ?)",
                (identity.uuid, identity.name, "annotator", now_iso()),
            ).lastrowid
    conn.executemany(
        "INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)", list(meta.items())
    )
    record_audit(
        conn,
        actor,
        "open-bundle",
        reader.project_uuid,
        {
            "file": display_name(reader.path.name),  # red team: a non-UTF-8 name crashed
            "kind": kind,
            "sha256": reader.sha256,
            "encrypted": reader.encrypted,
            "format_version": reader.format_version,
            "counts": counts,
        },
    )
    return assignee_name


def _annotations(
    conn: sqlite3.Connection,
    reader: BundleReader,
    refs: Refs,
    task_type: str,
    steps: MemberProgress,
) -> int:
    name = "annotations.jsonl"
    check = Checker(reader.name, name)
    labels: list[tuple[int, str, int]] = []
    count = 0

    def rows():
        nonlocal count
        for row in reader.rows(name, steps.reporter(name)):
            dp_id = refs.datapoint(check, row)
            if dp_id is None:
                raise check.fail(row, "is about a datapoint the bundle does not hold")
            schema_id = refs.schema(check, row)
            value = check.str(row, "value", nullable=True)
            status = check.str(row, "status")
            count += 1
            for label in annotation_labels(task_type, refs, check, row, value, status, schema_id):
                labels.append((count, label, dp_id))
            if len(labels) >= BATCH:
                flush_labels()
            yield (
                count,
                check.str(row, "uuid"),
                dp_id,
                refs.annotator(check, row),
                value,
                status,
                schema_id,
                check.int(row, "time_spent_ms"),
                check.str(row, "origin"),
                check.str(row, "created_at"),
                check.str(row, "updated_at"),
                check.str(row, "synced_from", nullable=True),
            )

    def flush_labels():
        conn.executemany(
            "INSERT OR IGNORE INTO annotation_label (annotation_id, label, datapoint_id)"
            " VALUES (?, ?, ?)",
            labels,
        )
        labels.clear()

    conn.executemany(
        "INSERT INTO annotation (id, uuid, datapoint_id, annotator_id, value, status,"
        " schema_version_id, time_spent_ms, origin, created_at, updated_at, synced_from)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )
    flush_labels()
    steps.advance(name)
    return count


def _about(check: Checker, row: dict[str, Any], refs: Refs) -> int:
    dp_id = refs.datapoint(check, row)
    if dp_id is None:
        raise check.fail(row, "is about a datapoint the bundle does not hold")
    return dp_id


def _tasks(
    conn: sqlite3.Connection, reader: BundleReader, refs: Refs, steps: MemberProgress
) -> int:
    name = "tasks.jsonl"
    check = Checker(reader.name, name)
    n = 0

    def rows() -> Iterator[TaskRow]:
        nonlocal n
        for row in reader.rows(name, steps.reporter(name)):
            n += 1
            yield (
                check.str(row, "uuid"),
                _about(check, row, refs),
                refs.annotator(check, row),
                check.one_of(row, "kind", TASK_KINDS),
                check.one_of(row, "status", TASK_STATUSES),
                check.str(row, "created_at"),
            )

    insert_task_rows(conn, rows())
    steps.advance(name)
    return n


def _flags(
    conn: sqlite3.Connection, reader: BundleReader, refs: Refs, steps: MemberProgress
) -> int:
    name = "flags.jsonl"
    check = Checker(reader.name, name)
    n = 0
    for row in reader.rows(name, steps.reporter(name)):
        conn.execute(
            "INSERT INTO flag (uuid, datapoint_id, annotator_id, reason, created_at, resolved_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                check.str(row, "uuid"),
                _about(check, row, refs),
                refs.annotator(check, row),
                check.str(row, "reason"),
                check.str(row, "created_at"),
                check.str(row, "resolved_at", nullable=True),
            ),
        )
        n += 1
    steps.advance(name)
    return n


def _model(
    conn: sqlite3.Connection, reader: BundleReader, refs: Refs, steps: MemberProgress
) -> dict[str, int]:
    """The model version a bundle made --with-model carries, and its predictions."""
    counts = {}
    name = "model_versions.jsonl"
    check = Checker(reader.name, name)
    n = 0
    for row in reader.rows(name):
        uid, artifact = model_row(reader, check, row)
        refs.models[uid] = insert_model_version(conn, check, row, uid, artifact)
        n += 1
    counts["model_versions"] = n
    steps.advance(name)
    name = "predictions.jsonl"
    counts["predictions"] = insert_predictions(conn, reader, refs, set(refs.models), steps.reporter)
    steps.advance(name)
    return counts


def model_row(reader: BundleReader, check: Checker, row) -> tuple[str, bytes]:
    """A model version's UUID and artifact bytes; only Tagloop's own safe formats pass."""
    uid = check.str(row, "uuid")
    fmt = check.str(row, "format")
    if not fmt.startswith("tagloop-"):
        raise check.fail(row, f"model format {fmt!r} is not one of Tagloop's safe formats")
    member = check.str(row, "artifact")
    if member != f"model/{uid}.bin" or not reader.has(member):
        raise check.fail(row, f"its artifact {member!r} is not in the bundle")
    return uid, reader.read_bytes(member)


def insert_predictions(
    conn, reader: BundleReader, refs: Refs, models: set[str], reporter, table: str = "prediction"
) -> int:
    """Predictions of the given model versions (by UUID); those on unknown datapoints skip.
    (A merge stages them into another `table`.)"""
    name = "predictions.jsonl"
    check = Checker(reader.name, name)
    count = 0

    def rows():
        nonlocal count
        for row in reader.rows(name, reporter(name)):
            model = check.str(row, "model_version")
            if model not in models:
                if model not in refs.models:
                    raise check.fail(row, f"names a model version {model} the bundle lacks")
                continue
            dp_id = refs.datapoint(check, row)
            if dp_id is None:
                continue
            count += 1
            yield (
                dp_id,
                refs.models[model],
                check.json_text(row, "value", nullable=False),
                check.num(row, "confidence"),
                check.num(row, "score", nullable=True),
            )

    conn.executemany(
        f"INSERT OR IGNORE INTO {table} (datapoint_id, model_version_id, value, confidence,"
        " score) VALUES (?, ?, ?, ?, ?)",
        rows(),
    )
    return count
