"""Gold items, unannounced gold tasks, accuracy over time, drift alerts and qualification."""

from __future__ import annotations

import pytest

from app.core.errors import ProjectError
from app.core.quality.consensus import final_records
from app.core.quality.gold import (
    drift_alerts,
    gold_accuracy,
    gold_items,
    mark_gold,
    mix_gold_into_tasks,
    read_answers_csv,
)
from app.core.quality.qualification import (
    assign_qualification,
    create_qualification,
    qualification_result,
)
from app.core.team.assign import generate_tasks
from tests.unit.helpers import rows
from tests.unit.quality_helpers import label, team, with_items


@pytest.fixture
def shop(make_project, tmp_path):
    project = make_project(labels=("a", "b"))
    ids = with_items(project, tmp_path, [f"item {i}" for i in range(20)])
    who = team(project, "alice", "bob", "carol")
    return project, ids, who


def set_times(project, who, day_of):
    """Move an annotator's annotations to given days (datapoint id -> 'YYYY-MM-DD')."""
    import sqlite3

    conn = sqlite3.connect(project.path)
    with conn:
        for dp, day in day_of.items():
            conn.execute(
                "UPDATE annotation SET updated_at = ? WHERE annotator_id = ? AND datapoint_id = ?",
                (f"{day}T12:00:00.000+00:00", who, dp),
            )
    conn.close()


def test_mark_gold_validates_and_replaces(shop):
    project, ids, _who = shop
    assert mark_gold(project, ids[:3], ["a", "b", "a"]) == 3
    with pytest.raises(ProjectError, match="not in the schema"):
        mark_gold(project, [ids[3]], ["zzz"])
    with pytest.raises(ProjectError, match="one answer per"):
        mark_gold(project, [ids[3]], [])
    first = rows(project, "SELECT uuid FROM gold_item WHERE datapoint_id = ?", ids[0])
    mark_gold(project, [ids[0]], ["b"])
    assert gold_items(project) == {ids[0]: "b", ids[1]: "b", ids[2]: "a"}
    assert rows(project, "SELECT uuid FROM gold_item WHERE datapoint_id = ?", ids[0]) != first
    # the gold answer is the final value of the item
    label(project, 2, {ids[1]: "a"})
    assert [(r.datapoint_id, r.value, r.source) for r in final_records(project)][:2] == [
        (ids[0], "b", "gold"),
        (ids[1], "b", "gold"),
    ]


def test_answers_from_csv(shop, tmp_path):
    project, ids, _who = shop
    from app.core.io.export import iter_records

    uid = next(iter_records(project))["id"]
    source = tmp_path / "gold.csv"
    source.write_text(f"id,label\n{uid},b\n{ids[4]},a\n", encoding="utf-8")
    got = read_answers_csv(project, source)
    assert got == ([ids[0], ids[4]], ["b", "a"])
    source.write_text("id,label\nnope,b\n", encoding="utf-8")
    with pytest.raises(ProjectError, match="no datapoint 'nope'"):
        read_answers_csv(project, source)


def test_gold_tasks_are_mixed_at_the_rate(shop):
    project, ids, who = shop
    mark_gold(project, ids[:6], ["a"] * 6)
    # the 14 items that are not gold make the pool: 12 of them, 6 each
    report = generate_tasks(project, ["alice", "bob"], fraction=12 / 14, seed=2)
    assert (report.pool, report.selected) == (14, 12)
    # no label task lands on a gold item: those go out only as gold tasks
    assert not rows(
        project,
        "SELECT 1 FROM task WHERE kind = 'label' AND datapoint_id IN"
        " (SELECT datapoint_id FROM gold_item)",
    )
    made = mix_gold_into_tasks(project, ["alice", "bob"], 0.25, seed=3)
    # 6 label tasks, rate 1/4 of the queue: round(0.25 * 6 / 0.75) = 2 gold tasks each
    assert made == {"alice": 2, "bob": 2}
    for name in ("alice", "bob"):
        gold = rows(
            project,
            "SELECT datapoint_id FROM task WHERE kind = 'gold' AND annotator_id = ?",
            who[name],
        )
        assert all(dp in ids[:6] for (dp,) in gold)
        mine = rows(
            project,
            "SELECT datapoint_id FROM task WHERE kind = 'label' AND annotator_id = ?",
            who[name],
        )
        assert not set(gold) & set(mine)
    with pytest.raises(ProjectError, match="below 1"):
        mix_gold_into_tasks(project, ["alice"], 1.0)


