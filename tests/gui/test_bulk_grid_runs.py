"""The grid's bulk label of many cards is a write run (issue 14): it saves in steps off the GUI
thread with a progress bar, nothing of it shows until it is all saved, and Ctrl+Z / Ctrl+Shift+Z
undo and redo it through the editor's undo stack. The threshold and chunks are made tiny."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt

from app.core.annotation import bulk_runs
from app.core.storage import runs, staging
from app.views.editor import AnnotationSession
from app.views.editor.grid import BulkGrid
from app.workers.writer import Writer
from tests.gui.test_editors import ALL, key, rows, settle, spam  # noqa: F401 (spam: a fixture)


def test_a_bulk_label_saves_in_steps_with_progress_and_undoes(qtbot, spam, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setattr(bulk_runs, "RUN_THRESHOLD", 5)
    monkeypatch.setattr(bulk_runs, "FIRST_CHUNK", 8)
    monkeypatch.setattr(staging, "next_chunk", lambda *_args, **_kwargs: 8)
    writer = Writer()
    session = AnnotationSession(spam, writer)
    session.open_queue(ALL)
    grid = BulkGrid(session)
    qtbot.addWidget(grid)
    grid.resize(900, 700)
    grid.show()
    grid.view.setFocus()
    go = threading.Event()
    report = session.report_progress

    def held(done, total, message):
        """The writer thread, after the first chunk: wait (the lock is free) for the test."""
        report(done, total, message)
        if done == 8 and message.startswith("Saving"):
            go.wait(30)

    monkeypatch.setattr(session, "report_progress", held)
    key(qtbot, grid.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select all
    key(qtbot, grid.view, "2")
    qtbot.waitUntil(grid.saving.isVisible, timeout=10_000)
    assert grid.saving.text() == "Saving 8 of 60 labels…"
    assert (grid.saving.value(), grid.saving.maximum()) == (8, 60)
    grid.grab().save(str(tmp_path / "grid_saving.png"))
    visible = f"SELECT count(*) FROM annotation a WHERE {runs.annotation_visible('a')}"
    assert rows(spam, visible)[0][0] == 0  # 8 written, none shown yet
    assert rows(spam, "SELECT count(*) FROM annotation")[0][0] == 8
    go.set()
    settle(session)
    assert not grid.saving.isVisible()
    assert rows(spam, "SELECT count(*) FROM annotation WHERE value = '\"spam\"'")[0][0] == 60
    assert rows(spam, "SELECT count(*) FROM datapoint WHERE status = 1")[0][0] == 60
    assert rows(spam, "SELECT state FROM write_run") == [(runs.PUBLISHED,)]
    assert session.undo_stack.count() == 1

    key(qtbot, grid.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(session)
    assert rows(spam, "SELECT count(*) FROM annotation")[0][0] == 0
    assert rows(spam, "SELECT count(*) FROM datapoint WHERE status = 1")[0][0] == 0
    assert rows(spam, "SELECT count(*) FROM write_run")[0][0] == 0
    assert grid.model.items[0].annotation is None
    assert not grid.saving.isVisible()

    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    key(qtbot, grid.view, Qt.Key.Key_Z, redo)
    settle(session)
    assert rows(spam, "SELECT count(*) FROM annotation WHERE value = '\"spam\"'")[0][0] == 60
    assert rows(spam, "SELECT count(*) FROM datapoint WHERE status = 1")[0][0] == 60
    assert grid.model.items[0].annotation.value == "spam"
    writer.shutdown()
