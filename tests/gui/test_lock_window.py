"""The window's side of lock contention (issue 14): while another process holds the project's
write lock (as a long import or merge does), switching project never freezes the window and
never drops an edit silently, "close anyway" ends the process at once (no half-written
transaction), and a save kept out past the write timeout is told in a banner (never a modal
box) with "Retry now"."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.core.io.importer import import_dataset
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.core.storage import retry
from app.workers import writer as writer_module
from app.workers.write_job import writes_pending
from tests.gui import test_writes_under_lock as under_lock
from tests.gui.test_writes_under_lock import ENOUGH_TICKS, Ticks, annotations
from tests.unit.lock_holder import HeldLock, held_lock

ROOT = Path(__file__).resolve().parents[2]
window_with_edit = under_lock.window_with_edit  # a fixture: one label waiting for the lock
SHOTS = Path(os.environ.get("TAGLOOP_SHOTS", "/tmp/tagloop-shots"))


@pytest.fixture
def other_project(tmp_path):
    project = create_project(tmp_path / "other.tagloop", "classification", [LabelSpec("a")])
    yield project
    project.close()


@pytest.fixture
def switch_timeout(monkeypatch):
    """Core's wait for the lock outlasts the test: the edit is still in flight when switching."""
    monkeypatch.setenv("TAGLOOP_WRITE_TIMEOUT", "60")


def test_switching_project_waits_for_an_edit_kept_out_and_the_window_runs(
    qtbot, window_with_edit, spam_project, other_project, switch_timeout
):
    window, session = window_with_edit
    with held_lock(spam_project.path):
        session.set_state("spam", "complete", "label")
        ticks = Ticks()
        window.set_project(other_project)  # returns at once; the switch waits for the save
        wait = window.guard.switch_wait
        assert wait is not None and wait.isVisible()
        assert window.project is spam_project
        assert "Saving 1 edit before opening other.tagloop" in wait.text.text()
        assert "label (sms.csv, row 1)" in wait.text.text()  # what waits, by name
        SHOTS.mkdir(parents=True, exist_ok=True)
        assert wait.grab().save(str(SHOTS / "switch_wait.png"))
        qtbot.wait(300)
        assert ticks.stop() >= ENOUGH_TICKS  # the GUI thread went on processing events
        assert window.project is spam_project and annotations(spam_project) == []
    qtbot.waitUntil(lambda: window.project is other_project, timeout=30_000)
    assert annotations(spam_project) == [('"spam"',)]  # saved first, then switched
    assert window.guard.switch_wait is None and not wait.isVisible()
    assert window.windowTitle().endswith("other")


def test_cancelling_a_waiting_switch_stays_and_still_saves(
    qtbot, window_with_edit, spam_project, other_project, switch_timeout
):
    window, session = window_with_edit
    with held_lock(spam_project.path):
        session.set_state("ham", "complete", "label")
        window.set_project(other_project)
        wait = window.guard.switch_wait
        qtbot.mouseClick(wait.cancel_button, Qt.MouseButton.LeftButton)
        assert window.guard.switch_wait is None and window.project is spam_project
        assert "Stayed in this project" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: annotations(spam_project) == [('"ham"',)], timeout=30_000)
    assert window.project is spam_project and session.undo_stack.count() == 1


def test_switching_anyway_does_not_wait_for_the_lock(
    qtbot, window_with_edit, spam_project, other_project, switch_timeout
):
    window, session = window_with_edit
    with held_lock(spam_project.path) as lock:
        session.set_state("spam", "complete", "label")
        window.set_project(other_project)
        qtbot.mouseClick(window.guard.switch_wait.anyway_button, Qt.MouseButton.LeftButton)
        assert lock.held and window.project is other_project  # at once, lock still held
        assert annotations(spam_project) == []


