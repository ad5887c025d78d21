"""Annotators and tasks: register the team, share out the data, move open work, and write
one assignment bundle per annotator.

The arithmetic of `generate_tasks`, exactly (N = datapoints without a task of that kind;
for label tasks, gold items are never in the pool):

- selected items S = round(fraction × N), half up;
- of those, O = round(overlap_fraction × S) items are labeled by `per_item` annotators each
  and the other S − O by one, so there are O × per_item + (S − O) tasks;
- annotators take the tasks in turn (round robin over their list, an item's annotators
  always distinct), so their loads differ by at most one task;
- selection is a seeded random sample, or stratified: the strata (the datapoints' existing
  labels, or their datasets) get shares of S and O in proportion to their sizes (largest
  remainder), then a seeded sample within each. The same seed gives the same tasks.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from app.core.audit import chain as audit
from app.core.errors import ProjectError
from app.core.ids import new_uuid, now_iso
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.annotators import ROLES, ensure_annotator, find_annotator
from app.core.project.project import Project

TASK_KINDS = ("label", "review", "adjudicate", "gold", "qualification")
STRATA = ("label", "dataset")
BATCH = 20_000


@dataclass(frozen=True)
class AnnotatorInfo:
    id: int
    uuid: str
    name: str
    role: str
    created_at: str
    open_tasks: int = 0
    done_tasks: int = 0


@dataclass
class AssignmentReport:
    pool: int  # datapoints that had no task of this kind
    selected: int  # S
    overlap_items: int  # O
    per_item: int
    tasks: int
    per_annotator: dict[str, int] = field(default_factory=dict)  # name: tasks
    strata: dict[str, int] = field(default_factory=dict)  # stratum: selected items

    def summary(self) -> str:
        loads = ", ".join(f"{name} {n:,}" for name, n in self.per_annotator.items())
        return (
            f"Assigned {self.selected:,} of {self.pool:,} items ({self.overlap_items:,} to "
            f"{self.per_item} annotators each): {self.tasks:,} tasks ({loads})"
        )


@dataclass
class ReassignReport:
    moved: int
    already_theirs: int
    source: str
    target: str

    def summary(self) -> str:
        extra = (
            f"; {self.already_theirs:,} were already {self.target}'s and were closed"
            if self.already_theirs
            else ""
        )
        return f"Reassigned {self.moved:,} open tasks from {self.source} to {self.target}{extra}"


def list_annotators(project: Project) -> list[AnnotatorInfo]:
    """Every annotator of the project, with their open (todo) and done task counts."""
    with project.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.id, a.uuid, a.name, a.role, a.created_at,"
                " (SELECT count(*) FROM task t WHERE t.annotator_id = a.id"
                "  AND t.status = 'todo'),"
                " (SELECT count(*) FROM task t WHERE t.annotator_id = a.id"
                "  AND t.status = 'done')"
                " FROM annotator a ORDER BY a.id"
            )
        )
        return [AnnotatorInfo(*row) for row in rows]


def add_annotator(project: Project, name: str, role: str = "annotator") -> AnnotatorInfo:
    """Register an annotator (a new UUID). Names must be unique: commands refer to them."""
    name = name.strip()
    if not name:
        raise ProjectError("an annotator needs a name")
    if role not in ROLES:
        raise ProjectError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    actor = project.local_annotator_id
    with project.engine.begin() as conn:
        taken = conn.execute(
            text("SELECT 1 FROM annotator WHERE name = :name"), {"name": name}
        ).first()
        if taken:
            raise ProjectError(f"an annotator named {name!r} already exists")
        uid = new_uuid()
        new_id = ensure_annotator(conn, uid, name, role)
        audit.record(conn, actor, "add", "annotator", uid, after={"name": name, "role": role})
        row = conn.execute(
            text("SELECT id, uuid, name, role, created_at FROM annotator WHERE id = :id"),
            {"id": new_id},
        ).one()
    return AnnotatorInfo(*row)


def _round(x: float) -> int:
    return math.floor(x + 0.5 + 1e-9)


def _largest_remainder(total: int, weights: list[int], caps: list[int] | None = None) -> list[int]:
    """Integers summing to `total`, proportional to `weights` (largest remainder method),
    each at most its cap."""
    caps = caps or weights
    whole = sum(weights)
    if whole == 0 or total == 0:
        return [0] * len(weights)
    quotas = [total * w / whole for w in weights]
    shares = [min(math.floor(q), c) for q, c in zip(quotas, caps, strict=True)]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - math.floor(quotas[i])), i))
    left = total - sum(shares)
    while left > 0:
        progressed = False
        for i in order:
            if left and shares[i] < caps[i]:
                shares[i] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return shares


def generate_tasks(
    project: Project,
    annotators: Sequence[str],
    *,
    fraction: float = 1.0,
    overlap_fraction: float = 0.0,
    per_item: int = 2,
    stratify: str | None = None,
    seed: int = 0,
    kind: str = "label",
    force: bool = False,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> AssignmentReport:
    """Share the datapoints that have no `kind` task yet among `annotators` (names or UUIDs),
    as the module doc says; one transaction. Returns the counts.

    Label tasks (real work) go only to annotators who passed every qualification set of the
    project (app.core.quality.gold), unless `force`. Gold items are left out of the label pool: they
    reach annotators only as gold tasks (app.core.quality.gold.mix_gold_into_tasks)."""
    if not 0.0 <= fraction <= 1.0:
        raise ProjectError("the fraction must be between 0 and 1")
    if not 0.0 <= overlap_fraction <= 1.0:
        raise ProjectError("the overlap fraction must be between 0 and 1")
    if kind not in TASK_KINDS:
        raise ProjectError(f"unknown task kind {kind!r}; choose one of {', '.join(TASK_KINDS)}")
    if stratify is not None and stratify not in STRATA:
        raise ProjectError(f"stratify by one of {', '.join(STRATA)}, not {stratify!r}")
    if not annotators:
        raise ProjectError("name at least one annotator")
    if len(set(annotators)) != len(annotators):
        raise ProjectError("an annotator is named twice")
    actor = project.local_annotator_id
    rng = random.Random(seed)
    with project.engine.begin() as conn:
        team = [find_annotator(conn, key) for key in annotators]
        if len({t[0] for t in team}) != len(team):
            raise ProjectError("an annotator is named twice")
        if kind == "label" and not force:
            from app.core.quality.gold import unqualified

            missing = unqualified(conn, [t[0] for t in team])
            if missing:
                who = ", ".join(f"{name} ({set_name!r})" for name, set_name in missing)
                raise ProjectError(
                    f"not qualified yet: {who}; they must pass the qualification set first"
                    " (tagloop qualify), or assign with force"
                )
        if overlap_fraction > 0 and not 1 <= per_item <= len(team):
            raise ProjectError(
                f"{per_item} annotators per item needs at least {per_item} annotators "
                f"(there are {len(team)})"
            )
        raw = conn.connection.driver_connection
        pool = array("q")
        # Gold items' answers are known: they reach annotators only as unannounced gold
        # tasks (app.core.quality.gold.mix_gold_into_tasks), never as ordinary label work.
        no_gold = " AND id NOT IN (SELECT datapoint_id FROM gold_item)" if kind == "label" else ""
        cursor = raw.execute(
            "SELECT id FROM datapoint WHERE id NOT IN (SELECT datapoint_id FROM task"
            f" WHERE kind = ? AND status != 'cancelled'){no_gold} ORDER BY id",
            (kind,),
        )
        while rows := cursor.fetchmany(BATCH):
            pool.extend(r[0] for r in rows)
            check_cancel(cancel)
        n = len(pool)
        selected_count = min(n, _round(fraction * n))
        overlap_count = min(selected_count, _round(overlap_fraction * selected_count))
        if overlap_count == 0:
            per_item = 1
        progress(0, selected_count, "Choosing items")

        strata_report: dict[str, int] = {}
        if stratify is None:
            picks = rng.sample(range(n), selected_count)
            overlap = [pool[i] for i in picks[:overlap_count]]
            single = [pool[i] for i in picks[overlap_count:]]
        else:
            keys = _strata(raw, pool, stratify)
            names = sorted(keys)
            sizes = [len(keys[k]) for k in names]
            shares = _largest_remainder(selected_count, sizes)
            overlaps = _largest_remainder(overlap_count, shares)
            overlap, single = [], []
            for name, members, share, extra in zip(
                names, (keys[k] for k in names), shares, overlaps, strict=True
            ):
                picks = rng.sample(range(len(members)), share)
                overlap.extend(members[i] for i in picks[:extra])
                single.extend(members[i] for i in picks[extra:])
                if share:
                    strata_report[name] = share
            rng.shuffle(overlap)
            rng.shuffle(single)

        loads = {t[2]: 0 for t in team}
        created = now_iso()
        pointer = 0
        count = 0

        def tasks():
            nonlocal pointer, count
            for items, k in ((overlap, per_item), (single, 1)):
                for dp_id in items:
                    for j in range(k):
                        member = team[(pointer + j) % len(team)]
                        loads[member[2]] += 1
                        count += 1
                        yield (new_uuid(), dp_id, member[0], kind, created)
                    pointer = (pointer + k) % len(team)
                    if count % BATCH < k:
                        check_cancel(cancel)
                        progress(count, None, "Creating tasks")

        before_tasks = audit.last_task_id(raw)
        raw.executemany(
            "INSERT INTO task (uuid, datapoint_id, annotator_id, kind, status, created_at)"
            " VALUES (?, ?, ?, ?, 'todo', ?)",
            tasks(),
        )
        audit.record_tasks(raw, actor, "create", after_id=before_tasks)
        report = AssignmentReport(
            n, selected_count, overlap_count, per_item, count, loads, strata_report
        )
        audit.record(
            conn,
            actor,
            "assign",
            "task",
            None,
            after={
                "annotators": [t[1] for t in team],
                "fraction": fraction,
                "overlap_fraction": overlap_fraction,
                "per_item": per_item,
                "stratify": stratify,
                "seed": seed,
                "kind": kind,
                "selected": selected_count,
                "overlap_items": overlap_count,
                "tasks": count,
            },
        )
    progress(count, count, report.summary())
    return report


def _strata(raw, pool: array, by: str) -> dict[str, list[int]]:
    """The pool's datapoints grouped by dataset, or by existing label ('' if none; the sorted
    distinct labels joined by '|' where several)."""
    groups: dict[str, list[int]] = {}
    if by == "dataset":
        names = dict(raw.execute("SELECT id, uuid FROM dataset"))
        of = dict(raw.execute("SELECT id, dataset_id FROM datapoint"))
        for dp_id in pool:
            groups.setdefault(names[of[dp_id]], []).append(dp_id)
        return groups
    labels: dict[int, set[str]] = {}
    for dp_id, label in raw.execute("SELECT datapoint_id, label FROM annotation_label"):
        labels.setdefault(dp_id, set()).add(label)
    for dp_id in pool:
        found = labels.get(dp_id)
        groups.setdefault("|".join(sorted(found)) if found else "", []).append(dp_id)
    return groups


def reassign(
    project: Project,
    source: str,
    target: str,
    *,
    kind: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> ReassignReport:
    """Move `source`'s open (todo) tasks to `target` (names or UUIDs), in one transaction.

    Each moved task is closed (status cancelled, so the record of who had it stays) and a
    new one is made for the target; where the target already has that task, it is only
    closed. Do it before the assignment bundles are exported: work the source does in a
    bundle they already hold still merges, as theirs.
    """
    actor = project.local_annotator_id
    with project.engine.begin() as conn:
        src = find_annotator(conn, source)
        dst = find_annotator(conn, target)
        if src[0] == dst[0]:
            raise ProjectError("reassign from and to the same annotator")
        raw = conn.connection.driver_connection
        where = " AND kind = ?" if kind else ""
        params = (src[0], kind) if kind else (src[0],)
        open_tasks = raw.execute(
            f"SELECT id, datapoint_id, kind FROM task WHERE annotator_id = ? AND status = 'todo'"
            f"{where} ORDER BY id",
            params,
        ).fetchall()
        theirs = set(
            raw.execute(
                "SELECT datapoint_id, kind FROM task WHERE annotator_id = ?"
                " AND status != 'cancelled'",
                (dst[0],),
            ).fetchall()
        )
        created = now_iso()
        moved = already = 0
        before_tasks = audit.last_task_id(raw)
        for n, (task_id, dp_id, task_kind) in enumerate(open_tasks, 1):
            raw.execute("UPDATE task SET status = 'cancelled' WHERE id = ?", (task_id,))
            if (dp_id, task_kind) in theirs:
                already += 1
            else:
                raw.execute(
                    "INSERT INTO task (uuid, datapoint_id, annotator_id, kind, status,"
                    " created_at) VALUES (?, ?, ?, ?, 'todo', ?)",
                    (new_uuid(), dp_id, dst[0], task_kind, created),
                )
                moved += 1
            if n % BATCH == 0:
                check_cancel(cancel)
                progress(n, len(open_tasks), "Reassigning")
        audit.record_tasks(raw, actor, "cancel", task_ids=[row[0] for row in open_tasks])
        audit.record_tasks(raw, actor, "create", after_id=before_tasks)
        audit.record(
            conn,
            actor,
            "reassign",
            "task",
            None,
            before={"annotator": src[1]},
            after={"annotator": dst[1], "moved": moved, "closed": already},
        )
    return ReassignReport(moved, already, src[2], dst[2])


def export_assignment_bundles(
    project: Project,
    outdir: Path,
    *,
    annotators: Sequence[str] | None = None,
    passphrase: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> list:
    """One assignment bundle per annotator with open or done tasks (or per named annotator),
    written into `outdir` as PROJECT-NAME.tlbundle; returns their ExportReports."""
    from app.core.bundle.export import bundle_name, export_assignment_bundle

    outdir = Path(outdir)
    with project.engine.connect() as conn:
        if annotators:
            team = [find_annotator(conn, key) for key in annotators]
        else:
            team = [
                tuple(r)
                for r in conn.execute(
                    text(
                        "SELECT id, uuid, name FROM annotator WHERE id IN (SELECT annotator_id"
                        " FROM task WHERE status != 'cancelled') ORDER BY id"
                    )
                )
            ]
    if not team:
        raise ProjectError("no annotator has tasks yet: generate tasks first (tagloop assign)")
    reports = []
    used: set[str] = set()
    for i, (_id, uid, name) in enumerate(team):
        file_name = bundle_name(project, name)
        if file_name in used:
            file_name = file_name.replace(".tlbundle", f"-{uid[:8]}.tlbundle")
        used.add(file_name)

        def step(done, total, message, i=i):
            progress(i, len(team), message)

        reports.append(
            export_assignment_bundle(
                project,
                outdir / file_name,
                uid,
                passphrase=passphrase,
                progress=step,
                cancel=cancel,
            )
        )
    progress(len(team), len(team), f"Wrote {len(reports)} assignment bundles to {outdir}")
    return reports
