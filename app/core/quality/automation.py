"""Worker in the loop, the writing side: an automation run's auto-labels, the human queue it
routes the uncertain items to, and the audit sample, all in one transaction.

What the model labels by itself becomes an annotation by the built-in annotator `model`
(app.core.project.annotators.model_annotator) with origin "model": it never counts as a human
label (app.core.quality.consensus gives it no vote until a reviewer approves it, so training
leaves it out) and a person can confirm or correct it.

Nothing here chooses the threshold or runs the model: app.ml.automate does, then hands the
decided run (`RunPlan`) to `write_run`. Persisting needs no schema change:

- the auto-labels are annotation rows (origin "model") whose created_at is the run's instant;
- the run is an audit event (action "automate", entity "automation_run"): model version, P,
  confidence, threshold, counts, who started it, and that instant (after.labelled_at);
- each auto-label's confidence and model version, for export, are kept in project_meta under
  "automation:<run uuid>" (these facts stay with the file; a bundle carries the labels);
- the human queue is label tasks, the audit sample review tasks (app.core.team.tasks). The
  run's one event stands for the tasks it creates (their UUIDs are the event's
  task_uuid_prefixes and a 12-digit hex counter), not one hash-chained event per task;
- a run is written from a temporary table (`run_auto`) with INSERT ... SELECT, so SQLite, not
  Python, makes the million rows.

Tied to SQLite: the run is written on the raw driver in one BEGIN IMMEDIATE transaction
(app.core.storage.sqlite.bulk_write), cancellable at any statement, so a million auto-labels
are all written or none is.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from app.core import audit
from app.core.errors import ProjectError
from app.core.ids import new_uuid, now_iso
from app.core.jobs import CancelCheck, check_cancel, never_cancel
from app.core.project.annotators import MODEL_ROLE, find_annotator, model_annotator
from app.core.project.project import Project, current_schema, get_meta, set_meta
from app.core.quality import automation_status as status
from app.core.storage import sqlite
from app.core.team.eligibility import unqualified
from app.core.team.tasks import LABEL, REVIEW, create_tasks

ORIGIN = "model"
RUN_META_PREFIX = "automation:"
DEFAULT_AUDIT_RATE = 0.02
MIN_AUDIT = 50
SENIOR = ("owner", "manager", "reviewer")
WRITE_CACHE_KB = -131_072  # the page cache while a run writes (negative: KiB)


@dataclass
class RunPlan:
    """A decided automation run, ready to write.

    auto: (datapoint id, value as JSON, confidence) of the items the model labels itself;
    routed: the other items' ids, most useful for the model first (active-learning priority).
    """

    model_version_id: int
    model_version_uuid: str
    dataset_id: int
    dataset_name: str
    target: float
    confidence: float
    threshold: float | None
    expected_precision: float | None
    expected_coverage: float
    auto: list[tuple[int, str, float]]
    routed: list[int]
    audit_rate: float = DEFAULT_AUDIT_RATE
    annotators: Sequence[str] | None = None  # who gets the label tasks (default: the team)
    reviewers: Sequence[str] | None = None  # who gets the audit's review tasks
    overlap_fraction: float = 0.0
    per_item: int = 2
    seed: int = 0
    extra: dict = field(default_factory=dict)  # more facts for the audit event


@dataclass(frozen=True)
class RunReport:
    run_uuid: str
    labelled_at: str
    auto_labelled: int
    routed: int
    label_tasks: int
    audit_tasks: int
    threshold: float | None

    def summary(self) -> str:
        return (
            f"Auto-labelled {self.auto_labelled:,} items; {self.routed:,} routed to people "
            f"({self.label_tasks:,} label tasks); {self.audit_tasks:,} audit review tasks"
        )


def audit_size(auto: int, rate: float) -> int:
    """How many auto-labels the audit samples: `rate` of them, at least MIN_AUDIT (or all)."""
    if not 0.0 <= rate <= 1.0:
        raise ProjectError("the audit rate must be between 0 and 1")
    return min(auto, max(MIN_AUDIT, math.ceil(rate * auto)))


def write_run(
    project: Project,
    plan: RunPlan,
    actor_id: int | None = None,
    cancel: CancelCheck = never_cancel,
) -> RunReport:
    """Write the run: auto-labels, label tasks for the routed items, review tasks for the audit
    sample, the run's facts and its audit event. All or nothing: a cancel, a refusal or an
    item labelled meanwhile by someone else leaves the project as it was (the last is
    refused, so the run can be planned again)."""
    audit_size(len(plan.auto), plan.audit_rate)  # refuse a bad rate before any write
    with (
        project.engine.connect() as sa_conn,
        sqlite.bulk_write(
            sa_conn,
            cancel,
            lambda exc: ProjectError(f"{project.path}: the database refused the run ({exc})"),
            # Every key written points at rows read in this transaction (its datapoints, the
            # model annotator, the schema version), so checking them row by row is pure cost.
            pragmas={"foreign_keys": "OFF", "cache_size": str(WRITE_CACHE_KB), "temp_store": "2"},
            cancel_every=50_000,
        ) as raw,
    ):
        stopped = status.stopped_reason(sa_conn)
        if stopped:
            raise status.AutomationStopped(stopped)
        _stage(raw, plan)
        _check_still_unlabelled(raw, plan)
        stamp = now_iso()
        run_uuid = new_uuid()
        model_id = model_annotator(sa_conn)
        _insert_auto_labels(raw, plan, model_id, current_schema(sa_conn).id, stamp)
        check_cancel(cancel)
        set_meta(sa_conn, RUN_META_PREFIX + run_uuid, _run_facts(plan))
        # the tasks' UUIDs are these prefixes and a counter: the run's one event names them
        # all, instead of one hash-chained event per task (a million routed items)
        task_prefixes = {"label": new_uuid()[:20], "review": new_uuid()[:20]}
        label_tasks = _route(sa_conn, plan, actor_id, stamp, task_prefixes["label"])
        audit_tasks = _audit_sample(sa_conn, plan, actor_id, stamp, task_prefixes["review"])
        check_cancel(cancel)
        audit.record(
            sa_conn,
            actor_id,
            "automate",
            "automation_run",
            run_uuid,
            after={
                "labelled_at": stamp,
                "model_version": plan.model_version_uuid,
                "dataset": plan.dataset_name,
                "target": plan.target,
                "confidence": plan.confidence,
                "threshold": plan.threshold,
                "expected_precision": plan.expected_precision,
                "expected_coverage": plan.expected_coverage,
                "auto_labelled": len(plan.auto),
                "routed": len(plan.routed),
                "label_tasks": label_tasks,
                "audit_tasks": audit_tasks,
                "task_uuid_prefixes": task_prefixes,
                **plan.extra,
            },
        )
        _unstage(raw)
    return RunReport(
        run_uuid, stamp, len(plan.auto), len(plan.routed), label_tasks, audit_tasks, plan.threshold
    )


def _stage(raw, plan: RunPlan) -> None:
    """The planned auto-labels in a temporary table `run_auto` (rowid = 1, 2, ... in plan
    order), so the writes below are INSERT ... SELECT run by SQLite, not a million Python rows
    formatted and bound one by one. Dropped at the end of write_run."""
    _unstage(raw)
    raw.execute("CREATE TEMP TABLE run_auto (dp_id INTEGER NOT NULL, value TEXT NOT NULL)")
    raw.executemany(
        "INSERT INTO temp.run_auto (dp_id, value) VALUES (?, ?)",
        ((dp_id, value) for dp_id, value, _c in plan.auto),
    )


def _check_still_unlabelled(raw, plan: RunPlan) -> None:
    """Every planned item must still be unlabelled: a label made since the plan wins."""
    ready = raw.execute(
        "SELECT count(*) FROM temp.run_auto r JOIN datapoint d ON d.id = r.dp_id"
        " WHERE d.dataset_id = ? AND d.status = 0",
        (plan.dataset_id,),
    ).fetchone()[0]
    changed = len(plan.auto) - ready
    if plan.routed:
        raw.execute("CREATE TEMP TABLE run_routed (dp_id INTEGER NOT NULL)")
        raw.executemany("INSERT INTO temp.run_routed VALUES (?)", ((i,) for i in plan.routed))
        changed += (
            len(plan.routed)
            - raw.execute(
                "SELECT count(*) FROM temp.run_routed r JOIN datapoint d ON d.id = r.dp_id"
                " WHERE d.dataset_id = ? AND d.status = 0",
                (plan.dataset_id,),
            ).fetchone()[0]
        )
    if changed:
        raise ProjectError(
            f"{changed:,} of the items were labelled or removed while the run was prepared;"
            " nothing was written: run it again"
        )


def _insert_auto_labels(raw, plan: RunPlan, model_id: int, schema_id: int, stamp: str) -> None:
    """The auto-labels, their label index rows and their items' status, from `run_auto`.

    Fast enough for a million: ids and UUIDs ascend (a random UUID prefix for the run, then a
    counter), so every index takes appends; the label rows of each distinct value are worked
    out once in Python and joined in SQL."""
    from app.core.annotation.values import LabelParser  # only what the label index needs

    if not plan.auto:
        return
    first = raw.execute("SELECT coalesce(max(id), 0) + 1 FROM annotation").fetchone()[0]
    prefix = new_uuid()[:20]  # 80 random bits for the run, 48 bits of counter
    raw.execute(
        "INSERT INTO annotation (id, uuid, datapoint_id, annotator_id, value, status,"
        " schema_version_id, time_spent_ms, origin, created_at, updated_at)"
        " SELECT ? + rowid - 1, ? || printf('%012x', rowid - 1), dp_id, ?, value, 'complete',"
        f" ?, 0, '{ORIGIN}', ?, ? FROM temp.run_auto ORDER BY rowid",
        (first, prefix, model_id, schema_id, stamp, stamp),
    )
    task_type = raw.execute("SELECT task_type FROM project").fetchone()[0]
    raw.execute("DROP TABLE IF EXISTS temp.run_labels")
    raw.execute("CREATE TEMP TABLE run_labels (value TEXT NOT NULL, label TEXT NOT NULL)")
    values = {value for _id, value, _c in plan.auto}
    raw.executemany(
        "INSERT INTO temp.run_labels (value, label) VALUES (?, ?)",
        (
            (value, label)
            for value in values
            for label in LabelParser.labels_of(json.loads(value), task_type)
        ),
    )
    raw.execute("CREATE INDEX temp.run_labels_value ON run_labels (value)")
    raw.execute(
        "INSERT OR IGNORE INTO annotation_label (annotation_id, label, datapoint_id)"
        " SELECT ? + r.rowid - 1, l.label, r.dp_id FROM temp.run_auto r"
        " JOIN temp.run_labels l ON l.value = r.value ORDER BY r.rowid, l.label",
        (first,),
    )
    raw.execute("UPDATE datapoint SET status = 1 WHERE id IN (SELECT dp_id FROM temp.run_auto)")


def _unstage(raw) -> None:
    for name in ("run_auto", "run_labels", "run_routed"):
        raw.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _run_facts(plan: RunPlan) -> str:
    """Each auto-label's confidence and the model version (export reads them back)."""
    return json.dumps(
        {
            "model_version": plan.model_version_uuid,
            "ids": [dp_id for dp_id, _v, _c in plan.auto],
            "confidence": [round(c, 4) for _id, _v, c in plan.auto],
        },
        separators=(",", ":"),
    )


