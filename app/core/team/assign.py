"""Annotators and assignments: register the team, share out the data, move open work.

(The assignment bundles that carry the work to each annotator are written by
app.core.bundle.assignments.)

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

import random
import sqlite3
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from app.core import audit
from app.core.errors import Cancelled, ProjectError
from app.core.ids import new_uuid, now_iso
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.annotators import ROLES, ensure_annotator, find_annotator, name_problem
from app.core.project.project import Project
from app.core.storage import runs
from app.core.storage.retry import write_transaction
from app.core.storage.sqlite import driver_connection
from app.core.storage.visibility import snapshot, visible
from app.core.team import runtasks
from app.core.team.eligibility import unqualified
from app.core.team.tasks import (
    LABEL,
    TASK_KINDS,
    NewTask,
    largest_remainder,
    record_assignment,
    round_half_up,
)

AnnotatorRef = tuple[int, str, str]  # (id, uuid, name), as find_annotator gives it
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
    closing_stopped: bool = False  # Cancel came during the close settle (runs.close)

    def summary(self) -> str:
        extra = (
            f"; {self.already_theirs:,} were already {self.target}'s and were closed"
            if self.already_theirs
            else ""
        )
        if self.closing_stopped:
            extra += (
                ". Cancel came after the move was saved: it stands, and the moved tasks count"
                " as closed; their stored status is finished when the project next opens"
            )
        return f"Reassigned {self.moved:,} open tasks from {self.source} to {self.target}{extra}"


def list_annotators(project: Project) -> list[AnnotatorInfo]:
    """Every annotator of the project, with their open (todo) and done task counts."""
    with project.engine.connect() as conn:
        shown = runs.and_visible(runs.task_where(conn))  # not an unpublished run's tasks
        rows = conn.execute(
            text(
                "SELECT a.id, a.uuid, a.name, a.role, a.created_at,"
                " (SELECT count(*) FROM task t WHERE t.annotator_id = a.id"
                f"  AND t.status = 'todo'{shown}),"
                " (SELECT count(*) FROM task t WHERE t.annotator_id = a.id"
                f"  AND t.status = 'done'{shown})"
                " FROM annotator a ORDER BY a.id"
            )
        )
        return [AnnotatorInfo(*row) for row in rows]


def add_annotator(project: Project, name: str, role: str = "annotator") -> AnnotatorInfo:
    """Register an annotator (a new UUID). Names must be unique: commands refer to them."""
    name = name.strip()
    if not name:
        raise ProjectError("an annotator needs a name")
    problem = name_problem(name)
    if problem:
        raise ProjectError(problem)
    if role not in ROLES:
        raise ProjectError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    actor = project.local_annotator_id
    with write_transaction(project.engine) as conn:
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


@dataclass
class _Selection:
    """The items generate_tasks chose: those for `per_item` annotators, those for one, and how
    many each stratum gave (empty without strata)."""

    overlap: list[int]
    single: list[int]
    strata: dict[str, int] = field(default_factory=dict)


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
    as the module doc says. Returns the counts.

    Decided from one read snapshot, written as a write run in short chunks and published with
    its one audit event in a last short transaction (app.core.team.runtasks), which refuses if
    another writer gave any of the chosen items a `kind` task meanwhile or the team no longer
    qualifies: all or nothing, and the lock is never held long.

    Label tasks (real work) go only to annotators who passed every qualification set of the
    project (app.core.team.eligibility), unless `force`. Gold items are left out of the label
    pool: they reach annotators only as gold tasks (app.core.quality.gold.mix_gold_into_tasks)."""
    _check_arguments(annotators, fraction, overlap_fraction, kind, stratify)
    actor = project.local_annotator_id  # a write the first time: never under the run's lock
    rng = random.Random(seed)
    with project.engine.connect() as conn:
        snapshot(conn)  # one read state for the team, the pool and the strata
        seen = runtasks.seen_tasks(conn)
        team = _team(conn, annotators, kind, force)
        if overlap_fraction > 0 and not 1 <= per_item <= len(team):
            raise ProjectError(
                f"{per_item} annotators per item needs at least {per_item} annotators "
                f"(there are {len(team)})"
            )
        pool = _pool(conn, kind, cancel)
        n = len(pool)
        selected_count = min(n, round_half_up(fraction * n))
        overlap_count = min(selected_count, round_half_up(overlap_fraction * selected_count))
        if overlap_count == 0:
            per_item = 1
        progress(0, selected_count, "Choosing items")
        if stratify is None:
            chosen = _sample(pool, selected_count, overlap_count, rng)
        else:
            chosen = _sample_strata(
                _strata(conn, pool, stratify), selected_count, overlap_count, rng
            )
    del pool
    loads = {member[2]: 0 for member in team}
    total = overlap_count * per_item + selected_count - overlap_count
    what = {
        "annotators": [member[1] for member in team],
        "fraction": fraction,
        "overlap_fraction": overlap_fraction,
        "per_item": per_item,
        "stratify": stratify,
        "seed": seed,
        "kind": kind,
        "selected": selected_count,
        "overlap_items": overlap_count,
    }

    def finish(sa_conn: Connection, raw: sqlite3.Connection, run: runtasks.TaskRun) -> None:
        """Under the lock: the team still qualifies, no chosen item got a task meanwhile."""
        if [member[0] for member in _team(sa_conn, annotators, kind, force)] != [
            member[0] for member in team
        ]:
            raise ProjectError("the team changed while the tasks were being written; try again")
        runtasks.refuse_duplicates(_clashes(raw, seen, run, kind, chosen), kind)
        what.update(tasks=run.count, task_uuid_prefix=run.prefix)
        record_assignment(sa_conn, actor, what)

    tasks = _round_robin(team, chosen, per_item, kind, now_iso(), loads)
    run = runtasks.write_run(project, "assign", tasks, total, finish, progress, cancel)
    report = AssignmentReport(
        n, selected_count, overlap_count, per_item, run.count, loads, chosen.strata
    )
    progress(run.count, run.count, report.summary())
    return report