def test_accuracy_over_time_and_drift(shop):
    project, ids, who = shop
    gold = ids[:12]
    mark_gold(project, gold, ["a"] * 12)
    # alice: week 1 all 6 right, week 2 2 of 6 right; bob: 5 of 6 right in week 1
    label(project, who["alice"], {dp: "a" for dp in gold[:6]})
    label(project, who["alice"], {dp: ("a" if i < 2 else "b") for i, dp in enumerate(gold[6:])})
    label(project, who["bob"], {dp: ("a" if i else "b") for i, dp in enumerate(gold[:6])})
    set_times(project, who["alice"], {dp: "2030-01-01" for dp in gold[:6]})
    set_times(project, who["alice"], {dp: "2030-01-09" for dp in gold[6:]})
    set_times(project, who["bob"], {dp: "2030-01-03" for dp in gold[:6]})
    found = {a.annotator: a for a in gold_accuracy(project, window_days=7)}
    assert set(found) == {"alice", "bob"}  # the gold's author is not scored
    alice = found["alice"]
    assert (alice.correct, alice.total) == (8, 12)
    assert [(b.start, b.end, b.correct, b.total) for b in alice.buckets] == [
        ("2030-01-01", "2030-01-07", 6, 6),
        ("2030-01-08", "2030-01-14", 2, 6),
    ]
    assert found["bob"].accuracy == pytest.approx(5 / 6)
    alerts = drift_alerts(project, threshold=0.8, min_items=5)
    assert [(a.annotator, a.items, a.start) for a in alerts] == [("alice", 6, "2030-01-08")]
    assert alerts[0].accuracy == pytest.approx(2 / 6)
    assert drift_alerts(project, threshold=0.8, min_items=7) == []
    assert [a.annotator for a in gold_accuracy(project, "bob")] == ["bob"]


def test_qualification_gate(shop):
    project, ids, who = shop
    mark_gold(project, ids[:4], ["a", "a", "b", "b"])
    with pytest.raises(ProjectError, match="must be gold"):
        create_qualification(project, "intro", [ids[5]], 0.75)
    create_qualification(project, "intro", ids[:4], 0.75)
    with pytest.raises(ProjectError, match="already exists"):
        create_qualification(project, "intro", ids[:4], 0.75)
    with pytest.raises(ProjectError, match="not qualified yet: alice"):
        generate_tasks(project, ["alice"], fraction=0.5)
    assert assign_qualification(project, "intro", ["alice", "bob"]) == 8
    assert assign_qualification(project, "intro", ["alice"]) == 0
    label(project, who["alice"], {ids[0]: "a", ids[1]: "a", ids[2]: "b"})
    partial = qualification_result(project, "alice")
    assert (partial.correct, partial.total, partial.answered, partial.passed) == (3, 4, 3, False)
    assert partial.recorded is None
    label(project, who["alice"], {ids[3]: "a"})
    label(project, who["bob"], {ids[0]: "b", ids[1]: "a", ids[2]: "a", ids[3]: "b"})
    alice = qualification_result(project, "alice")
    bob = qualification_result(project, "bob", "intro")
    assert (alice.score, alice.passed) == (0.75, True)
    assert (bob.score, bob.passed) == (0.5, False)
    assert qualification_result(project, "alice").recorded == alice.recorded  # recorded once
    assert rows(
        project,
        "SELECT annotator_id, score, correct, total, passed FROM qualification_result ORDER BY 1",
    ) == [(who["alice"], 0.75, 3, 4, 1), (who["bob"], 0.5, 2, 4, 0)]
    generate_tasks(project, ["alice"], fraction=0.25)
    with pytest.raises(ProjectError, match=r"bob \('intro'\)"):
        generate_tasks(project, ["alice", "bob"], fraction=0.25)
    report = generate_tasks(project, ["bob"], fraction=0.25, force=True)
    assert report.tasks > 0
