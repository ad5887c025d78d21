"""The quality parts of the project report (gold accuracy and drift, open rejections, derived
task status, consensus) on a hand-built project, and how the HTML report shows them."""

from __future__ import annotations

import html
import json

import pytest

from app.core.annotation.commands import AddFlag
from app.core.ids import new_uuid
from app.core.quality.consensus import adjudicate, consensus_counts, create_adjudication_tasks
from app.core.quality.gold import drift_alerts, gold_accuracy, mark_gold
from app.core.quality.review import create_review_tasks, review
from app.core.report.figures import project_report, report_json
from app.core.report.html import render_html, write_html
from tests.unit.helpers import rows
from tests.unit.quality_helpers import label, team, with_items

HOSTILE_REASON = '</td><script>alert("r")</script><img src=x onerror=alert(4)>'


def uuid_of(project, who, dp):
    return rows(
        project, "SELECT uuid FROM annotation WHERE annotator_id = ? AND datapoint_id = ?", who, dp
    )[0][0]


def at(day, time="12:00"):
    return f"{day}T{time}:00.000+00:00"


def set_updated(project, who, dps, when):
    with project.engine.begin() as conn:
        for dp in dps:
            conn.exec_driver_sql(
                "UPDATE annotation SET updated_at = ? WHERE annotator_id = ? AND datapoint_id = ?",
                (when, who, dp),
            )


def set_decided(project, annotation_uuid, when):
    with project.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE review_decision SET created_at = ? WHERE annotation_uuid = ?",
            (when, annotation_uuid),
        )


def label_tasks(project, who, dps):
    """Label tasks on these items for `who` (as an assignment would make them)."""
    with project.engine.begin() as conn:
        for dp in dps:
            conn.exec_driver_sql(
                "INSERT INTO task (uuid, datapoint_id, annotator_id, kind, status, created_at)"
                " VALUES (?, ?, ?, 'label', 'todo', ?)",
                (new_uuid(), dp, who, at("2024-01-01", "08:00")),
            )


@pytest.fixture
def shop(make_project, tmp_path):
    """18 items, 12 of them gold (answer "a"). alice and bob label, rita reviews, lead
    adjudicates:

    - gold: alice 6 of 6 right on 2024-01-01, then 2 of 6 on 2024-01-09; bob 5 of 6 on
      2024-01-03 (his wrong one, gold[0], is also a disagreement with alice);
    - item 12: alice a, bob b, adjudicated a; item 13: alice a, bob b, open disagreement;
    - item 14: alice b, rejected by rita ("should be a"): open; item 15: bob a, rejected by
      rita ("typo"), then changed by bob: resolved;
    - label tasks: alice 12, 13, 14, 16 (16 not started); bob 15, 17 (17 a draft); review tasks
      of rita on 14 and 15; adjudicate tasks of lead on 12 and 13.
    """
    project = make_project(labels=("a", "b"))
    ids = with_items(project, tmp_path, [f"item {i}" for i in range(18)])
    who = team(project, "alice", "bob")
    who.update(team(project, "rita", role="reviewer"))
    who.update(team(project, "lead", role="owner"))
    gold = ids[:12]
    mark_gold(project, gold, ["a"] * 12)
    label(project, who["alice"], {dp: "a" for dp in gold[:6]})
    label(project, who["alice"], {dp: ("a" if i < 2 else "b") for i, dp in enumerate(gold[6:])})
    label(project, who["bob"], {dp: ("a" if i else "b") for i, dp in enumerate(gold[:6])})
    set_updated(project, who["alice"], gold[:6], at("2024-01-01"))
    set_updated(project, who["alice"], gold[6:], at("2024-01-09"))
    set_updated(project, who["bob"], gold[:6], at("2024-01-03"))

    label(project, who["alice"], {ids[12]: "a", ids[13]: "a", ids[14]: "b"})
    label(project, who["bob"], {ids[12]: "b", ids[13]: "b", ids[15]: "a"})
    label(project, who["bob"], {ids[17]: "a"}, status="draft")
    set_updated(project, who["alice"], ids[12:15], at("2024-01-05"))
    set_updated(project, who["bob"], [ids[12], ids[13], ids[15], ids[17]], at("2024-01-05"))

    label_tasks(project, who["alice"], [ids[12], ids[13], ids[14], ids[16]])
    label_tasks(project, who["bob"], [ids[15], ids[17]])
    assert create_review_tasks(project, "rita", datapoint_ids=[ids[14], ids[15]]) == 2
    assert create_adjudication_tasks(project, "lead", datapoint_ids=[ids[12], ids[13]]) == 2
    adjudicate(project, ids[12], "lead", "a")

    rejected = uuid_of(project, who["alice"], ids[14])
    review(project, "rita", rejected, "reject", "should be a")
    set_decided(project, rejected, at("2024-01-10", "10:00"))
    fixed = uuid_of(project, who["bob"], ids[15])
    review(project, "rita", fixed, "reject", "typo")
    set_decided(project, fixed, at("2024-01-10", "11:00"))
    label(project, who["bob"], {ids[15]: "b"})
    set_updated(project, who["bob"], [ids[15]], at("2024-01-11"))
    return project, ids, who


