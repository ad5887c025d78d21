"""Consensus, adjudication and final values on hand-built three-annotator projects."""

from __future__ import annotations

import csv
import json

import pytest

from app.core.errors import ProjectError
from app.core.quality.consensus import (
    adjudicate,
    consensus,
    consensus_counts,
    create_adjudication_tasks,
    disagreements,
    final_records,
    final_values,
    item_versions,
    vote,
)
from app.ml.loop import training_set
from tests.unit.helpers import rows
from tests.unit.quality_helpers import label, team, with_items


def span(start, end, tag="PER"):
    return {"start": start, "end": end, "label": tag}


def test_classification_vote_is_plurality_and_ties_are_no_consensus():
    assert vote("classification", ["a", "a", "b"]) == (True, "a")
    assert vote("classification", ["a", "b", "c"]) == (False, None)
    assert vote("classification", ["a", "b"]) == (False, None)
    assert vote("classification", ["a", "a", "b", "c"]) == (True, "a")
    assert vote("classification", ["b", "b"]) == (True, "b")


def test_multilabel_vote_per_label_more_than_half():
    values = [["x", "y"], ["x"], ["x", "z"]]
    assert vote("multilabel", values, label_order=["z", "y", "x"]) == (True, ["x"])
    assert vote("multilabel", [["x", "y"], ["y", "z"], ["y"]], label_order=["x", "y", "z"]) == (
        True,
        ["y"],
    )
    # "y" is chosen by exactly half of four annotators: a tie
    assert vote("multilabel", [["x", "y"], ["x", "y"], ["x"], ["x"]]) == (False, None)
    assert vote("multilabel", [[], [], ["x"]]) == (True, [])


def test_span_vote_exact():
    a = [span(0, 5), span(10, 14, "LOC")]
    b = [span(0, 5)]
    c = [span(0, 4), span(10, 14, "LOC")]
    assert vote("spans", [a, b, c]) == (True, [span(0, 5), span(10, 14, "LOC")])
    assert vote("spans", [[span(0, 5)], [span(0, 4)]]) == (False, None)


def test_span_vote_overlap_takes_the_most_common_boundaries():
    a = [span(0, 5)]
    b = [span(0, 5)]
    c = [span(1, 5)]
    d = [span(20, 25, "LOC")]
    # exact: (0,5) has 2 of 4 votes, a tie
    assert vote("spans", [a, b, c, d], "exact") == (False, None)
    # overlap: 3 of 4 annotators have a PER span overlapping 0-5; (20,25) has 1 of 4
    assert vote("spans", [a, b, c, d], "overlap") == (True, [span(0, 5)])
    # every boundary differs, but all three overlap: the smallest start wins the tie on counts
    assert vote("spans", [[span(0, 6)], [span(1, 5)], [span(2, 7)]], "overlap") == (
        True,
        [span(0, 6)],
    )
    # same label, different labels do not match
    assert vote("spans", [[span(0, 5)], [span(0, 5, "LOC")], [span(0, 5)]], "overlap") == (
        True,
        [span(0, 5)],
    )


@pytest.fixture
def three(make_project, tmp_path):
    """Five items labeled by alice, bob and carol; dana adjudicates."""
    project = make_project(labels=("a", "b", "c"))
    ids = with_items(project, tmp_path, [f"item {i}" for i in range(5)])
    who = team(project, "alice", "bob", "carol")
    who.update(team(project, "dana", role="manager"))
    label(project, who["alice"], {ids[0]: "a", ids[1]: "a", ids[2]: "a", ids[3]: "b"})
    label(project, who["bob"], {ids[0]: "a", ids[1]: "a", ids[2]: "b"})
    label(project, who["carol"], {ids[0]: "a", ids[1]: "b", ids[2]: "c"})
    return project, ids, who


