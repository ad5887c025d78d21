"""The window never freezes on a held lock: while another process holds the project's write
lock (as a long import or merge does), a view's write waits off the GUI thread. The window
keeps processing events (a timer keeps ticking, counted), the view shows the write pending
with its controls disabled, and the write lands once the lock goes. Closing the main window
while an edit waits asks first: wait (it closes by itself once saved) or close anyway."""

from __future__ import annotations

import json
import sqlite3

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.core.annotation.worklist import WorklistSpec
from app.core.io.importer import import_dataset
from app.core.project.guidelines import seen_version
from app.core.project.project import update_schema
from app.core.quality.review import create_review_tasks
from app.views import closing
from app.views.editor import AnnotationSession, make_editor
from app.views.main_window import MainWindow
from app.views.quality.adjudication import AdjudicationView
from app.views.quality.gold import GoldView
from app.views.quality.review import ReviewView
from app.views.team.assignments import TeamDialog
from app.workers.write_job import writes_pending
from app.workers.writer import Writer
from tests.gui.test_quality_views import LEAD, REVIEWER, build_team
from tests.unit.lock_holder import held_lock

ENOUGH_TICKS = 5  # a blocked GUI thread counts none while the lock is held


class Ticks:
    """A timer on the GUI thread counting its ticks: they go on only while the GUI thread
    processes events."""

    def __init__(self) -> None:
        self.count = 0
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        self.count += 1

    def stop(self) -> int:
        self.timer.stop()
        return self.count


def select(project, sql: str) -> list[tuple]:
    """Read the file directly (a reader is never blocked by another process's write lock)."""
    conn = sqlite3.connect(project.path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def _bounded_wait(monkeypatch):
    """A regression (a write on the GUI thread) fails in a minute rather than hanging."""
    monkeypatch.setenv("TAGLOOP_WRITE_TIMEOUT", "60")


def write_under_lock(qtbot, project, act, landed, owner, controls) -> int:
    """Run `act` (a view's write) while another process holds the lock: it returns at once
    with `controls` disabled and nothing written, the GUI goes on ticking, and once the lock
    is released the write lands and the controls come back. Returns the ticks counted while
    the lock was held."""
    with held_lock(project.path) as lock:
        ticks = Ticks()
        act()
        assert lock.held and not landed()
        assert writes_pending(owner) == 1
        assert not any(control.isEnabled() for control in controls)
        qtbot.wait(300)  # the window goes on meanwhile
        count = ticks.stop()
        assert not landed()
    qtbot.waitUntil(landed, timeout=30_000)
    qtbot.waitUntil(lambda: not writes_pending(owner), timeout=30_000)
    assert all(control.isEnabled() for control in controls)
    assert count >= ENOUGH_TICKS
    print(f"\n{type(owner).__name__}: {count} timer ticks (10 ms) while the lock was held")
    return count


@pytest.fixture
def team_project(tmp_path):
    project, ids, who = build_team(tmp_path / "team.tagloop")
    yield project, ids, who
    project.close()


def test_a_review_decision_waits_off_the_gui_thread(qtbot, team_project):
    project, ids, who = team_project
    create_review_tasks(project, REVIEWER, datapoint_ids=ids[:3])
    view = ReviewView(project, who[REVIEWER])
    qtbot.addWidget(view)
    view.show()
    first = view.entries[0]["annotation_uuid"]
    decided = f"SELECT decision FROM review_decision WHERE annotation_uuid = '{first}'"

    def approve() -> None:
        qtbot.keyClick(view, Qt.Key.Key_A)
        assert "Saving" in view.message.text()
        qtbot.keyClick(view, Qt.Key.Key_Right)  # keys wait with the buttons
        assert view.item.id == ids[0]

    write_under_lock(
        qtbot,
        project,
        approve,
        lambda: select(project, decided) == [("approve",)],
        view,
        [view.approve_button, view.all_button, view.who_combo],
    )
    assert "approve" in view.message.text() and view.selected == 1


def test_an_adjudication_waits_off_the_gui_thread(qtbot, team_project):
    project, _ids, who = team_project
    view = AdjudicationView(project, who[LEAD])
    qtbot.addWidget(view)
    view.show()
    first, value = view.queue[0], view.versions.votes[0].value
    write_under_lock(
        qtbot,
        project,
        lambda: qtbot.keyClick(view, "1"),
        lambda: (
            select(project, f"SELECT value FROM adjudication WHERE datapoint_id = {first}")
            == [(json.dumps(value),)]
        ),
        view,
        [view.cards_box, view.queue_list],
    )
    assert view.item.id != first and "Saved the final value" in view.message.text()


def test_marking_gold_waits_off_the_gui_thread(qtbot, team_project):
    project, ids, _who = team_project
    view = GoldView(project, ids[:2])
    qtbot.addWidget(view)
    view.show()
    for candidate in view.candidates:
        candidate.combo.setCurrentText("ham")
    write_under_lock(
        qtbot,
        project,
        lambda: qtbot.mouseClick(view.mark_button, Qt.MouseButton.LeftButton),
        lambda: len(select(project, "SELECT * FROM gold_item")) == 2,
        view,
        [view.mark_button, view.mix_button, view.create_button],
    )
    assert "Marked 2 items as gold" in view.mark_message.text()


def test_adding_an_annotator_waits_off_the_gui_thread(qtbot, team_project):
    project = team_project[0]
    dialog = TeamDialog(project)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.new_name.setText("Zoë")
    write_under_lock(
        qtbot,
        project,
        dialog.add_annotator,
        lambda: (
            select(project, "SELECT role FROM annotator WHERE name = 'Zoë'") == [("annotator",)]
        ),
        dialog,
        [dialog.add_button, dialog.new_name],
    )
    assert "Added Zoë" in dialog.log.toPlainText()


def test_acknowledging_guidelines_waits_off_the_gui_thread(qtbot, spam_project, sms_csv):
    import_dataset(spam_project, sms_csv)
    writer = Writer()
    session = AnnotationSession(spam_project, writer)
    editor = make_editor(session)
    qtbot.addWidget(editor)
    banner = editor.guidelines_banner
    qtbot.waitUntil(lambda: not writes_pending(banner), timeout=20_000)  # first open: v1 read
    update_schema(spam_project, guidelines="Spam: unsolicited messages.")
    with held_lock(spam_project.path):  # a look for changes on open waits off the GUI too
        ticks = Ticks()
        editor = make_editor(session)
        qtbot.addWidget(editor)
        banner = editor.guidelines_banner
        qtbot.wait(300)
        assert ticks.stop() >= ENOUGH_TICKS
    qtbot.waitUntil(lambda: banner.change is not None, timeout=30_000)
    me = session.annotator_id
    write_under_lock(
        qtbot,
        spam_project,
        banner.read,
        lambda: seen_version(spam_project, me) == 2,
        banner,
        [banner.show_button],
    )
    assert banner.change is None
    writer.shutdown()


@pytest.fixture
def window_with_edit(qtbot, spam_project, sms_csv):
    """A main window whose editor has one label waiting for another process's lock."""
    import_dataset(spam_project, sms_csv)
    assert spam_project.local_annotator_id  # registered before the lock is taken
    window = MainWindow(spam_project)
    qtbot.addWidget(window)
    window.show()
    session = window.session
    session.open_queue(WorklistSpec())
    qtbot.waitUntil(lambda: not writes_pending(window.editor.guidelines_banner), timeout=20_000)
    return window, session


def annotations(project) -> list[tuple]:
    return select(project, "SELECT value FROM annotation")


def test_closing_with_an_edit_kept_out_by_a_lock_asks_and_waits(
    qtbot, window_with_edit, spam_project, monkeypatch
):
    window, session = window_with_edit
    asked: list[int] = []

    def ask(_parent, unsaved: int, _edits=()) -> str:
        asked.append(unsaved)
        return closing.WAIT

    monkeypatch.setattr(closing, "ask_close_unsaved", ask)
    with held_lock(spam_project.path):
        session.set_state("spam", "complete", "label")
        ticks = Ticks()
        assert window.close() is False  # asked, and told to wait
        assert asked == [1] and window.isVisible()
        assert "Waiting to save 1 edit" in window.statusBar().currentMessage()
        qtbot.wait(300)
        assert ticks.stop() >= ENOUGH_TICKS
        assert annotations(spam_project) == [] and window.isVisible()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)  # closes once saved
    assert annotations(spam_project) == [('"spam"',)]
    assert asked == [1]  # not asked again