def _strict(report):
    return json.loads(json.dumps(report.as_dict(), allow_nan=False))


def test_gold_accuracy_over_time_and_drift_alerts(shop):
    project, _ids, _who = shop
    report = _strict(project_report(project))
    gold = report["gold"]
    assert gold["gold_items"] == 12
    assert (gold["threshold"], gold["min_items"], gold["window_days"]) == (0.8, 5, 7)
    # buckets of 7 days from the first gold answer (2024-01-01); the gold's author not scored
    assert gold["per_annotator"] == {
        "alice": {
            "accuracy": 0.6667,
            "correct": 8,
            "items": 12,
            "over_time": [
                {
                    "bucket": "2024-01-01",
                    "end": "2024-01-07",
                    "accuracy": 1.0,
                    "correct": 6,
                    "items": 6,
                },
                {
                    "bucket": "2024-01-08",
                    "end": "2024-01-14",
                    "accuracy": 0.3333,
                    "correct": 2,
                    "items": 6,
                },
            ],
        },
        "bob": {
            "accuracy": 0.8333,
            "correct": 5,
            "items": 6,
            "over_time": [
                {
                    "bucket": "2024-01-01",
                    "end": "2024-01-07",
                    "accuracy": 0.8333,
                    "correct": 5,
                    "items": 6,
                }
            ],
        },
    }
    assert gold["alerts"] == [
        {
            "annotator": "alice",
            "accuracy": 0.3333,
            "correct": 2,
            "items": 6,
            "bucket": "2024-01-08",
            "end": "2024-01-14",
            "message": "alice: gold accuracy 33% on 6 items (2024-01-08 to 2024-01-14), below 80%",
        }
    ]
    # the same figures as the quality core
    core = {a.annotator: a for a in gold_accuracy(project)}
    assert {n: (a.correct, a.total) for n, a in core.items()} == {
        n: (p["correct"], p["items"]) for n, p in gold["per_annotator"].items()
    }
    assert [a.message() for a in drift_alerts(project)] == [a["message"] for a in gold["alerts"]]


def test_gold_alert_settings(shop):
    project, _ids, _who = shop
    # bob's 5 of 6 is below 0.9; a bucket needs 7 answers: none has them
    loose = project_report(project, gold_threshold=0.9).as_dict()["gold"]
    assert [a["annotator"] for a in loose["alerts"]] == ["alice", "bob"]
    assert project_report(project, gold_min_items=7).as_dict()["gold"]["alerts"] == []
    # one bucket of 14 days: alice 8 of 12
    wide = project_report(project, gold_window_days=14).as_dict()["gold"]["per_annotator"]["alice"]
    assert [(b["bucket"], b["correct"], b["items"]) for b in wide["over_time"]] == [
        ("2024-01-01", 8, 12)
    ]


