"""Reassign closes the moved tasks without a long write (issue 14, lock contention): its run
marks them (task.close_run_id) in short chunks, and they stay open until the run publishes;
from the publish on, every task read counts them as closed, and the close settle writes
'cancelled' in short steps afterwards. A cancel or a refusal clears the marks; a killed run is
swept on open with the source's tasks still open; a killed close settle is finished on open
(app.core.storage.runs, app.core.team.assign.reassign).

Chunks are made tiny by replacing the chunk sizers; nothing asserts on time.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from app.core.audit.chain import verify_chain
from app.core.bundle import export_project_bundle, open_bundle
from app.core.bundle.assignments import export_assignment_bundles
from app.core.errors import Cancelled
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.quality.review import task_status
from app.core.report.figures import project_report
from app.core.storage import runs, staging
from app.core.team import runtasks
from app.core.team.assign import add_annotator, generate_tasks, list_annotators, reassign
from app.core.team.tasks import tasked_datapoints
from tests.unit.killing import kill_at_first_chunk
from tests.unit.locking import lock_is_free

FIXTURE_0008 = Path(__file__).resolve().parents[1] / "fixtures" / "schemas" / "0008.tagloop.gz"
CHUNK = 4
LOADING = "SELECT count(*) FROM task WHERE run_id IN (SELECT id FROM write_run WHERE state <> 0)"
MARKS = "SELECT count(*) FROM task WHERE close_run_id IS NOT NULL"
STORED = "SELECT a.name, t.status, count(*) FROM task t JOIN annotator a ON a.id = t.annotator_id"


@pytest.fixture
def small_chunks(monkeypatch):
    """Every chunk of the run (marks, new tasks) and of the close settle takes CHUNK rows."""
    monkeypatch.setattr(runtasks, "FIRST_CHUNK", CHUNK)
    monkeypatch.setattr(runtasks, "next_chunk", lambda *_args, **_kwargs: CHUNK)
    monkeypatch.setattr(runtasks, "YIELD_SECONDS", 0.0)
    monkeypatch.setattr(staging, "FIRST_CHUNK", CHUNK)
    monkeypatch.setattr(staging, "next_chunk", lambda *_args, **_kwargs: CHUNK)


def team_project(make_project, tmp_path, n: int = 22):
    """n items shared between ana and ben (n/2 open tasks each)."""
    project = make_project()
    source = tmp_path / "items.csv"
    source.write_text("text\n" + "".join(f"item {i}\n" for i in range(n)), encoding="utf-8")
    import_dataset(project, source)
    for name in ("ana", "ben"):
        add_annotator(project, name)
    generate_tasks(project, ["ana", "ben"])
    return project


def raw_rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def stored(path: Path) -> list[tuple]:
    """Each annotator's tasks by stored status (what the table holds, marks aside)."""
    return raw_rows(path, STORED + " GROUP BY 1, 2 ORDER BY 1, 2")


def seen_tasks(project) -> dict:
    """What users see of the tasks: the team's counts, the review status list, the items
    tasked to ben (the editor's and the pool's read), assignment bundles, the report."""
    ben = next(a.id for a in list_annotators(project) if a.name == "ben")
    with project.engine.connect() as conn:
        bens_items = len(tasked_datapoints(conn, "label", ben))
    return {
        "annotators": {a.name: (a.open_tasks, a.done_tasks) for a in list_annotators(project)},
        "status": sorted((s.annotator, s.status) for s in task_status(project).tasks),
        "bens_items": bens_items,
        "report": project_report(project).open_issues.assignments,
    }