def test_closing_anyway_does_not_wait_for_the_lock(
    qtbot, window_with_edit, spam_project, monkeypatch
):
    window, session = window_with_edit
    monkeypatch.setattr(closing, "ask_close_unsaved", lambda *_a: closing.CLOSE_ANYWAY)
    with held_lock(spam_project.path) as lock:
        session.set_state("spam", "complete", "label")
        assert window.close() is True  # while the lock is still held: no wait for it
        assert lock.held and not window.isVisible()
        assert annotations(spam_project) == []
    QApplication.processEvents()


def test_closing_with_every_edit_saved_does_not_ask(
    qtbot, window_with_edit, spam_project, monkeypatch
):
    window, session = window_with_edit
    monkeypatch.setattr(closing, "ask_close_unsaved", pytest.fail)
    session.set_state("ham", "complete", "label")
    assert window.close() is True
    assert annotations(spam_project) == [('"ham"',)]


def test_opening_a_project_another_program_is_writing_to_does_not_freeze(
    qtbot, spam_project, sms_csv
):
    import_dataset(spam_project, sms_csv)
    path = spam_project.path
    spam_project.close()
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    with held_lock(path):  # who works in the file is looked up under the write lock
        ticks = Ticks()
        assert window.open_project_path(path) is True  # returns while the lock is held
        assert window.project is None
        assert "waiting for another program" in window.statusBar().currentMessage()
        qtbot.wait(300)
        assert ticks.stop() >= ENOUGH_TICKS
    qtbot.waitUntil(lambda: window.project is not None, timeout=30_000)
    assert window.session is not None and window.project.path == path
    window.set_project(None)
