"""Review decisions, corrections, custom statuses, spot checks and derived task status."""

from __future__ import annotations

import pytest

from app.core.annotation.commands import AddFlag
from app.core.errors import ProjectError
from app.core.quality.consensus import final_records
from app.core.quality.review import (
    add_custom_status,
    annotations_to_review,
    create_review_tasks,
    review,
    review_statuses,
    spot_check,
    task_status,
)
from app.core.team.assign import generate_tasks
from tests.unit.helpers import rows
from tests.unit.quality_helpers import label, team, with_items


@pytest.fixture
def crew(make_project, tmp_path):
    """Six items; alice and bob label, rita reviews."""
    project = make_project(labels=("a", "b", "c"))
    ids = with_items(project, tmp_path, [f"item {i}" for i in range(6)])
    who = team(project, "alice", "bob")
    who.update(team(project, "rita", role="reviewer"))
    return project, ids, who


def uuid_of(project, who, dp):
    return rows(
        project, "SELECT uuid FROM annotation WHERE annotator_id = ? AND datapoint_id = ?", who, dp
    )[0][0]


def test_decisions_rules(crew):
    project, ids, who = crew
    label(project, who["alice"], {ids[0]: "a"})
    target = uuid_of(project, who["alice"], ids[0])
    with pytest.raises(ProjectError, match="needs a reason"):
        review(project, "rita", target, "reject")
    with pytest.raises(ProjectError, match="their own"):
        review(project, "alice", target, "approve")
    with pytest.raises(ProjectError, match="unknown review decision"):
        review(project, "rita", target, "maybe")
    with pytest.raises(ProjectError, match="goes with a rejection"):
        review(project, "rita", target, "approve", correction="b")
    with pytest.raises(ProjectError, match="not in the schema"):
        review(project, "rita", target, "reject", "no", correction="zzz")
    uid = review(project, "rita", target, "approve")
    assert rows(
        project, "SELECT uuid, annotation_uuid, reviewer_id, decision, reason FROM review_decision"
    ) == [(uid, target, who["rita"], "approve", None)]


def test_custom_statuses(crew):
    project, ids, who = crew
    add_custom_status(project, "needs-discussion", "reject")
    with pytest.raises(ProjectError, match="already exists"):
        add_custom_status(project, "needs-discussion")
    with pytest.raises(ProjectError, match="built-in"):
        add_custom_status(project, "approve")
    with pytest.raises(ProjectError, match="counts as"):
        add_custom_status(project, "odd", "maybe")
    assert review_statuses(project) == {
        "approve": "approve",
        "reject": "reject",
        "discard": "discard",
        "needs-discussion": "reject",
    }
    label(project, who["alice"], {ids[0]: "a"})
    target = uuid_of(project, who["alice"], ids[0])
    with pytest.raises(ProjectError, match="needs a reason"):
        review(project, "rita", target, "needs-discussion")
    create_review_tasks(project, "rita")
    review(project, "rita", target, "needs-discussion", "ask the lead")
    assert task_status(project, "rita").assignments == {"rita": "completed with issues"}


def test_correction_is_the_reviewers_annotation_linked_to_the_original(crew):
    project, ids, who = crew
    label(project, who["alice"], {ids[0]: "a", ids[1]: "b"})
    label(project, who["bob"], {ids[0]: "a", ids[1]: "c"})
    target = uuid_of(project, who["alice"], ids[1])
    uid = review(project, "rita", target, "reject", "it says c", correction="c")
    correction = uuid_of(project, who["rita"], ids[1])
    assert rows(project, "SELECT correction_uuid FROM review_decision WHERE uuid = ?", uid) == [
        (correction,)
    ]
    assert rows(project, "SELECT value, origin FROM annotation WHERE uuid = ?", correction) == [
        ('"c"', "review")
    ]
    # the original is kept, and the correction replaces its vote: now bob and rita agree on c
    assert rows(project, "SELECT value FROM annotation WHERE uuid = ?", target) == [('"b"',)]
    finals = {r.datapoint_id: (r.value, r.source) for r in final_records(project)}
    assert finals == {ids[0]: ("a", "consensus"), ids[1]: ("c", "consensus")}
    # a reviewer who labeled the item cannot overwrite their own labeling with a correction
    label(project, who["rita"], {ids[0]: "b"})
    with pytest.raises(ProjectError, match="labeled this item yourself"):
        review(project, "rita", uuid_of(project, who["alice"], ids[0]), "reject", "x", "c")


def test_rejection_removes_the_vote_until_the_annotator_changes_it(crew):
    project, ids, who = crew
    label(project, who["alice"], {ids[0]: "b"})
    label(project, who["bob"], {ids[0]: "a"})
    review(project, "rita", uuid_of(project, who["alice"], ids[0]), "reject", "wrong")
    assert [(r.value, r.source) for r in final_records(project)] == [("a", "single")]
    label(project, who["alice"], {ids[0]: "a"})
    # what "changed it after the rejection" means: a later stamp (label() takes a millisecond
    # of its own, see tests/unit/quality_helpers.py)
    ((changed, rejected),) = rows(
        project,
        "SELECT a.updated_at, r.created_at FROM annotation a"
        " JOIN review_decision r ON r.annotation_uuid = a.uuid",
    )
    assert changed > rejected
    assert [(r.value, r.source) for r in final_records(project)] == [("a", "consensus")]


