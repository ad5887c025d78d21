"""The review and adjudication views on a three-annotator SMS project, driven by keys and clicks.

`TAGLOOP_SCREENSHOTS=1 pytest tests/gui/test_quality_views.py -k screenshots` rewrites
docs/review.png and docs/adjudication.png.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QInputDialog
from sqlalchemy import text

from app.core.annotation.commands import AddFlag, AnnotationState, SetAnnotations
from app.core.io.importer import import_dataset
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.core.quality.consensus import create_adjudication_tasks, disagreements, final_values
from app.core.quality.review import ISSUES, add_custom_status, create_review_tasks, review
from app.core.team.assign import add_annotator
from app.views.quality.adjudication import AdjudicationView
from app.views.quality.review import ReviewView
from app.views.quality.widgets import ValueDialog
from tests.fixtures_data import sms_rows

DOCS = Path(__file__).resolve().parents[2] / "docs"
# name: how often they give the true label
LABELERS = {"Dr. Amira Haddad": 0.95, "Ben Okafor": 0.8, "Chloé Martin": 0.7}
REVIEWER, LEAD = "Rita Alvarez", "Sam Lindqvist"


def settle(qtbot, view) -> None:
    """Decisions are saved off the GUI thread: wait until the view's write has landed."""
    qtbot.waitUntil(lambda: not view.writing, timeout=20_000)


def key(qtbot, view, which) -> None:
    """Press a key in a review or adjudication view, and let any decision it made land."""
    qtbot.keyClick(view, which)
    settle(qtbot, view)


def rows(project, sql: str, **params):
    with project.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def build_team(path: Path, n: int = 30, seed: int = 3):
    """Real SMS texts labeled ham / spam / unsure by three annotators of different accuracy,
    a reviewer and a lead; returns (project, datapoint ids, {name: annotator id})."""
    rng = random.Random(seed)
    project = create_project(
        path,
        "classification",
        [LabelSpec("ham"), LabelSpec("spam"), LabelSpec("unsure")],
        guidelines="Spam: unsolicited commercial or fraudulent messages.",
    )
    source = path.with_suffix(".jsonl")
    truth = []
    with source.open("w", encoding="utf-8") as handle:
        for body, label in sms_rows(n):
            handle.write(json.dumps({"text": body}) + "\n")
            truth.append(label)
    import_dataset(project, source)
    ids = [r[0] for r in rows(project, "SELECT id FROM datapoint ORDER BY id")]
    who = {name: add_annotator(project, name).id for name in LABELERS}
    who[REVIEWER] = add_annotator(project, REVIEWER, "reviewer").id
    who[LEAD] = add_annotator(project, LEAD, "manager").id
    for name, accuracy in LABELERS.items():
        answers = []
        for dp, label in zip(ids, truth, strict=True):
            value = label if rng.random() < accuracy else rng.choice(["ham", "spam", "unsure"])
            answers.append((dp, AnnotationState(value, "complete")))
        SetAnnotations(who[name], tuple(answers)).apply(project)
    return project, ids, who


@pytest.fixture
def team_project(tmp_path):
    project, ids, who = build_team(tmp_path / "team.tagloop")
    yield project, ids, who
    project.close()


@pytest.fixture
def review_view(qtbot, team_project):
    project, ids, who = team_project
    create_review_tasks(project, REVIEWER, datapoint_ids=ids[:8])
    view = ReviewView(project, who[REVIEWER])
    qtbot.addWidget(view)
    view.show()
    return view


def decisions(project):
    return rows(
        project,
        "SELECT annotation_uuid, decision, reason, correction_uuid FROM review_decision"
        " ORDER BY created_at",
    )


def test_review_queue_shows_the_three_annotations_side_by_side(review_view, team_project):
    _project, ids, _who = team_project
    assert len(review_view.queue) == 8
    assert review_view.item.id == ids[0]
    assert [e["annotator"] for e in review_view.entries] == list(LABELERS)
    assert len(review_view.cards) == 3
    assert review_view.assignment == "to-do"
    assert review_view.counts["to-do"] == 8