def test_open_rejections(shop):
    project, ids, _who = shop
    rejections = project_report(project).as_dict()["open_issues"]["rejections"]
    # bob changed his rejected annotation afterwards: resolved; alice's is still open
    assert rejections == {
        "open": 1,
        "resolved": 1,
        "items": [
            {
                "datapoint_id": ids[14],
                "reason": "should be a",
                "decision": "reject",
                "reviewer": "rita",
                "annotator": "alice",
                "at": "2024-01-10T10:00:00.000+00:00",
            }
        ],
    }


def test_rejection_with_a_correction_or_approved_again_is_not_open(shop):
    project, ids, who = shop
    target = uuid_of(project, who["alice"], ids[14])
    review(project, "rita", target, "approve")  # rita changed her mind: the newest decision
    rejections = project_report(project).as_dict()["open_issues"]["rejections"]
    assert (rejections["open"], rejections["resolved"], rejections["items"]) == (0, 2, [])
    review(project, "rita", target, "reject", "no, b", correction="a")
    rejections = project_report(project).as_dict()["open_issues"]["rejections"]
    assert (rejections["open"], rejections["resolved"]) == (0, 3)


def test_assignment_status_counts(shop):
    project, ids, who = shop
    assignments = project_report(project).as_dict()["open_issues"]["assignments"]

    def counts(todo, going, done, issues):
        return {
            "to-do": todo,
            "in progress": going,
            "completed": done,
            "completed with issues": issues,
        }

    assert assignments == {
        # 12, 13 done; 14 has the open rejection; 16 not started
        "alice": {"status": "in progress", "tasks": counts(1, 0, 2, 1)},
        # 15 fixed after the rejection; 17 a draft
        "bob": {"status": "in progress", "tasks": counts(0, 1, 1, 0)},
        # 12 adjudicated, 13 not yet
        "lead": {"status": "in progress", "tasks": counts(1, 0, 1, 0)},
        # both decided; 14 rejected and still open
        "rita": {"status": "completed with issues", "tasks": counts(0, 0, 1, 1)},
    }
    # a flag on an item is an issue too
    AddFlag(ids[12], who["bob"], "odd").apply(project)
    alice = project_report(project).as_dict()["open_issues"]["assignments"]["alice"]["tasks"]
    assert alice == counts(1, 0, 1, 2)


def test_consensus_counts(shop):
    project, _ids, _who = shop
    consensus = project_report(project).as_dict()["consensus"]
    # two votes on gold 0-5 (5 unanimous, gold 0 split), 12 (adjudicated) and 13 (open);
    # 14 lost its only vote to the rejection, 15 has one
    assert consensus == {
        "items": 8,
        "reached": 5,
        "unanimous": 5,
        "majority": 0,
        "disagreements": 3,
        "adjudicated": 1,
        "open": 1,
        "match": "exact",
    }
    core = consensus_counts(project)
    assert {k: consensus[k] for k in core} == core


def test_parts_are_absent_without_their_workflow(make_project, tmp_path):
    project = make_project(labels=("a", "b"))
    ids = with_items(project, tmp_path, ["one", "two"])
    who = team(project, "alice", "bob")
    label(project, who["alice"], {ids[0]: "a", ids[1]: "a"})
    label(project, who["bob"], {ids[0]: "a", ids[1]: "b"})
    report = _strict(project_report(project))
    assert "gold" not in report
    assert "rejections" not in report["open_issues"]
    assert "assignments" not in report["open_issues"]
    assert report["consensus"]["items"] == 2 and report["consensus"]["disagreements"] == 1
    # once an item is gold, the part is there
    mark_gold(project, [ids[0]], ["a"])
    gold = project_report(project).as_dict()["gold"]
    assert gold["gold_items"] == 1
    assert gold["per_annotator"]["alice"]["items"] == 1  # alice's answer scores now
    page = render_html(project_report(project))
    assert "Gold accuracy over time" in page and "Drift alert" not in page


