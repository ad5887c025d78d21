"""Short writes wait out another process's write lock (app.core.storage.retry), and each of
the verbs that write (labels, flags, model versions, the export's audit event, schema
updates) goes through it: a lock held longer than SQLite's own busy wait fails nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from app.core.annotation.commands import AddFlag, AnnotationState, SetAnnotations
from app.core.io.export import export_datapoints
from app.core.io.importer import import_dataset
from app.core.project import modelstore
from app.core.project.label_schema import LabelSpec
from app.core.project.project import update_schema
from app.core.storage import retry
from app.core.storage.retry import DatabaseBusy, is_busy, run_write, write_transaction
from tests.unit.helpers import rows

HOLD = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO project_meta (key, value) VALUES ('held', 'yes')")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("ROLLBACK")
    """
)


class HeldLock:
    """Another process holds the project's write lock (as a long import does) for `seconds`."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.child = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(path), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.child.stdout.readline().strip() == "locked"
        self.since = time.monotonic()

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.child.kill()  # if it still holds the lock: a killed writer's lock goes with it
        self.child.wait(timeout=60)


@pytest.fixture(autouse=True)
def _short_sqlite_waits(monkeypatch):
    """SQLite's own busy wait (10 s in the app) cut to 0.3 s per attempt, so a lock of a
    couple of seconds is outlasted only by retrying, as a 25 s import outlasts 10 s."""
    monkeypatch.setattr(retry, "ATTEMPT_WAIT", 0.3)


@pytest.fixture
def project(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "texts.txt"
    path.write_text("".join(f"text number {i}\n" for i in range(20)), encoding="utf-8")
    import_dataset(project, path)
    return project


def test_run_write_waits_out_a_lock_longer_than_one_busy_wait(project):
    with HeldLock(project.path, 1.5) as held:
        run_write(
            project.engine, lambda c: c.execute(text("INSERT INTO project_meta VALUES ('k', 'v')"))
        )
        assert time.monotonic() - held.since >= 1.0  # it did wait for the lock
    assert rows(project, "SELECT value FROM project_meta WHERE key = 'k'") == [("v",)]


def test_a_lock_held_past_the_deadline_is_a_clear_error_and_changes_nothing(project):
    calls = []

    def write(conn):
        calls.append(1)
        conn.execute(text("INSERT INTO project_meta VALUES ('k', 'v')"))

    with HeldLock(project.path, 30), pytest.raises(DatabaseBusy) as caught:
        run_write(project.engine, write, timeout=0.8)
    assert "busy" in str(caught.value) and str(project.path) in str(caught.value)
    assert "nothing was changed" in str(caught.value)
    assert calls == []  # the lock comes first: the body never ran without it
    assert rows(project, "SELECT count(*) FROM project_meta WHERE key = 'k'") == [(0,)]


def test_the_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("TAGLOOP_WRITE_TIMEOUT", "7.5")
    assert retry.write_timeout() == 7.5
    monkeypatch.setenv("TAGLOOP_WRITE_TIMEOUT", "soon")
    assert retry.write_timeout() == retry.DEFAULT_WRITE_TIMEOUT


def test_a_body_that_fails_rolls_back_and_is_not_retried(project):
    calls = []

    def write(conn):
        calls.append(1)
        conn.execute(text("INSERT INTO project_meta VALUES ('k', 'v')"))
        raise ValueError("no")

    with pytest.raises(ValueError):
        run_write(project.engine, write)
    assert calls == [1]
    assert rows(project, "SELECT count(*) FROM project_meta WHERE key = 'k'") == [(0,)]


def test_a_nested_write_in_one_thread_is_refused_at_once(project):
    with write_transaction(project.engine), pytest.raises(RuntimeError, match="nested"):
        run_write(project.engine, lambda c: None)


def test_busy_is_recognised_raw_and_wrapped(project):
    with HeldLock(project.path, 30):
        try:
            with project.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA busy_timeout=0")
                conn.exec_driver_sql("INSERT INTO project_meta VALUES ('k', 'v')")
        except Exception as exc:  # sqlalchemy's OperationalError around sqlite3's
            assert is_busy(exc)
        else:
            pytest.fail("the insert should have found the database locked")
    assert not is_busy(ValueError("database is locked"))


def test_verbs_wait_out_a_held_lock(project, tmp_path):
    """A label, a flag, a schema update, a model version and the export's audit event, all
    while another process holds the lock for longer than one busy wait."""
    me = project.local_annotator_id
    with HeldLock(project.path, 1.5):
        SetAnnotations(me, ((1, AnnotationState("spam", "complete")),)).apply(project)
        AddFlag(2, me, "odd").apply(project)
        update_schema(project, labels=[LabelSpec("ham"), LabelSpec("spam"), LabelSpec("eggs")])
        version = modelstore.save_version(project, "test", b"model", 1, {"macro_f1": 0.5})
        export_datapoints(project, tmp_path / "out.jsonl")
    assert rows(project, "SELECT count(*) FROM annotation") == [(1,)]
    assert rows(project, "SELECT count(*) FROM flag") == [(1,)]
    assert project.schema.version == 2
    assert modelstore.latest_version(project).id == version.id
    actions = [r[0] for r in rows(project, "SELECT action FROM audit_event ORDER BY id")]
    assert actions[-5:] == ["annotate", "flag", "update", "train", "export"]
