"""The model in the editors: suggestions past the quality bar, accepting them, the model's
queue order, and the suspicious-labels view. Model versions here are stored directly, so the
tests pin the GUI's behaviour without depending on what a trained model would say."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import text

from app.core import settings
from app.core.annotation.browse import Query
from app.core.annotation.worklist import WorklistSpec
from app.core.io.importer import import_dataset
from app.core.project import modelstore
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.ml.policy import retrain_every
from app.views.editor import AnnotationSession, make_editor
from app.views.model.controller import ModelController
from app.views.quality.suspicious import SuspiciousView
from app.workers.write_job import writes_pending
from app.workers.writer import Writer
from tests.fixtures_data import sms_rows, write_csv


def settle(session: AnnotationSession) -> None:
    session.flush()
    QApplication.processEvents()


def one(project, sql: str, **params):
    with project.engine.connect() as conn:
        return conn.execute(text(sql), params).first()


ALL = WorklistSpec(Query())


@pytest.fixture
def spam(tmp_path):
    project = create_project(
        tmp_path / "spam.tagloop", "classification", [LabelSpec("ham"), LabelSpec("spam")]
    )
    path = tmp_path / "sms.csv"
    write_csv(path, [["message"], *[[t] for t, _label in sms_rows(30)]])
    import_dataset(project, path)
    yield project
    project.close()


def store_version(project, score: float, predictions: dict[int, tuple[object, float, float]]):
    """A model version with this cross-validated score and these predictions."""
    version = modelstore.save_version(
        project,
        "test-fixed",
        b"",
        25,
        {
            "macro_f1": score,
            "per_label": {},
            "suspicious": [[dp, 0.9, "spam"] for dp in list(predictions)[:3]],
        },
    )
    modelstore.write_predictions(
        project,
        version.id,
        [(dp, value, conf, prio) for dp, (value, conf, prio) in predictions.items()],
    )
    return version


@pytest.fixture
def editor_on(qtbot):
    writers = []

    def open_(project, spec=ALL):
        writer = Writer()
        writers.append(writer)
        session = AnnotationSession(project, writer)
        editor = make_editor(session)
        qtbot.addWidget(editor)
        editor.show()
        session.open_queue(spec)
        controller = ModelController(project, session)
        controller.auto = False
        return session, editor, controller

    yield open_
    for writer in writers:
        writer.shutdown()


def test_suggestions_appear_only_past_the_quality_bar(qtbot, spam, editor_on):
    ids = [row[0] for row in spam.engine.connect().execute(text("SELECT id FROM datapoint"))]
    predictions = {dp: ("spam" if dp % 2 else "ham", 0.9, float(dp)) for dp in ids}
    store_version(spam, 0.75, predictions)
    session, editor, controller = editor_on(spam)
    assert session.suggest_version is None  # below the default bar of 0.80
    assert not editor.suggestion_label.isVisibleTo(editor)
    assert "below the bar" in controller.summary()
    settings.set_preference(modelstore.QUALITY_BAR_KEY, 0.7)
    controller.refresh()
    assert session.suggest_version is not None
    first = session.item
    assert first.suggestion is not None
    assert editor.suggestion_label.isVisibleTo(editor)
    assert "90% sure" in editor.suggestion_label.text()
    suggested = first.suggestion.value
    assert editor.label_bar.buttons[suggested].property("suggested") is True


def test_accepting_a_suggestion_records_its_origin(qtbot, spam, editor_on):
    ids = [row[0] for row in spam.engine.connect().execute(text("SELECT id FROM datapoint"))]
    store_version(spam, 0.95, {dp: ("spam", 0.8, 0.5) for dp in ids})
    session, editor, _controller = editor_on(spam)
    first = session.item.id
    qtbot.keyClick(editor, "a")
    settle(session)
    value, status, origin = one(
        spam, "SELECT value, status, origin FROM annotation WHERE datapoint_id = :d", d=first
    )
    assert (json.loads(value), status, origin) == ("spam", "complete", "accepted")
    assert session.item.id != first  # classification moves on, like a label key
    second = session.item.id
    qtbot.keyClick(editor, "1")  # the annotator disagrees: a plain human label
    settle(session)
    assert one(spam, "SELECT origin FROM annotation WHERE datapoint_id = :d", d=second)[0] == (
        "human"
    )


def test_multilabel_accept_is_a_draft_and_editing_marks_it_corrected(qtbot, tmp_path, editor_on):
    project = create_project(
        tmp_path / "m.tagloop", "multilabel", [LabelSpec(x) for x in ("a", "b", "c")]
    )
    path = tmp_path / "t.csv"
    write_csv(path, [["text"], *[[t] for t, _ in sms_rows(5)]])
    import_dataset(project, path)
    ids = [row[0] for row in project.engine.connect().execute(text("SELECT id FROM datapoint"))]
    store_version(project, 0.9, {dp: (["a", "c"], 0.7, 0.1) for dp in ids})
    session, editor, _controller = editor_on(project)
    first = session.item.id
    qtbot.keyClick(editor, "a")  # hotkeys are 1, 2, 3: A accepts
    settle(session)
    row = one(
        project, "SELECT value, status, origin FROM annotation WHERE datapoint_id = :d", d=first
    )
    assert (json.loads(row[0]), row[1], row[2]) == (["a", "c"], "draft", "accepted")
    qtbot.keyClick(editor, "2")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    settle(session)
    row = one(
        project, "SELECT value, status, origin FROM annotation WHERE datapoint_id = :d", d=first
    )
    assert (json.loads(row[0]), row[1], row[2]) == (["a", "b", "c"], "complete", "corrected")
    project.close()


def test_model_order_puts_the_highest_priority_first_and_reranks_behind(qtbot, spam, editor_on):
    ids = [row[0] for row in spam.engine.connect().execute(text("SELECT id FROM datapoint"))]
    store_version(spam, 0.9, {dp: ("ham", 0.6, float(dp)) for dp in ids})  # last id first
    session, editor, _controller = editor_on(spam, WorklistSpec(Query(), order="active"))
    assert [session.queue.id_at(p) for p in range(3)] == sorted(ids, reverse=True)[:3]
    qtbot.keyClick(editor, "1")
    settle(session)
    on_screen = session.item.id
    store_version(spam, 0.9, {dp: ("ham", 0.6, -float(dp)) for dp in ids})  # now first id first
    session.pick_up_new_scores()
    assert session.item.id == on_screen  # nothing jumps under the annotator
    assert session.queue.id_at(session.position) == on_screen
    assert session.queue.id_at(session.position + 1) == min(ids)


def test_suspicious_view_keeps_changes_and_flags(qtbot, spam, editor_on):
    ids = [row[0] for row in spam.engine.connect().execute(text("SELECT id FROM datapoint"))]
    session, _editor, _controller = editor_on(spam)
    for dp in ids[:3]:
        session.show_datapoint(dp)
        session.set_state("ham", "complete", "label")
    settle(session)
    store_version(spam, 0.9, {dp: ("spam", 0.9, 0.0) for dp in ids[:3]})
    view = SuspiciousView(session)
    qtbot.addWidget(view)
    assert view.table.rowCount() == 3
    assert view.table.item(0, 1).text() == "ham" and view.table.item(0, 2).text() == "spam"
    view.table.selectRow(0)
    view.keep()  # saved off the GUI thread; the row leaves once it is
    qtbot.waitUntil(lambda: not writes_pending(view), timeout=20_000)
    view.table.selectRow(0)
    view.change()
    view.table.selectRow(0)
    view.flag()
    settle(session)
    assert view.table.rowCount() == 0
    kept, changed, flagged = ids[:3]
    assert one(spam, "SELECT value FROM annotation WHERE datapoint_id = :d", d=changed)[0] == (
        '"spam"'
    )
    assert one(spam, "SELECT flagged FROM datapoint WHERE id = :d", d=flagged)[0] == 1
    again = SuspiciousView(session)
    qtbot.addWidget(again)
    listed = [row[0] for row in again.rows]
    assert kept not in listed  # a kept label is not asked about again


def test_a_real_retrain_runs_while_the_annotator_keeps_labeling(qtbot, tmp_path, editor_on):
    """Labels go on being committed, one per key, while a background run trains and scores;
    the finished version knows the labels it was trained on and the pool gets scores."""
    project = create_project(
        tmp_path / "live.tagloop", "classification", [LabelSpec("ham"), LabelSpec("spam")]
    )
    rows = sms_rows(200)
    path = tmp_path / "sms.csv"
    write_csv(path, [["message"], *[[t] for t, _label in rows]])
    import_dataset(project, path)
    truth = {text: label for text, label in rows}
    session, editor, controller = editor_on(project)
    controller.auto = True
    key = {"ham": "1", "spam": "2"}
    started = []
    controller.status_changed.connect(lambda line: started.append(line))

    def label_current() -> None:
        qtbot.keyClick(editor, key[truth[session.item.text]])

    for _ in range(retrain_every(0)):  # enough labels to start a run by itself
        label_current()
    settle(session)
    assert controller.job is not None, "training did not start by itself"
    during = 0
    while controller.job is not None and during < 30:
        label_current()  # the window answers while the model trains
        during += 1
        qtbot.wait(5)
    settle(session)
    assert during >= 1
    qtbot.waitUntil(
        lambda: controller.job is None and controller.version is not None, timeout=60_000
    )
    labeled = one(project, "SELECT count(*) FROM annotation WHERE status = 'complete'")[0]
    assert labeled == retrain_every(0) + during
    assert controller.version.label_count >= retrain_every(0)
    scored = one(
        project,
        "SELECT count(*) FROM prediction WHERE model_version_id = :v",
        v=controller.version.id,
    )[0]
    assert scored >= 200 - labeled
    assert any("training" in line.lower() for line in started)
    assert controller.summary().startswith(f"Model v{controller.version.id}: macro-F1")
    project.close()


def test_a_deliberately_mislabeled_slice_tops_the_suspicious_view(qtbot, tmp_path, editor_on):
    """200 real SMS with their labels, 8 clear ham messages labelled spam: after a real,
    cross-validated training run the view lists the flipped slice first."""
    from app.ml.loop import train_project

    project = create_project(
        tmp_path / "flip.tagloop", "classification", [LabelSpec("ham"), LabelSpec("spam")]
    )
    rows = sms_rows(200)
    hams = [i for i, (_text, label) in enumerate(rows) if label == "ham"]
    flipped_rows = set(hams[::20][:8])
    labelled = [
        [text_, "spam" if i in flipped_rows else label] for i, (text_, label) in enumerate(rows)
    ]
    path = tmp_path / "sms.csv"
    write_csv(path, [["message", "label"], *labelled])
    import_dataset(project, path, label_column="label")
    flipped_texts = {rows[i][0] for i in flipped_rows}
    session, _editor, _controller = editor_on(project)
    train_project(project)
    view = SuspiciousView(session)
    qtbot.addWidget(view)
    top = [view.table.item(r, 0).toolTip() for r in range(min(10, view.table.rowCount()))]
    found = sum(body in flipped_texts for body in top)
    assert found >= 6, f"only {found} of 8 flipped labels in the top 10"
    assert all(view.table.item(r, 2).text() == "ham" for r in range(3))  # the model's answer
    project.close()
