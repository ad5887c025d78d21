"""What each kind of bundle holds (project, assignment, work), as SQL conditions that the
export (app.core.bundle.export) puts into every member's query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.storage import runs
from app.core.storage.tables import DatapointStatus

FINISHED = "('complete', 'skipped', 'discarded')"


@dataclass(frozen=True)
class Selection:
    """What a kind of bundle holds, as SQL conditions over the tables' usual aliases."""

    kind: str
    datapoints: str | None  # over `d` (datapoint); None: the member is left out
    annotations: str | None  # over `a`
    history: str | None  # over `h`
    tasks: str | None  # over `t`
    comments: str | None  # over `c`
    flags: str | None  # over `f`
    audit: str | None  # over `e`
    task_status: str = "t.status"
    task_kind: str = "t.kind"
    datapoint_status: str = "d.status"
    datapoint_flagged: str = "d.flagged"
    params: dict[str, Any] = field(default_factory=dict)


def project_selection() -> Selection:
    """A whole project: every row."""
    return Selection("project", "1", "1", "1", "1", "1", "1", "1")


def assignment_selection(annotator_id: int) -> Selection:
    """One annotator's assignment: their items, tasks and own work on them."""
    # Never an unpublished run's tasks or annotations (app.core.storage.runs).
    shown = runs.task_visible("task")
    assigned = (
        "SELECT datapoint_id FROM task WHERE annotator_id = :who AND status != 'cancelled'"
        f" AND {shown}"
    )
    # A reviewer or adjudicator sees the other annotators' complete annotations of their items.
    examined = f"{assigned} AND kind IN ('review', 'adjudicate')"
    annotations = (
        f"(a.annotator_id = :who AND a.datapoint_id IN ({assigned})) OR (a.status = 'complete'"
        f" AND a.origin != 'review' AND a.datapoint_id IN ({examined}))"
    )
    flags = f"f.annotator_id = :who AND f.datapoint_id IN ({assigned})"

    def has(status: str) -> str:
        return (
            "EXISTS (SELECT 1 FROM annotation a WHERE a.datapoint_id = d.id"
            f" AND a.status = '{status}' AND {runs.annotation_visible('a')} AND ({annotations}))"
        )

    return Selection(
        "assignment",
        datapoints=f"d.id IN ({assigned})",
        annotations=annotations,
        history=None,
        tasks="t.annotator_id = :who AND t.status != 'cancelled'",
        comments=f"c.annotator_id = :who AND c.datapoint_id IN ({assigned})",
        flags=flags,
        audit=None,
        # A gold task is an ordinary label task to its annotator (app.core.quality.gold), and
        # what an item's status says comes from what the bundle holds, not from others' work.
        task_kind="CASE WHEN t.kind = 'gold' THEN 'label' ELSE t.kind END",
        datapoint_status=(
            f"CASE WHEN {has('complete')} THEN {int(DatapointStatus.LABELED)}"
            f" WHEN {has('discarded')} THEN {int(DatapointStatus.DISCARDED)}"
            f" WHEN {has('skipped')} THEN {int(DatapointStatus.SKIPPED)}"
            f" ELSE {int(DatapointStatus.UNLABELED)} END"
        ),
        datapoint_flagged=(
            "EXISTS (SELECT 1 FROM flag f WHERE f.datapoint_id = d.id"
            f" AND f.resolved_at IS NULL AND {flags})"
        ),
        params={"who": annotator_id},
    )


def work_selection(annotator_id: int, since: str | None) -> Selection:
    """Returned work: what this file's annotator did since `since` (the bundle's base or, when
    this machine's clock is behind the bundle maker's, when this file was opened)."""
    since = since or ""
    return Selection(
        "work",
        datapoints=None,
        annotations="a.annotator_id = :who AND a.updated_at >= :since",
        history=None,
        tasks="t.annotator_id = :who",
        comments="c.annotator_id = :who AND c.created_at >= :since",
        flags="f.annotator_id = :who AND (f.created_at >= :since OR f.resolved_at >= :since)",
        # Every event of this file: its whole hash chain from the first event, which the merge
        # verifies from GENESIS (app.core.bundle.validate), so that no first event can be
        # dropped unseen; the events the project has already are checked against its copies.
        audit="1",
        # A task is done once its annotator has finished the item.
        # (a review task once they decided on the item, an adjudicate task once they did).
        task_status=(
            "CASE WHEN t.status != 'todo' THEN t.status"
            " WHEN t.kind = 'review' THEN CASE WHEN EXISTS (SELECT 1 FROM review_decision x"
            " WHERE x.datapoint_id = t.datapoint_id AND x.reviewer_id = t.annotator_id)"
            " THEN 'done' ELSE 'todo' END"
            " WHEN t.kind = 'adjudicate' THEN CASE WHEN EXISTS (SELECT 1 FROM adjudication x"
            " WHERE x.datapoint_id = t.datapoint_id AND x.decided_by = t.annotator_id)"
            " THEN 'done' ELSE 'todo' END"
            " WHEN EXISTS (SELECT 1 FROM annotation x"
            " WHERE x.datapoint_id = t.datapoint_id AND x.annotator_id = t.annotator_id"
            f" AND x.status IN {FINISHED} AND {runs.annotation_visible('x')})"
            " THEN 'done' ELSE t.status END"
        ),
        params={"who": annotator_id, "since": since},
    )