def test_moved_tasks_stay_open_until_the_publish_then_read_closed_at_once(
    make_project, tmp_path, small_chunks
):
    project = team_project(make_project, tmp_path)
    before = seen_tasks(project)
    assert before["annotators"]["ben"] == (11, 0) and before["bens_items"] == 11
    during, closing = [], []

    def watch(done, total, message):
        assert lock_is_free(project.path)
        if message == "Closing moved tasks":  # published; some marks not settled yet
            closing.append((done, raw_rows(project.path, MARKS)[0][0]))
            if len(closing) == 1:
                after_publish.update(seen_tasks(project))
                after_publish["where"] = task_where(project)
            return
        during.append((message, done, raw_rows(project.path, MARKS)[0][0]))
        assert seen_tasks(project) == before  # ben's tasks open, ana's new ones unseen

    after_publish: dict = {}
    report = reassign(project, "ben", "ana", progress=watch)
    assert (report.moved, report.already_theirs) == (11, 0)
    marking = [(m, d, n) for m, d, n in during if m == "Marking moved tasks"]
    assert marking == [("Marking moved tasks", d, d) for d in (4, 8, 11)]
    assert [d for m, d, _n in during if m == "Creating tasks"] == [4, 8, 11]
    # At the first close step, 7 tasks still carried only their mark, and read as closed.
    assert closing == [(4, 7), (8, 3), (11, 0)]
    assert after_publish["annotators"]["ben"] == (0, 0)
    assert after_publish["annotators"]["ana"] == (22, 0)
    assert after_publish["bens_items"] == 0
    assert ("ben", "to-do") not in after_publish["status"]
    assert after_publish["where"] is not None  # marks left: the reads filter
    final = seen_tasks(project)
    assert {k: v for k, v in after_publish.items() if k != "where"} == final
    assert stored(project.path) == [("ana", "todo", 22), ("ben", "cancelled", 11)]
    assert raw_rows(project.path, MARKS) == [(0,)] and task_where(project) is None
    assert verify_chain(project).ok


def task_where(project) -> str | None:
    with project.engine.connect() as conn:
        return runs.task_where(conn)


def test_a_cancel_while_marking_or_writing_clears_the_marks(make_project, tmp_path, small_chunks):
    project = team_project(make_project, tmp_path)
    before = seen_tasks(project)
    for stop_at in ("Marking moved tasks", "Creating tasks"):
        calls = []

        def count(done, total, message, stop_at=stop_at, calls=calls):
            if message == stop_at:
                calls.append(done)

        with pytest.raises(Cancelled):
            reassign(
                project, "ben", "ana", progress=count, cancel=lambda calls=calls: len(calls) >= 2
            )
        assert calls == [4, 8], stop_at
        assert raw_rows(project.path, MARKS) == [(0,)]
        assert raw_rows(project.path, "SELECT count(*) FROM write_run WHERE state <> 0") == [(0,)]
        assert stored(project.path) == [("ana", "todo", 11), ("ben", "todo", 11)]
        assert seen_tasks(project) == before and task_where(project) is None
    assert reassign(project, "ben", "ana").moved == 11  # and it can be run again


def test_a_cancel_during_the_close_settle_keeps_the_move(make_project, tmp_path, small_chunks):
    project = team_project(make_project, tmp_path)
    closing = []

    def count(done, total, message):
        if message == "Closing moved tasks":
            closing.append(done)

    report = reassign(project, "ben", "ana", progress=count, cancel=lambda: bool(closing))
    assert closing == [4] and report.closing_stopped
    assert "Cancel came after the move was saved: it stands" in report.summary()
    shown = seen_tasks(project)
    assert shown["annotators"]["ben"] == (0, 0) and shown["annotators"]["ana"] == (22, 0)
    assert raw_rows(project.path, MARKS) == [(7,)]
    # A project bundle made now carries the moved tasks as cancelled, marks or not.
    export_project_bundle(project, tmp_path / "now.tlbundle")
    open_bundle(tmp_path / "now.tlbundle", tmp_path / "copy.tagloop")
    assert stored(tmp_path / "copy.tagloop") == [("ana", "todo", 22), ("ben", "cancelled", 11)]
    # An assignment bundle for ben holds none of them.
    reports = export_assignment_bundles(project, tmp_path / "bundles", annotators=["ben"])
    assert [r.counts.get("tasks", 0) for r in reports] == [0]
    project.close()
    with open_project(project.path) as again:  # the next open finishes the close
        assert raw_rows(again.path, MARKS) == [(0,)]
        assert stored(again.path) == [("ana", "todo", 22), ("ben", "cancelled", 11)]
        assert seen_tasks(again) == shown and task_where(again) is None