def test_approve_with_a(qtbot, review_view, team_project):
    project = team_project[0]
    first = review_view.entries[0]["annotation_uuid"]
    key(qtbot, review_view, Qt.Key.Key_A)
    assert decisions(project) == [(first, "approve", None, None)]
    # the selection moves on to the next annotation without a decision
    assert review_view.selected == 1
    assert review_view.counts["in progress"] == 1
    assert "in progress" in review_view.item_status.text()


def test_rejection_needs_a_reason_and_the_status_shows_the_issue(
    qtbot, review_view, team_project, monkeypatch
):
    project = team_project[0]
    answers = iter([("", False), ("   ", True), ("too vague", True)])
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: next(answers))
    key(qtbot, review_view, Qt.Key.Key_A)
    second = review_view.entries[1]["annotation_uuid"]
    key(qtbot, review_view, Qt.Key.Key_R)  # cancelled: refused
    key(qtbot, review_view, Qt.Key.Key_R)  # empty: refused
    assert len(decisions(project)) == 1
    assert "needs a reason" in review_view.message.text()
    key(qtbot, review_view, Qt.Key.Key_R)
    assert decisions(project)[-1] == (second, "reject", "too vague", None)
    key(qtbot, review_view, Qt.Key.Key_X)
    assert decisions(project)[-1][1] == "discard"
    assert "completed with issues" in review_view.item_status.text()
    assert review_view.counts[ISSUES] == 1
    assert "rejected" in review_view.cards[1].footer.text()


def test_correction_is_the_reviewers_annotation(qtbot, review_view, team_project, monkeypatch):
    project, ids, who = team_project
    key(qtbot, review_view, Qt.Key.Key_3)
    target = review_view.entries[2]
    wrong = target["value"]
    right = "unsure" if wrong != "unsure" else "ham"

    def fill_in(dialog: ValueDialog) -> int:
        dialog.editor.combo.setCurrentText(right)
        dialog.reason.setText("the message is ambiguous")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ValueDialog, "exec", fill_in)
    key(qtbot, review_view, Qt.Key.Key_C)
    own = rows(
        project,
        "SELECT uuid, value, origin FROM annotation WHERE annotator_id = :w AND datapoint_id = :d",
        w=who[REVIEWER],
        d=ids[0],
    )
    assert [(json.loads(v), o) for _u, v, o in own] == [(right, "review")]
    assert decisions(project) == [
        (target["annotation_uuid"], "reject", "the message is ambiguous", own[0][0])
    ]
    assert "corrected to" in review_view.cards[2].footer.text()


def test_a_correction_without_a_reason_is_refused(qtbot, team_project):
    project = team_project[0]
    dialog = ValueDialog(project, "ham", "some text", "Correct", ask_reason=True)
    qtbot.addWidget(dialog)
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "needs a reason" in dialog.error.text()


def test_keys_move_through_the_queue_and_custom_statuses_are_buttons(
    qtbot, tmp_path, team_project, monkeypatch
):
    project, ids, who = team_project
    add_custom_status(project, "needs-discussion", "reject")
    create_review_tasks(project, REVIEWER, datapoint_ids=ids[:3])
    view = ReviewView(project, who[REVIEWER])
    qtbot.addWidget(view)
    assert view.item.id == ids[0]
    key(qtbot, view, Qt.Key.Key_Return)
    assert view.item.id == ids[1]
    key(qtbot, view, Qt.Key.Key_Right)
    assert view.item.id == ids[2]
    key(qtbot, view, Qt.Key.Key_Right)  # the end: stays
    assert view.item.id == ids[2]
    key(qtbot, view, Qt.Key.Key_Left)
    assert view.item.id == ids[1]
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("ask the lead", True))
    qtbot.mouseClick(view.custom_buttons["needs-discussion"], Qt.MouseButton.LeftButton)
    settle(qtbot, view)
    assert decisions(project)[-1][1:3] == ("needs-discussion", "ask the lead")


