""" "Switch anyway" tells the truth: a label save waiting for another program's lock is
dropped for real, and does not land in the old project when the lock frees right after
(issue 14 leftover: app.workers.writer.Writer.abandon over app.core.storage.retry.Abandon)."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from PySide6.QtCore import Qt

from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.core.storage.retry import WriteAbandoned
from app.workers.writer import Writer
from tests.gui import test_writes_under_lock as under_lock
from tests.gui.test_writes_under_lock import annotations
from tests.unit.lock_holder import held_lock

window_with_edit = under_lock.window_with_edit  # a fixture: a window with an editor


@pytest.fixture
def other_project(tmp_path):
    project = create_project(tmp_path / "other.tagloop", "classification", [LabelSpec("a")])
    yield project
    project.close()


def test_an_edit_dropped_by_switch_anyway_never_lands(
    qtbot, window_with_edit, spam_project, other_project, monkeypatch
):
    monkeypatch.setenv("TAGLOOP_WRITE_TIMEOUT", "60")  # the save waits inside core's retry
    futures: list[Future] = []
    submit = Writer.submit

    def keep(self, fn, token=None):
        futures.append(submit(self, fn, token))
        return futures[-1]

    monkeypatch.setattr(Writer, "submit", keep)
    window, session = window_with_edit
    with held_lock(spam_project.path) as lock:
        session.set_state("spam", "complete", "label")
        window.set_project(other_project)
        wait = window.guard.switch_wait
        assert "switch anyway and lose the 1 edit" in wait.text.text()
        qtbot.mouseClick(wait.anyway_button, Qt.MouseButton.LeftButton)
        assert window.project is other_project
        lock.release()  # the old project's lock frees right after the switch
    assert futures
    qtbot.waitUntil(lambda: all(f.done() for f in futures), timeout=60_000)
    assert annotations(spam_project) == []  # what the dialog called lost is lost
    assert any(isinstance(f.exception(), WriteAbandoned) for f in futures)