def test_consensus_disagreements_and_counts(three):
    project, ids, _who = three
    found = {c.datapoint_id: c for c in consensus(project)}
    assert set(found) == {ids[0], ids[1], ids[2]}  # ids[3] has one vote, ids[4] none
    assert (found[ids[0]].reached, found[ids[0]].value, found[ids[0]].unanimous) == (
        True,
        "a",
        True,
    )
    assert (found[ids[1]].reached, found[ids[1]].value, found[ids[1]].unanimous) == (
        True,
        "a",
        False,
    )
    assert (found[ids[2]].reached, found[ids[2]].value) == (False, None)
    assert [c.datapoint_id for c in disagreements(project)] == [ids[2]]
    assert consensus_counts(project) == {
        "items": 3,
        "unanimous": 1,
        "majority": 1,
        "disagreements": 1,
        "adjudicated": 0,
        "open": 1,
    }


def test_adjudication_tasks_and_the_final_value(three):
    project, ids, who = three
    assert create_adjudication_tasks(project, "dana") == 1
    assert create_adjudication_tasks(project, "dana") == 0  # already queued
    assert rows(project, "SELECT datapoint_id, annotator_id, kind, status FROM task") == [
        (ids[2], who["dana"], "adjudicate", "todo")
    ]
    # dana's own labeling of the item is not her decision
    label(project, who["dana"], {ids[2]: "a"})
    uid = adjudicate(project, ids[2], "dana", "c")
    assert rows(project, "SELECT uuid, value, decided_by FROM adjudication") == [
        (uid, '"c"', who["dana"])
    ]
    assert disagreements(project) == []
    assert [(r.datapoint_id, r.value, r.source) for r in final_records(project)] == [
        (ids[0], "a", "consensus"),
        (ids[1], "a", "consensus"),
        (ids[2], "c", "adjudicated"),
        (ids[3], "b", "single"),
    ]
    assert dict(final_values(project, "annotator:dana")) == {ids[2]: "a"}
    assert dict(final_values(project, "carol")) == {ids[0]: "a", ids[1]: "b", ids[2]: "c"}
    # deciding again: the newest decision is final
    adjudicate(project, ids[2], "dana", "b")
    assert dict(final_values(project))[ids[2]] == "b"
    versions = item_versions(project, ids[2])
    assert [v.annotator for v in versions.votes] == ["alice", "bob", "carol", "dana"]
    assert versions.adjudication["value"] == "b" and versions.final.source == "adjudicated"
    events = rows(project, "SELECT action FROM audit_event WHERE entity = 'adjudication'")
    assert events == [("adjudicate",), ("adjudicate",)]


def test_adjudication_is_validated(three):
    project, ids, _who = three
    with pytest.raises(ProjectError, match="not in the schema"):
        adjudicate(project, ids[2], "dana", "zzz")
    with pytest.raises(ProjectError, match="no annotator"):
        adjudicate(project, ids[2], "nobody", "a")
    with pytest.raises(ProjectError, match="does not exist"):
        adjudicate(project, 999, "dana", "a")


def test_training_uses_the_adjudicated_value(three):
    project, ids, _who = three
    before = training_set(project)
    # an unsettled disagreement falls back to the newest vote (carol's "c")
    assert dict(zip(before.datapoint_ids, [e.value for e in before.examples], strict=True)) == {
        ids[0]: "a",
        ids[1]: "a",
        ids[2]: "c",
        ids[3]: "b",
    }
    adjudicate(project, ids[2], "dana", "b")
    adjudicate(project, ids[1], "dana", "c")
    after = training_set(project)
    assert after.datapoint_ids == [ids[0], ids[1], ids[2], ids[3]]
    assert [e.value for e in after.examples] == ["a", "c", "b", "b"]
    assert after.examples[2].text == "item 2"


def test_adjudication_without_votes_is_final(three):
    project, ids, _who = three
    adjudicate(project, ids[4], "dana", "b")
    assert list(final_values(project))[-1] == (ids[4], "b")
    assert training_set(project).datapoint_ids[-1] == ids[4]


