"""What a new user meets first in the editor (issue #16): messages that can be read, counts that
keep up, recent answers one click from undo, no silent "no spans", an honest resume."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from app.core.annotation.browse import Query
from app.core.annotation.worklist import WorklistSpec
from app.core.project.project import open_project
from app.views.editor.grid import BulkGrid
from app.views.main_window import MainWindow
from tests.gui import test_editors as editors
from tests.gui.test_editors import annotation_of, key, settle

# The editor tests' fixtures, shared (a project of each task type, an editor opener).
spam, topics, diseases, open_editor = (
    editors.spam,
    editors.topics,
    editors.diseases,
    editors.open_editor,
)

SMALL = (1024, 640)


def shown_message(editor) -> bool:
    """The message line can be read: on screen, the editor's width, room for a line of text."""
    line = editor.status_line
    return (
        line.isVisible()
        and line.width() >= editor.width() // 2
        and line.height() >= line.fontMetrics().lineSpacing()
        and bool(line.text())
    )


def at_small_size(qtbot, editor):
    editor.resize(*SMALL)
    qtbot.waitUntil(lambda: editor.text_view.height() > 0)
    return editor.text_view.height()


def test_every_message_is_visible_and_keeps_the_text_pane(qtbot, spam, topics, open_editor):
    session, editor = open_editor(spam)
    before = at_small_size(qtbot, editor)
    assert before >= 400  # at 1024×640 the text keeps most of the height
    key(qtbot, editor, Qt.Key.Key_Return)  # Enter on an unlabelled item
    assert "label" in editor.status_line.text() and shown_message(editor)
    assert editor.text_view.height() == before
    key(qtbot, editor, "1")  # labelled, moved on; back to it: it is locked
    key(qtbot, editor, Qt.Key.Key_Backspace)
    settle(session)
    before = editor.text_view.height()  # under the "Completed" banner of a finished item
    key(qtbot, editor, "2")
    assert "Press R to reopen" in editor.status_line.text() and shown_message(editor)
    assert editor.text_view.height() == before
    key(qtbot, editor, "f")
    qtbot.keyClicks(editor.prompt.edit, "odd wording")
    key(qtbot, editor.prompt.edit, Qt.Key.Key_Return)
    assert "Flagged." in editor.status_line.text() and shown_message(editor)
    assert not editor.prompt.isVisible()  # the Enter went to the prompt, not to the editor
    qtbot.waitUntil(lambda: editor.text_view.height() == before)  # the prompt's room is back
    assert session.position == 0 and "Flagged." in editor.status_line.text()

    _session, multi = open_editor(topics)
    height = at_small_size(qtbot, multi)
    key(qtbot, multi, Qt.Key.Key_Return)
    assert "Choose labels, or press N" in multi.status_line.text() and shown_message(multi)
    assert multi.text_view.height() == height


def test_span_overlap_refusal_is_visible(qtbot, diseases, open_editor):
    session, editor = open_editor(diseases())
    height = at_small_size(qtbot, editor)
    words = session.item.text
    editor.text_view.select(words.index("human"), words.index("tumour") + 6)
    key(qtbot, editor.text_view, "1")
    editor.text_view.select(words.index("skin"), words.index("skin") + 4)
    key(qtbot, editor.text_view, "2")
    assert "overlap" in editor.status_line.text() and shown_message(editor)
    assert editor.text_view.height() == height


def test_enter_with_no_spans_asks_once_per_session(qtbot, diseases, open_editor):
    project = diseases()
    session, editor = open_editor(project)
    first = session.item.id
    view = editor.text_view
    key(qtbot, view, Qt.Key.Key_Return)
    settle(session)
    assert annotation_of(project, first) is None and session.item.id == first
    assert "Press Enter again" in editor.status_line.text()
    key(qtbot, view, Qt.Key.Key_Return)  # the second Enter means it
    settle(session)
    assert annotation_of(project, first)[:2] == ([], "complete")
    second = session.item.id
    assert second != first
    key(qtbot, view, Qt.Key.Key_Return)  # asked once per session: now one Enter is enough
    settle(session)
    assert annotation_of(project, second)[:2] == ([], "complete")

    again, fresh = open_editor(project, WorklistSpec(Query(status="unlabeled")))
    third = again.item.id
    key(qtbot, fresh.text_view, Qt.Key.Key_Return)  # a new session asks again
    settle(again)
    assert annotation_of(project, third) is None


