"""Writing bundles: a whole project, one annotator's assignment, or their returned work.

Each kind is a selection of the same members (see app.core.bundle.container), read from one
consistent snapshot of the database (a read transaction: WAL lets the GUI keep writing), and
written row by row, so memory stays flat however large the project.

SQLite-bound: it reads one snapshot on the raw sqlite3 driver (a deferred BEGIN on a pooled
connection), streaming rows with fetchmany, for speed.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core import audit
from app.core.bundle.container import SUFFIX, BundleWriter
from app.core.bundle.errors import BundleError
from app.core.bundle.members import ExportMember as Member
from app.core.bundle.members import Uuids, export_members, row_maker
from app.core.bundle.selection import (
    Selection,
    assignment_selection,
    project_selection,
    work_selection,
)
from app.core.fileio import display_name
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.project import META_BASE, META_OPENED_AT, META_REPLICA, Project
from app.core.storage import runs
from app.core.storage.visibility import visible

PROGRESS_EVERY = 20_000


@dataclass
class ExportReport:
    path: Path
    kind: str
    sha256: str
    size: int
    encrypted: bool
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        shown = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in self.counts.items() if n)
        lock = " (encrypted)" if self.encrypted else ""
        return (
            f"Wrote {self.kind} bundle {self.path}{lock}: {shown or 'nothing'}; "
            f"{self.size / 1e6:,.1f} MB, SHA-256 {self.sha256[:16]}… in {self.seconds:.1f} s"
        )


def export_project_bundle(
    project: Project,
    out: Path,
    *,
    with_model: bool = False,
    passphrase: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> ExportReport:
    """The whole project as one bundle file: schema versions and guidelines, datasets and
    datapoints, annotators, every annotation (and its superseded versions), tasks, comments,
    flags and the audit log; with `with_model`, the newest model version and its predictions.
    Opening it (open_bundle) gives an identical project; merging it (merge_bundle) brings
    what the target lacks."""
    return _export(
        project, out, project_selection(), None, with_model, passphrase, progress, cancel
    )


def export_assignment_bundle(
    project: Project,
    out: Path,
    annotator_uuid: str,
    *,
    passphrase: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> ExportReport:
    """One annotator's assignment: the schema versions and guidelines, only the datapoints
    they have (open or done) tasks on, with their datasets' metadata so UUIDs stay the same,
    their tasks, and their own annotations, comments and flags on those items. Opened on
    their machine (open_bundle), the work done in it is attributed to them."""
    with project.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT id FROM annotator WHERE uuid = ?", (annotator_uuid,)
        ).first()
    if row is None:
        raise BundleError(str(out), f"no annotator {annotator_uuid} in this project")
    return _export(
        project,
        out,
        assignment_selection(row[0]),
        annotator_uuid,
        False,
        passphrase,
        progress,
        cancel,
    )


def export_work_bundle(
    project: Project,
    out: Path,
    *,
    passphrase: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> ExportReport:
    """Return work (File ▸ Return work): this file's annotator's annotations, comments, flags
    and task states since the assignment bundle it was opened from (or all of them, in a file
    that was not opened from a bundle), for the owner to merge."""
    annotator_id = project.local_annotator_id
    with project.engine.connect() as conn:
        annotator_uuid = conn.exec_driver_sql(
            "SELECT uuid FROM annotator WHERE id = ?", (annotator_id,)
        ).scalar_one()
        meta = dict(
            conn.exec_driver_sql(
                "SELECT key, value FROM project_meta WHERE key IN (?, ?)",
                (META_BASE, META_OPENED_AT),
            ).all()
        )
    # The bundle's base is the maker's clock, this file's writes are this machine's: work is
    # new if it is newer than the earlier of the two (a re-sent unchanged row merges as nothing).
    stamps = [meta[key] for key in (META_BASE, META_OPENED_AT) if meta.get(key)]
    return _export(
        project,
        out,
        work_selection(annotator_id, min(stamps) if stamps else None),
        annotator_uuid,
        False,
        passphrase,
        progress,
        cancel,
    )


def bundle_name(project: Project, annotator_name: str) -> str:
    """A file name for an annotator's assignment bundle: PROJECT-NAME.tlbundle, made safe."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in annotator_name)
    return f"{Path(project.path).stem}-{safe.strip('_') or 'annotator'}{SUFFIX}"


