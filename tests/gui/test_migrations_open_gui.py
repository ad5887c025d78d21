"""The window opens a file made by an older Tagloop through a background job: the GUI thread
returns at once, a progress dialog shows the copy and the migrations, and the project appears
upgraded, with a note of where the copy is kept."""

from __future__ import annotations

from app.core.storage import db
from app.views.main_window import MainWindow
from tests.unit.test_migrations_fixtures import unpack


def test_an_old_file_is_upgraded_off_the_gui_thread(qtbot, tmp_path):
    path = unpack("0001-first-cli.tagloop.gz", tmp_path)
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.open_project_path(path)
    job = window.jobs[0]  # the upgrade runs as a job, behind its progress dialog
    assert job.dialog.windowTitle() == f"Upgrading {path.name}"
    qtbot.waitUntil(lambda: window.project is not None, timeout=60_000)
    assert window.project.path == path
    assert db.current_revision(window.project.engine) == db.SCHEMA_HEAD
    assert (tmp_path / f"{path.name}.bak-0001").is_file()
    assert ".bak-0001" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.jobs, timeout=60_000)  # the search index is rebuilt
    window.set_project(None)


def test_a_cancelled_upgrade_leaves_the_file_and_no_project(qtbot, tmp_path, monkeypatch):
    import threading

    from app.views import main_window

    gate = threading.Event()
    real = main_window.open_project

    def held(path, progress, cancel):  # the job waits until the user has pressed Cancel
        gate.wait(30)
        return real(path, progress=progress, cancel=cancel)

    monkeypatch.setattr(main_window, "open_project", held)
    path = unpack("0001-first-cli.tagloop.gz", tmp_path)
    window = MainWindow()
    qtbot.addWidget(window)
    window.open_project_path(path)
    job = window.jobs[0]
    job.dialog.canceled.emit()  # the dialog's Cancel button
    gate.set()
    qtbot.waitUntil(lambda: job.done, timeout=60_000)
    assert window.project is None
    assert db.file_revision(path) == "0001"
    assert "unchanged" in window.statusBar().currentMessage()


def test_a_file_that_fails_to_upgrade_says_why(qtbot, tmp_path, monkeypatch):
    import sqlite3

    from PySide6.QtWidgets import QMessageBox

    path = unpack("0001-first-cli.tagloop.gz", tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE custom_status (x INTEGER)")  # makes 0003 fail midway
    conn.commit()
    conn.close()
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    window = MainWindow()
    qtbot.addWidget(window)
    window.open_project_path(path)
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    assert str(path) in shown[0] and "unchanged" in shown[0]
    assert window.project is None
    assert db.file_revision(path) == "0001"