def test_multilabel_and_spans_projects(make_project, tmp_path):
    ml = make_project(task_type="multilabel", labels=("x", "y", "z"))
    ids = with_items(ml, tmp_path, ["one", "two"])
    who = team(ml, "alice", "bob", "carol")
    label(ml, who["alice"], {ids[0]: ["x", "y"], ids[1]: ["x"]})
    label(ml, who["bob"], {ids[0]: ["y"], ids[1]: ["y"]})
    label(ml, who["carol"], {ids[0]: ["y", "z"], ids[1]: ["z"]})
    assert list(final_values(ml)) == [(ids[0], ["y"]), (ids[1], [])]

    sp = make_project(task_type="spans", labels=("PER", "LOC"))
    (dp,) = with_items(sp, tmp_path, ["Alice met Bob in Paris"])
    who = team(sp, "alice", "bob", "carol")
    label(sp, who["alice"], {dp: [span(0, 5), span(16, 21, "LOC")]})
    label(sp, who["bob"], {dp: [span(0, 5), span(10, 13)]})
    label(sp, who["carol"], {dp: [span(1, 5), span(16, 21, "LOC")]})
    assert list(final_values(sp)) == [(dp, [span(0, 5), span(16, 21, "LOC")])]
    assert list(final_values(sp, match="overlap")) == [(dp, [span(0, 5), span(16, 21, "LOC")])]
    label(sp, who["carol"], {dp: [span(1, 4), span(16, 21, "LOC")]})
    label(sp, who["bob"], {dp: [span(0, 4), span(10, 13)]})
    # exact: each PER boundary has one vote; overlap: all three overlap, (0, 4) sorts first
    assert list(final_values(sp)) == [(dp, [span(16, 21, "LOC")])]
    assert list(final_values(sp, match="overlap")) == [(dp, [span(0, 4), span(16, 21, "LOC")])]


def test_cli_quality_commands(three, tmp_path, capsys):
    from app.cli.main import main
    from app.core.io.export import iter_records

    project, ids, _who = three
    path = str(project.path)
    capsys.readouterr()
    assert main(["consensus", path, "--json", "--adjudicator", "dana"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["disagreements"] == 1 and out["adjudication_tasks_created"] == 1
    adjudicate(project, ids[2], "dana", "c")

    export = tmp_path / "final.jsonl"
    assert main(["export", path, str(export), "--values", "final"]) == 0
    records = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert [(r["label"], r["label_source"]) for r in records] == [
        ("a", "consensus"),
        ("a", "consensus"),
        ("c", "adjudicated"),
        ("b", "single"),
        (None, None),
    ]
    assert main(["export", path, str(tmp_path / "c.csv"), "--values", "annotator:carol"]) == 0
    with (tmp_path / "c.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["label"], r["label_source"]) for r in table[:4]] == [
        ("a", "annotator:carol"),
        ("b", "annotator:carol"),
        ("c", "annotator:carol"),
        ("", ""),
    ]

    uids = [r["id"] for r in iter_records(project)]
    answers = tmp_path / "gold.csv"
    answers.write_text(f"id,label\n{uids[3]},b\n{uids[4]},a\n", encoding="utf-8")
    assert main(["gold", path, "--mark", str(answers)]) == 0
    assert "Marked 2 gold items" in capsys.readouterr().out
    assert main(["gold", path, "--accuracy", "--json"]) == 0
    accuracy = json.loads(capsys.readouterr().out)
    assert [(a["annotator"], a["correct"], a["total"]) for a in accuracy["accuracy"]] == [
        ("alice", 1, 1)
    ]
    items = tmp_path / "items.txt"
    items.write_text(f"{uids[3]}\n{uids[4]}\n", encoding="utf-8")
    assert main(["qualify", path, "--create", "intro", "--items", str(items), "--pass", "0.5"]) == 0
    assert main(["qualify", path, "--assign", "bob", "--result", "alice", "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{") :])
    assert (result["correct"], result["total"], result["passed"]) == (1, 2, False)
    assert main(["review", path, "--spot-check", "0.5", "--reviewer", "dana", "--json"]) == 0
    spot = json.loads(capsys.readouterr().out)
    assert spot["population"] == 10 and spot["sampled"] == 5  # all but dana's own
    assert main(["review", path, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    # dana's adjudicate task is done; her review tasks are not started
    assert status["assignments"]["dana"]["status"] == "in progress"
    assert status["assignments"]["dana"]["tasks"]["completed"] == 1
