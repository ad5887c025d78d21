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
- all-or-nothing: what the user sees changes in one transaction (the bundle's audit events
  then join the hash chain in short steps, before the merge returns: app.core.audit.pending);
  a refused bundle, an error or a cancel changes nothing.

A conflict is the same annotator's annotation of the same datapoint changed on both sides
since the bundle's base (the time the assignment or project bundle its author started from
was made): both versions are kept (the newer as the annotation, the older in history) and
reported. A newer version from the same replica (the same annotator's file, returning work a
second time) is an update, not a conflict.

Without a long write lock (issue 14): other writers (a label save, a training run) wait for
a merge only as long as its longest transaction. The bulk of a merge (new datapoints, and new
annotations, on new datapoints or on those the project shows) goes in short transactions,
unseen until the last one; what that last one does grows with the updates and conflicts
(winning newer versions of existing annotations) and the re-check of the staged decisions,
not with the new data or the audit events (0.35-1 s for 200,000 new annotations of datapoints
the project shows, on a two-core machine busy with other work, see bench/merge_lock.py).
A merge runs in four steps:

1. the bundle is verified (app.core.bundle.validate), without the lock;
2. new datasets and their datapoints are written in short transactions, unseen until step 4
   (app.core.bundle.merge_load: the dataset marker of app.core.storage.visibility);
3. every other row is checked and decided without the lock, reading the project in one WAL
   snapshot: which annotators, schema versions, sets and models are new (their ids decided
   now), which annotation version wins, what is a conflict. The decisions go to TEMP tables
   of the merging connection (app.core.bundle.merge_staging), the annotations and their
   label rows in the order of the project's indexes and numbered, so that step 4 only copies
   them. The annotations of step 2's unseen datapoints (by annotators the project has) are
   then written, unseen too, in short transactions with their status; and so are the new
   annotations of datapoints the project shows, as a write run (app.core.bundle.merge_early,
   app.core.storage.runs), their statuses settled after step 4; the bundle's audit events
   the project lacks are written, unseen, to audit_pending under the merge's write run
   (one of their own if there is none), and chained in short steps after step 4
   (app.core.audit.pending);
4. one last short transaction applies the rest with set-based SQL
   (app.core.bundle.merge_publish), makes the new datasets seen and publishes the runs. Under
   the lock it re-checks what may have changed since the snapshot: an annotation saved
   meanwhile (also on a pair step 3 wrote early) is decided again by the same rule (newest
   wins), and if another process added an annotator, schema version, set or model meanwhile
   (the ids decided in step 3 are taken), step 3 runs again.

SQLite-bound: it runs on the raw sqlite3 driver (app.core.storage.sqlite), for speed.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.audit import pending
from app.core.bundle import members
from app.core.bundle import merge_staging as staging
from app.core.bundle.container import DEFAULT_LIMITS, BundleReader, Limits
from app.core.bundle.errors import BundleError
from app.core.bundle.members import Loader
from app.core.bundle.merge_annotations import AnnotationMerging, Conflict
from app.core.bundle.merge_early import EarlyInserts
from app.core.bundle.merge_load import HiddenLoad
from app.core.bundle.merge_publish import publish
from app.core.bundle.open import insert_predictions, model_row
from app.core.bundle.rows import (
    TASK_STATUSES,
    Checker,
    DatapointIndex,
    MemberProgress,
    Refs,
    check_role,
    check_schema_labels,
    insert_annotator,
    insert_model_version,
    insert_schema_version,
)
from app.core.bundle.validate import validate_bundle
from app.core.fileio import display_name
from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress
from app.core.project.project import Project
from app.core.storage import sqlite
from app.core.storage.staging import load_running
from app.core.team.tasks import TASK_KINDS