def test_a_document_with_spans_completes_on_one_enter(qtbot, diseases, open_editor):
    project = diseases()
    session, editor = open_editor(project)
    words = session.item.text
    editor.text_view.select(words.index("skin"), words.index("skin") + 4)
    key(qtbot, editor.text_view, "1")
    key(qtbot, editor.text_view, Qt.Key.Key_Return)
    settle(session)
    value, status, _s, _u = annotation_of(project, session.queue.id_at(0))
    assert status == "complete" and len(value) == 1


def test_recent_answers_list_and_undo_the_newest(qtbot, spam, open_editor):
    session, editor = open_editor(spam)
    ids = [session.queue.id_at(p) for p in range(3)]
    for label in "121":
        key(qtbot, editor, label)
    settle(session)
    recent = editor.recent
    assert [a.datapoint_id for a in recent.answers] == ids[::-1]  # newest first
    assert [a.value for a in recent.answers] == ["ham", "spam", "ham"]
    assert len(recent.rows) == 3 and recent.rows[0].isVisible()
    undo = recent.rows[0].findChild(QToolButton)
    qtbot.mouseClick(undo, Qt.MouseButton.LeftButton)
    settle(session)
    assert annotation_of(spam, ids[2]) is None  # reverted in the database
    assert [a.datapoint_id for a in recent.answers] == ids[1::-1]
    assert session.item.id == ids[2]  # the editor shows the item it changed
    # An older answer: its Undo puts that item back too, as a new undoable step.
    older = recent.rows[1].findChild(QToolButton)
    qtbot.mouseClick(older, Qt.MouseButton.LeftButton)
    settle(session)
    assert annotation_of(spam, ids[0]) is None
    assert annotation_of(spam, ids[1])[0] == "spam"
    key(qtbot, editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(session)
    assert annotation_of(spam, ids[0])[:2] == ("ham", "complete")


def test_resume_never_skips_unlabelled_items_of_a_copied_file(qtbot, spam, open_editor, tmp_path):
    copy = tmp_path / "copy.tagloop"
    with spam.engine.connect() as conn:  # a clean copy, before any label (same project UUID)
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(spam.path, copy)
    session, editor = open_editor(spam, None)
    for _ in range(4):
        key(qtbot, editor, "1")
    settle(session)
    session.save_position()
    assert session.position == 4

    copied = open_project(copy)
    try:
        again, shown = open_editor(copied, None)
        assert again.position == 0  # the first unlabelled item, not item 5
        assert "last time you stopped at item 5" in shown.status_line.text()
        settle(again)
    finally:
        copied.close()


@pytest.fixture
def window(qtbot, spam):
    window = MainWindow(spam)
    qtbot.addWidget(window)
    window.resize(*SMALL)
    window.show()
    yield window
    if window.writer is not None:
        window.writer.flush()


def counts(window) -> str:
    return window.counts_label.text()


def test_status_bar_counts_follow_labels_flags_and_undo(qtbot, window):
    qtbot.waitUntil(lambda: "labeled 0 " in counts(window), timeout=10_000)
    window.show_tab("annotate")
    editor = window.editor
    key(qtbot, editor, "1")
    key(qtbot, editor, "2")
    qtbot.waitUntil(lambda: "labeled 2 " in counts(window), timeout=10_000)
    key(qtbot, editor, "f")
    qtbot.keyClicks(editor.prompt.edit, "check this")
    key(qtbot, editor.prompt.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: counts(window).endswith("flagged 1"), timeout=10_000)
    key(qtbot, editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the flag
    key(qtbot, editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the label "2"
    qtbot.waitUntil(
        lambda: "labeled 1 " in counts(window) and counts(window).endswith("flagged 0"),
        timeout=10_000,
    )
    assert editor.progress.text() == "1 of 60 labeled"


def test_bulk_grid_message_follows_undo_and_redo(qtbot, window):
    window.show_tab("grid")
    grid: BulkGrid = window.grid
    qtbot.waitUntil(lambda: grid.model.rowCount() > 0)
    grid.view.selectAll()
    key(qtbot, grid.view, "2")
    assert grid.status.text().startswith("Labeled 60 items “spam”")
    qtbot.waitUntil(lambda: "labeled 60 " in counts(window), timeout=10_000)
    key(qtbot, grid.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert grid.status.text().startswith("Undone")
    qtbot.waitUntil(lambda: "labeled 0 " in counts(window), timeout=10_000)
    key(
        qtbot,
        grid.view,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert grid.status.text().startswith("Labeled 60 items")
