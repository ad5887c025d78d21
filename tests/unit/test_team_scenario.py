"""Issue 6's full three-annotator scenario, in plain Python through public core functions only:
qualification gate, gold mixed into overlapping tasks, assignment bundles labeled on the
annotators' own files and merged back, disagreements, adjudication, gold scoring, a spot-check
review, and the export of the final values.

Each annotator labels by a fixed rule (alice is always right, bob gets every 4th SMS wrong,
carol every 3rd), so every figure the owner sees can be worked out here and is checked both
against that reckoning and against the exact numbers of this seeded run.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from app.core.annotation.browse import Query
from app.core.annotation.commands import AnnotationState, SetAnnotations, load_items
from app.core.annotation.worklist import Worklist, WorklistSpec
from app.core.bundle import export_work_bundle, merge_bundle, open_bundle
from app.core.bundle.assignments import export_assignment_bundles
from app.core.errors import ProjectError
from app.core.io.export import export_datapoints
from app.core.io.importer import import_dataset
from app.core.project.label_schema import LabelSpec
from app.core.project.project import Project, create_project, open_project
from app.core.quality.consensus import (
    adjudicate,
    create_adjudication_tasks,
    disagreements,
    item_versions,
)
from app.core.quality.gold import gold_accuracy, mark_gold, mix_gold_into_tasks
from app.core.quality.qualification import (
    assign_qualification,
    create_qualification,
    qualification_result,
)
from app.core.quality.review import ISSUES, annotations_to_review, review, spot_check, task_status
from app.core.team.assign import (
    add_annotator,
    generate_tasks,
    list_annotators,
)
from tests.fixtures_data import sms_rows, write_csv

N = 40
TEAM = ("alice", "bob", "carol")
GOLD = range(12)  # the first 12 SMS have a known answer ...
QUALIFICATION = range(4)  # ... and the first 4 are the qualification set (pass: 3 of 4)
ROWS = sms_rows(N)
TEXTS = [text for text, _label in ROWS]
TRUTH = [label for _text, label in ROWS]
INDEX = {text: i for i, text in enumerate(TEXTS)}
assert len(INDEX) == N  # the texts identify the items in every file


def flip(label: str) -> str:
    return "spam" if label == "ham" else "ham"


def rule(name: str, i: int) -> str:
    """How each annotator labels SMS number i: their deliberate disagreements."""
    wrong = {"alice": False, "bob": i % 4 == 1, "carol": i % 3 == 2}[name]
    return flip(TRUTH[i]) if wrong else TRUTH[i]


def carol_first_try(i: int) -> str:
    """Carol's first qualification attempt: SMS 1 and 2 wrong, 2 of 4, below the pass score."""
    return flip(TRUTH[i]) if i in (1, 2) else TRUTH[i]


def all_items(project: Project, annotator_id: int) -> dict[int, object]:
    """{SMS number: the annotator's Item} over the whole file, as an editor's queue sees it."""
    queue = Worklist(project, WorklistSpec(Query()))
    ids = [queue.id_at(p) for p in range(len(queue))]
    return {INDEX[item.text]: item for item in load_items(project, ids, annotator_id).values()}


def work(bundle, dest, uuid, answer, *, relabel=False) -> tuple[object, dict[int, str]]:
    """An annotator opens their assignment bundle (or their file again), labels what is open
    (everything, with `relabel`) with `answer(i)` as their own annotator, and returns their
    work bundle and what they answered."""
    if not dest.exists():
        open_bundle(bundle, dest)
    given = {}
    with open_project(dest) as mine:
        me = mine.local_annotator_id
        assert {a.id: a.uuid for a in list_annotators(mine)}[me] == uuid  # they work as themselves
        changes = []
        for i, item in all_items(mine, me).items():
            if relabel or item.annotation is None or not item.annotation.finished:
                given[i] = answer(i)
                changes.append((item.id, AnnotationState(given[i], "complete", 1500)))
        SetAnnotations(me, tuple(changes)).apply(mine)
        returned = len(list(dest.parent.glob("*.tlbundle")))
        out = dest.parent / f"{dest.stem}-work{returned}.tlbundle"
        export_work_bundle(mine, out)
    return out, given


def by_name(reports) -> dict[str, object]:
    return {name: next(r.path for r in reports if name in r.path.name) for name in TEAM}


