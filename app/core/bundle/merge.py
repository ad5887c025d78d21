"""Merging a work bundle or a project bundle into the project it came from.

Rows are matched by UUID (an annotation by its datapoint and annotator, which the database
holds unique), so merging is:

- idempotent: a row already present is left alone, and a bundle merged twice changes nothing
  the second time (not even the audit log: a merge that changes nothing records nothing);
- order-independent: every rule picks the same result whatever came first. Two versions of
  one annotator's annotation of one datapoint: the one with the newer `updated_at` is kept
  (ties broken by a hash of the content), and the other goes to `annotation_history` under a
  UUID made from its content, so the same superseded version is stored once. Task states
  only move forward (todo < done < cancelled); a flag's resolution time is the earliest.
  Annotators, schema versions, datasets and datapoints the project lacks are added;
- all-or-nothing: one transaction; a refused bundle, an error or a cancel changes nothing.

A conflict is the same annotator's annotation of the same datapoint changed on both sides
since the bundle's base (the time the assignment or project bundle its author started from
was made): both versions are kept (the newer as the annotation, the older in history) and
reported. A newer version from the same replica (the same annotator's file, returning work a
second time) is an update, not a conflict.

SQLite-bound: it runs on the raw sqlite3 driver (app.core.storage.sqlite.bulk_write), with
INSERT OR IGNORE and a TEMP table of touched datapoints, for speed.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core import audit
from app.core.annotation.commands import DERIVE_FLAGGED, DERIVE_STATUS
from app.core.bundle import members
from app.core.bundle.container import DEFAULT_LIMITS, BundleReader, Limits
from app.core.bundle.errors import BundleError
from app.core.bundle.members import Loader
from app.core.bundle.merge_annotations import AnnotationMerging, Conflict
from app.core.bundle.open import insert_predictions, model_row
from app.core.bundle.rows import (
    TASK_STATUSES,
    Checker,
    MemberProgress,
    Refs,
    check_role,
    check_schema_labels,
    insert_annotator,
    insert_dataset,
    insert_model_version,
    insert_schema_version,
    record_audit,
)
from app.core.bundle.validate import validate_bundle
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.project import Project
from app.core.storage import fts, sqlite
from app.core.team.tasks import TASK_KINDS, insert_task_rows

TASK_RANK = {status: rank for rank, status in enumerate(TASK_STATUSES)}
DERIVE_CHUNK = 5_000


@dataclass
class MergeReport:
    path: Path
    kind: str
    sha256: str
    added: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    conflict_count: int = 0
    conflicts: list[Conflict] = field(default_factory=list)  # the first MAX_CONFLICTS_LISTED
    superseded: int = 0  # versions kept in history that were not conflicts
    skipped: int = 0  # rows about datapoints this project does not hold
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(
            any(self.added.values())
            or any(self.updated.values())
            or self.conflict_count
            or self.superseded
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "kind": self.kind,
            "sha256": self.sha256,
            "added": {k: v for k, v in self.added.items() if v},
            "updated": {k: v for k, v in self.updated.items() if v},
            "conflicts": self.conflict_count,
            "conflict_examples": [vars(c) for c in self.conflicts],
            "superseded": self.superseded,
            "skipped": self.skipped,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        if not self.changed:
            return f"{self.path.name}: already merged, nothing new"

        def shown(counts: dict[str, int]) -> str:
            parts = [f"{n:,} {k.replace('_', ' ')}" for k, n in counts.items() if n]
            return ", ".join(parts) or "nothing"

        lines = [
            f"Merged {self.kind} bundle {self.path.name} in {self.seconds:.1f} s",
            f"  added:     {shown(self.added)}",
            f"  updated:   {shown(self.updated)}",
            f"  conflicts: {self.conflict_count:,} (the newer version kept, the older in history)",
        ]
        if self.superseded:
            lines.append(f"  older versions kept in history: {self.superseded:,}")
        if self.skipped:
            lines.append(f"  skipped: {self.skipped:,} rows about datapoints this project lacks")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def merge_bundle(
    project: Project,
    bundle: Path,
    *,
    passphrase: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> MergeReport:
    """Merge a work or project bundle of this project, all or nothing (see the module doc).

    Refuses a bundle of another project, and any bundle that fails verification, before
    touching the database. New datapoints wait for the search index like imported ones
    (app.core.storage.fts.index_pending).
    """
    started = time.perf_counter()
    bundle = Path(bundle)
    with BundleReader.open(bundle, passphrase, limits, progress, cancel) as reader:
        if reader.project_uuid != project.uuid:
            raise reader.error(
                f"belongs to another project ({reader.manifest.get('project_name')!r}, "
                f"{reader.project_uuid}), not to {project.name!r} ({project.uuid}); "
                "refused: nothing was merged"
            )
        info = reader.project()
        if info.get("task_type") != project.task_type:
            raise reader.error("its task type differs from this project's; refused")
        with project.engine.connect() as read:  # no write lock while the bundle is checked
            validate_bundle(reader, lambda uid: _local_event(read, uid))
        actor = project.local_annotator_id
        with (
            project.engine.connect() as sa_conn,
            sqlite.bulk_write(
                sa_conn,
                cancel,
                lambda exc: BundleError(str(bundle), f"the database refused the merge ({exc})"),
            ) as conn,
        ):
            try:
                report = _Merge(project, conn, sa_conn, reader, progress, cancel).run()
            except sqlite3.IntegrityError as exc:  # the checks before should leave none
                raise BundleError(
                    str(bundle), f"holds a row the database refuses ({exc})"
                ) from None
            report.seconds = time.perf_counter() - started
            if report.changed:
                record_audit(conn, actor, "merge-bundle", project.uuid, report.as_dict())
    progress(1, 1, report.summary())
    return report


def _local_event(conn, uid: str) -> tuple | None:
    """The hashed fields of this project's audit event `uid` (app.core.audit.chain), or None."""
    return conn.exec_driver_sql(
        "SELECT e.uuid, e.at, a.uuid, e.action, e.entity, e.entity_uuid, e.before, e.after"
        " FROM audit_event e LEFT JOIN annotator a ON a.id = e.actor_id WHERE e.uuid = ?",
        (uid,),
    ).first()