def _people(conn: Connection, named: Sequence[str] | None, roles: Sequence[str]) -> list[int]:
    """The annotators named, or everyone of these roles (never the model); the local
    annotator when nobody has such a role."""
    if named:
        return [find_annotator(conn, key)[0] for key in named]
    marks = ", ".join(f"'{role}'" for role in roles)
    found = [
        row[0]
        for row in conn.execute(
            text(
                f"SELECT id FROM annotator WHERE role IN ({marks}) AND role != :model ORDER BY id"
            ),
            {"model": MODEL_ROLE},
        )
    ]
    return found


def _route(conn: Connection, plan: RunPlan, actor_id: int | None, stamp: str, prefix: str) -> int:
    """Label tasks for the routed items, in their priority order, shared round robin among
    the qualified annotators; the first `overlap_fraction` of them to `per_item` each. Items
    that already have a label task keep it."""
    if not plan.routed:
        return 0
    team = _people(conn, plan.annotators, ("annotator",))
    if plan.annotators:
        missing = unqualified(conn, team)
        if missing:
            who = ", ".join(name for name, _set in missing)
            raise ProjectError(f"not qualified yet: {who}; they must pass the qualification set")
    else:
        refused = {name for name, _set in unqualified(conn, team)}
        names = dict(conn.execute(text("SELECT id, name FROM annotator")).all())
        team = [who for who in team if names[who] not in refused]
    if not team and actor_id is not None:
        team = [actor_id]
    if not team:
        return 0
    tasked = {
        row[0]
        for row in conn.execute(
            text("SELECT datapoint_id FROM task WHERE kind = :k AND status != 'cancelled'"),
            {"k": LABEL},
        )
    }
    items = [dp_id for dp_id in plan.routed if dp_id not in tasked]
    overlap = round(plan.overlap_fraction * len(items)) if len(team) > 1 else 0
    per_item = min(max(1, plan.per_item), len(team))

    def tasks() -> Iterator[tuple[int, int, str, str]]:
        turn = 0
        for index, dp_id in enumerate(items):
            for _copy in range(per_item if index < overlap else 1):
                yield (dp_id, team[turn % len(team)], LABEL, stamp)
                turn += 1

    return create_tasks(conn, tasks(), actor_id, uuid_prefix=prefix)


