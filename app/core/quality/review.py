"""Review (QA): review tasks, decisions on annotations, spot checks and derived task status.

A review task (task kind 'review') is one datapoint for one reviewer: they review every complete
annotation other annotators made of it. Their decision on one annotation (`review`) is approve,
reject (with a reason), discard, or one of the project's custom statuses (`add_custom_status`;
each counts as one of the three). A correction is kept as the reviewer's own annotation of the
datapoint (origin 'review'), linked from the decision by its UUID; it replaces the corrected
vote in consensus (app.core.quality.consensus). Decisions are insert-only rows: an annotation's
current review state is its newest decision, and a rejection stays open until the annotator changes
the annotation (or a reviewer decides again).

Statuses of items: labeling tasks complete or discard (the annotation's status), review tasks
approve, reject, discard or a custom status (the decisions). The status of a task or an
assignment is derived by `task_status`, never stored:

- a labeling (label, gold, qualification) task: to-do without an annotation, in progress while
  it is a draft, completed once finished; completed with issues if the annotation has an open
  rejection or the item an unresolved flag;
- a review task: to-do until the reviewer decided on one of the item's annotations, in progress
  until on all, then completed; with issues if one of them is rejected or the item flagged;
- an adjudicate task: completed once the adjudicator recorded a decision (with issues if the
  item is flagged);
- an assignment (all of one annotator's open or done tasks): to-do if every task is, completed
  (with issues if any task has issues) if every task is completed, else in progress.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from app.core import audit
from app.core.annotation.commands import (
    DERIVE_STATUS,
    AnnotationState,
    audit_value,
    read_states,
    text_lengths,
    validate_value,
    write_state,
)
from app.core.annotation.values import LabelParser
from app.core.errors import ProjectError
from app.core.ids import new_uuid, now_iso, stamp_after
from app.core.project.annotators import find_annotator
from app.core.project.project import Project, current_schema
from app.core.quality.consensus import REVIEW_DECISIONS, current_reviews
from app.core.storage import runs
from app.core.storage.retry import write_transaction
from app.core.storage.sqlite import driver_connection
from app.core.storage.visibility import visible_id
from app.core.team.tasks import (
    REVIEW,
    create_missing_tasks,
    largest_remainder,
    record_assignment,
    round_half_up,
    tasked_datapoints,
)

TODO, IN_PROGRESS, COMPLETED, ISSUES = "to-do", "in progress", "completed", "completed with issues"
DERIVED_STATUSES = (TODO, IN_PROGRESS, COMPLETED, ISSUES)
STRATIFY_KEYS = ("annotator", "label")
REVIEW_ORIGIN = "review"


@dataclass(frozen=True)
class TaskState:
    task_uuid: str
    datapoint_id: int
    annotator: str
    kind: str
    status: str  # one of DERIVED_STATUSES


@dataclass
class StatusReport:
    tasks: list[TaskState] = field(default_factory=list)
    assignments: dict[str, str] = field(default_factory=dict)  # annotator: derived status
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # annotator: {status: n}

    def as_dict(self) -> dict[str, Any]:
        return {
            "assignments": {
                name: {"status": status, "tasks": self.counts.get(name, {})}
                for name, status in self.assignments.items()
            }
        }


@dataclass
class SpotCheckReport:
    population: int  # completed annotations that could be sampled
    sampled: int  # annotations drawn
    tasks: int  # review tasks made (one per item)
    strata: dict[str, int] = field(default_factory=dict)  # stratum: annotations drawn

    def summary(self) -> str:
        return (
            f"Spot check: {self.sampled:,} of {self.population:,} completed annotations "
            f"sampled, {self.tasks:,} review tasks created"
        )


# -- custom statuses ------------------------------------------------------------------------


def add_custom_status(
    project: Project, name: str, counts_as: str = "approve", description: str = ""
) -> str:
    """Define a review status of this project (e.g. "needs-discussion" counting as reject);
    returns its UUID. Names are unique and distinct from approve, reject and discard."""
    name = name.strip()
    if not name or len(name) > 32:
        raise ProjectError("a status needs a name of 1 to 32 characters")
    if name in REVIEW_DECISIONS:
        raise ProjectError(f"{name!r} is a built-in review decision")
    if counts_as not in REVIEW_DECISIONS:
        raise ProjectError(f"a custom status counts as one of {', '.join(REVIEW_DECISIONS)}")
    actor = project.local_annotator_id  # before the lock: it may write on its own
    with write_transaction(project.engine) as conn:
        if conn.execute(text("SELECT 1 FROM custom_status WHERE name = :n"), {"n": name}).first():
            raise ProjectError(f"a status named {name!r} already exists")
        uid = new_uuid()
        conn.execute(
            text(
                "INSERT INTO custom_status (uuid, name, counts_as, description, created_at)"
                " VALUES (:uuid, :name, :counts_as, :description, :at)"
            ),
            {
                "uuid": uid,
                "name": name,
                "counts_as": counts_as,
                "description": description,
                "at": now_iso(),
            },
        )
        audit.record(
            conn,
            actor,
            "add",
            "custom_status",
            uid,
            after={"name": name, "counts_as": counts_as},
        )
    return uid


def review_statuses(project: Project) -> dict[str, str]:
    """{decision name: what it counts as}: the built-in decisions, then the custom ones."""
    with project.engine.connect() as conn:
        custom = conn.execute(
            text("SELECT name, counts_as FROM custom_status ORDER BY created_at, uuid")
        ).all()
    out = {d: d for d in REVIEW_DECISIONS}
    for name, counts_as in custom:
        out.setdefault(name, counts_as)
    return out


# -- review tasks and decisions -------------------------------------------------------------


def _reviewable_sql(extra: str = "") -> str:
    return (
        "SELECT a.id, a.uuid, a.datapoint_id, a.annotator_id, n.name, a.value"
        " FROM annotation a JOIN annotator n ON n.id = a.annotator_id"
        " WHERE a.status = 'complete' AND a.origin != 'review' AND a.annotator_id != :reviewer"
        f" AND {visible_id('a.datapoint_id')}"  # never an unfinished import's labels
        f" AND {runs.annotation_visible('a')}"  # nor an unpublished run's
        f"{extra} ORDER BY a.id"
    )


def create_review_tasks(
    project: Project,
    reviewer: int | str,
    *,
    datapoint_ids: Sequence[int] | None = None,
    annotators: Sequence[str] | None = None,
) -> int:
    """A review task for `reviewer` on each item another annotator completed (only these
    items, or only these annotators' work, if given) that they have no open review task on;
    returns how many were made."""
    actor = project.local_annotator_id
    with write_transaction(project.engine) as conn:
        who, who_uuid, _name = find_annotator(conn, reviewer)
        authors = None
        if annotators:
            authors = {find_annotator(conn, key)[0] for key in annotators}
        wanted = None if datapoint_ids is None else set(datapoint_ids)
        items = [
            r.datapoint_id
            for r in conn.execute(text(_reviewable_sql()), {"reviewer": who})
            if (wanted is None or r.datapoint_id in wanted)
            and (authors is None or r.annotator_id in authors)
        ]
        made = create_missing_tasks(conn, who, REVIEW, items, actor)
        if made:
            record_assignment(conn, actor, {"kind": "review", "annotator": who_uuid, "tasks": made})
    return made


def annotations_to_review(
    project: Project, reviewer: int | str, datapoint_id: int
) -> list[dict[str, Any]]:
    """The side-by-side view of a review task: every other annotator's complete annotation of
    the item, with its current review decision (None if not reviewed)."""
    with project.engine.connect() as conn:
        who, _uuid, _name = find_annotator(conn, reviewer)
        reviews = current_reviews(driver_connection(conn))
        rows = conn.execute(
            text(_reviewable_sql(" AND a.datapoint_id = :dp")),
            {"reviewer": who, "dp": datapoint_id},
        ).all()
    out = []
    for _id, uid, _dp, _who, name, value in rows:
        current = reviews.get(uid)
        out.append(
            {
                "annotation_uuid": uid,
                "annotator": name,
                "value": json.loads(value),
                "decision": current[0] if current else None,
            }
        )
    return out


def review(
    project: Project,
    reviewer: int | str,
    annotation_uuid: str,
    decision: str,
    reason: str | None = None,
    correction: Any = None,
) -> str:
    """Record `reviewer`'s decision on an annotation; returns the decision's UUID.

    A rejection (or a custom status counting as one) needs a reason. A `correction` (a value,
    checked like an annotation) goes with a rejection: it is saved as the reviewer's own
    annotation of the item (origin 'review'; one per item, so correcting two annotations of
    one item keeps the newer correction) and linked from the decision. Nobody reviews their
    own annotations."""
    statuses = review_statuses(project)
    if decision not in statuses:
        raise ProjectError(
            f"unknown review decision {decision!r}; choose one of {', '.join(statuses)}"
        )
    counts_as = statuses[decision]
    reason = (reason or "").strip() or None
    if counts_as == "reject" and reason is None:
        raise ProjectError("a rejection needs a reason")
    if correction is not None and counts_as != "reject":
        raise ProjectError("a correction goes with a rejection (decision 'reject')")
    with write_transaction(project.engine) as conn:
        who, _uuid, _name = find_annotator(conn, reviewer)
        target = conn.execute(
            text(
                "SELECT datapoint_id, annotator_id, status, origin FROM annotation"
                f" WHERE uuid = :uuid AND {runs.annotation_visible('annotation')}"
            ),
            {"uuid": annotation_uuid},
        ).first()
        if target is None:
            raise ProjectError(f"no annotation {annotation_uuid}")
        dp_id, author, status, origin = target
        if author == who:
            raise ProjectError("a reviewer cannot review their own annotation")
        if status == "draft":
            raise ProjectError("this annotation is still a draft: nothing to review yet")
        if origin == REVIEW_ORIGIN:
            raise ProjectError("this annotation is a reviewer's correction")
        previous = conn.execute(
            text(
                "SELECT decision, reason, created_at FROM review_decision"
                " WHERE annotation_uuid = :ann"
                " ORDER BY created_at DESC, uuid DESC LIMIT 1"
            ),
            {"ann": annotation_uuid},
        ).first()
        correction_uuid = None
        if correction is not None:
            correction_uuid = _save_correction(conn, project, who, dp_id, correction)
        uid = new_uuid()
        conn.execute(
            text(
                "INSERT INTO review_decision (uuid, annotation_uuid, datapoint_id, reviewer_id,"
                " decision, reason, correction_uuid, created_at) VALUES (:uuid, :ann, :dp,"
                " :who, :decision, :reason, :correction, :at)"
            ),
            {
                "uuid": uid,
                "ann": annotation_uuid,
                "dp": dp_id,
                "who": who,
                "decision": decision,
                "reason": reason,
                "correction": correction_uuid,
                "at": stamp_after(None if previous is None else previous.created_at),
            },
        )
        audit.record(
            conn,
            who,
            "review",
            "review_decision",
            uid,
            before=None
            if previous is None
            else {"decision": previous.decision, "reason": previous.reason},
            after={
                "annotation": annotation_uuid,
                "datapoint": dp_id,
                "decision": decision,
                "reason": reason,
                "correction": correction,
            },
        )
    return uid


def _save_correction(conn: Connection, project: Project, who: int, dp_id: int, value: Any) -> str:
    own = conn.execute(
        text("SELECT origin FROM annotation WHERE datapoint_id = :dp AND annotator_id = :who"),
        {"dp": dp_id, "who": who},
    ).first()
    if own is not None and own[0] != REVIEW_ORIGIN:
        raise ProjectError(
            "you labeled this item yourself: a correction would replace your own annotation"
        )
    schema = current_schema(conn)
    validate_value(
        project,
        schema.label_names,
        value,
        "complete",
        text_lengths(conn, [dp_id]).get(dp_id),
        schema.allow_overlap,
    )
    state = AnnotationState(value, "complete", origin=REVIEW_ORIGIN)
    before = read_states(conn, who, [dp_id]).get(dp_id)
    uid = write_state(conn, project, who, dp_id, state, schema.id)
    conn.execute(DERIVE_STATUS, {"ids": [dp_id]})
    # The reviewer's own annotation, audited like any annotation (keyed by datapoint id).
    audit.record(
        conn,
        who,
        "correct",
        "annotation",
        uid,
        before={str(dp_id): audit_value(before)},
        after={str(dp_id): audit_value(state)},
    )
    return uid  # type: ignore[return-value]


# -- spot checks ----------------------------------------------------------------------------


def spot_check(
    project: Project,
    reviewer: int | str,
    fraction: float = 0.05,
    *,
    seed: int = 0,
    stratify_by: Sequence[str] = ("annotator", "label"),
) -> SpotCheckReport:
    """Review tasks for `reviewer` from a seeded sample of the completed work not reviewed yet.

    The population is every complete annotation by someone else that has no review decision
    and whose item has no open review task of this reviewer; round(fraction × population)
    annotations (half up) are drawn, shared among strata (by annotator and/or label, in
    proportion to their sizes, largest remainder) and sampled within each with `seed`. One
    review task per sampled item. The same seed gives the same tasks."""
    if not 0.0 < fraction <= 1.0:
        raise ProjectError("the spot-check fraction must be above 0 and at most 1")
    unknown = set(stratify_by) - set(STRATIFY_KEYS)
    if unknown:
        raise ProjectError(f"stratify by {' and/or '.join(STRATIFY_KEYS)}, not {sorted(unknown)}")
    rng = random.Random(seed)
    actor = project.local_annotator_id
    task_type = project.task_type
    with write_transaction(project.engine) as conn:
        who, who_uuid, _name = find_annotator(conn, reviewer)
        reviewed = {r[0] for r in conn.execute(text("SELECT annotation_uuid FROM review_decision"))}
        queued = tasked_datapoints(conn, REVIEW, who)
        strata: dict[tuple[str, ...], list[int]] = {}
        for _id, uid, dp_id, _author, name, value in conn.execute(
            text(_reviewable_sql()), {"reviewer": who}
        ):
            if uid in reviewed or dp_id in queued:
                continue
            key = []
            for by in stratify_by:
                if by == "annotator":
                    key.append(name)
                else:
                    key.append(
                        "|".join(sorted(LabelParser.labels_of(json.loads(value), task_type)))
                    )
            strata.setdefault(tuple(key), []).append(dp_id)
        names = sorted(strata)
        sizes = [len(strata[k]) for k in names]
        population = sum(sizes)
        total = min(population, round_half_up(fraction * population))
        shares = largest_remainder(total, sizes)
        picked: list[int] = []
        report_strata = {}
        for key, share in zip(names, shares, strict=True):
            members = strata[key]
            picked.extend(members[i] for i in sorted(rng.sample(range(len(members)), share)))
            if share:
                report_strata["/".join(key) or "all"] = share
        made = create_missing_tasks(conn, who, REVIEW, sorted(picked), actor)
        audit.record(
            conn,
            actor,
            "spot-check",
            "task",
            None,
            after={
                "reviewer": who_uuid,
                "fraction": fraction,
                "seed": seed,
                "stratify_by": list(stratify_by),
                "sampled": len(picked),
                "tasks": made,
            },
        )
    return SpotCheckReport(population, len(picked), made, report_strata)


# -- derived status -------------------------------------------------------------------------


def _open_rejection(reviews: dict, uid: str | None, updated_at: str | None) -> bool:
    current = reviews.get(uid) if uid else None
    return bool(
        current is not None
        and current[0] == "reject"
        and current[1] is None
        and updated_at is not None
        and updated_at <= current[2]
    )


def task_status(project: Project, annotator: int | str | None = None) -> StatusReport:
    """The derived status of every open or done task (of one annotator, if given) and of each
    annotator's assignment, by the rules of the module doc."""
    report = StatusReport()
    with project.engine.connect() as conn:
        raw = driver_connection(conn)
        who = None if annotator is None else find_annotator(conn, annotator)[0]
        reviews = current_reviews(raw)
        flagged = {r[0] for r in raw.execute("SELECT id FROM datapoint WHERE flagged = 1")}
        decided = set(raw.execute("SELECT annotation_uuid, reviewer_id FROM review_decision"))
        adjudicated = set(raw.execute("SELECT datapoint_id, decided_by FROM adjudication"))
        under_review: dict[int, list[tuple[int, str, str]]] = {}
        # an unpublished run's tasks and annotations are not there yet (app.core.storage.runs)
        tasks_shown = runs.and_visible(runs.task_where(raw, "task"))
        notes_shown = runs.and_visible(runs.annotation_where(raw, "annotation"))
        for dp_id, author, uid, updated in raw.execute(
            "SELECT datapoint_id, annotator_id, uuid, updated_at FROM annotation"
            f" WHERE status = 'complete' AND origin != 'review'{notes_shown} AND datapoint_id IN"
            " (SELECT datapoint_id FROM task WHERE kind = 'review' AND status != 'cancelled'"
            f"{tasks_shown})"
        ):
            under_review.setdefault(dp_id, []).append((author, uid, updated))
        where = "" if who is None else " AND t.annotator_id = ?"
        cursor = raw.execute(
            "SELECT t.uuid, t.datapoint_id, t.annotator_id, n.name, t.kind, a.uuid, a.status,"
            " a.updated_at FROM task t JOIN annotator n ON n.id = t.annotator_id"
            " LEFT JOIN annotation a ON a.datapoint_id = t.datapoint_id"
            f" AND a.annotator_id = t.annotator_id{runs.and_visible(runs.annotation_where(raw))}"
            f" WHERE t.status != 'cancelled'{where}{runs.and_visible(runs.task_where(raw))}"
            " ORDER BY t.annotator_id, t.id",
            () if who is None else (who,),
        )
        for task_uuid, dp_id, task_who, name, kind, ann_uuid, ann_status, updated in cursor:
            issue = dp_id in flagged
            if kind == "review":
                others = [o for o in under_review.get(dp_id, []) if o[0] != task_who]
                done = sum(1 for o in others if (o[1], task_who) in decided)
                if not others or done == 0:
                    status = TODO
                elif done < len(others):
                    status = IN_PROGRESS
                else:
                    status = COMPLETED
                issue = issue or any(_open_rejection(reviews, o[1], o[2]) for o in others)
            elif kind == "adjudicate":
                status = COMPLETED if (dp_id, task_who) in adjudicated else TODO
            elif ann_status is None:
                status = TODO
            elif ann_status == "draft":
                status = IN_PROGRESS
            else:
                status = COMPLETED
                issue = issue or _open_rejection(reviews, ann_uuid, updated)
            if status == COMPLETED and issue:
                status = ISSUES
            report.tasks.append(TaskState(task_uuid, dp_id, name, kind, status))
            counts = report.counts.setdefault(name, dict.fromkeys(DERIVED_STATUSES, 0))
            counts[status] += 1
    for name, counts in report.counts.items():
        total = sum(counts.values())
        if counts[TODO] == total:
            report.assignments[name] = TODO
        elif counts[COMPLETED] + counts[ISSUES] == total:
            report.assignments[name] = ISSUES if counts[ISSUES] else COMPLETED
        else:
            report.assignments[name] = IN_PROGRESS
    return report
