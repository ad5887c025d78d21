"""A save kept out by another program's lock: the editor keeps the undo history and the label,
tells the user once, keeps trying, and saves when the lock goes."""

from __future__ import annotations

import sqlite3

from PySide6.QtWidgets import QApplication

from app.core.annotation.browse import Query
from app.core.annotation.worklist import WorklistSpec
from app.core.io.importer import import_dataset
from app.core.storage import retry
from app.views.editor import AnnotationSession
from app.workers import writer as writer_module
from app.workers.writer import Writer


def _annotations(project) -> dict[int, str]:
    conn = sqlite3.connect(project.path)
    try:
        return dict(conn.execute("SELECT datapoint_id, value FROM annotation").fetchall())
    finally:
        conn.close()


def test_a_save_kept_out_by_a_lock_keeps_undo_and_label_and_is_saved_later(
    qtbot, spam_project, sms_csv, monkeypatch
):
    monkeypatch.setenv("TAGLOOP_WRITE_TIMEOUT", "0.5")  # a short wait before the user is told
    monkeypatch.setattr(retry, "ATTEMPT_WAIT", 0.2)
    monkeypatch.setattr(writer_module, "RETRY_PAUSE", 0.1)
    import_dataset(spam_project, sms_csv)
    assert spam_project.local_annotator_id  # registered before the lock is taken
    writer = Writer()
    session = AnnotationSession(spam_project, writer)
    session.open_queue(WorklistSpec(Query()))
    first = session.item.id

    holder = sqlite3.connect(spam_project.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another program's long write holds the lock
    messages: list[str] = []
    session.message.connect(messages.append)
    try:
        with qtbot.waitSignal(session.waiting, timeout=20_000) as told:
            session.set_state("spam", "draft", "label")
            session.next()
            second = session.item.id
            session.set_state("ham", "draft", "label")
        assert "locked for" in told.args[0] and "kept" in told.args[0]
        assert writer.stalled and session.waiting_for_lock
        session.flush()  # returns while the write waits: it does not hang the window
        QApplication.processEvents()
        # Nothing is lost: both edits are on the undo stack and on screen, none in the file.
        assert session.undo_stack.count() == 2
        assert session.item.annotation.value == "ham"
        session.back()
        assert session.item.id == first and session.item.annotation.value == "spam"
        assert _annotations(spam_project) == {}
    finally:
        holder.execute("ROLLBACK")  # the lock goes
        holder.close()

    qtbot.waitUntil(lambda: not writer.pending, timeout=20_000)
    QApplication.processEvents()
    saved = _annotations(spam_project)
    assert saved[first] == '"spam"' and saved[second] == '"ham"'
    assert session.undo_stack.count() == 2
    assert not session.waiting_for_lock
    assert any(m.startswith("Saved") for m in messages)

    session.undo_stack.undo()  # the history still matches the file
    session.flush()
    QApplication.processEvents()
    assert _annotations(spam_project) == {first: '"spam"'}
    writer.shutdown()
