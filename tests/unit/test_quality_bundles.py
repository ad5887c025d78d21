"""Quality rows in bundles: gold stays home, reviewers see what they review, decisions,
corrections, adjudications and qualification results come back, merges are idempotent and
order-independent."""

from __future__ import annotations

import json
import zipfile

import pytest

from app.core.bundle import export_project_bundle, export_work_bundle, merge_bundle, open_bundle
from app.core.bundle.assignments import export_assignment_bundles
from app.core.project.project import open_project
from app.core.quality.consensus import adjudicate, create_adjudication_tasks, final_records
from app.core.quality.gold import mark_gold, mix_gold_into_tasks
from app.core.quality.qualification import create_qualification, qualification_result
from app.core.quality.review import create_review_tasks, review, task_status
from app.core.team.assign import generate_tasks
from tests.unit.bundle_helpers import dump
from tests.unit.helpers import rows
from tests.unit.quality_helpers import label, team, with_items

SKIP = ("open-bundle", "merge-bundle", "export-bundle")


def first_item(project):
    return (
        project.engine.connect()
        .exec_driver_sql("SELECT datapoint_id FROM annotation ORDER BY id")
        .scalar()
    )


def members(path):
    with zipfile.ZipFile(path) as zf:
        return {
            name: [json.loads(line) for line in zf.read(name).decode().splitlines()]
            for name in zf.namelist()
            if name.endswith(".jsonl")
        }


@pytest.fixture
def office(make_project, tmp_path):
    """Alice and bob labeled; rita reviews alice, dana adjudicates, gold mixed into alice's
    and bob's queues; one assignment bundle each."""
    owner = make_project(labels=("a", "b", "c"))
    ids = with_items(owner, tmp_path, [f"item {i}" for i in range(12)])
    who = team(owner, "alice", "bob")
    who.update(team(owner, "rita", role="reviewer"))
    who.update(team(owner, "dana", role="manager"))
    mark_gold(owner, ids[:3], ["a", "b", "c"])
    label(owner, who["alice"], {ids[3]: "a", ids[4]: "b", ids[5]: "c"})
    label(owner, who["bob"], {ids[3]: "a", ids[4]: "c", ids[5]: "a"})
    generate_tasks(owner, ["alice", "bob"], fraction=0.5, seed=4)
    mix_gold_into_tasks(owner, ["alice", "bob"], 0.25, seed=1)
    assert create_review_tasks(owner, "rita", annotators=["alice"]) == 3
    assert create_adjudication_tasks(owner, "dana") == 2  # items 4 and 5 disagree
    reports = export_assignment_bundles(owner, tmp_path / "out")
    bundles = {r.path.stem.split("-")[-1]: r.path for r in reports}
    return owner, ids, who, bundles


def test_assignment_bundles_never_carry_gold(office):
    owner, _ids, _who, bundles = office
    gold_tasks = rows(owner, "SELECT count(*) FROM task WHERE kind = 'gold'")[0][0]
    assert gold_tasks == 2  # 3 label tasks each: round(0.25 * 3 / 0.75) = 1 gold task each
    for name in ("alice", "bob"):
        content = members(bundles[name])
        assert "gold_items.jsonl" not in content
        assert "adjudications.jsonl" not in content
        assert "qualification_sets.jsonl" not in content
        assert {t["kind"] for t in content["tasks.jsonl"]} == {"label"}
        # nothing marks a gold item: an item's status comes from the annotator's own work
        own = {a["row"] for a in content.get("annotations.jsonl", [])}
        assert [d["status"] for d in content["datapoints.jsonl"]] == [
            1 if d["row"] in own else 0 for d in content["datapoints.jsonl"]
        ]
        assert {a["annotator"] for a in content.get("annotations.jsonl", [])} <= {
            rows(owner, "SELECT uuid FROM annotator WHERE name = ?", name)[0][0]
        }
    gold_rows = {r for (r,) in rows(owner, "SELECT row FROM datapoint WHERE id IN (1, 2, 3)")}
    alice_rows = {d["row"] for d in members(bundles["alice"])["datapoints.jsonl"]}
    assert gold_rows & alice_rows  # gold items are in her queue, unannounced


