"""Suggestions soon after the first span labels (issue #17): completing a document in the span
editor starts a quick CRF update, whose suggestion appears on a following document, marked as
early when the user asked for suggestions below the quality bar; accepting it is saved."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import text

from app.core.annotation.browse import Query
from app.core.annotation.worklist import WorklistSpec
from app.core.io.importer import import_dataset
from app.core.project import modelstore
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.ml import loop, policy
from app.views.editor import AnnotationSession, make_editor
from app.views.model import controller as controller_module
from app.views.model.controller import ModelController
from app.workers.writer import Writer

PEOPLE = ["The patient", "Her father", "A child 🙂", "Each donor", "My aunt"]
DISEASES = ["cancer", "diabetes", "asthma", "cancer", "diabetes", "asthma", "cancer"]


def settle(session: AnnotationSession) -> None:
    session.flush()
    QApplication.processEvents()


@pytest.fixture
def notes(tmp_path):
    project = create_project(tmp_path / "notes.tagloop", "spans", [LabelSpec("Disease")])
    texts = [
        f"{PEOPLE[i % 5]} had {disease} last year.\r\nNo other findings {i}."
        for i, disease in enumerate(DISEASES)
    ]
    path = tmp_path / "notes.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    import_dataset(project, path)
    yield project
    project.close()


def in_this_process(project, progress=None, cancel=None):
    """The quick update without the worker process (its own tests cover that path)."""
    return loop.quick_update(project)


def test_a_completed_document_brings_a_suggestion_that_can_be_accepted(
    qtbot, notes, monkeypatch
) -> None:
    monkeypatch.setattr(controller_module, "quick_update_in_worker_process", in_this_process)
    policy.set_show_early(True)
    writer = Writer()
    session = AnnotationSession(notes, writer)
    editor = make_editor(session)
    qtbot.addWidget(editor)
    editor.resize(900, 500)
    editor.show()
    session.open_queue(WorklistSpec(Query()))
    controller = ModelController(notes, session)
    assert session.suggest_version is None
    for _ in range(loop.QUICK_MIN_DOCS):  # label each document's disease, then Enter
        item = session.item
        disease = next(d for d in DISEASES if f" {d} " in item.text)
        start = item.text.index(disease)
        editor.text_view.select(start, start + len(disease))
        qtbot.keyClick(editor.text_view, "1")
        qtbot.keyClick(editor.text_view, Qt.Key.Key_Return)
        settle(session)
    qtbot.waitUntil(lambda: controller.job is None and session.suggest_version, timeout=60_000)
    version = modelstore.get_version(notes, session.suggest_version)
    assert version.metrics["quick"] is True and version.format == "tagloop-crf-3"
    assert session.suggest_early  # no full model has passed the bar
    item = session.item
    assert item.suggestion is not None
    found = [item.text[s["start"] : s["end"]] for s in item.suggestion.value]
    assert found == [next(d for d in DISEASES if f" {d} " in item.text)]
    assert editor.suggestion_label.isVisibleTo(editor)
    assert "Early suggestion" in editor.suggestion_label.text()
    assert "below the bar, early suggestions · quick update" in controller.summary()
    qtbot.keyClick(editor.text_view, "a")  # accept, then complete
    qtbot.keyClick(editor.text_view, Qt.Key.Key_Return)
    settle(session)
    with notes.engine.connect() as conn:
        value, status, origin = conn.execute(
            text("SELECT value, status, origin FROM annotation WHERE datapoint_id = :d"),
            {"d": item.id},
        ).one()
    assert json.loads(value) == item.suggestion.value
    assert (status, origin) == ("complete", "accepted")
    qtbot.waitUntil(lambda: controller.job is None, timeout=60_000)
    writer.shutdown()


def test_the_early_switch_is_off_by_default_and_quick_updates_are_for_crf_spans(notes) -> None:
    assert policy.show_early() is False
    assert loop.quick_update_wanted(notes, loop.QUICK_MIN_DOCS)
    assert not loop.quick_update_wanted(notes, loop.QUICK_MIN_DOCS - 1)
    assert not loop.quick_update_wanted(notes, loop.QUICK_UNTIL_DOCS)