def test_three_annotators_from_qualification_to_final_export(tmp_path):
    owner = create_project(
        tmp_path / "owner" / "sms.tagloop",
        "classification",
        [LabelSpec("ham"), LabelSpec("spam")],
        guidelines="Spam: unsolicited advertising, prize draws, or fraud. Anything else is ham.",
    )
    source = tmp_path / "sms.csv"
    write_csv(source, [["message"], *[[text] for text in TEXTS]])
    import_dataset(owner, source)
    lead = owner.local_annotator_id  # the owner reviews and adjudicates
    ids = {i: item.id for i, item in all_items(owner, lead).items()}
    who = {name: add_annotator(owner, name).uuid for name in TEAM}
    votes: dict[int, dict[str, str]] = {i: {} for i in range(N)}  # what each one answered

    # -- (5) qualification gate -------------------------------------------------------------
    mark_gold(owner, [ids[i] for i in GOLD], [TRUTH[i] for i in GOLD])
    create_qualification(owner, "intro", [ids[i] for i in QUALIFICATION], 0.75)
    with pytest.raises(ProjectError, match=r"not qualified yet: alice \('intro'\), bob"):
        generate_tasks(owner, list(TEAM), overlap_fraction=0.5, per_item=2, seed=7)
    assert assign_qualification(owner, "intro", list(TEAM)) == 12
    qualification = by_name(export_assignment_bundles(owner, tmp_path / "qualification"))
    homes = {name: tmp_path / name / "sms.tagloop" for name in TEAM}
    for name in TEAM:
        answer = carol_first_try if name == "carol" else (lambda i, name=name: rule(name, i))
        returned, given = work(qualification[name], homes[name], who[name], answer)
        assert sorted(given) == list(QUALIFICATION)  # only the qualification items travelled
        merge_bundle(owner, returned)
        for i, value in given.items():
            votes[i][name] = value
    results = {name: qualification_result(owner, name) for name in TEAM}
    assert {n: (r.correct, r.total, r.passed) for n, r in results.items()} == {
        "alice": (4, 4, True),
        "bob": (3, 4, True),  # SMS 1 wrong: exactly the pass score
        "carol": (2, 4, False),
    }
    with pytest.raises(ProjectError, match=r"not qualified yet: carol \('intro'\);") as refused:
        generate_tasks(owner, list(TEAM), overlap_fraction=0.5, per_item=2, seed=7)
    assert "alice" not in str(refused.value) and "bob" not in str(refused.value)
    # carol rereads the guidelines and answers the set again on her machine
    returned, given = work(
        None, homes["carol"], who["carol"], lambda i: rule("carol", i), relabel=True
    )
    merge_bundle(owner, returned)
    votes.update({i: {**votes[i], "carol": value} for i, value in given.items()})
    retake = qualification_result(owner, "carol")
    assert (retake.correct, retake.passed) == (3, True)

    # -- (1) overlapping tasks with gold mixed in, assignment bundles, work merged back -----
    # the 12 gold SMS are never label work, so the pool is SMS 12-39: 28 items, 14 of them
    # labeled twice, 14 once: 42 tasks, 14 each
    report = generate_tasks(owner, list(TEAM), overlap_fraction=0.5, per_item=2, seed=7)
    assert (report.selected, report.overlap_items, report.per_item, report.tasks) == (28, 14, 2, 42)
    assert report.per_annotator == {"alice": 14, "bob": 14, "carol": 14}
    mixed = mix_gold_into_tasks(owner, list(TEAM), 0.1, seed=3)
    assert mixed == {"alice": 2, "bob": 2, "carol": 2}  # round(0.1 × 14 / 0.9)
    assignments = by_name(export_assignment_bundles(owner, tmp_path / "assignments"))
    for name in TEAM:
        home = tmp_path / name / "round2.tagloop"
        returned, given = work(assignments[name], home, who[name], lambda i, n=name: rule(n, i))
        assert merge_bundle(owner, returned).added["annotations"] == len(given)
        assert merge_bundle(owner, returned).changed is False  # merging twice changes nothing
        for i, value in given.items():
            votes[i][name] = value
    # 12 qualification answers, 42 label tasks and 6 gold tasks (on gold SMS the annotator had
    # not answered): each one new work
    assert sum(len(v) for v in votes.values()) == 12 + 42 + 6

    # -- (2) disagreements ------------------------------------------------------------------
    expected_disputes = {i for i, v in votes.items() if i not in GOLD and len(set(v.values())) > 1}
    found = disagreements(owner)
    assert {ids_back(ids, c.datapoint_id) for c in found} == expected_disputes
    # the pairs split where one of them errs: bob/carol on 14 and 23, alice/bob on 29,
    # alice/carol on 35
    assert sorted(expected_disputes) == [14, 23, 29, 35]
    for c in found:
        i = ids_back(ids, c.datapoint_id)
        assert {v.annotator: v.value for v in c.votes} == votes[i]

    # -- (3) adjudication -------------------------------------------------------------------
    assert create_adjudication_tasks(owner, lead) == len(expected_disputes)
    for c in found:
        i = ids_back(ids, c.datapoint_id)
        shown = item_versions(owner, c.datapoint_id)
        assert sorted(v.annotator for v in shown.votes) == sorted(votes[i])
        adjudicate(owner, c.datapoint_id, lead, TRUTH[i])
    assert disagreements(owner) == []

    # -- (4) gold scoring -------------------------------------------------------------------
    scored = {a.annotator: (a.correct, a.total) for a in gold_accuracy(owner)}
    expected_gold = {
        name: (
            sum(1 for i in GOLD if votes[i].get(name) == TRUTH[i]),
            sum(1 for i in GOLD if name in votes[i]),
        )
        for name in TEAM
    }
    # SMS 0-3 from the qualification and 2 gold tasks each: alice 7 and 8 (right); bob 8 and 9
    # (wrong on 1 and 9); carol 5 and 8 (wrong on 2, 5 and 8)
    assert scored == expected_gold == {"alice": (6, 6), "bob": (4, 6), "carol": (3, 6)}
    accuracy = {a.annotator: a.accuracy for a in gold_accuracy(owner)}
    assert accuracy == {"alice": 1.0, "bob": pytest.approx(4 / 6), "carol": 0.5}

    # -- (6) spot-check review --------------------------------------------------------------
    # 24 of the 60 annotations, on 21 SMS; a sample that takes in all 5 wrong single labels
    # (bob's 17, 25, 33, carol's 20, 26), which the final export needs every mistake caught
    check = spot_check(owner, lead, 0.4, seed=391)
    assert (check.population, check.sampled, check.tasks) == (60, 24, 21)
    decided: dict[tuple[str, int], str] = {}
    corrections: dict[tuple[str, int], str] = {}
    left_open: tuple[str, int] | None = None  # one rejection goes back without a correction
    for task in task_status(owner, lead).tasks:
        if task.kind != "review":
            continue
        i = ids_back(ids, task.datapoint_id)
        for shown in annotations_to_review(owner, lead, task.datapoint_id):
            key = (shown["annotator"], i)
            assert shown["value"] == votes[i][shown["annotator"]]
            if shown["value"] == TRUTH[i]:
                review(owner, lead, shown["annotation_uuid"], "approve")
                decided[key] = "approve"
                continue
            reason = f"SMS {i} is {TRUTH[i]}: see the guidelines"
            if left_open is None:
                left_open = key
                review(owner, lead, shown["annotation_uuid"], "reject", reason)
            else:
                review(owner, lead, shown["annotation_uuid"], "reject", reason, TRUTH[i])
                corrections[key] = TRUTH[i]
            decided[key] = "reject"
    assert left_open == ("bob", 1)
    assert sorted(corrections) == [
        ("bob", 17),  # a single label, wrong: the spot check caught it
        ("bob", 25),
        ("bob", 33),
        ("carol", 8),
        ("carol", 14),
        ("carol", 20),
        ("carol", 26),
        ("carol", 35),
    ]
    assert Counter(decided.values()) == {"approve": 29, "reject": 9}
    status = task_status(owner)
    assert status.assignments["bob"] == ISSUES  # his rejected answer is still open
    assert {t.status for t in status.tasks if t.annotator == "bob" and t.kind == "qualification"}
    assert [
        t.status
        for t in status.tasks
        if t.annotator == "bob" and ids_back(ids, t.datapoint_id) == 1
    ] == [ISSUES]  # his qualification task on SMS 1 (a gold SMS: no label task there)
    assert status.assignments["alice"] == status.assignments["carol"] == "completed"

    # -- (7) export of the final values -----------------------------------------------------
    out = tmp_path / "final.jsonl"
    assert export_datapoints(owner, out, value_source="final") == N
    with out.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    got = {INDEX[r["text"]]: (r["label"], r["label_source"]) for r in records}

    def expected_final(i: int) -> tuple[str | None, str | None]:
        if i in expected_disputes:
            return TRUTH[i], "adjudicated"
        if i in GOLD:
            return TRUTH[i], "gold"
        live = [corrections.get((n, i), v) for n, v in votes[i].items() if (n, i) != left_open]
        if len(live) == 1:
            return live[0], "single"
        (top, most), *rest = Counter(live).most_common()
        return (None, None) if rest and rest[0][1] == most else (top, "consensus")

    assert got == {i: expected_final(i) for i in range(N)}
    assert [got[i][0] for i in range(N)] == TRUTH  # every deliberate mistake was caught
    assert Counter(source for _label, source in got.values()) == {
        "gold": 12,
        "adjudicated": 4,
        "consensus": 10,
        "single": 14,
    }


def ids_back(ids: dict[int, int], datapoint_id: int) -> int:
    return next(i for i, dp in ids.items() if dp == datapoint_id)