def test_not_saved_is_a_banner_not_a_modal_and_retry_now_saves(
    qtbot, window_with_edit, spam_project, monkeypatch
):
    monkeypatch.setenv("TAGLOOP_WRITE_TIMEOUT", "0.5")  # core gives up quickly: the banner
    monkeypatch.setattr(retry, "ATTEMPT_WAIT", 0.2)
    # The writer's own next try comes only after this pause, longer than the test waits
    # below: the save that lands there is the one Retry now started.
    monkeypatch.setattr(writer_module, "RETRY_PAUSE", 600.0)
    window, session = window_with_edit
    window.show_tab("annotate")
    banner = window.banner
    lock = HeldLock(spam_project.path)
    try:
        qtbot.keyClick(window.editor, "2")  # spam: the key a user presses
        qtbot.waitUntil(banner.isVisible, timeout=20_000)
        assert QApplication.activeModalWidget() is None  # nothing modal over the labelling
        text = banner.text.text()
        assert "Not saved yet" in text and "label spam (sms.csv, row 1)" in text
        assert "in memory" in text and "retrying" in text
        assert banner.retry_button.isVisible() and banner.retry_button.isEnabled()
        assert session.undo_stack.count() == 1 and annotations(spam_project) == []
        window.resize(1024, 640)
        SHOTS.mkdir(parents=True, exist_ok=True)
        assert window.grab().save(str(SHOTS / "unsaved_banner.png"))
        qtbot.keyClick(window.editor, Qt.Key.Key_Right)  # labelling goes on meanwhile
        assert banner.isVisible()  # persistent: not cleared by moving on
    finally:
        lock.release()
    qtbot.mouseClick(banner.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=20_000)
    assert annotations(spam_project) == [('"spam"',)]
    assert session.undo_stack.count() == 1 and not session.waiting_for_lock
    assert QApplication.activeModalWidget() is None


CLOSE_ANYWAY = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from PySide6.QtCore import QTimer
    from app.core.annotation.worklist import WorklistSpec
    from app.core.project.project import open_project
    from app.core.team import assign
    from app.views import closing
    from app.views.app import finish, make_application
    from app.views.main_window import MainWindow
    from app.workers.write_job import pending_writes, start_write

    app = make_application()
    project = open_project(Path(sys.argv[1]))
    window = MainWindow(project)
    window.show()
    window.session.open_queue(WorklistSpec())
    closing.ask_close_unsaved = lambda *_a: closing.CLOSE_ANYWAY  # the user's answer
    while pending_writes():  # the guidelines look on open
        app.processEvents()
    print("ready", flush=True)
    sys.stdin.readline()  # another process holds the lock now
    window.session.set_state("spam", "complete", "label")  # an edit through the writer
    start_write(window, lambda: assign.add_annotator(project, "Zoë", "annotator"))  # a view's
    QTimer.singleShot(0, window.close)
    app.exec()
    finish(window)
    print("closed", flush=True)
    """
)


def test_closing_anyway_ends_the_process_while_writes_wait_for_the_lock(
    spam_project, sms_csv, tmp_path
):
    import_dataset(spam_project, sms_csv)
    assert spam_project.local_annotator_id
    path = spam_project.path
    spam_project.close()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    env.pop("TAGLOOP_WRITE_TIMEOUT", None)  # 120 s: a hang would outlast the bound below
    env["TAGLOOP_CONFIG_DIR"] = str(tmp_path / "config")
    app = subprocess.Popen(
        [sys.executable, "-c", CLOSE_ANYWAY, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert app.stdout.readline().strip() == "ready"
        with held_lock(path) as lock:
            app.stdin.write("go\n")
            app.stdin.flush()
            code = app.wait(timeout=60)  # a hang guard, not a speed assertion
            assert lock.held  # the process ended while its writes still waited
        assert code == 0 and app.stdout.read().strip() == "closed"
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    # Nothing half-written: the file is whole, neither write happened, and it takes writes.
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM annotation").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM annotator WHERE name = 'Zoë'").fetchone() == (0,)
    finally:
        conn.close()
    assert select_ok(path)


def select_ok(path: Path) -> bool:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")  # the lock is free: nobody holds it any more
        conn.execute("ROLLBACK")
        return True
    finally:
        conn.close()


def test_views_writes_wait_on_daemon_threads(qtbot, window_with_edit):
    """The views' writes must not keep the process alive at exit (close anyway)."""
    import threading

    from app.workers.write_job import start_write

    window, _session = window_with_edit
    seen: list[bool] = []
    job = start_write(window, lambda: seen.append(threading.current_thread().daemon))
    qtbot.waitUntil(lambda: job.done, timeout=10_000)
    assert seen == [True] and not writes_pending(window)
