"""The gold view: marking selected rows as gold, mixing gold into queues, qualification sets
and results, and gold accuracy with drift alerts, driven by clicks.

`TAGLOOP_SCREENSHOTS=1 pytest tests/gui/test_gold_view.py -k screenshot` rewrites docs/gold.png.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from sqlalchemy import text

from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.core.quality.gold import gold_items, mark_gold
from app.core.quality.qualification import create_qualification
from app.core.team.assign import generate_tasks
from app.views.quality.gold import GoldView
from app.workers.write_job import writes_pending
from tests.fixtures_data import sms_rows
from tests.unit.quality_helpers import label, team, with_items

DOCS = Path(__file__).resolve().parents[2] / "docs"
LEFT = Qt.MouseButton.LeftButton


def click(qtbot, view, button) -> None:
    """Click a button of the gold view, and let the change it saves off the GUI thread land."""
    qtbot.mouseClick(button, LEFT)
    qtbot.waitUntil(lambda: not writes_pending(view), timeout=20_000)


def rows(project, sql: str, **params):
    with project.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def make(tmp_path, task_type="classification", labels=("ham", "spam", "unsure"), n=20):
    project = create_project(
        tmp_path / f"{task_type}.tagloop", task_type, list(map(LabelSpec, labels))
    )
    ids = with_items(project, tmp_path, [body for body, _label in sms_rows(n)])
    return project, ids


@pytest.fixture
def shop(tmp_path):
    project, ids = make(tmp_path)
    who = team(project, "alice", "bob")
    yield project, ids, who
    project.close()


def open_view(qtbot, project, ids=None) -> GoldView:
    view = GoldView(project, ids)
    qtbot.addWidget(view)
    view.show()
    return view


def candidate(view, dp):
    return next(c for c in view.candidates if c.datapoint_id == dp)


def column(table, c):
    return [table.item(r, c).text() for r in range(table.rowCount())]


def test_mark_two_items_with_chosen_answers(qtbot, shop):
    project, ids, who = shop
    label(project, who["alice"], {ids[0]: "spam"})  # the only answer: the default
    view = open_view(qtbot, project, [ids[0], ids[1]])
    assert view.mark_table.rowCount() == 2
    assert candidate(view, ids[0]).answer() == "spam"
    assert "only answer" in view.mark_table.item(0, 3).text()
    assert candidate(view, ids[1]).answer() is None  # no final value: must be chosen
    click(qtbot, view, view.mark_button)
    assert f"Choose the answer of item {ids[1]}" in view.mark_message.text()
    assert gold_items(project) == {}

    candidate(view, ids[0]).combo.setCurrentText("ham")
    candidate(view, ids[1]).combo.setCurrentText("unsure")
    click(qtbot, view, view.mark_button)
    assert "Marked 2 items as gold" in view.mark_message.text()
    assert rows(project, "SELECT datapoint_id, value FROM gold_item ORDER BY 1") == [
        (ids[0], '"ham"'),
        (ids[1], '"unsure"'),
    ]
    assert view.gold_table.rowCount() == 2
    assert column(view.gold_table, 2) == ["ham", "unsure"]
    # alice answered the first one (spam), wrongly
    assert column(view.gold_table, 3) == ["1", "0"]
    assert column(view.gold_table, 4)[0].startswith("0%")
    assert "already gold" in view.mark_table.item(0, 3).text()


def test_multilabel_answers_are_checkable_labels(qtbot, tmp_path):
    project, ids = make(tmp_path, "multilabel", ("promo", "urgent", "personal"), n=4)
    ana = team(project, "ana")["ana"]
    label(project, ana, {ids[0]: ["promo", "urgent"]})
    view = open_view(qtbot, project, ids[:2])
    first, second = candidate(view, ids[0]), candidate(view, ids[1])
    assert first.answer() == ["promo", "urgent"]
    assert second.answer() == []
    second.checks["personal"].setChecked(True)
    click(qtbot, view, view.mark_button)
    assert gold_items(project) == {ids[0]: ["promo", "urgent"], ids[1]: ["personal"]}
    project.close()


def test_span_items_need_a_final_value(qtbot, tmp_path):
    project, ids = make(tmp_path, "spans", ("ORG", "MONEY"), n=3)
    ana = team(project, "ana")["ana"]
    label(project, ana, {ids[0]: [{"start": 0, "end": 4, "label": "ORG"}]})
    view = open_view(qtbot, project, ids[:2])
    assert candidate(view, ids[0]).markable
    assert not candidate(view, ids[1]).markable
    assert "only once they have a final value" in view.mark_hint.text()
    click(qtbot, view, view.mark_button)
    assert gold_items(project) == {ids[0]: [{"start": 0, "end": 4, "label": "ORG"}]}
    assert "1 span item without a final value skipped" in view.mark_message.text()
    project.close()


def test_nothing_selected_says_how_to_mark(qtbot, shop):
    view = open_view(qtbot, shop[0])
    assert view.mark_table.rowCount() == 0
    assert not view.mark_button.isEnabled()
    assert "Select rows in the browse table" in view.mark_hint.text()


def test_mix_into_tasks(qtbot, shop):
    project, ids, who = shop
    view = open_view(qtbot, project)
    click(qtbot, view, view.mix_button)  # no gold yet: the core's refusal is shown
    assert "no gold items yet" in view.mix_message.text()
    mark_gold(project, ids[:6], ["ham"] * 6)
    # the 14 items that are not gold make the pool: 12 of them, 6 label tasks each
    generate_tasks(project, ["alice", "bob"], fraction=12 / 14, seed=2)
    view.reload()
    assert sorted(view.checked_annotators()) == sorted(who.values())
    view.rate_spin.setValue(25.0)
    view.seed_spin.setValue(3)
    click(qtbot, view, view.mix_button)
    assert "4 gold tasks" in view.mix_message.text()
    assert "alice 2" in view.mix_message.text() and "bob 2" in view.mix_message.text()
    gold_tasks = rows(
        project, "SELECT annotator_id, datapoint_id FROM task WHERE kind = 'gold' ORDER BY 1"
    )
    assert len(gold_tasks) == 4
    assert {w for w, _dp in gold_tasks} == set(who.values())
    assert all(dp in ids[:6] for _w, dp in gold_tasks)
    # the annotator list survives the refresh with its checks
    assert sorted(view.checked_annotators()) == sorted(who.values())


def test_qualification_create_assign_and_score(qtbot, shop):
    project, ids, who = shop
    mark_gold(project, ids[:4], ["ham", "ham", "spam", "spam"])
    view = open_view(qtbot, project)
    assert "all 4 gold items" in view.set_items_hint.text()
    assert not view.assign_button.isEnabled()
    click(qtbot, view, view.create_button)  # no name
    assert "needs a name" in view.qual_message.text()

    view.qual_name.setText("intake")
    view.pass_spin.setValue(75)
    click(qtbot, view, view.create_button)
    assert rows(project, "SELECT name, pass_score FROM qualification_set") == [("intake", 0.75)]
    assert len(rows(project, "SELECT datapoint_id FROM qualification_item")) == 4
    assert view.set_combo.currentData() == "intake"
    view.qual_name.setText("intake")
    click(qtbot, view, view.create_button)
    assert "already exists" in view.qual_message.text()

    click(qtbot, view, view.assign_button)
    assert "8 qualification tasks for 2 annotators" in view.qual_message.text()
    tasks = rows(
        project,
        "SELECT annotator_id, count(*) FROM task WHERE kind = 'qualification'"
        " GROUP BY 1 ORDER BY 1",
    )
    assert tasks == sorted([(who["alice"], 4), (who["bob"], 4)])

    # half done: scored, not recorded
    label(project, who["alice"], {ids[0]: "ham", ids[1]: "ham"})
    view.score_combo.setCurrentIndex(view.score_combo.findData(who["alice"]))
    click(qtbot, view, view.score_button)
    assert "not recorded" in view.qual_message.text()
    assert view.results_table.rowCount() == 0
    label(project, who["alice"], {ids[2]: "spam", ids[3]: "ham"})
    click(qtbot, view, view.score_button)
    assert "passed, recorded" in view.qual_message.text()
    assert view.results_table.rowCount() == 1
    assert [view.results_table.item(0, c).text() for c in range(4)] == [
        "alice",
        "intake",
        "75%  (3/4)",
        "✓ passed",
    ]


def test_a_set_from_the_selected_gold_rows(qtbot, shop):
    project, ids, _who = shop
    mark_gold(project, ids[:4], ["ham"] * 4)
    view = open_view(qtbot, project)
    model = view.gold_table.selectionModel()
    for r in (1, 3):
        model.select(
            view.gold_table.model().index(r, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    assert "2 gold items selected" in view.set_items_hint.text()
    view.qual_name.setText("short")
    click(qtbot, view, view.create_button)
    assert [r[0] for r in rows(project, "SELECT datapoint_id FROM qualification_item")] == [
        ids[1],
        ids[3],
    ]


def test_accuracy_table_and_drift_alerts(qtbot, shop):
    project, ids, who = shop
    mark_gold(project, ids[:6], ["ham"] * 6)
    view = open_view(qtbot, project)
    assert view.accuracy_table.rowCount() == 0
    assert "Nobody has answered" in view.alert_label.text()
    # alice: 2 of 3 right; bob: 1 of 6 right (enough answers for an alert)
    label(project, who["alice"], {ids[0]: "ham", ids[1]: "ham", ids[2]: "spam"})
    label(project, who["bob"], {dp: ("ham" if i == 0 else "spam") for i, dp in enumerate(ids[:6])})
    view.reload()
    table = view.accuracy_table
    assert column(table, 0) == ["alice", "bob"]
    assert column(table, 1) == ["67%", "17%"]
    assert column(table, 2) == ["2 of 3", "1 of 6"]
    assert column(table, 4)[0] == "ok"  # too few answers for an alert
    assert column(table, 4)[1].startswith("⚠ 17% on 6")
    assert table.item(1, 0).foreground().color().name() == "#c62828"
    assert "bob: gold accuracy 17% on 6 items" in view.alert_label.text()
    view.min_items_spin.setValue(7)  # the alert needs more answers now
    assert "No drift" in view.alert_label.text()
    assert column(view.gold_table, 3) == ["2", "2", "2", "1", "1", "1"]
    # an item's accuracy is red below the alert threshold
    assert view.gold_table.item(1, 4).text() == "50%  (1/2)"
    assert view.gold_table.item(1, 4).foreground().color().name() == "#c62828"
    view.threshold_spin.setValue(50)
    assert view.gold_table.item(1, 4).foreground().color().name() == "#2e7d32"


def test_screenshot(qtbot, tmp_path):
    """A realistic team: gold answered by three annotators, one drifting, a qualification set
    with recorded results, and four selected rows ready to be marked."""
    from app.core.quality.qualification import assign_qualification, qualification_result
    from app.core.team.assign import add_annotator

    texts = sms_rows(40)
    project = create_project(
        tmp_path / "clinic.tagloop",
        "classification",
        [LabelSpec("ham"), LabelSpec("spam"), LabelSpec("unsure")],
    )
    ids = with_items(project, tmp_path, [body for body, _ in texts])
    truth = dict(zip(ids, (lab for _, lab in texts), strict=True))
    people = {
        name: add_annotator(project, name).id
        for name in ("Dr. Amira Haddad", "Ben Okafor", "Chloé Martin")
    }
    add_annotator(project, "Rita Alvarez", "reviewer")
    gold = ids[:10]
    mark_gold(project, gold, [truth[dp] for dp in gold])
    create_qualification(project, "intake", gold[:5], 0.8)
    assign_qualification(project, "intake", list(people))
    wrong = {"Dr. Amira Haddad": set(), "Ben Okafor": {3}, "Chloé Martin": {1, 4, 6, 7, 8, 9}}
    for name, who in people.items():
        label(
            project,
            who,
            {
                dp: (("ham" if truth[dp] == "spam" else "spam") if i in wrong[name] else truth[dp])
                for i, dp in enumerate(gold)
            },
        )
        qualification_result(project, who, "intake")
    label(project, people["Ben Okafor"], {ids[12]: "spam"})
    label(project, people["Dr. Amira Haddad"], {ids[13]: "ham"})
    label(project, people["Chloé Martin"], {ids[13]: "ham"})
    view = GoldView(project, [ids[11], ids[12], ids[13], ids[14]])
    qtbot.addWidget(view)
    view.resize(1280, 800)  # the README's picture: room for the texts and both columns
    view.show()
    view.rate_spin.setValue(5.0)
    view.mix_message.setText("")
    qtbot.wait(50)
    target = (DOCS if os.environ.get("TAGLOOP_SCREENSHOTS") else tmp_path) / "gold.png"
    assert view.grab().save(str(target))
    assert target.stat().st_size > 10_000
    assert view.alerts and view.alerts[0].annotator == "Chloé Martin"
    project.close()