def test_reviewer_sees_the_work_and_decisions_come_back(office, tmp_path):
    owner, ids, _who, bundles = office
    content = members(bundles["rita"])
    names = dict(rows(owner, "SELECT uuid, name FROM annotator"))
    # a review task covers every other annotator's annotation of the item
    assert sorted(names[a["annotator"]] for a in content["annotations.jsonl"]) == [
        "alice",
        "alice",
        "alice",
        "bob",
        "bob",
        "bob",
    ]
    open_bundle(bundles["rita"], tmp_path / "rita.tagloop")
    with open_project(tmp_path / "rita.tagloop") as copy:
        me = copy.local_annotator_id
        anns = {
            (row, name): uid
            for row, name, uid in copy.engine.connect().exec_driver_sql(
                "SELECT d.row, n.name, a.uuid FROM annotation a JOIN datapoint d"
                " ON d.id = a.datapoint_id JOIN annotator n ON n.id = a.annotator_id"
            )
        }
        first, second, _third = sorted({row for row, _name in anns})
        review(copy, me, anns[first, "alice"], "approve")
        review(copy, me, anns[first, "bob"], "approve")
        review(copy, me, anns[second, "alice"], "reject", "it is c", correction="c")
        review(copy, me, anns[second, "bob"], "approve")
        out = tmp_path / "rita-work.tlbundle"
        export_work_bundle(copy, out)
    returned = members(out)
    assert len(returned["review_decisions.jsonl"]) == 4
    assert [a["origin"] for a in returned["annotations.jsonl"]] == ["review"]
    assert sorted(t["status"] for t in returned["tasks.jsonl"]) == ["done", "done", "todo"]
    report = merge_bundle(owner, out)
    assert report.added["review_decisions"] == 4 and report.added["annotations"] == 1
    assert report.updated == {"tasks": 2}
    assert merge_bundle(owner, out).changed is False  # idempotent
    # the correction replaces alice's vote on item 4: bob said c, rita's correction says c
    finals = {r.datapoint_id: (r.value, r.source) for r in final_records(owner)}
    assert finals[ids[4]] == ("c", "consensus")
    states = {t.datapoint_id: t.status for t in task_status(owner, "rita").tasks}
    assert states == {ids[3]: "completed", ids[4]: "completed", ids[5]: "to-do"}


def test_adjudication_and_qualification_results_come_back(office, tmp_path):
    owner, ids, who, bundles = office
    open_bundle(bundles["dana"], tmp_path / "dana.tagloop")
    with open_project(tmp_path / "dana.tagloop") as copy:
        shown = copy.engine.connect().exec_driver_sql("SELECT count(*) FROM annotation").scalar()
        assert shown == 4  # both versions of both disputed items
        points = dict(copy.engine.connect().exec_driver_sql("SELECT row, id FROM datapoint").all())
        rows_of = dict(rows(owner, "SELECT id, row FROM datapoint"))
        adjudicate(copy, points[rows_of[ids[4]]], copy.local_annotator_id, "b")
        out = tmp_path / "dana-work.tlbundle"
        export_work_bundle(copy, out)
    report = merge_bundle(owner, out)
    assert report.added["adjudications"] == 1 and report.updated == {"tasks": 1}
    finals = {r.datapoint_id: (r.value, r.source) for r in final_records(owner)}
    assert finals[ids[4]] == ("b", "adjudicated")

    # a lead with a copy of the project scores a qualification and sends the result back
    create_qualification(owner, "intro", ids[:3], 0.6)
    label(owner, who["bob"], {ids[0]: "a", ids[1]: "b", ids[2]: "a"})
    project_bundle = tmp_path / "whole.tlbundle"
    export_project_bundle(owner, project_bundle)
    open_bundle(project_bundle, tmp_path / "lead.tagloop")
    with open_project(tmp_path / "lead.tagloop") as lead:
        assert qualification_result(lead, "bob").passed
        out = tmp_path / "lead-work.tlbundle"
        export_work_bundle(lead, out)
    assert len(members(out)["qualification_results.jsonl"]) == 1
    assert merge_bundle(owner, out).added["qualification_results"] == 1
    assert rows(owner, "SELECT passed, correct, total FROM qualification_result") == [(1, 2, 3)]
    generate_tasks(owner, ["bob"], fraction=0.5, seed=9)  # bob is qualified now


def test_quality_merges_are_order_independent(office, tmp_path):
    owner, _ids, _who, bundles = office
    works = []
    for name, act in (
        ("rita", lambda c, me, anns: review(c, me, anns[0], "reject", "no", correction="b")),
        ("dana", lambda c, me, anns: adjudicate(c, first_item(c), me, "a")),
    ):
        open_bundle(bundles[name], tmp_path / f"{name}.tagloop")
        with open_project(tmp_path / f"{name}.tagloop") as copy:
            anns = [
                r[0]
                for r in copy.engine.connect().exec_driver_sql(
                    "SELECT uuid FROM annotation ORDER BY id"
                )
            ]
            act(copy, copy.local_annotator_id, anns)
            out = tmp_path / f"{name}-work.tlbundle"
            export_work_bundle(copy, out)
            works.append(out)
    whole = tmp_path / "whole.tlbundle"
    export_project_bundle(owner, whole)
    results = []
    for i, order in enumerate((works, works[::-1])):
        path = tmp_path / f"copy{i}.tagloop"
        open_bundle(whole, path)
        with open_project(path) as copy:
            for bundle in order + order:  # twice: idempotent too
                merge_bundle(copy, bundle)
        results.append(dump(path, skip_actions=SKIP))
    assert results[0] == results[1]
    assert len(results[0]["review_decision"]) == 1 and len(results[0]["adjudication"]) == 1
