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