def test_an_empty_queue_offers_to_create_tasks(qtbot, team_project, monkeypatch):
    project, _ids, who = team_project
    view = ReviewView(project, who[REVIEWER])
    qtbot.addWidget(view)
    assert view.queue == [] and view.item is None
    key(qtbot, view, Qt.Key.Key_A)  # nothing to decide on: no crash
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (10, True))
    qtbot.mouseClick(view.spot_button, Qt.MouseButton.LeftButton)
    settle(qtbot, view)
    assert len(view.queue) == 9  # 10% of 90 completed annotations, one task per item
    assert view.item is not None


def test_flags_show_beside_the_text(qtbot, team_project):
    project, ids, who = team_project
    AddFlag(ids[0], who["Ben Okafor"], "Is a prize notice spam?").apply(project)
    create_review_tasks(project, REVIEWER, datapoint_ids=ids[:2])
    view = ReviewView(project, who[REVIEWER])
    qtbot.addWidget(view)
    assert "prize notice" in view.context_label.text()
    assert view.queue[0].status == "to-do"


def shot(widget, name: str, tmp_path: Path) -> Path:
    """Grab a widget; into docs/ when TAGLOOP_SCREENSHOTS is set."""
    target = (DOCS if os.environ.get("TAGLOOP_SCREENSHOTS") else tmp_path) / name
    widget.grab().save(str(target))
    return target


def test_review_screenshot(qtbot, tmp_path, team_project, monkeypatch):
    project, ids, who = team_project
    AddFlag(
        ids[4], who["Chloé Martin"], "Is a prize notice spam? The guidelines are unclear."
    ).apply(project)
    create_review_tasks(project, REVIEWER, datapoint_ids=ids[:12])
    add_custom_status(project, "needs-discussion", "reject")
    view = ReviewView(project, who[REVIEWER])
    qtbot.addWidget(view)
    view.resize(1320, 760)
    view.show()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("not spam: a friend", True))
    for keys in ("AAA", "AAR", "AAA"):
        for letter in keys:
            key(qtbot, view, letter)
        key(qtbot, view, Qt.Key.Key_Return)
    key(qtbot, view, Qt.Key.Key_Return)  # the flagged item
    key(qtbot, view, "A")
    qtbot.wait(50)
    path = shot(view, "review.png", tmp_path)
    assert path.stat().st_size > 10_000


@pytest.fixture
def adjudication_view(qtbot, team_project):
    project, _ids, who = team_project
    view = AdjudicationView(project, who[LEAD])
    qtbot.addWidget(view)
    view.show()
    return view


def test_adjudication_by_key_records_the_first_version(qtbot, adjudication_view, team_project):
    project, _ids, who = team_project
    view = adjudication_view
    open_items = [c.datapoint_id for c in disagreements(project)]
    assert len(open_items) >= 2
    assert view.queue == open_items
    first = view.queue[0]
    votes = view.versions.votes
    assert len(votes) == len(view.cards) == 3
    assert "Disagreement <b>1</b> of" in view.progress_label.text()
    key(qtbot, view, "1")
    stored = rows(
        project,
        "SELECT value, decided_by FROM adjudication WHERE datapoint_id = :d",
        d=first,
    )
    assert [(json.loads(v), by) for v, by in stored] == [(votes[0].value, who[LEAD])]
    assert dict(final_values(project))[first] == votes[0].value
    # the queue advances, and the decided item leaves the open disagreements
    assert view.item.id == view.queue[1]
    assert view.progress.value() == 1
    assert first not in [c.datapoint_id for c in disagreements(project)]


def test_use_this_button_and_edited_final_value(
    qtbot, adjudication_view, team_project, monkeypatch
):
    project = team_project[0]
    view = adjudication_view
    first, votes = view.queue[0], view.versions.votes
    buttons = view.cards[1].findChildren(type(view.edit_button))
    qtbot.mouseClick(buttons[0], Qt.MouseButton.LeftButton)
    settle(qtbot, view)
    assert dict(final_values(project))[first] == votes[1].value
    second = view.item.id

    def pick_unsure(dialog: ValueDialog) -> int:
        dialog.editor.combo.setCurrentText("unsure")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ValueDialog, "exec", pick_unsure)
    key(qtbot, view, Qt.Key.Key_E)
    assert dict(final_values(project))[second] == "unsure"
    # skipping and going back do not decide anything
    key(qtbot, view, Qt.Key.Key_Return)
    key(qtbot, view, Qt.Key.Key_Left)
    assert len(rows(project, "SELECT * FROM adjudication")) == 2