def _audit_sample(
    conn: Connection, plan: RunPlan, actor_id: int | None, stamp: str, prefix: str
) -> int:
    """Review tasks on a seeded random sample of the auto-labels, shared among reviewers."""
    size = audit_size(len(plan.auto), plan.audit_rate)
    if not size:
        return 0
    reviewers = _people(conn, plan.reviewers, SENIOR)
    if not reviewers and actor_id is not None:
        reviewers = [actor_id]
    if not reviewers:
        return 0
    picked = random.Random(plan.seed).sample(range(len(plan.auto)), size)
    sample = sorted(plan.auto[index][0] for index in picked)
    return create_tasks(
        conn,
        ((dp_id, reviewers[n % len(reviewers)], REVIEW, stamp) for n, dp_id in enumerate(sample)),
        actor_id,
        uuid_prefix=prefix,
    )


def run_confidences(raw: Any) -> dict[int, tuple[str, float]]:
    """{datapoint id: (model version uuid, confidence)} of every auto-label (for export), read
    on a DB-API connection (export reads on one)."""
    out: dict[int, tuple[str, float]] = {}
    for (value,) in raw.execute(
        "SELECT value FROM project_meta WHERE key LIKE ? ORDER BY key", (RUN_META_PREFIX + "%",)
    ).fetchall():
        facts = json.loads(value)
        version = facts["model_version"]
        for dp_id, confidence in zip(facts["ids"], facts["confidence"], strict=True):
            out[dp_id] = (version, confidence)
    return out


def resume(project: Project, actor_id: int | None = None, note: str = "") -> None:
    """A person resumes automation after the drift guard stopped it: the alert is cleared and
    the audit starts afresh with the runs that follow."""
    from app.core.storage.retry import write_transaction

    with write_transaction(project.engine) as conn:
        before = get_meta(conn, status.META_ALERT)
        conn.execute(text("DELETE FROM project_meta WHERE key = :k"), {"k": status.META_ALERT})
        set_meta(conn, status.META_RESUMED, now_iso())
        audit.record(
            conn,
            actor_id,
            "resume",
            "automation",
            None,
            before=None if before is None else json.loads(before),
            after={"note": note},
        )
