"""Removing a dataset hides it at once and then deletes it in short transactions (issue 14):
the write lock is free between them, a cancel leaves it hidden, and a removal that was
cancelled or killed midway is finished by the next open, with one audit event in all."""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.annotation.browse import Browser, Query
from app.core.audit.chain import verify_chain
from app.core.errors import Cancelled
from app.core.io.datasets import list_datasets, remove_dataset
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.storage import staging, visibility
from tests.fixtures_data import write_csv
from tests.unit.killing import kill_at_first_chunk

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 7  # rows per delete in these tests


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(staging, "next_chunk", lambda *_args, **_kwargs: CHUNK)
    monkeypatch.setattr(staging, "FIRST_CHUNK", CHUNK)


def two_datasets(make_project, tmp_path):
    """A project with a kept dataset (5 labelled rows) and a big one (50 labelled rows)."""
    project = make_project()
    for name, n in (("kept.csv", 5), ("big.csv", 50)):
        rows = [["text", "label"]] + [[f"{name} {i}", "spam" if i % 3 else "ham"] for i in range(n)]
        write_csv(tmp_path / name, rows)
        import_dataset(project, tmp_path / name, label_column="label")
    big = next(d.id for d in list_datasets(project) if d.source_name == "big.csv")
    return project, big


def count(path: Path, sql: str) -> int:
    raw = sqlite3.connect(path)
    try:
        return raw.execute(sql).fetchone()[0]
    finally:
        raw.close()


def removal_events(path: Path) -> int:
    return count(
        path, "SELECT count(*) FROM audit_event WHERE action = 'delete' AND entity = 'dataset'"
    )


def test_hidden_at_once_and_the_lock_is_free_between_chunks(make_project, tmp_path, small_chunks):
    project, big = two_datasets(make_project, tmp_path)
    calls = []

    def progress(done, total, message):
        # what the user sees from the first step on: the dataset gone, its audit event there
        assert [d.source_name for d in list_datasets(project)] == ["kept.csv"]
        assert Browser(project).count(Query()) == 5
        assert removal_events(project.path) == 1
        assert "removal finishes the next time the project opens" in message
        check = sqlite3.connect(project.path, timeout=0, isolation_level=None)
        try:
            check.execute("BEGIN IMMEDIATE")  # "database is locked" if a chunk held the lock
            check.execute("ROLLBACK")
        finally:
            check.close()
        calls.append((done, total))

    assert remove_dataset(project, big, progress=progress) == 50
    assert len(calls) >= 50 // CHUNK + 1  # the hide, then one call per short delete
    assert calls[0] == (0, 50) and calls[-1] == (50, 50)
    assert count(project.path, "SELECT count(*) FROM datapoint") == 5
    assert count(project.path, "SELECT count(*) FROM annotation") == 5
    assert count(project.path, "SELECT count(*) FROM dataset") == 1
    assert removal_events(project.path) == 1
    assert verify_chain(project).ok


def test_a_cancelled_removal_stays_hidden_and_the_next_open_finishes_it(
    make_project, tmp_path, small_chunks
):
    project, big = two_datasets(make_project, tmp_path)
    done_chunks = []

    def progress(done, _total, _message):
        done_chunks.append(done)

    with pytest.raises(Cancelled):
        remove_dataset(project, big, progress=progress, cancel=lambda: len(done_chunks) >= 3)
    # partly deleted, wholly hidden; never published again
    left = count(project.path, f"SELECT count(*) FROM datapoint WHERE dataset_id = {big}")
    assert 0 < left < 50
    state = count(project.path, f"SELECT state FROM dataset WHERE id = {big}")
    assert state == visibility.REMOVING
    assert [d.source_name for d in list_datasets(project)] == ["kept.csv"]
    assert Browser(project).count(Query()) == 5
    path = project.path
    project.close()
    # the same program opens the project again: no removal runs, so the sweep finishes it
    with open_project(path) as again:
        assert [(s.source_name, s.rows, s.removal) for s in again.swept] == [
            ("big.csv", left, True)
        ]
        assert "finished removing the dataset big.csv" in again.swept[0].summary()
        assert verify_chain(again).ok
    assert count(path, "SELECT count(*) FROM datapoint") == 5
    assert count(path, "SELECT count(*) FROM dataset") == 1
    assert removal_events(path) == 1


def test_the_sweep_leaves_a_running_removal_of_this_process_alone(
    make_project, tmp_path, small_chunks
):
    project, big = two_datasets(make_project, tmp_path)
    swept = []

    def progress(done, _total, _message):
        if done and not swept:
            swept.append(staging.sweep_abandoned(project.engine))

    assert remove_dataset(project, big, progress=progress) == 50
    assert swept == [[]]


KILLED = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from app.core.io.datasets import remove_dataset
    from app.core.project.project import open_project
    from app.core.storage import staging

    staging.next_chunk = lambda *args, **kwargs: 5
    staging.FIRST_CHUNK = 5

    def stall(done, total, message):
        if done:
            print("chunk", flush=True)
            time.sleep(600)  # until the test kills this process

    with open_project(Path(sys.argv[1])) as project:
        remove_dataset(project, int(sys.argv[2]), progress=stall)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_removal_is_finished_by_the_next_open(make_project, tmp_path, capsys):
    project, big = two_datasets(make_project, tmp_path)
    path = project.path
    project.close()
    kill_at_first_chunk(KILLED, str(path), str(big))
    assert count(path, f"SELECT state FROM dataset WHERE id = {big}") == visibility.REMOVING
    assert 0 < count(path, f"SELECT count(*) FROM datapoint WHERE dataset_id = {big}") < 50
    # The command line opens the project, finishes the removal, and says so on stderr.
    assert main(["stats", str(path), "--json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "finished removing the dataset big.csv" in err[0], err
    assert count(path, "SELECT count(*) FROM datapoint") == 5
    assert count(path, "SELECT count(*) FROM dataset") == 1
    assert removal_events(path) == 1
    with open_project(path) as again:
        assert again.swept == []
        assert verify_chain(again).ok


def test_the_cli_says_an_interrupted_removal_finishes_on_the_next_open(
    make_project, tmp_path, small_chunks, monkeypatch, capsys
):
    project, big = two_datasets(make_project, tmp_path)
    path = project.path
    project.close()

    class Interrupted:
        def __call__(self, done, _total, _message):
            if done:
                raise KeyboardInterrupt  # the user's Ctrl-C between two chunks

    monkeypatch.setattr("app.cli.data.TextProgress", Interrupted)
    assert main(["datasets", str(path), "--remove", str(big)]) == 130
    out = capsys.readouterr().out
    assert "its removal will finish the next time the project opens" in out
    assert count(path, f"SELECT state FROM dataset WHERE id = {big}") == visibility.REMOVING
    assert main(["datasets", str(path)]) == 0  # this open (a new one) finishes it
    out = capsys.readouterr().out
    assert "kept.csv" in out and "big.csv" not in out
    assert count(path, "SELECT count(*) FROM dataset") == 1
    assert removal_events(path) == 1