def _clashes(
    raw: sqlite3.Connection,
    seen: runtasks.Seen,
    run: runtasks.TaskRun,
    kind: str,
    chosen: _Selection,
) -> int:
    """How many chosen items got a `kind` task from another writer since the snapshot; with
    gold items made meanwhile too, for label tasks (gold never goes out as label work)."""
    since = runtasks.made_since(raw, seen, run, kind)
    if kind == LABEL:
        since.update(row[0] for row in raw.execute("SELECT datapoint_id FROM gold_item"))
    if not since:
        return 0
    return sum(1 for items in (chosen.overlap, chosen.single) for dp in items if dp in since)


def _check_arguments(
    annotators: Sequence[str],
    fraction: float,
    overlap_fraction: float,
    kind: str,
    stratify: str | None,
) -> None:
    """Refuse what generate_tasks cannot do, before it opens a transaction."""
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


def _team(
    conn: Connection, annotators: Sequence[str], kind: str, force: bool
) -> list[AnnotatorRef]:
    """The named annotators, each once; for label work, only if every one of them qualified."""
    team = [find_annotator(conn, key) for key in annotators]
    if len({member[0] for member in team}) != len(team):
        raise ProjectError("an annotator is named twice")
    if kind == LABEL and not force:
        missing = unqualified(conn, [member[0] for member in team])
        if missing:
            who = ", ".join(f"{name} ({set_name!r})" for name, set_name in missing)
            raise ProjectError(
                f"not qualified yet: {who}; they must pass the qualification set first"
                " (tagloop qualify), or assign with force"
            )
    return team


