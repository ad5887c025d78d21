"""Worker in the loop, the writing side: an automation run's auto-labels, the human queue it
routes the uncertain items to, and the audit sample, all or nothing.

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

A million auto-labels take tens of seconds to write: in one transaction that would lock out
every label save meanwhile (issue 14). So the run is a write run (app.core.storage.runs): its
rows go in short transactions (app.core.quality.automation_chunks) that every read leaves out
until the last one publishes them, with the facts and the audit event. A cancel or an error
removes what was written; a killed run is swept when the project next opens. The items'
datapoint.status is then settled in short transactions (runs.settle), while every status read
counts the run's items as labelled (runs.status_expr): a user sees the run all at once.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from app.core import audit
from app.core.errors import Cancelled, ProjectError
from app.core.ids import new_uuid, now_iso
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.annotators import MODEL_ROLE, find_annotator, model_annotator
from app.core.project.project import Project, current_schema, get_meta, set_meta
from app.core.quality import automation_chunks as chunks
from app.core.quality import automation_status as status
from app.core.storage import runs, staging, visibility
from app.core.storage.retry import run_write
from app.core.storage.sqlite import driver_connection
from app.core.team.eligibility import unqualified
from app.core.team.tasks import LABEL, REVIEW, TaskRow

ORIGIN = "model"
RUN_META_PREFIX = "automation:"
DEFAULT_AUDIT_RATE = 0.02
MIN_AUDIT = 50
SENIOR = ("owner", "manager", "reviewer")


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
    dropped: int = 0  # planned items a person labelled while the run was writing: left out
    settled: bool = True  # False: Cancel stopped the status settle after publishing

    def summary(self) -> str:
        text = (
            f"Auto-labelled {self.auto_labelled:,} items; {self.routed:,} routed to people "
            f"({self.label_tasks:,} label tasks); {self.audit_tasks:,} audit review tasks"
        )
        if self.dropped:
            text += f"; {self.dropped:,} items labelled meanwhile by a person were left out"
        if not self.settled:
            text += (
                ". Cancel came after the run was saved: it stands, and its items count as"
                " labelled; their stored status is finished when the project next opens"
            )
        return text


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
    progress: Progress = no_progress,
) -> RunReport:
    """Write the run: auto-labels, label tasks for the routed items, review tasks for the audit
    sample, the run's facts and its audit event, as a write run (app.core.storage.runs):
    short transactions that nobody sees until the last one publishes them all. An item
    labelled before the run began refuses the run (plan it again); one labelled by a person
    while it wrote is left out of it (RunReport.dropped). A cancel or an error leaves the
    project as it was; the statuses of the auto-labelled items are settled after publishing,
    in short transactions too (every status read counts them meanwhile)."""
    audit_size(len(plan.auto), plan.audit_rate)  # refuse a bad rate before any write
    engine = project.engine
    with engine.connect() as conn:
        stopped = status.stopped_reason(conn)
        if stopped:
            raise status.AutomationStopped(stopped)
        _check_still_unlabelled(conn, plan)
        _check_no_other_run(conn)
        schema_id = current_schema(conn).id
        task_type = conn.execute(text("SELECT task_type FROM project")).scalar_one()
    model_id = run_write(engine, model_annotator)
    stamp = now_iso()
    run_uuid = new_uuid()
    prefixes = {"label": new_uuid()[:20], "review": new_uuid()[:20]}
    with engine.connect() as conn:  # who gets which task: decided before the first write
        label_tasks = _route(conn, plan, actor_id, stamp, prefixes["label"])
        audit_tasks = _audit_sample(conn, plan, actor_id, stamp, prefixes["review"])
    facts = _run_facts(plan)
    with runs.writing(engine, "automate") as run:
        writer = chunks.AutoLabels(run.id, model_id, schema_id, stamp, new_uuid()[:20])
        writer.labels = chunks.labels_by_value(plan.auto, task_type)
        chunks.write_in_chunks(engine, plan.auto, writer.write, cancel, progress, "auto-labels")
        tasks = label_tasks + audit_tasks
        chunks.write_in_chunks(
            engine, tasks, chunks.TaskWriter(run.id).write, cancel, progress, "tasks"
        )
        check_cancel(cancel)
        event = {
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
            "label_tasks": len(label_tasks),
            "audit_tasks": len(audit_tasks),
            "task_uuid_prefixes": prefixes,
            **plan.extra,
        }
        publishing = chunks.Publish(run.id, plan, model_id, run_uuid, actor_id, event, facts)
        dropped = run_write(engine, publishing.publish)
    progress(0, len(plan.auto), "Settling the statuses")
    settled = True
    try:  # a Cancel now stops the settle only: the run stands (runs.settle)
        runs.settle(engine, run.id, lambda done: progress(done, len(plan.auto), "Settling"), cancel)
    except Cancelled:
        settled = False
    return RunReport(
        run_uuid,
        stamp,
        len(plan.auto) - dropped.auto,
        len(plan.routed),
        len(label_tasks) - dropped.label_tasks,
        len(audit_tasks) - dropped.audit_tasks,
        plan.threshold,
        dropped.auto + dropped.routed,
        settled,
    )


def _check_no_other_run(conn: Connection) -> None:
    """Refuse while another automation run is being written (its hidden auto-labels would
    collide with this one's); a killed one's leftovers do not count (the next open sweeps)."""
    loaders = conn.execute(
        text("SELECT loader FROM write_run WHERE kind = 'automate' AND state = :loading"),
        {"loading": runs.LOADING},
    ).scalars()
    if any(not staging.load_abandoned(loader) for loader in loaders):
        raise ProjectError(
            "another automation run is being written to this project; run this one when it"
            " has finished"
        )


def _check_still_unlabelled(conn: Connection, plan: RunPlan) -> None:
    """Every planned item must still be unlabelled when the run begins (a read: no lock). A
    label made since the plan wins: the run is refused, to be planned again."""
    raw = driver_connection(conn)
    state = runs.status_expr(raw, "d")
    where = visibility.visible_where(raw)
    unlabelled = {
        row[0]
        for row in raw.execute(
            f"SELECT d.id FROM datapoint d WHERE d.dataset_id = ? AND {state} = 0"
            + runs.and_visible(where),
            (plan.dataset_id,),
        )
    }
    changed = sum(1 for dp_id, _v, _c in plan.auto if dp_id not in unlabelled)
    changed += sum(1 for dp_id in plan.routed if dp_id not in unlabelled)
    if changed:
        raise ProjectError(
            f"{changed:,} of the items were labelled or removed while the run was prepared;"
            " nothing was written: run it again"
        )


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


def _route(
    conn: Connection, plan: RunPlan, actor_id: int | None, stamp: str, prefix: str
) -> list[TaskRow]:
    """Label tasks for the routed items, in their priority order, shared round robin among
    the qualified annotators; the first `overlap_fraction` of them to `per_item` each. Items
    that already have a label task keep it. Their UUIDs: `prefix` and a counter."""
    if not plan.routed:
        return []
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
        return []
    where = runs.task_where(conn, "")
    tasked = {
        row[0]
        for row in conn.execute(
            text(
                "SELECT datapoint_id FROM task WHERE kind = :k AND status != 'cancelled'"
                + runs.and_visible(where)
            ),
            {"k": LABEL},
        )
    }
    items = [dp_id for dp_id in plan.routed if dp_id not in tasked]
    overlap = round(plan.overlap_fraction * len(items)) if len(team) > 1 else 0
    per_item = min(max(1, plan.per_item), len(team))
    out: list[TaskRow] = []
    for index, dp_id in enumerate(items):
        for _copy in range(per_item if index < overlap else 1):
            who = team[len(out) % len(team)]
            out.append((f"{prefix}{len(out):012x}", dp_id, who, LABEL, "todo", stamp))
    return out


def _audit_sample(
    conn: Connection, plan: RunPlan, actor_id: int | None, stamp: str, prefix: str
) -> list[TaskRow]:
    """Review tasks on a seeded random sample of the auto-labels, shared among reviewers."""
    size = audit_size(len(plan.auto), plan.audit_rate)
    if not size:
        return []
    reviewers = _people(conn, plan.reviewers, SENIOR)
    if not reviewers and actor_id is not None:
        reviewers = [actor_id]
    if not reviewers:
        return []
    picked = random.Random(plan.seed).sample(range(len(plan.auto)), size)
    sample = sorted(plan.auto[index][0] for index in picked)
    return [
        (f"{prefix}{n:012x}", dp_id, reviewers[n % len(reviewers)], REVIEW, "todo", stamp)
        for n, dp_id in enumerate(sample)
    ]


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