def test_derived_task_status(crew):
    project, _ids, who = crew
    generate_tasks(project, ["alice", "bob"], fraction=1.0, seed=1)
    mine = {
        name: [
            r[0]
            for r in rows(
                project,
                "SELECT datapoint_id FROM task WHERE annotator_id = ? ORDER BY datapoint_id",
                who[name],
            )
        ]
        for name in ("alice", "bob")
    }
    assert len(mine["alice"]) == len(mine["bob"]) == 3
    report = task_status(project)
    assert report.assignments == {"alice": "to-do", "bob": "to-do"}
    a0, a1, a2 = mine["alice"]
    label(project, who["alice"], {a0: "a"})
    label(project, who["alice"], {a1: "b"}, status="draft")
    assert task_status(project, "alice").counts["alice"] == {
        "to-do": 1,
        "in progress": 1,
        "completed": 1,
        "completed with issues": 0,
    }
    label(project, who["alice"], {a1: "b", a2: "c"})
    assert task_status(project).assignments == {"alice": "completed", "bob": "to-do"}
    # a flag is an issue; so is an open rejection
    AddFlag(a0, who["bob"], "odd text").apply(project)
    assert task_status(project).assignments["alice"] == "completed with issues"
    # review tasks: derived from the reviewer's decisions
    assert create_review_tasks(project, "rita", annotators=["alice"]) == 3
    states = {t.datapoint_id: t.status for t in task_status(project, "rita").tasks}
    assert states == {a0: "to-do", a1: "to-do", a2: "to-do"}
    review(project, "rita", uuid_of(project, who["alice"], a1), "reject", "not b")
    review(project, "rita", uuid_of(project, who["alice"], a2), "approve")
    states = {t.datapoint_id: t.status for t in task_status(project).tasks if t.kind == "review"}
    assert states == {a0: "to-do", a1: "completed with issues", a2: "completed"}
    report = task_status(project)
    assert report.assignments == {
        "alice": "completed with issues",
        "bob": "to-do",
        "rita": "in progress",
    }
    # the annotator fixes the rejected item: the rejection is no longer open
    label(project, who["alice"], {a1: "a"})
    alice = {t.datapoint_id: t.status for t in task_status(project, "alice").tasks}
    assert alice == {a0: "completed with issues", a1: "completed", a2: "completed"}
    view = annotations_to_review(project, "rita", a2)
    assert [(v["annotator"], v["value"], v["decision"]) for v in view] == [
        ("alice", "c", "approve")
    ]
    # nothing of this is stored: the task rows keep their status
    assert {r[0] for r in rows(project, "SELECT status FROM task")} == {"todo"}


def test_spot_check_is_seeded_and_stratified(make_project, tmp_path):
    project = make_project(labels=("a", "b"))
    ids = with_items(project, tmp_path, [f"item {i}" for i in range(40)])
    who = team(project, "alice", "bob")
    who.update(team(project, "rita", role="reviewer"))
    label(project, who["alice"], {dp: ("a" if dp % 4 else "b") for dp in ids[:30]})
    label(project, who["bob"], {dp: "a" for dp in ids[30:]})
    report = spot_check(project, "rita", 0.1, seed=7)
    # 40 annotations: strata alice/a 22 (ids 1..30 not divisible by 4), alice/b 8, bob/a 10;
    # 4 drawn: largest remainder of 2.2, 0.8, 1.0 -> 2, 1, 1
    assert (report.population, report.sampled, report.tasks) == (40, 4, 4)
    assert report.strata == {"alice/a": 2, "alice/b": 1, "bob/a": 1}
    first = rows(project, "SELECT datapoint_id FROM task WHERE kind = 'review' ORDER BY 1")
    # the same seed on a copy of the state gives the same sample
    again = make_project(labels=("a", "b"))
    ids2 = with_items(again, tmp_path, [f"item {i}" for i in range(40)])
    who2 = team(again, "alice", "bob")
    who2.update(team(again, "rita", role="reviewer"))
    label(again, who2["alice"], {dp: ("a" if dp % 4 else "b") for dp in ids2[:30]})
    label(again, who2["bob"], {dp: "a" for dp in ids2[30:]})
    spot_check(again, "rita", 0.1, seed=7)
    assert rows(again, "SELECT datapoint_id FROM task WHERE kind = 'review' ORDER BY 1") == first
    # sampled work is not sampled again
    second = spot_check(project, "rita", 0.1, seed=7)
    assert second.population == 36 and second.tasks == 4
    with pytest.raises(ProjectError, match="fraction"):
        spot_check(project, "rita", 0)
    with pytest.raises(ProjectError, match="stratify"):
        spot_check(project, "rita", 0.1, stratify_by=("colour",))
