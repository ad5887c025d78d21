"""The three editors and the bulk grid, driven by keys and the mouse; asserts on the database."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from sqlalchemy import text

from app.core.annotation.browse import Query
from app.core.annotation.worklist import WorklistSpec
from app.core.io.export import export_datapoints
from app.core.io.importer import import_dataset
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.views.editor import AnnotationSession, make_editor
from app.views.editor.grid import BulkGrid
from app.views.editor.spans import SpanEditor
from app.workers.writer import Writer
from tests.fixtures_data import sms_rows, write_csv

ALL = WorklistSpec(Query())


def settle(session: AnnotationSession) -> None:
    """Wait for the writer, then deliver its signals."""
    session.flush()
    QApplication.processEvents()


def rows(project, sql: str, **params):
    with project.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def annotation_of(project, datapoint_id: int):
    found = rows(
        project,
        "SELECT value, status, time_spent_ms, uuid FROM annotation WHERE datapoint_id = :d",
        d=datapoint_id,
    )
    if not found:
        return None
    value, status, spent, uuid = found[0]
    return (None if value is None else json.loads(value)), status, spent, uuid


def status_of(project, datapoint_id: int) -> int:
    return rows(project, "SELECT status FROM datapoint WHERE id = :d", d=datapoint_id)[0][0]


@pytest.fixture
def open_editor(qtbot):
    made = []

    def open_(project, spec: WorklistSpec = ALL):
        writer = Writer()
        session = AnnotationSession(project, writer)
        editor = make_editor(session)
        qtbot.addWidget(editor)
        editor.resize(1000, 700)
        editor.show()
        session.open_queue(spec)
        editor.setFocus()
        made.append(writer)
        return session, editor

    yield open_
    for writer in made:
        writer.shutdown()


@pytest.fixture
def spam(tmp_path):
    project = create_project(
        tmp_path / "spam.tagloop",
        "classification",
        [LabelSpec("ham"), LabelSpec("spam")],
        guidelines="# Spam\nAnything selling something is **spam**.",
    )
    path = tmp_path / "sms.csv"
    write_csv(path, [["message"], *[[t] for t, _label in sms_rows(60)]])
    import_dataset(project, path)
    yield project
    project.close()


def key(qtbot, widget, k, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(widget, k, modifier)


# --- classification ------------------------------------------------------------------------


def test_label_key_saves_and_advances(qtbot, spam, open_editor):
    session, editor = open_editor(spam)
    first = session.item.id
    qtbot.wait(60)  # Qt timers may fire a little early: wait well past what is asserted
    key(qtbot, editor, "2")
    settle(session)
    value, status, spent, _uuid = annotation_of(spam, first)
    assert (value, status) == ("spam", "complete")
    assert spent >= 30  # the time the item was on screen
    assert status_of(spam, first) == 1
    assert session.position == 1 and session.item.id != first
    assert "Item 2 of 60" in editor.position_label.text()
    assert editor.progress.value() == 1


def test_enter_without_label_saves_nothing(qtbot, spam, open_editor):
    session, editor = open_editor(spam)
    key(qtbot, editor, Qt.Key.Key_Return)
    settle(session)
    assert session.position == 0
    assert rows(spam, "SELECT count(*) FROM annotation")[0][0] == 0
    assert "label" in editor.status_line.text()


def test_finished_item_is_locked_until_reopened(qtbot, spam, open_editor):
    session, editor = open_editor(spam)
    first = session.item.id
    key(qtbot, editor, "1")
    key(qtbot, editor, Qt.Key.Key_Backspace)
    settle(session)
    assert session.item.id == first
    assert editor.overlay.isVisible() and "Completed" in editor.overlay.text()
    key(qtbot, editor, "2")  # locked: nothing changes
    settle(session)
    assert annotation_of(spam, first)[0] == "ham"
    assert session.item.id == first
    key(qtbot, editor, "r")
    key(qtbot, editor, "2")
    settle(session)
    assert annotation_of(spam, first)[0] == "spam"
    reopens = rows(spam, "SELECT count(*) FROM audit_event WHERE action = 'reopen'")[0][0]
    assert reopens == 1


def test_undo_and_redo_across_items(qtbot, spam, open_editor):
    session, editor = open_editor(spam)
    first, second = session.queue.id_at(0), session.queue.id_at(1)
    key(qtbot, editor, "1")
    key(qtbot, editor, "2")
    settle(session)
    uuid = annotation_of(spam, first)[3]
    assert session.position == 2
    key(qtbot, editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(session)
    assert annotation_of(spam, second) is None and session.item.id == second
    key(qtbot, editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(session)
    assert annotation_of(spam, first) is None and session.item.id == first
    assert status_of(spam, first) == 0
    assert editor.progress.value() == 0
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    key(qtbot, editor, Qt.Key.Key_Z, redo)
    settle(session)
    value, status, _spent, again = annotation_of(spam, first)
    assert (value, status, again) == ("ham", "complete", uuid)  # the same annotation returns
    key(qtbot, editor, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    settle(session)
    assert annotation_of(spam, second)[0] == "spam"


def test_skip_discard_flag_and_comment(qtbot, spam, open_editor):
    session, editor = open_editor(spam)
    a, b, c = (session.queue.id_at(i) for i in range(3))
    key(qtbot, editor, "s")
    key(qtbot, editor, "d")
    settle(session)
    assert annotation_of(spam, a)[:2] == (None, "skipped") and status_of(spam, a) == 2
    assert annotation_of(spam, b)[:2] == (None, "discarded") and status_of(spam, b) == 3
    assert session.item.id == c
    key(qtbot, editor, "f")
    assert editor.prompt.isVisible()
    qtbot.keyClicks(editor.prompt.edit, "garbled encoding")
    key(qtbot, editor.prompt.edit, Qt.Key.Key_Return)
    key(qtbot, editor, "c")
    qtbot.keyClicks(editor.prompt.edit, "ask the team")
    key(qtbot, editor.prompt.edit, Qt.Key.Key_Return)
    settle(session)
    assert rows(spam, "SELECT reason FROM flag WHERE datapoint_id = :d", d=c) == [
        ("garbled encoding",)
    ]
    assert rows(spam, "SELECT flagged FROM datapoint WHERE id = :d", d=c)[0][0] == 1
    assert rows(spam, "SELECT body FROM comment WHERE datapoint_id = :d", d=c) == [
        ("ask the team",)
    ]
    shown = editor.context_view.toPlainText()
    assert "garbled encoding" in shown and "ask the team" in shown
    key(qtbot, editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the comment
    settle(session)
    assert rows(spam, "SELECT count(*) FROM comment")[0][0] == 0


def test_escape_cancels_a_flag(qtbot, spam, open_editor):
    session, editor = open_editor(spam)
    key(qtbot, editor, "f")
    qtbot.keyClicks(editor.prompt.edit, "never mind")
    key(qtbot, editor.prompt.edit, Qt.Key.Key_Escape)
    settle(session)
    assert not editor.prompt.isVisible()
    assert rows(spam, "SELECT count(*) FROM flag")[0][0] == 0


def test_auto_advance_off_keeps_the_item_editable(qtbot, spam, open_editor):
    session, editor = open_editor(spam)
    editor.set_auto_advance(False)
    first = session.item.id
    key(qtbot, editor, "1")
    key(qtbot, editor, "2")
    settle(session)
    assert session.item.id == first and annotation_of(spam, first)[0] == "spam"
    key(qtbot, editor, Qt.Key.Key_Return)
    assert session.position == 1


def test_resume_where_the_annotator_stopped(qtbot, spam, open_editor):
    session, editor = open_editor(spam)
    for _ in range(3):
        key(qtbot, editor, "1")
    key(qtbot, editor, Qt.Key.Key_Right)
    settle(session)
    stopped_at = session.item.id
    session.save_position()
    again, editor = open_editor(spam, None)
    # The item passed over with → comes first, and the editor says where the annotator was.
    assert again.position == 3 and again.item.id != stopped_at
    assert "last time you stopped at item 5" in editor.status_line.text()
    key(qtbot, editor, "1")
    settle(again)
    assert again.item.id == stopped_at


def test_find_makes_a_queue_of_matches(qtbot, spam, open_editor):
    session, editor = open_editor(spam)
    key(qtbot, editor, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert editor.prompt.isVisible()
    qtbot.keyClicks(editor.prompt.edit, "free")
    key(qtbot, editor.prompt.edit, Qt.Key.Key_Return)
    texts = [t for t, _ in sms_rows(60)]
    expected = sum("free" in t.lower().replace("-", " ").split() for t in texts)
    assert 0 < len(session) <= sum("free" in t.lower() for t in texts)
    assert len(session) >= expected
    assert "free" in session.item.text.lower()
    assert editor.queue_filter.currentText() == "Search: free"


def test_text_size_keys_are_remembered(qtbot, spam, open_editor):
    _session, editor = open_editor(spam)
    before = editor.text_view.font().pointSizeF()
    key(qtbot, editor, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    key(qtbot, editor, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert editor.text_view.font().pointSizeF() == before + 2
    _again, other = open_editor(spam)
    assert other.text_view.font().pointSizeF() == before + 2


def test_question_mark_lists_every_key(qtbot, spam, open_editor):
    _session, editor = open_editor(spam)
    key(qtbot, editor, "?")
    assert editor.sheet is not None and editor.sheet.isVisible()
    keys = [editor.sheet.table.item(r, 0).text() for r in range(editor.sheet.table.rowCount())]
    assert {"1", "2", "Enter", "S", "D", "F", "C", "Ctrl+Z"} <= set(keys)


def test_guidelines_one_key_away(qtbot, spam, open_editor):
    _session, editor = open_editor(spam)
    assert not editor.guidelines.isVisible()
    key(qtbot, editor, Qt.Key.Key_F1)
    assert editor.guidelines.isVisible()
    assert "Anything selling" in editor.guidelines.toPlainText()


# --- multilabel ------------------------------------------------------------------------------


@pytest.fixture
def topics(tmp_path):
    project = create_project(
        tmp_path / "topics.tagloop", "multilabel", [LabelSpec(x) for x in ("a", "b", "c")]
    )
    path = tmp_path / "t.csv"
    write_csv(path, [["text"], *[[t] for t, _l in sms_rows(10)]])
    import_dataset(project, path)
    yield project
    project.close()


def test_multilabel_toggles_draft_then_completes(qtbot, topics, open_editor):
    session, editor = open_editor(topics)
    first = session.item.id
    key(qtbot, editor, "1")
    key(qtbot, editor, "3")
    key(qtbot, editor, "1")
    key(qtbot, editor, "2")
    settle(session)
    assert annotation_of(topics, first)[:2] == (["b", "c"], "draft")
    assert status_of(topics, first) == 0  # a draft is not a label yet
    assert (
        editor.label_bar.buttons["b"].isChecked() and not editor.label_bar.buttons["a"].isChecked()
    )
    key(qtbot, editor, Qt.Key.Key_Return)
    settle(session)
    assert annotation_of(topics, first)[:2] == (["b", "c"], "complete")
    assert status_of(topics, first) == 1
    assert rows(topics, "SELECT label FROM annotation_label ORDER BY label") == [("b",), ("c",)]


def test_none_of_these_is_an_explicit_answer(qtbot, topics, open_editor):
    session, editor = open_editor(topics)
    first = session.item.id
    key(qtbot, editor, Qt.Key.Key_Return)  # nothing chosen: refused
    settle(session)
    assert annotation_of(topics, first) is None
    key(qtbot, editor, "n")
    settle(session)
    assert annotation_of(topics, first)[:2] == ([], "complete")
    assert status_of(topics, first) == 1
    assert session.position == 1


# --- bulk grid ---------------------------------------------------------------------------------


def test_bulk_grid_labels_selection_in_one_undoable_step(qtbot, spam):
    writer = Writer()
    session = AnnotationSession(spam, writer)
    session.open_queue(ALL)
    grid = BulkGrid(session)
    qtbot.addWidget(grid)
    grid.resize(900, 700)
    grid.show()
    grid.view.setFocus()
    key(qtbot, grid.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select all
    assert len(grid.selected_rows()) == grid.model.rowCount() == 60
    key(qtbot, grid.view, "2")
    settle(session)
    assert rows(spam, "SELECT count(*) FROM annotation WHERE value = '\"spam\"'")[0][0] == 60
    assert rows(spam, "SELECT count(*) FROM datapoint WHERE status = 1")[0][0] == 60
    assert session.undo_stack.count() == 1
    key(qtbot, grid.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(session)
    assert rows(spam, "SELECT count(*) FROM annotation")[0][0] == 0
    assert grid.model.items[0].annotation is None
    writer.shutdown()


# --- spans -------------------------------------------------------------------------------------

TRICKY = "Tab\there: 😀 cafe\u0301 naïve\r\nشكرا 東京 end. Hyper-tension risk"


@pytest.fixture
def diseases(tmp_path):
    def make(allow_overlap=False):
        project = create_project(
            tmp_path / f"d{int(allow_overlap)}.tagloop",
            "spans",
            [LabelSpec("Disease"), LabelSpec("Gene")],
            allow_overlap=allow_overlap,
        )
        path = tmp_path / "docs.jsonl"
        docs = [
            "The common human skin tumour is caused by activating mutations.",
            TRICKY,
            "x" * 10 + " long " * 8000,
        ]
        path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
        import_dataset(project, path)
        return project

    return make


def drag(view, start: int, end: int, alt: bool = False) -> None:
    """Press at one Python offset, move and release at another, as a mouse would."""
    viewport = view.viewport()

    def point(offset: int) -> QPointF:
        cursor = view.textCursor()
        cursor.setPosition(view.offsets.to_qt(offset))
        rect = view.cursorRect(cursor)
        return QPointF(rect.left() + 1, rect.center().y())

    mods = Qt.KeyboardModifier.AltModifier if alt else Qt.KeyboardModifier.NoModifier
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind, where, buttons in (
        (QEvent.Type.MouseButtonPress, point(start), left),
        (QEvent.Type.MouseMove, point((start + end) // 2), left),
        (QEvent.Type.MouseMove, point(end), left),
        (QEvent.Type.MouseButtonRelease, point(end), none),
    ):
        event = QMouseEvent(kind, where, viewport.mapToGlobal(where), left, buttons, mods)
        QApplication.sendEvent(viewport, event)


def test_drag_snaps_to_tokens_and_labels(qtbot, diseases, open_editor):
    project = diseases()
    session, editor = open_editor(project)
    assert isinstance(editor, SpanEditor)
    words = session.item.text
    start = words.index("uman")  # inside "human"
    drag(editor.text_view, start, start + 12)  # "uman skin tu"
    key(qtbot, editor.text_view, "1")
    settle(session)
    value, status, _s, _u = annotation_of(project, session.item.id)
    assert status == "draft"
    (span,) = value
    assert words[span["start"] : span["end"]] == "human skin tumour"
    assert span["label"] == "Disease"
    assert status_of(project, session.item.id) == 0


def test_alt_keeps_the_exact_selection(qtbot, diseases, open_editor):
    project = diseases()
    session, editor = open_editor(project)
    words = session.item.text
    start = words.index("uman")
    editor.text_view.select(start, start + 4)
    key(qtbot, editor.text_view, "2", Qt.KeyboardModifier.AltModifier)
    settle(session)
    (span,) = annotation_of(project, session.item.id)[0]
    assert words[span["start"] : span["end"]] == "uman" and span["label"] == "Gene"


def test_overlap_refused_unless_schema_allows(qtbot, diseases, open_editor):
    for allow in (False, True):
        project = diseases(allow_overlap=allow)
        session, editor = open_editor(project)
        words = session.item.text
        editor.text_view.select(words.index("human"), words.index("tumour") + 6)
        key(qtbot, editor.text_view, "1")
        editor.text_view.select(words.index("skin"), words.index("skin") + 4)
        key(qtbot, editor.text_view, "2")
        settle(session)
        spans = annotation_of(project, session.item.id)[0]
        assert len(spans) == (2 if allow else 1)
        if not allow:
            assert "overlap" in editor.status_line.text()
        else:
            assert editor.text_view.levels == [0, 1]  # drawn stacked


def test_click_span_then_relabel_and_delete(qtbot, diseases, open_editor):
    project = diseases()
    session, editor = open_editor(project)
    words = session.item.text
    editor.text_view.select(words.index("tumour"), words.index("tumour") + 6)
    key(qtbot, editor.text_view, "1")
    settle(session)
    view = editor.text_view
    cursor = view.textCursor()
    cursor.setPosition(view.offsets.to_qt(words.index("tumour") + 2))
    where = QPointF(view.cursorRect(cursor).center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=where.toPoint())
    assert view.selected_span == 0
    key(qtbot, view, "2")
    settle(session)
    assert annotation_of(project, session.item.id)[0][0]["label"] == "Gene"
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=where.toPoint())
    key(qtbot, view, Qt.Key.Key_Delete)
    settle(session)
    assert annotation_of(project, session.item.id)[0] == []
    key(qtbot, view, Qt.Key.Key_Return)
    key(qtbot, view, Qt.Key.Key_Return)  # no spans: the first time, a second Enter confirms
    settle(session)
    assert annotation_of(project, session.queue.id_at(0))[:2] == ([], "complete")


def test_unicode_offsets_survive_select_save_export_reimport(
    qtbot, diseases, open_editor, tmp_path
):
    project = diseases()
    session, editor = open_editor(project)
    key(qtbot, editor.text_view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert session.item.text == TRICKY
    view = editor.text_view
    wanted = ["😀", "cafe\u0301", "naïve\r\n", "東京", "شكرا"]
    for i, piece in enumerate(wanted[:4]):
        start = TRICKY.index(piece)
        cursor = view.textCursor()
        cursor.setPosition(view.offsets.to_qt(start))
        view.setTextCursor(cursor)
        # Shift+arrow moves by whole graphemes in Qt: the emoji is one step, e + accent one.
        # The last line starts with Arabic, so it is a right-to-left paragraph: Left goes on.
        arrow = Qt.Key.Key_Left if i == 3 else Qt.Key.Key_Right
        for _ in range({0: 1, 1: 4, 2: 7, 3: 2}[i]):
            key(qtbot, view, arrow, Qt.KeyboardModifier.ShiftModifier)
        assert view.selection() == (start, start + len(piece))
        key(qtbot, view, "12"[i % 2], Qt.KeyboardModifier.AltModifier)
    # Right-to-left: the arrow keys move visually, so select the Arabic word directly.
    start = TRICKY.index(wanted[4])
    view.select(start, start + len(wanted[4]))
    key(qtbot, view, "1")
    key(qtbot, view, Qt.Key.Key_Return)
    settle(session)
    spans = annotation_of(project, session.queue.id_at(1))[0]
    assert sorted(TRICKY[s["start"] : s["end"]] for s in spans) == sorted(wanted)
    out = tmp_path / "out.jsonl"
    export_datapoints(project, out)
    record = next(r for r in map(json.loads, out.read_text("utf-8").splitlines()) if r["label"])
    again = create_project(
        tmp_path / "again.tagloop", "spans", [LabelSpec("Disease"), LabelSpec("Gene")]
    )
    path = tmp_path / "back.jsonl"
    path.write_text(json.dumps({"text": record["text"], "spans": record["label"]}) + "\n", "utf-8")
    import_dataset(again, path, label_column="spans")
    value, status, _s, _u = annotation_of(again, 1)
    assert status == "complete"
    assert sorted(record["text"][s["start"] : s["end"]] for s in value) == sorted(wanted)
    assert record["text"] == TRICKY
    again.close()


def test_long_document_opens_and_is_editable(qtbot, diseases, open_editor):
    project = diseases()
    session, editor = open_editor(project)
    session.go(2)
    assert len(session.item.text) > 48_000
    assert editor.text_view.document().characterCount() == len(session.item.text) + 1
    start = session.item.text.index("long", 40_000)
    editor.text_view.select(start, start + 4)
    key(qtbot, editor.text_view, "1")
    settle(session)
    (span,) = annotation_of(project, session.item.id)[0]
    assert span == {"start": start, "end": start + 4, "label": "Disease"}


# --- main window -----------------------------------------------------------------------------


def test_main_window_tabs_and_double_click_annotates(qtbot, spam):
    from app.views.main_window import MainWindow

    window = MainWindow(spam)
    qtbot.addWidget(window)
    window.show()
    names = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert names == ["Browse", "Annotate", "Bulk grid"]
    index = window.browse.model.index(5, 0)
    window.browse.table.doubleClicked.emit(index)
    assert window.tabs.currentWidget() is window.editor
    assert window.session.item.id == window.browse.model.row_at(5).id
    qtbot.keyClick(window.editor, "1")
    window.writer.flush()
    assert annotation_of(spam, window.browse.model.row_at(5).id)[0] == "ham"
    window.close()