MAX_STAGINGS = 5  # step 3 runs again if the project's new ids were taken meanwhile


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
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step (benchmarks)

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
            "file": display_name(str(self.path)),  # a non-UTF-8 name crashed the audit
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
        # events a killed merge left to chain, so that they are read as the project's below
        pending.settle_pending(project.engine)
        with project.engine.connect() as read:  # no write lock while the bundle is checked
            validate_bundle(reader, lambda uid: _local_event(read, uid))
        with project.engine.connect() as sa_conn:
            merge = _Merge(project, sa_conn, reader, progress, cancel, started)
            try:
                report = merge.run()
            except sqlite3.IntegrityError as exc:  # the checks before should leave none
                merge.abandon()
                raise BundleError(
                    str(bundle), f"holds a row the database refuses ({exc})"
                ) from None
            except BaseException:
                merge.abandon()
                raise
            merge.close()
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
    """One merge (see the module doc): the hidden load, then staging and publishing, again
    if the publish finds the ids it decided taken."""

    def __init__(self, project, sa_conn, reader: BundleReader, progress, cancel, started):
        self.project = project
        self.sa_conn = sa_conn
        self.conn: sqlite3.Connection = sqlite.driver_connection(sa_conn)
        self.reader = reader
        self.progress = progress
        self.cancel = cancel
        self.started = started
        self.actor = project.local_annotator_id  # may write: never under the merge's lock
        self.file = reader.name
        self.replica = reader.manifest.get("replica")
        self.base = reader.manifest.get("base")
        self.report = MergeReport(Path(reader.path), reader.kind, reader.sha256)
        self.steps = MemberProgress(reader, progress, cancel, lambda member: f"Merging {member}")
        self.direct = False  # decisions written to the project (under the lock) or staged
        self.touched: set[int] = set()  # datapoints written directly (re-checked annotations)
        self.next_ids: dict[str, int] = {}
        self.top: tuple[int, ...] = ()
        self.data_version = -1
        staging.create(self.conn)
        self.conn.commit()
        self.refs = Refs(self.conn, load=True)
        self.points: DatapointIndex = self.refs.points
        self.hidden = HiddenLoad(self)
        self.early = EarlyInserts(self)
        self.events = pending.PendingEvents(self)
        self.loader = self._loader()

    def _loader(self) -> Loader:
        return Loader(
            self.conn,
            self.reader,
            self.refs,
            strict=False,
            reporter=self.steps.reporter,
            advance=self.steps.advance,
            into="temp.stage_",
        )

    def count(self, bucket: dict[str, int], key: str, n: int = 1) -> None:
        bucket[key] = bucket.get(key, 0) + n

    def after_chunk(self, written: int) -> None:
        """Between two chunks of the hidden load (the write lock is free here)."""
        self.progress(self.steps.done, self.steps.total, f"Merging: {written:,} datapoints written")

    def run(self) -> MergeReport:
        """The merge, marked as running in this process while it lasts (its loading datasets
        and its write run are then waited for by other loads, and kept by the sweep on open).
        The write run of its early inserts, if it begins one, ends with it: discarded on an
        error or a cancel, once the rows a label save changed are given back."""
        with load_running(self.hidden.tag), contextlib.ExitStack() as held:
            self.early.held = self.events.held = held
            try:
                return self._run()
            except BaseException:
                self.early.rescue()
                raise

    def _run(self) -> MergeReport:
        self.annotators_seen()
        self.hidden.datasets_member()
        self.hidden.datapoints_member()
        self.conn.commit()
        self.report.timings["hidden load"] = time.perf_counter() - self.started
        loaded = (dict(self.report.added), self.steps.done)
        for _attempt in range(MAX_STAGINGS):
            staged = time.perf_counter()
            self.stage()
            self.report.timings["staging"] = time.perf_counter() - staged
            staged = time.perf_counter()
            self.hidden.annotations()
            self.report.timings["hidden annotations"] = time.perf_counter() - staged
            staged = time.perf_counter()
            self.early.write()
            self.report.timings["early annotations"] = time.perf_counter() - staged
            staged = time.perf_counter()
            self.events.write()
            self.report.timings["audit events staged"] = time.perf_counter() - staged
            self.progress(self.steps.done, self.steps.total, "Merging: writing")
            if publish(self):
                staged = time.perf_counter()
                self.events.append()
                self.report.timings["audit events chained (no lock)"] = time.perf_counter() - staged
                staged = time.perf_counter()
                self.early.settle()
                self.report.timings["settle (no lock)"] = time.perf_counter() - staged
                return self.report
            added, self.steps.done = loaded  # the project changed meanwhile: decide again
            added = dict(added)
            for key, n in self.hidden.moved.items():  # written hidden: no longer new
                self.count(added, key, n)
            self.report = MergeReport(
                self.report.path,
                self.report.kind,
                self.report.sha256,
                added=dict(added),
                timings=self.report.timings,
            )
            staging.clear(self.conn)
            self.conn.commit()
        raise BundleError(self.file, "the project kept changing during the merge; try again")

    def annotators_seen(self) -> None:
        """Every annotator row checked once, before anything is written (a wrong role is
        refused even when the annotator is already here)."""
        check = Checker(self.file, "annotators.jsonl")
        for row in self.reader.rows("annotators.jsonl"):
            check.str(row, "uuid")
            check_role(check, row)

    def stage(self) -> None:
        """Step 3 (the module doc): every decision, in one snapshot, into the staging tables."""
        conn = self.conn
        conn.execute("BEGIN")  # one read snapshot (WAL) for every read below
        try:
            self.top = staging.top_ids(conn)
            # the snapshot's version: the publish re-checks rows only if another connection
            # has committed since (merge_annotations.publish_annotations)
            self.data_version = conn.execute("PRAGMA data_version").fetchone()[0]
            self.next_ids = dict(zip(staging.PREALLOCATED, self.top, strict=True))
            self.refs = Refs(conn, load=True)
            self.refs.points = self.points
            self.loader = self._loader()
            self.direct = False
            self.touched = set()
            self.annotators()
            self.schemas()
            self.annotations()
            self._load(members.HISTORY)
            self.tasks()
            self.comments()
            self.flags()
            self.quality()
            self._load(members.AUDIT_EVENTS)
            self.models()
            self.report.skipped += self.loader.skipped
            self.prepare_publish()
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    def new_id(self, table: str) -> int:
        """The id a new row of `table` will have (checked again under the lock)."""
        self.next_ids[table] += 1
        return self.next_ids[table]

    def abandon(self) -> None:
        """After an error or a cancel: nothing was published; delete the hidden rows."""
        try:
            if self.conn.in_transaction:
                self.conn.rollback()
            self.hidden.sweep()
        finally:
            self.close()

    def close(self) -> None:
        """Drop the staging tables (or let the pool discard the connection if it cannot)."""
        try:
            staging.drop(self.conn)
            self.conn.commit()
        except sqlite3.Error:
            self.sa_conn.invalidate()

    # -- small tables ---------------------------------------------------------------------

    def annotators(self) -> None:
        name = "annotators.jsonl"
        check = Checker(self.file, name)
        for row in self.reader.rows(name):
            if check.str(row, "uuid") in self.refs.annotators:
                continue
            row_id = self.new_id("annotator")
            insert_annotator(
                self.conn, check, row, self.refs, table="temp.stage_annotator", row_id=row_id
            )
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
                "SELECT 1 FROM main.schema_version WHERE version = ?"
                " UNION ALL SELECT 1 FROM temp.stage_schema_version WHERE version = ?",
                (version, version),
            ).fetchone()
            if taken:
                new_version = self.conn.execute(
                    "SELECT max(v) + 1 FROM (SELECT max(version) AS v FROM main.schema_version"
                    " UNION ALL SELECT max(version) FROM temp.stage_schema_version)"
                ).fetchone()[0]
                self.report.notes.append(
                    f"schema version {version} of the bundle ({uid}) differs from this "
                    f"project's version {version}; added as version {new_version}"
                )
                version = new_version
            row_id = insert_schema_version(
                self.conn,
                check,
                row,
                self.refs,
                version,
                table="temp.stage_schema_version",
                row_id=self.new_id("schema_version"),
            )
            self.refs.add_schema(uid, row_id, labels, overlap)
            self.count(self.report.added, "schema_versions")
        self.steps.advance(name)

    # -- tasks, flags, quality, models: staged, their rules applied at publish -------------

    def tasks(self) -> None:
        name = "tasks.jsonl"
        check = Checker(self.file, name)
        rows = []
        for row in self.reader.rows(name, self.steps.reporter(name)):
            uid = check.str(row, "uuid")
            status = check.one_of(row, "status", TASK_STATUSES)
            kind = check.one_of(row, "kind", TASK_KINDS)
            annotator_id = self.refs.annotator(check, row)
            dp_id = self.refs.datapoint(check, row)
            created_at = check.str(row, "created_at")
            if dp_id is None:
                known = self.conn.execute("SELECT 1 FROM main.task WHERE uuid = ?", (uid,))
                if known.fetchone() is None:
                    self.report.skipped += 1
            rows.append((uid, dp_id, annotator_id, kind, status, created_at))
        self.conn.executemany(
            "INSERT INTO temp.stage_task (uuid, datapoint_id, annotator_id, kind, status,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        self.steps.advance(name)

    def flags(self) -> None:
        name = "flags.jsonl"
        check = Checker(self.file, name)
        for row in self.reader.rows(name, self.steps.reporter(name)):
            values = (
                check.str(row, "uuid"),
                self.refs.annotator(check, row),
                check.str(row, "reason"),
                check.str(row, "created_at"),
                check.str(row, "resolved_at", nullable=True),
            )
            dp_id = self.refs.datapoint(check, row)
            if dp_id is None:
                self.report.skipped += 1
                continue
            self.conn.execute(
                "INSERT INTO temp.stage_flag (uuid, annotator_id, reason, created_at,"
                " resolved_at, datapoint_id) VALUES (?, ?, ?, ?, ?, ?)",
                (*values, dp_id),
            )
        self.steps.advance(name)

    def quality(self) -> None:
        """The quality members (app.core.bundle.members), staged; counted at publish."""
        loader = self.loader
        loader.sets = {
            uid: row_id
            for row_id, uid in self.conn.execute("SELECT id, uuid FROM main.qualification_set")
        }
        loader.insert_rows(members.CUSTOM_STATUSES)
        self._gold_items()
        self._qualification_sets()
        for member in (
            members.QUALIFICATION_ITEMS,
            members.QUALIFICATION_RESULTS,
            members.ADJUDICATIONS,
            members.REVIEW_DECISIONS,
        ):
            loader.insert_rows(member)

    def _gold_items(self) -> None:
        """Staged, the newest by (created_at, uuid) of the bundle's for each datapoint."""
        name = "gold_items.jsonl"
        check = Checker(self.file, name)
        newest: dict[int, tuple] = {}
        for row in self.loader.rows(name):
            uid = check.str(row, "uuid")
            value = check.json_text(row, "value", nullable=False)
            created = check.str(row, "created_at")
            by = self.refs.maybe_annotator(check, row, "created_by")
            dp_id = self.loader.datapoint(check, row)
            if dp_id is None:
                continue
            if dp_id not in newest or (created, uid) > (newest[dp_id][4], newest[dp_id][0]):
                newest[dp_id] = (uid, dp_id, value, by, created)
        self.conn.executemany(
            "INSERT INTO temp.stage_gold_item (uuid, datapoint_id, value, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            newest.values(),
        )
        self.loader.advance(name)

    def _qualification_sets(self) -> None:
        """Sets the project lacks (by UUID), with the ids they will have."""
        name = "qualification_sets.jsonl"
        check = Checker(self.file, name)
        for row in self.loader.rows(name):
            uid = check.str(row, "uuid")
            values = (
                uid,
                check.str(row, "name"),
                check.num(row, "pass_score"),
                self.refs.maybe_annotator(check, row, "created_by"),
                check.str(row, "created_at"),
            )
            if uid in self.loader.sets:
                continue
            row_id = self.loader.sets[uid] = self.new_id("qualification_set")
            self.conn.execute(
                "INSERT INTO temp.stage_qualification_set (id, uuid, name, pass_score,"
                " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (row_id, *values),
            )
        self.loader.advance(name)

    def comments(self) -> None:
        self._load(members.COMMENTS)

    def _load(self, member: members.RowMember) -> None:
        """A member whose rows are added unless already here: staged, counted at publish."""
        self.loader.insert_rows(member)

    def models(self) -> None:
        name = "model_versions.jsonl"
        check = Checker(self.file, name)
        new: set[str] = set()
        for row in self.reader.rows(name):
            uid, artifact = model_row(self.reader, check, row)
            if uid in self.refs.models:
                continue
            self.refs.models[uid] = insert_model_version(
                self.conn,
                check,
                row,
                uid,
                artifact,
                table="temp.stage_model_version",
                row_id=self.new_id("model_version"),
            )
            new.add(uid)
            self.count(self.report.added, "model_versions")
        self.steps.advance(name)
        if new:
            insert_predictions(
                self.conn, self.reader, self.refs, new, self.steps.reporter, "temp.stage_prediction"
            )
        else:  # still read through, so a tampered member is caught
            for _row in self.reader.rows("predictions.jsonl"):
                pass
        self.steps.advance("predictions.jsonl")
