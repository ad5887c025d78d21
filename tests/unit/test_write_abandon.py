"""A client's writes given up ("Switch anyway", "Close anyway") never land, even when the
other program's lock frees right after (issue 14 leftover: app.core.storage.retry.Abandon)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from app.core.storage import retry
from app.core.storage.retry import Abandon, WriteAbandoned, abandonable, run_write
from app.core.storage.sqlite import driver_connection
from tests.unit.lock_holder import held_lock


def _notes(path) -> list[str]:
    raw = sqlite3.connect(path)
    try:
        return [row[0] for row in raw.execute("SELECT key FROM project_meta WHERE key LIKE 't%'")]
    finally:
        raw.close()


def _put(key: str):
    def put(conn) -> None:
        driver_connection(conn).execute(
            "INSERT INTO project_meta (key, value) VALUES (?, 'x')", (key,)
        )

    return put


def test_a_write_waiting_for_the_lock_never_lands_once_abandoned(make_project, monkeypatch):
    monkeypatch.setenv("TAGLOOP_WRITE_TIMEOUT", "60")  # still inside core's wait throughout
    project = make_project()
    waiting = threading.Event()
    former_wait = retry._Attempts.wait

    def wait(self, exc):
        waiting.set()  # the write has been kept out once: it waits in core's retry
        return former_wait(self, exc)

    monkeypatch.setattr(retry._Attempts, "wait", wait)
    hook = Abandon()
    outcome: list[BaseException | None] = []

    def client() -> None:
        try:
            with abandonable(hook):
                run_write(project.engine, _put("t-abandoned"))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    with held_lock(project.path) as lock:
        thread = threading.Thread(target=client, daemon=True)
        thread.start()
        assert waiting.wait(30)
        hook.abandon()
        lock.release()  # the lock frees at once: the abandoned write must not take it
        thread.join(60)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], WriteAbandoned)
    assert "not saved" in str(outcome[0])
    assert _notes(project.path) == []
    run_write(project.engine, _put("t-later"))  # the project's other writers are not affected
    assert _notes(project.path) == ["t-later"]


def test_abandoned_while_writing_rolls_back_and_before_it_never_begins(make_project):
    project = make_project()
    hook = Abandon()

    def put_then_abandoned(conn) -> None:
        _put("t-half")(conn)
        hook.abandon()  # the user clicks while the write runs: its commit is refused

    with pytest.raises(WriteAbandoned), abandonable(hook):
        run_write(project.engine, put_then_abandoned)
    assert _notes(project.path) == []
    with pytest.raises(WriteAbandoned), abandonable(hook):  # later ones do not even begin
        run_write(project.engine, _put("t-after"))
    assert _notes(project.path) == []


def test_a_hook_not_abandoned_lets_writes_commit(make_project):
    project = make_project()
    with abandonable(Abandon()):
        run_write(project.engine, _put("t-one"))
        with retry.write_transaction(project.engine) as conn:
            _put("t-two")(conn)
    assert sorted(_notes(project.path)) == ["t-one", "t-two"]