def _export(
    project: Project,
    out: Path,
    sel: Selection,
    assignee: str | None,
    with_model: bool,
    passphrase: str | None,
    progress: Progress,
    cancel: CancelCheck,
) -> ExportReport:
    started = time.perf_counter()
    out = Path(out)
    if out.is_dir():
        raise BundleError(str(out), "is a folder; give a file name for the bundle")
    actor = project.local_annotator_id  # before the snapshot: it may write
    raw = project.engine.raw_connection()
    try:
        conn: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
        conn.execute("BEGIN")  # one snapshot for every member
        try:
            report, _manifest = _write(
                conn, out, sel, actor, assignee, with_model, passphrase, progress, cancel
            )
        finally:
            conn.rollback()
    finally:
        raw.close()
    report.seconds = time.perf_counter() - started
    with project.engine.begin() as c:
        audit.record(
            c,
            actor,
            "export-bundle",
            "project",
            project.uuid,
            after={
                "file": display_name(out.name),  # red team: a non-UTF-8 name crashed
                "kind": sel.kind,
                "sha256": report.sha256,
                "encrypted": report.encrypted,
                "assignee": assignee,
                "counts": report.counts,
            },
        )
    progress(1, 1, report.summary())
    return report


def _published_only(sel: Selection) -> Selection:
    """The selection without an unfinished import's rows (app.core.storage.visibility): every
    member that is about datapoints joins `d`, so each condition also asks for a visible one."""
    shown = visible("d")

    def both(condition: str | None) -> str | None:
        return None if condition is None else f"({condition}) AND {shown}"

    return dataclasses.replace(
        sel,
        datapoints=both(sel.datapoints),
        annotations=both(sel.annotations),
        history=both(sel.history),
        tasks=both(sel.tasks),
        comments=both(sel.comments),
        flags=both(sel.flags),
    )