def _pool(conn: Connection, kind: str, cancel: CancelCheck) -> array:
    """The ids of the datapoints without a (not cancelled) task of this kind, in id order, as a
    compact array: a million of them take 8 MB, not a list of Python ints."""
    pool = array("q")
    # Gold items' answers are known: they reach annotators only as unannounced gold
    # tasks (app.core.quality.gold.mix_gold_into_tasks), never as ordinary label work.
    no_gold = " AND id NOT IN (SELECT datapoint_id FROM gold_item)" if kind == LABEL else ""
    # an unpublished run's tasks are not there yet (if it publishes first, ours is refused)
    shown = runs.and_visible(runs.task_where(conn, "task"))
    cursor = driver_connection(conn).execute(
        "SELECT id FROM datapoint WHERE id NOT IN (SELECT datapoint_id FROM task"
        f" WHERE kind = ? AND status != 'cancelled'{shown}){no_gold} AND {visible('datapoint')}"
        " ORDER BY id",
        (kind,),
    )
    while rows := cursor.fetchmany(BATCH):
        pool.extend(r[0] for r in rows)
        check_cancel(cancel)
    return pool


def _sample(pool: array, selected: int, overlap: int, rng: random.Random) -> _Selection:
    """A seeded random sample of the pool: its first `overlap` items go to several annotators."""
    picks = rng.sample(range(len(pool)), selected)
    return _Selection([pool[i] for i in picks[:overlap]], [pool[i] for i in picks[overlap:]])


def _sample_strata(
    strata: dict[str, list[int]], selected: int, overlap: int, rng: random.Random
) -> _Selection:
    """A stratified sample: each stratum's share of the selected and the overlap items in
    proportion to its size (largest remainder), then a seeded sample within each."""
    names = sorted(strata)
    sizes = [len(strata[k]) for k in names]
    shares = largest_remainder(selected, sizes)
    overlaps = largest_remainder(overlap, shares)
    chosen = _Selection([], [])
    for name, share, extra in zip(names, shares, overlaps, strict=True):
        members = strata[name]
        picks = rng.sample(range(len(members)), share)
        chosen.overlap.extend(members[i] for i in picks[:extra])
        chosen.single.extend(members[i] for i in picks[extra:])
        if share:
            chosen.strata[name] = share
    rng.shuffle(chosen.overlap)
    rng.shuffle(chosen.single)
    return chosen


def _round_robin(
    team: list[AnnotatorRef],
    chosen: _Selection,
    per_item: int,
    kind: str,
    created: str,
    loads: dict[str, int],
) -> Iterator[NewTask]:
    """The tasks, streamed: annotators take the items in turn (an overlap item's `per_item`
    annotators are consecutive, so distinct); `loads` counts each annotator's tasks."""
    pointer = 0
    for items, k in ((chosen.overlap, per_item), (chosen.single, 1)):
        for dp_id in items:
            for j in range(k):
                member = team[(pointer + j) % len(team)]
                loads[member[2]] += 1
                yield (dp_id, member[0], kind, created)
            pointer = (pointer + k) % len(team)