KILLED = textwrap.dedent(
    """
    import sys, time
    from app.core.project.project import open_project
    from app.core.storage import staging
    from app.core.team import assign, runtasks

    runtasks.FIRST_CHUNK = staging.FIRST_CHUNK = 3
    runtasks.next_chunk = staging.next_chunk = lambda *args, **kwargs: 3

    def stall(done, total, message):
        if message == sys.argv[2]:
            print("chunk", flush=True)
            time.sleep(60)

    with open_project(sys.argv[1]) as project:
        assign.reassign(project, "ben", "ana", progress=stall)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_reassign_is_swept_and_the_source_keeps_its_open_tasks(make_project, tmp_path):
    project = team_project(make_project, tmp_path)
    before = seen_tasks(project)
    project.close()
    kill_at_first_chunk(KILLED, project.path, "Creating tasks")  # marks done, 3 new tasks
    assert raw_rows(project.path, MARKS) == [(11,)]
    assert raw_rows(project.path, LOADING) == [(3,)]
    with open_project(project.path) as again:
        assert [(s.kind, s.rows) for s in again.swept] == [("reassign", 3 + 11)]
        assert raw_rows(again.path, MARKS) == [(0,)]
        assert stored(again.path) == [("ana", "todo", 11), ("ben", "todo", 11)]
        assert seen_tasks(again) == before
        assert reassign(again, "ben", "ana").moved == 11


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_close_settle_is_finished_on_open(make_project, tmp_path):
    project = team_project(make_project, tmp_path)
    project.close()
    kill_at_first_chunk(KILLED, project.path, "Closing moved tasks")  # published, 3 closed
    assert raw_rows(project.path, MARKS) == [(8,)]
    assert stored(project.path) == [
        ("ana", "todo", 22),
        ("ben", "cancelled", 3),
        ("ben", "todo", 8),
    ]
    with open_project(project.path) as again:
        assert not again.swept  # nothing to remove: the run was published
        assert raw_rows(again.path, MARKS) == [(0,)]
        assert stored(again.path) == [("ana", "todo", 22), ("ben", "cancelled", 11)]
        assert seen_tasks(again)["annotators"]["ben"] == (0, 0)
        assert verify_chain(again).ok


def test_a_schema_0008_file_upgrades_and_reassigns(tmp_path):
    path = tmp_path / "old.tagloop"
    with gzip.open(FIXTURE_0008) as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)
    with open_project(path) as project:
        for name in ("ana", "ben"):
            add_annotator(project, name)
        generate_tasks(project, ["ana", "ben"], force=True)  # 11 items: the 12th is gold
        assert seen_tasks(project)["annotators"]["ben"] == (5, 0)
        assert reassign(project, "ben", "ana").moved == 5
        assert seen_tasks(project)["annotators"]["ben"] == (0, 0)
        assert stored(path)[-1] == ("ben", "cancelled", 5)
        assert raw_rows(path, MARKS) == [(0,)]
        assert verify_chain(project).ok


def test_work_given_to_the_source_by_a_run_loading_then_refuses_the_move(
    make_project, tmp_path, small_chunks
):
    """A task for ben in a run that was loading when reassign read (so unseen by it), then
    published while it wrote: ben's open tasks changed, nothing is moved."""
    from app.core.errors import ProjectError
    from app.core.ids import new_uuid, now_iso
    from app.core.storage.retry import run_write

    project = team_project(make_project, tmp_path)
    other = runs.begin(project.engine, "assign")

    def give_ben(conn):
        conn.exec_driver_sql(
            "INSERT INTO task (uuid, datapoint_id, annotator_id, kind, status, created_at,"
            " run_id) SELECT ?, 1, id, 'review', 'todo', ?, ? FROM annotator WHERE name = 'ben'",
            (new_uuid(), now_iso(), other.id),
        )

    run_write(project.engine, give_ben)
    published = []

    def publish_it(done, total, message):
        if not published:
            run_write(project.engine, lambda conn: runs.publish(conn, other.id))
            published.append(message)

    with pytest.raises(ProjectError, match="ben's open tasks changed"):
        reassign(project, "ben", "ana", progress=publish_it)
    assert published == ["Marking moved tasks"]
    assert raw_rows(project.path, MARKS) == [(0,)]
    assert stored(project.path) == [("ana", "todo", 11), ("ben", "todo", 12)]