def test_adjudicate_tasks_come_first_and_an_empty_queue_says_so(qtbot, team_project):
    project, _ids, who = team_project
    items = [c.datapoint_id for c in disagreements(project)]
    create_adjudication_tasks(project, LEAD, datapoint_ids=[items[-1]])
    view = AdjudicationView(project, who[LEAD])
    qtbot.addWidget(view)
    assert view.queue[0] == items[-1] and sorted(view.queue) == sorted(items)
    for _ in items:
        key(qtbot, view, "2")
    assert "All" in view.message.text()
    assert disagreements(project) == []
    again = AdjudicationView(project, who[LEAD])
    qtbot.addWidget(again)
    assert again.queue == [] and "No open disagreements" in again.progress_label.text()
    assert again.progress.text() == "nothing to decide"  # not "0 of 1 decided"
    key(qtbot, again, "1")  # nothing to decide: no crash


def test_span_project_versions_and_value_editor(qtbot, tmp_path):
    project = create_project(
        tmp_path / "spans.tagloop", "spans", [LabelSpec("PER"), LabelSpec("LOC")]
    )
    source = tmp_path / "spans.jsonl"
    source.write_text(json.dumps({"text": "Anna flew to Paris with Ben."}) + "\n")
    import_dataset(project, source)
    dp = rows(project, "SELECT id FROM datapoint")[0][0]
    who = {name: add_annotator(project, name).id for name in ("a", "b")}
    lead = add_annotator(project, "lead", "manager").id
    for name, spans in (
        ("a", [{"start": 0, "end": 4, "label": "PER"}]),
        ("b", [{"start": 13, "end": 18, "label": "LOC"}]),
    ):
        SetAnnotations(who[name], ((dp, AnnotationState(spans, "complete")),)).apply(project)
    view = AdjudicationView(project, lead)
    qtbot.addWidget(view)
    assert view.queue == [dp]
    view._card_clicked(1)
    assert view.text_view.spans == [{"start": 13, "end": 18, "label": "LOC"}]
    dialog = ValueDialog(project, [], "Anna flew to Paris with Ben.", "Final")
    qtbot.addWidget(dialog)
    dialog.editor.add_span(0, 4, "PER")
    dialog.editor.text_view.select(24, 27)
    dialog.editor.span_label.setCurrentText("PER")
    dialog.editor.add_selection()
    assert dialog.value() == [
        {"start": 0, "end": 4, "label": "PER"},
        {"start": 24, "end": 27, "label": "PER"},
    ]
    dialog.editor.span_list.setCurrentRow(0)
    dialog.editor.remove_current()
    assert dialog.value() == [{"start": 24, "end": 27, "label": "PER"}]
    view.save(dialog.value())
    settle(qtbot, view)
    assert dict(final_values(project)) == {dp: [{"start": 24, "end": 27, "label": "PER"}]}
    project.close()


def test_adjudication_screenshot(qtbot, tmp_path, team_project):
    project, _ids, who = team_project
    # a three-way disagreement, one of whose versions a reviewer rejected
    split = disagreements(project)[1]  # shown once the first is decided
    assert len({v.value for v in split.votes}) == 3
    review(project, REVIEWER, split.votes[-1].annotation_uuid, "reject", "a stock tip is ham")
    review(project, REVIEWER, split.votes[0].annotation_uuid, "approve")
    adjudication = AdjudicationView(project, who[LEAD])
    qtbot.addWidget(adjudication)
    adjudication.resize(1320, 760)
    adjudication.show()
    key(qtbot, adjudication, "1")
    qtbot.wait(50)
    path = shot(adjudication, "adjudication.png", tmp_path)
    assert path.stat().st_size > 10_000