def _strata(conn: Connection, pool: array, by: str) -> dict[str, list[int]]:
    """The pool's datapoints grouped by dataset, or by existing label ('' if none; the sorted
    distinct labels joined by '|' where several)."""
    raw = driver_connection(conn)
    groups: dict[str, list[int]] = {}
    if by == "dataset":
        names = dict(raw.execute("SELECT id, uuid FROM dataset"))
        of = dict(raw.execute("SELECT id, dataset_id FROM datapoint"))
        for dp_id in pool:
            groups.setdefault(names[of[dp_id]], []).append(dp_id)
        return groups
    labels: dict[int, set[str]] = {}
    shown = runs.and_visible(runs.label_where(raw, "al"))
    for dp_id, label in raw.execute(
        f"SELECT datapoint_id, label FROM annotation_label al WHERE 1{shown}"
    ):
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
    """Move `source`'s open (todo) tasks to `target` (names or UUIDs), all or nothing.

    Each moved task is closed (status cancelled, so the record of who had it stays) and a
    new one is made for the target; where the target already has that task, it is only
    closed. Do it before the assignment bundles are exported: work the source does in a
    bundle they already hold still merges, as theirs.

    Decided from one read snapshot, then written as a write run (app.core.team.runtasks), never
    holding the lock long: the source's tasks are marked as closed by the run in short chunks
    (they stay open meanwhile), the target's new tasks written in short chunks, and the last
    short transaction only re-checks (the marked tasks all still open, nothing of the target's
    made meanwhile), writes the one "reassign" event (the new tasks' UUID prefix, the counts)
    and publishes: from then on every read counts the marked tasks as closed and sees the new
    ones. It refuses, with nothing written, if the source's open tasks or the target's tasks
    changed meanwhile. The close settle then writes 'cancelled' over the moved tasks in short
    steps ("Closing moved tasks", runs.close); a Cancel there stops it with the reassignment
    done (the summary says so), and the next open finishes it, as it does after a kill.
    """
    actor = project.local_annotator_id  # a write the first time: never under the run's lock
    where = (" AND kind = ?" if kind else "") + f" AND {runs.task_visible('task')}"
    with project.engine.connect() as conn:
        snapshot(conn)
        seen = runtasks.seen_tasks(conn)
        src = find_annotator(conn, source)
        dst = find_annotator(conn, target)
        if src[0] == dst[0]:
            raise ProjectError("reassign from and to the same annotator")
        open_sql = f"FROM task WHERE annotator_id = ? AND status = 'todo' AND id <= ?{where}"
        params = (src[0], seen.top, *([kind] if kind else []))
        ids, open_tasks, theirs = _moving(driver_connection(conn), open_sql, params, dst[0])
    created = now_iso()
    moved = [(dp, dst[0], k, created) for dp, k in open_tasks if (dp, k) not in theirs]
    already = len(open_tasks) - len(moved)
    del theirs
    changed = ProjectError(
        f"{src[2]}'s open tasks changed while they were being moved; nothing was"
        " reassigned. Please try again."
    )

    def finish(sa_conn: Connection, raw: sqlite3.Connection, run: runtasks.TaskRun) -> None:
        """Under the lock: the marked tasks all still open, none of the source's from a run
        that was loading at the snapshot, no new task of the target's; then the event."""
        if run.marked != len(ids) or runs.marked_open(raw, run.id) != len(ids):
            raise changed
        if (
            seen.loading
            and raw.execute(
                f"SELECT 1 {open_sql} AND run_id IN ({','.join('?' * len(seen.loading))}) LIMIT 1",
                (*params, *seen.loading),
            ).fetchone()
        ):
            raise changed  # work given to the source then, published since: not in our count
        since = runtasks.made_since(raw, seen, run, None, dst[0])
        if since and any(dp in since for dp, _k in open_tasks):
            raise ProjectError(
                f"{dst[2]} was given some of these items meanwhile; nothing was reassigned."
                " Please try again."
            )
        audit.record(
            sa_conn,
            actor,
            "reassign",
            "task",
            None,
            before={"annotator": src[1]},
            after={
                "annotator": dst[1],
                "moved": run.count,
                "closed": already,
                "task_uuid_prefix": run.prefix,
            },
        )

    run = runtasks.write_run(
        project, "reassign", moved, len(moved), finish, progress, cancel, closes=ids
    )
    report = ReassignReport(len(moved), already, src[2], dst[2])
    try:
        runs.close(
            project.engine,
            run.id,
            lambda done: progress(done, len(ids), "Closing moved tasks"),
            cancel,
        )
    except Cancelled:
        report.closing_stopped = True
    return report


def _moving(
    raw: sqlite3.Connection, open_sql: str, params: tuple, target_id: int
) -> tuple[array, list[tuple[int, str]], set[tuple[int, str]]]:
    """In reassign's read snapshot: the ids and (datapoint, kind) of the open tasks to move
    (`open_sql` with `params`), and the (datapoint, kind) of the target's tasks."""
    ids, open_tasks = array("q"), []
    for task_id, dp_id, task_kind in raw.execute(
        f"SELECT id, datapoint_id, kind {open_sql} ORDER BY id", params
    ):
        ids.append(task_id)
        open_tasks.append((dp_id, task_kind))
    theirs = set(
        raw.execute(
            "SELECT datapoint_id, kind FROM task WHERE annotator_id = ?"
            f" AND status != 'cancelled' AND {runs.task_visible('task')}",
            (target_id,),
        ).fetchall()
    )
    return ids, open_tasks, theirs
