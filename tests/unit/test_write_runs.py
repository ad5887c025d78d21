"""Write runs (app.core.storage.runs): rows of an unpublished run stay unseen, a failed run
leaves nothing, and a run whose process is gone is swept when the project opens."""

from __future__ import annotations

import os
import time

import pytest

from app.core.errors import ProjectError
from app.core.ids import new_uuid, now_iso
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.storage import runs
from app.core.storage.retry import run_write
from app.core.storage.sqlite import driver_connection
from app.core.storage.visibility import host_tag, process_start


def _project_with_datapoints(make_project, tmp_path, n: int = 3):
    project = make_project()
    source = tmp_path / "d.csv"
    source.write_text("text\n" + "".join(f"text {i}\n" for i in range(n)), encoding="utf-8")
    import_dataset(project, source)
    return project


def _add_task(project, run_id: int | None, datapoint_id: int) -> None:
    annotator = project.local_annotator_id

    def write(conn):
        driver_connection(conn).execute(
            "INSERT INTO task (uuid, datapoint_id, annotator_id, kind, status, created_at,"
            " run_id) VALUES (?, ?, ?, 'label', 'todo', ?, ?)",
            (new_uuid(), datapoint_id, annotator, now_iso(), run_id),
        )

    run_write(project.engine, write)


def _visible_tasks(project) -> int:
    with project.engine.connect() as conn:
        where = runs.task_where(conn)
        sql = "SELECT count(*) FROM task t WHERE 1" + runs.and_visible(where)
        return conn.exec_driver_sql(sql).scalar_one()


def test_rows_of_a_run_appear_only_when_it_is_published(make_project, tmp_path):
    project = _project_with_datapoints(make_project, tmp_path)
    _add_task(project, None, 1)
    with runs.writing(project.engine, "assign") as run:
        _add_task(project, run.id, 2)
        _add_task(project, run.id, 3)
        assert _visible_tasks(project) == 1  # committed, but unseen
        run_write(project.engine, lambda conn: runs.publish(conn, run.id))
    assert _visible_tasks(project) == 3
    with project.engine.connect() as conn:  # nothing loading: no filter at all
        assert runs.task_where(conn) is None


def test_a_run_that_fails_midway_leaves_nothing(make_project, tmp_path):
    project = _project_with_datapoints(make_project, tmp_path)
    with pytest.raises(RuntimeError), runs.writing(project.engine, "assign") as run:
        _add_task(project, run.id, 1)
        raise RuntimeError("disk on fire")
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM task").scalar_one() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM write_run").scalar_one() == 0


def test_publishing_a_swept_run_is_refused(make_project, tmp_path):
    project = _project_with_datapoints(make_project, tmp_path)
    run = runs.begin(project.engine, "assign")
    runs.discard(project.engine, run.id)
    with pytest.raises(ProjectError, match="removed meanwhile"):
        run_write(project.engine, lambda conn: runs.publish(conn, run.id))


def test_a_run_of_a_dead_process_is_swept_on_open_and_a_live_one_is_kept(make_project, tmp_path):
    project = _project_with_datapoints(make_project, tmp_path)
    dead = runs.begin(project.engine, "automate")
    live = runs.begin(project.engine, "assign")
    _add_task(project, dead.id, 1)
    _add_task(project, live.id, 2)
    # the dead run's process: pid 1's start time never matches this tag's
    gone = f"{host_tag()}-999999999-1-1-1"
    # the live run is another running program's: this test's parent process
    parent = os.getppid()
    other = f"{host_tag()}-{parent}-{process_start(parent)}-{int(time.time())}-1"
    with project.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE write_run SET loader = ? WHERE id = ?", (gone, dead.id))
        conn.exec_driver_sql("UPDATE write_run SET loader = ? WHERE id = ?", (other, live.id))
    path = project.path
    project.close()
    reopened = open_project(path)
    try:
        assert [s.kind for s in reopened.swept if isinstance(s, runs.SweptRun)] == ["automate"]
        with reopened.engine.connect() as conn:
            left = conn.exec_driver_sql("SELECT run_id FROM task ORDER BY id").all()
            assert left == [(live.id,)]
            assert runs.task_where(conn) is not None  # still hidden
    finally:
        reopened.close()


def _marks(project) -> list[tuple]:
    with project.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT id, status, close_run_id FROM task ORDER BY id").all()


def test_a_close_mark_counts_only_once_its_run_is_published(make_project, tmp_path):
    project = _project_with_datapoints(make_project, tmp_path)
    for datapoint_id in (1, 2, 3):
        _add_task(project, None, datapoint_id)
    with project.engine.connect() as conn:
        assert runs.task_where(conn) is None  # nothing loading, nothing marked
    with runs.writing(project.engine, "reassign") as run:
        marked = run_write(
            project.engine, lambda c: runs.mark_closed(driver_connection(c), run.id, [1, 2])
        )
        assert marked == 2
        assert _visible_tasks(project) == 3  # a mark of a loading run means nothing
        run_write(project.engine, lambda conn: runs.publish(conn, run.id))
    assert _visible_tasks(project) == 1  # closed at the publish, before any status is written
    with project.engine.connect() as conn:
        assert runs.task_where(conn) is not None  # a close is pending: the reads filter
        statuses = (
            conn.exec_driver_sql(
                f"SELECT {runs.task_status_sql('t')} FROM task t WHERE {runs.task_written('t')}"
                " ORDER BY t.id"
            )
            .scalars()
            .all()
        )
        assert statuses == ["cancelled", "cancelled", "todo"]
    assert runs.closes_pending(project.engine) == [run.id]
    assert runs.close(project.engine, run.id) == 2
    assert _marks(project) == [(1, "cancelled", None), (2, "cancelled", None), (3, "todo", None)]
    assert runs.closes_pending(project.engine) == []
    with project.engine.connect() as conn:
        assert runs.task_where(conn) is None  # hot reads keep their plans again
    assert _visible_tasks(project) == 3  # the closed tasks are back, as cancelled


def test_a_discarded_run_clears_its_marks_and_a_second_run_cannot_mark_them(make_project, tmp_path):
    project = _project_with_datapoints(make_project, tmp_path)
    for datapoint_id in (1, 2):
        _add_task(project, None, datapoint_id)
    first = runs.begin(project.engine, "reassign")
    second = runs.begin(project.engine, "reassign")

    def mark(run_id: int):
        return lambda c: runs.mark_closed(driver_connection(c), run_id, [1, 2])

    assert run_write(project.engine, mark(first.id)) == 2
    assert run_write(project.engine, mark(second.id)) == 0  # already marked by the first
    runs.discard(project.engine, first.id)
    assert _marks(project) == [(1, "todo", None), (2, "todo", None)]
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id FROM write_run").scalars().all() == [second.id]
    assert run_write(project.engine, mark(second.id)) == 2  # free again