def test_namesakes_are_scored_apart(make_project, tmp_path):
    project = make_project(labels=("a", "b"))
    ids = with_items(project, tmp_path, [f"item {i}" for i in range(4)])
    from app.core.project.annotators import ensure_annotator

    with project.engine.begin() as conn:
        sams = [ensure_annotator(conn, new_uuid(), "sam", "annotator") for _ in range(2)]
    mark_gold(project, ids, ["a"] * 4)
    label(project, sams[0], {dp: "a" for dp in ids})
    label(project, sams[1], {dp: "b" for dp in ids})
    gold = project_report(project).as_dict()["gold"]["per_annotator"]
    assert len(gold) == 2 and all(name.startswith("sam (") for name in gold)
    assert sorted((g["correct"], g["items"]) for g in gold.values()) == [(0, 4), (4, 4)]
    report = project_report(project)
    assert set(gold) <= set(report.progress.by_annotator)


def test_report_json_carries_the_quality_parts(shop):
    project, _ids, _who = shop
    report = project_report(project)
    assert json.loads(report_json(report)) == _strict(report)


# --- HTML -----------------------------------------------------------------------------------


def test_html_shows_gold_alerts_rejections_assignments_and_consensus(shop):
    project, _ids, _who = shop
    page = render_html(project_report(project))
    assert "Gold accuracy over time" in page
    assert "Drift alert" in page
    assert html.escape("alice: gold accuracy 33% on 6 items (2024-01-08 to 2024-01-14)") in page
    assert 'stroke-dasharray="5 4"' in page  # the threshold line
    assert "alert below 80%" in page and "drift alert" in page  # the chart's key
    assert "should be a" in page and ">typo<" not in page  # only open rejections
    assert "1 open rejection" in page
    assert "completed with issues" in page and "Assignments" in page
    for figure, name in (
        ("8", "items with two or more votes"),
        ("5", "consensus reached"),
        ("3", "disagreements"),
        ("1", "adjudicated"),
    ):
        assert f"<b>{figure}</b><span>{name}</span>" in page


def test_html_escapes_hostile_reasons_and_names(make_project, tmp_path):
    project = make_project(labels=("a", "b"))
    ids = with_items(project, tmp_path, [f"item {i}" for i in range(6)])
    evil = '<img src=x onerror=alert(5)>"'
    who = team(project, evil, "ok")
    who.update(team(project, "<b>rev</b>", role="reviewer"))
    mark_gold(project, ids[:5], ["a"] * 5)
    label(project, who[evil], {dp: "b" for dp in ids[:5]})  # all wrong: an alert
    label(project, who["ok"], {ids[5]: "a"})
    review(project, "<b>rev</b>", uuid_of(project, who["ok"], ids[5]), "reject", HOSTILE_REASON)
    report = project_report(project)
    assert report.gold.alerts[0].annotator == evil
    assert report.open_issues.rejections.items[0].reason == HOSTILE_REASON
    out = write_html(report, tmp_path / "r.html")
    page = out.read_text(encoding="utf-8")
    lowered = page.lower()
    for forbidden in ("<script", "<img", "<b>rev", "http://", "https://", "url("):
        assert forbidden not in lowered, forbidden
    assert html.escape(HOSTILE_REASON) in page
    assert html.escape(evil) in page
    assert "&lt;b&gt;rev&lt;/b&gt;" in page


def test_the_terminal_digest_names_gold_alerts_consensus_and_rejections(shop, capsys):
    from app.cli.main import main

    project, _ids, _who = shop
    assert main(["report", str(project.path)]) == 0
    out = capsys.readouterr().out
    assert "Gold accuracy:" in out and "ALERT" in out
    assert "Consensus:" in out and "disagreements" in out
    assert "open rejections: 1" in out