def _write(conn, out, sel, actor, assignee, with_model, passphrase, progress, cancel):
    sel = _published_only(sel)
    annotators = {r[0]: r[1] for r in conn.execute("SELECT id, uuid FROM annotator")}
    datasets = {r[0]: r[1] for r in conn.execute("SELECT id, uuid FROM dataset")}
    schemas = {r[0]: r[1] for r in conn.execute("SELECT id, uuid FROM schema_version")}
    meta = dict(conn.execute("SELECT key, value FROM project_meta"))
    model = None
    if with_model:
        model = conn.execute(
            "SELECT id, uuid, created_at, label_count, metrics, format FROM model_version"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if model is None:
            raise BundleError(str(out), "--with-model: this project has no trained model yet")
    uuids = Uuids(annotators, datasets, schemas)
    members = [
        *_setup_members(sel, uuids),
        *_work_members(sel, uuids),
        *_note_members(sel, uuids),
        *export_members(sel.kind, sel.annotations, uuids),
        *_audit_members(sel, uuids),
        *_model_members(model, datasets),
    ]
    with BundleWriter(out, passphrase, cancel) as writer:
        project_uuid, project_name = _write_members(
            conn, writer, out, sel.params, members, progress, cancel
        )
        if model is not None:
            artifact = conn.execute(
                "SELECT artifact FROM model_version WHERE id = ?", (model[0],)
            ).fetchone()[0]
            writer.raw(f"model/{model[1]}.bin", bytes(artifact or b""))
        writer.finish(
            {
                "project_uuid": project_uuid,
                "project_name": project_name,
                "kind": sel.kind,
                "created_by": annotators.get(actor),
                "replica": meta.get(META_REPLICA),
                "base": meta.get(META_BASE) if sel.kind != "assignment" else None,
                "assignee": assignee,
            }
        )
    report = ExportReport(
        out,
        sel.kind,
        writer.sha256,
        writer.size,
        bool(passphrase),
        {
            name.removesuffix(".jsonl"): info["rows"]
            for name, info in writer.members.items()
            if name.endswith(".jsonl")
        },
    )
    return report, writer.manifest


def _setup_members(sel: Selection, uuids: Uuids) -> list[Member]:
    """Annotators, label schema versions, datasets and datapoints."""
    members: list[Member] = [
        (
            "annotators.jsonl",
            "SELECT uuid, name, role, created_at FROM annotator ORDER BY id",
            row_maker("uuid", "name", "role", "created_at"),
        ),
        (
            "schema_versions.jsonl",
            "SELECT uuid, version, labels, guidelines, allow_overlap, created_at, created_by"
            " FROM schema_version ORDER BY version",
            row_maker(
                "uuid",
                "version",
                "labels",
                "guidelines",
                ("allow_overlap", bool),
                "created_at",
                uuids.maybe_annotator("created_by"),
            ),
        ),
    ]
    if sel.datapoints is not None:
        members.append(
            (
                "datasets.jsonl",
                "SELECT uuid, source_name, sha256, format, mapping, label_column, row_count,"
                " duplicate_count, imported_at, imported_by FROM dataset"
                " WHERE id IN (SELECT DISTINCT d.dataset_id FROM datapoint d"
                f" WHERE {sel.datapoints})"
                " ORDER BY id",
                row_maker(
                    "uuid",
                    "source_name",
                    "sha256",
                    "format",
                    "mapping",
                    "label_column",
                    "row_count",
                    "duplicate_count",
                    "imported_at",
                    uuids.maybe_annotator("imported_by"),
                ),
            )
        )
        members.append(
            (
                "datapoints.jsonl",
                "SELECT d.dataset_id, d.row, d.text, d.context,"
                f" {sel.datapoint_status}, {sel.datapoint_flagged} FROM datapoint d"
                f" WHERE {sel.datapoints} ORDER BY d.id",
                row_maker(*uuids.about(), "text", "context", "status", ("flagged", bool)),
            )
        )
    return members


def _work_members(sel: Selection, uuids: Uuids) -> list[Member]:
    """Annotations and their superseded versions."""
    # The fields of one version of an annotation, after whose it is and what it is about.
    version = (
        uuids.annotator(),
        "value",
        "status",
        uuids.schema(),
        "time_spent_ms",
        "origin",
        "created_at",
        "updated_at",
    )
    members: list[Member] = []
    if sel.annotations is not None:
        members.append(
            (
                "annotations.jsonl",
                "SELECT a.uuid, d.dataset_id, d.row, a.annotator_id, a.value, a.status,"
                " a.schema_version_id, a.time_spent_ms, a.origin, a.created_at, a.updated_at,"
                " a.synced_from FROM annotation a JOIN datapoint d ON d.id = a.datapoint_id"
                f" WHERE ({sel.annotations}) AND {runs.annotation_visible('a')} ORDER BY a.id",
                row_maker("uuid", *uuids.about(), *version, "synced_from"),
            )
        )
    if sel.history is not None:
        members.append(
            (
                "annotation_history.jsonl",
                "SELECT h.uuid, h.annotation_uuid, d.dataset_id, d.row, h.annotator_id, h.value,"
                " h.status, h.schema_version_id, h.time_spent_ms, h.origin, h.created_at,"
                " h.updated_at, h.reason FROM annotation_history h"
                f" JOIN datapoint d ON d.id = h.datapoint_id WHERE {sel.history} ORDER BY h.id",
                row_maker("uuid", "annotation_uuid", *uuids.about(), *version, "reason"),
            )
        )
    return members


def _note_members(sel: Selection, uuids: Uuids) -> list[Member]:
    """Tasks, comments and flags: each one annotator's, about one datapoint."""
    whose = ("uuid", *uuids.about(), uuids.annotator())
    members: list[Member] = []
    if sel.tasks is not None:
        shown, status = runs.task_visible("t"), sel.task_status
        if sel.kind != "assignment":  # every task: one a run closed, not settled, as cancelled
            shown, status = runs.task_written("t"), runs.task_status_sql("t", status)
        members.append(
            (
                "tasks.jsonl",
                f"SELECT t.uuid, d.dataset_id, d.row, t.annotator_id, {sel.task_kind},"
                f" {status},"
                " t.created_at FROM task t JOIN datapoint d ON d.id = t.datapoint_id"
                f" WHERE ({sel.tasks}) AND {shown} ORDER BY t.id",
                row_maker(*whose, "kind", "status", "created_at"),
            )
        )
    if sel.comments is not None:
        members.append(
            (
                "comments.jsonl",
                "SELECT c.uuid, d.dataset_id, d.row, c.annotator_id, c.body, c.created_at"
                f" FROM comment c JOIN datapoint d ON d.id = c.datapoint_id WHERE {sel.comments}"
                " ORDER BY c.id",
                row_maker(*whose, "body", "created_at"),
            )
        )
    if sel.flags is not None:
        members.append(
            (
                "flags.jsonl",
                "SELECT f.uuid, d.dataset_id, d.row, f.annotator_id, f.reason, f.created_at,"
                " f.resolved_at FROM flag f JOIN datapoint d ON d.id = f.datapoint_id"
                f" WHERE {sel.flags} ORDER BY f.id",
                row_maker(*whose, "reason", "created_at", "resolved_at"),
            )
        )
    return members


def _audit_members(sel: Selection, uuids: Uuids) -> list[Member]:
    """The audit log, with each event's link of the hash chain (format 3)."""
    if sel.audit is None:
        return []
    # prev_hash and hash are the chain, verified before a merge or an open.
    return [
        (
            "audit_events.jsonl",
            "SELECT e.uuid, e.at, e.actor_id, e.action, e.entity, e.entity_uuid, e.before,"
            f" e.after, e.prev_hash, e.hash FROM audit_event e WHERE {sel.audit}"
            " ORDER BY e.id",
            row_maker(
                "uuid",
                "at",
                uuids.maybe_annotator("actor"),
                "action",
                "entity",
                "entity_uuid",
                "before",
                "after",
                "prev_hash",
                "hash",
            ),
        )
    ]


def _model_members(model: tuple | None, datasets: dict[int, str]) -> list[Member]:
    """The newest model version and its predictions (bundles made --with-model)."""
    members: list[Member] = []
    if model is not None:
        members.append(
            (
                "model_versions.jsonl",
                "SELECT uuid, created_at, label_count, metrics, format FROM model_version"
                f" WHERE id = {int(model[0])}",
                lambda r: {
                    "uuid": r[0],
                    "created_at": r[1],
                    "label_count": r[2],
                    "metrics": r[3],
                    "format": r[4],
                    "artifact": f"model/{r[0]}.bin",
                },
            )
        )
        members.append(
            (
                "predictions.jsonl",
                "SELECT d.dataset_id, d.row, p.value, p.confidence, p.score FROM prediction p"
                " JOIN datapoint d ON d.id = p.datapoint_id"
                f" WHERE p.model_version_id = {int(model[0])} AND {visible('d')}"
                " ORDER BY p.datapoint_id",
                lambda r: {
                    "dataset": datasets[r[0]],
                    "row": r[1],
                    "model_version": model[1],
                    "value": r[2],
                    "confidence": r[3],
                    "score": r[4],
                },
            )
        )

    return members


def _write_members(
    conn: sqlite3.Connection,
    writer: BundleWriter,
    out: Path,
    p: dict[str, Any],
    members: list[Member],
    progress: Progress,
    cancel: CancelCheck,
) -> tuple[str, str]:
    """project.json, then every member row by row, with progress by rows written; the
    project's UUID and name."""

    def count(sql: str) -> int:
        return conn.execute(f"SELECT count(*) FROM ({sql})", p).fetchone()[0]

    total = sum(count(sql) for _name, sql, _make in members)
    done = 0
    progress(0, total, f"Writing {out.name}")
    project_row = conn.execute(
        "SELECT uuid, name, task_type, language, created_at, app_version FROM project"
    ).fetchone()
    inputs = [
        {"name": r[0], "position": r[1], "annotated": bool(r[2])}
        for r in conn.execute("SELECT name, position, annotated FROM project_input ORDER BY id")
    ]
    writer.json(
        "project.json",
        {
            "uuid": project_row[0],
            "name": project_row[1],
            "task_type": project_row[2],
            "language": project_row[3],
            "created_at": project_row[4],
            "app_version": project_row[5],
            "inputs": inputs,
        },
    )
    for name, sql, make in members:
        with writer.jsonl(name) as member:
            for n, row in enumerate(_rows(conn, sql, p), 1):
                member.write(make(row))
                if n % PROGRESS_EVERY == 0:
                    check_cancel(cancel)
                    progress(done + n, total, f"Writing {out.name}: {name}")
            done += member.rows
    return project_row[0], project_row[1]


def _rows(conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> Iterator[tuple]:
    cursor = conn.execute(sql, params)
    while True:
        batch = cursor.fetchmany(2000)
        if not batch:
            return
        yield from batch