class _Merge(AnnotationMerging):
    """One merge: each member in turn, into the open transaction (see the module doc)."""

    def __init__(self, project, conn, sa_conn, reader: BundleReader, progress, cancel):
        self.project = project
        self.conn: sqlite3.Connection = conn
        self.sa_conn = sa_conn
        self.reader = reader
        self.progress = progress
        self.cancel = cancel
        self.file = reader.name
        self.refs = Refs(conn, load=True)
        self.report = MergeReport(Path(reader.path), reader.kind, reader.sha256)
        self.replica = reader.manifest.get("replica")
        self.base = reader.manifest.get("base")
        self.steps = MemberProgress(reader, progress, cancel, lambda member: f"Merging {member}")
        self.loader = Loader(
            conn,
            reader,
            self.refs,
            strict=False,
            reporter=self.steps.reporter,
            advance=self.steps.advance,
        )
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS merge_touched (id INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM temp.merge_touched")
        self.flag_touched: set[int] = set()

    def count(self, bucket: dict[str, int], key: str, n: int = 1) -> None:
        bucket[key] = bucket.get(key, 0) + n

    def touch(self, dp_id: int) -> None:
        self.conn.execute("INSERT OR IGNORE INTO temp.merge_touched (id) VALUES (?)", (dp_id,))

    def run(self) -> MergeReport:
        self.annotators()
        self.schemas()
        self.datasets()
        self.datapoints()
        self.annotations()
        self.history()
        self.tasks()
        self.comments()
        self.flags()
        self.quality()
        self.audit_events()
        self.models()
        self.derive()
        self.conn.execute("DROP TABLE IF EXISTS temp.merge_touched")
        self.report.skipped += self.loader.skipped
        return self.report

    # -- small tables ---------------------------------------------------------------------

    def annotators(self) -> None:
        name = "annotators.jsonl"
        check = Checker(self.file, name)
        for row in self.reader.rows(name):
            uid = check.str(row, "uuid")
            check_role(check, row)  # refused even when the annotator is already here
            if uid in self.refs.annotators:
                continue
            insert_annotator(self.conn, check, row, self.refs)
            self.count(self.report.added, "annotators")
        self.steps.advance(name)

    def schemas(self) -> None:
        name = "schema_versions.jsonl"
        check = Checker(self.file, name)
        for row in self.reader.rows(name):
            uid = check.str(row, "uuid")
            labels = check_schema_labels(check, row)
            overlap = check.bool(row, "allow_overlap")
            version = check.int(row, "version")
            if uid in self.refs.schemas:
                continue
            taken = self.conn.execute(
                "SELECT 1 FROM schema_version WHERE version = ?", (version,)
            ).fetchone()
            if taken:
                new_version = self.conn.execute(
                    "SELECT max(version) + 1 FROM schema_version"
                ).fetchone()[0]
                self.report.notes.append(
                    f"schema version {version} of the bundle ({uid}) differs from this "
                    f"project's version {version}; added as version {new_version}"
                )
                version = new_version
            row_id = insert_schema_version(self.conn, check, row, self.refs, version)
            self.refs.add_schema(uid, row_id, labels, overlap)
            self.count(self.report.added, "schema_versions")
        self.steps.advance(name)

    def datasets(self) -> None:
        name = "datasets.jsonl"
        check = Checker(self.file, name)
        for row in self.reader.rows(name):
            uid = check.str(row, "uuid")
            if uid in self.refs.datasets:
                continue
            insert_dataset(self.conn, check, row, self.refs)
            self.count(self.report.added, "datasets")
        self.steps.advance(name)

    # -- datapoints -----------------------------------------------------------------------

    def datapoints(self) -> None:
        name = "datapoints.jsonl"
        if not self.reader.has(name):
            return
        check = Checker(self.file, name)
        upto, top = fts.pending(self.conn)
        next_id = max(upto, top)  # new ids above the search index's mark (app.core.storage.fts)
        points = self.refs.points
        added = 0

        def rows():
            nonlocal next_id, added
            datasets = self.refs.datasets
            for row in self.reader.rows(name, self.steps.reporter(name)):
                try:
                    dataset_id = datasets[row["dataset"]]
                    number = row["row"]
                    text_ = row["text"]
                    context = row["context"]
                    status = row["status"]
                    flagged = row["flagged"]
                except (KeyError, TypeError):
                    raise check.fail(
                        row, "lacks a field, or names a dataset it does not hold"
                    ) from None
                if (
                    number.__class__ is not int
                    or text_.__class__ is not str
                    or status.__class__ is not int
                    or flagged.__class__ is not bool
                    or not (context is None or context.__class__ is str)
                ):
                    raise check.fail(row, "a field has the wrong type")
                if points.get(dataset_id, number) is not None:
                    continue  # a datapoint's text never changes; its status is derived
                if context is not None:
                    check.json_text(row, "context")
                next_id += 1
                added += 1
                points.add(dataset_id, number, next_id)
                yield (next_id, dataset_id, number, text_, context, status, flagged)

        self.conn.executemany(
            "INSERT INTO datapoint (id, dataset_id, row, text, context, status, flagged)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
        if added:
            self.count(self.report.added, "datapoints", added)
            self.conn.execute(
                "INSERT OR IGNORE INTO temp.merge_touched (id) SELECT id FROM datapoint"
                " WHERE id > ?",
                (next_id - added,),
            )
        self.steps.advance(name)

    def history(self) -> None:
        self._load(members.HISTORY)

    # -- tasks, comments, flags, audit ----------------------------------------------------

    def tasks(self) -> None:
        name = "tasks.jsonl"
        check = Checker(self.file, name)
        for row in self.reader.rows(name, self.steps.reporter(name)):
            uid = check.str(row, "uuid")
            status = check.one_of(row, "status", TASK_STATUSES)
            kind = check.one_of(row, "kind", TASK_KINDS)
            annotator_id = self.refs.annotator(check, row)
            dp_id = self.refs.datapoint(check, row)
            local = self.conn.execute(
                "SELECT id, status FROM task WHERE uuid = ?", (uid,)
            ).fetchone()
            if local is not None:
                if TASK_RANK.get(status, 0) > TASK_RANK.get(local[1], 0):
                    self.conn.execute("UPDATE task SET status = ? WHERE id = ?", (status, local[0]))
                    self.count(self.report.updated, "tasks")
                continue
            if dp_id is None:
                self.report.skipped += 1
                continue
            created_at = check.str(row, "created_at")
            insert_task_rows(self.conn, [(uid, dp_id, annotator_id, kind, status, created_at)])
            self.count(self.report.added, "tasks")
        self.steps.advance(name)

    def comments(self) -> None:
        self._load(members.COMMENTS)

    def flags(self) -> None:
        name = "flags.jsonl"
        check = Checker(self.file, name)
        for row in self.reader.rows(name, self.steps.reporter(name)):
            uid = check.str(row, "uuid")
            annotator_id = self.refs.annotator(check, row)
            reason = check.str(row, "reason")
            created = check.str(row, "created_at")
            resolved = check.str(row, "resolved_at", nullable=True)
            dp_id = self.refs.datapoint(check, row)
            if dp_id is None:
                self.report.skipped += 1
                continue
            local = self.conn.execute(
                "SELECT id, resolved_at FROM flag WHERE uuid = ?", (uid,)
            ).fetchone()
            if local is None:
                self.conn.execute(
                    "INSERT INTO flag (uuid, datapoint_id, annotator_id, reason, created_at,"
                    " resolved_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (uid, dp_id, annotator_id, reason, created, resolved),
                )
                self.count(self.report.added, "flags")
                self.flag_touched.add(dp_id)
            elif resolved is not None and (local[1] is None or resolved < local[1]):
                self.conn.execute(
                    "UPDATE flag SET resolved_at = ? WHERE id = ?", (resolved, local[0])
                )
                self.count(self.report.updated, "flags")
                self.flag_touched.add(dp_id)
        self.steps.advance(name)

    def quality(self) -> None:
        for name, n in members.load_quality(self.loader).items():
            self.count(self.report.added, name, n)

    def audit_events(self) -> None:
        self._load(members.AUDIT_EVENTS)
        # Another machine's events join this file's chain in merge order (app.core.audit.chain).
        audit.link_pending(self.conn)

    def _load(self, member: members.RowMember) -> None:
        """A member whose rows are added unless already here (app.core.bundle.members)."""
        n = self.loader.insert_rows(member)
        if n:
            self.count(self.report.added, member.key, n)

    def models(self) -> None:
        name = "model_versions.jsonl"
        check = Checker(self.file, name)
        new: set[str] = set()
        for row in self.reader.rows(name):
            uid, artifact = model_row(self.reader, check, row)
            if uid in self.refs.models:
                continue
            self.refs.models[uid] = insert_model_version(self.conn, check, row, uid, artifact)
            new.add(uid)
            self.count(self.report.added, "model_versions")
        self.steps.advance(name)
        if new:
            n = insert_predictions(self.conn, self.reader, self.refs, new, self.steps.reporter)
            self.count(self.report.added, "predictions", n)
        else:  # still read through, so a tampered member is caught
            for _row in self.reader.rows("predictions.jsonl"):
                pass
        self.steps.advance("predictions.jsonl")

    # -- derived columns ------------------------------------------------------------------

    def derive(self) -> None:
        """Datapoint status and flagged, from the annotations and flags now present."""
        check_cancel(self.cancel)
        self.progress(self.steps.done, self.steps.total, "Merging: updating item status")
        cursor = self.conn.execute("SELECT id FROM temp.merge_touched ORDER BY id")
        while True:
            ids = [r[0] for r in cursor.fetchmany(DERIVE_CHUNK)]
            if not ids:
                break
            self.sa_conn.execute(DERIVE_STATUS, {"ids": ids})
        ids = sorted(self.flag_touched)
        if ids:
            self.sa_conn.execute(DERIVE_FLAGGED, [{"id": i} for i in ids])
