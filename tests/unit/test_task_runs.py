"""Assignment and adjudication write their tasks as a write run (issue 14, lock contention):
short chunks with the lock free between them, unseen by every task read until the last short
transaction publishes them with one audit event; a cancel leaves nothing, a task made
meanwhile by someone else is not duplicated (the run is refused), and a killed process's run
is swept when the project next opens (app.core.team.runtasks, app.core.storage.runs).

Chunks are made small by replacing the chunk sizer; nothing asserts on time.
"""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from app.core.audit.chain import verify_chain
from app.core.bundle.assignments import export_assignment_bundles
from app.core.errors import Cancelled, ProjectError
from app.core.ids import now_iso
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.quality.consensus import create_adjudication_tasks
from app.core.quality.review import task_status
from app.core.report.figures import project_report
from app.core.storage.retry import write_transaction
from app.core.team import runtasks
from app.core.team.assign import add_annotator, generate_tasks, list_annotators
from app.core.team.tasks import create_tasks
from tests.unit.killing import kill_at_first_chunk
from tests.unit.locking import lock_is_free

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 4  # tasks per chunk in these tests
LOADING_TASKS = (
    "SELECT count(*) FROM task WHERE run_id IN (SELECT id FROM write_run WHERE state <> 0)"
)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(runtasks, "FIRST_CHUNK", CHUNK)
    monkeypatch.setattr(runtasks, "next_chunk", lambda *_args, **_kwargs: CHUNK)
    monkeypatch.setattr(runtasks, "YIELD_SECONDS", 0.0)


def team_project(make_project, tmp_path, n: int = 22):
    project = make_project()
    source = tmp_path / "items.csv"
    source.write_text("text\n" + "".join(f"item {i}\n" for i in range(n)), encoding="utf-8")
    import_dataset(project, source)
    for name in ("ana", "ben"):
        add_annotator(project, name)
    add_annotator(project, "judge", "reviewer")
    return project


def raw_rows(project, sql: str) -> list[tuple]:
    conn = sqlite3.connect(project.path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def seen_tasks(project, outdir: Path | None = None) -> dict:
    """What users see of the tasks, through the reads this change covers."""
    seen = {
        "annotators": [(a.name, a.open_tasks, a.done_tasks) for a in list_annotators(project)],
        "status": sorted((s.task_uuid, s.status) for s in task_status(project).tasks),
        "report": project_report(project).open_issues.assignments,
    }
    if outdir is not None:
        reports = export_assignment_bundles(project, outdir)
        seen["bundles"] = sorted(r.counts.get("tasks", 0) for r in reports)
    return seen


def test_an_assignment_is_written_in_chunks_unseen_until_published(
    make_project, tmp_path, small_chunks
):
    project = team_project(make_project, tmp_path)
    generate_tasks(project, ["ana"], fraction=0.25, seed=3)  # work assigned before
    before = seen_tasks(project, tmp_path / "before")
    hidden_counts = []

    def between_chunks(done, total, message):
        if message != "Creating tasks":
            return
        assert lock_is_free(project.path)
        hidden_counts.append(raw_rows(project, LOADING_TASKS)[0][0])
        outdir = tmp_path / f"during{len(hidden_counts)}" if len(hidden_counts) == 2 else None
        expected = before if outdir else {k: v for k, v in before.items() if k != "bundles"}
        assert seen_tasks(project, outdir) == expected  # nothing of the run shows yet

    report = generate_tasks(
        project, ["ana", "ben"], overlap_fraction=0.5, per_item=2, seed=1, progress=between_chunks
    )
    assert report.pool == 22 - 6 and report.tasks == 8 * 2 + 8
    assert hidden_counts == list(range(CHUNK, report.tasks + 1, CHUNK))
    after = seen_tasks(project, tmp_path / "after")
    assert after["annotators"][-3:] == [("ana", 6 + 12, 0), ("ben", 12, 0), ("judge", 0, 0)]
    assert after["bundles"] == [12, 6 + 12]
    assert raw_rows(project, "SELECT state FROM write_run") == [(0,), (0,)]  # published
    (event,) = raw_rows(project, "SELECT after FROM audit_event WHERE action = 'assign'")[1:]
    assert '"tasks": 24' in event[0] and "task_uuid_prefix" in event[0]
    assert verify_chain(project).ok


def test_the_same_seed_gives_the_same_tasks_in_chunks(make_project, tmp_path, small_chunks):
    def assigned(sub: str) -> list[tuple]:
        project = team_project(make_project, tmp_path / sub)
        generate_tasks(project, ["ana", "ben"], overlap_fraction=0.3, per_item=2, seed=9)
        return raw_rows(
            project,
            "SELECT t.datapoint_id, a.name FROM task t JOIN annotator a ON a.id = t.annotator_id"
            " ORDER BY t.id",
        )

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    assert assigned("one") == assigned("two")


def test_a_cancel_midway_leaves_nothing(make_project, tmp_path, small_chunks):
    project = team_project(make_project, tmp_path)
    chunks = []

    def count(done, total, message):
        if message == "Creating tasks":
            chunks.append(done)

    with pytest.raises(Cancelled):
        generate_tasks(project, ["ana", "ben"], progress=count, cancel=lambda: len(chunks) >= 2)
    assert chunks == [CHUNK, 2 * CHUNK]
    assert raw_rows(project, "SELECT count(*) FROM task") == [(0,)]
    assert raw_rows(project, "SELECT count(*) FROM write_run") == [(0,)]
    assert raw_rows(project, "SELECT count(*) FROM audit_event WHERE action = 'assign'") == [(0,)]
    assert generate_tasks(project, ["ana", "ben"]).tasks == 22  # and it can be run again


def test_a_task_made_meanwhile_is_not_duplicated(make_project, tmp_path, small_chunks):
    project = team_project(make_project, tmp_path)
    made = []

    def someone_else(done, total, message):
        if message == "Creating tasks" and not made:
            with write_transaction(project.engine) as conn:  # another user, between two chunks
                (ana,) = conn.exec_driver_sql("SELECT id FROM annotator WHERE name = 'ana'").one()
                made.append(create_tasks(conn, [(5, ana, "label", now_iso())], None))

    with pytest.raises(ProjectError, match="1 of these items label tasks meanwhile"):
        generate_tasks(project, ["ana", "ben"], progress=someone_else)
    assert made == [1]
    assert raw_rows(project, "SELECT datapoint_id, run_id FROM task") == [(5, None)]
    assert raw_rows(project, "SELECT count(*) FROM write_run") == [(0,)]
    # Run again, it shares out what is left, once each.
    assert generate_tasks(project, ["ana", "ben"]).tasks == 21
    assert raw_rows(project, "SELECT count(DISTINCT datapoint_id), count(*) FROM task") == [
        (22, 22)
    ]


def _disagree(project, items: range) -> None:
    """ana says spam and ben says ham on these items (complete annotations)."""
    conn = sqlite3.connect(project.path)
    with conn:
        for name, label in (("ana", "spam"), ("ben", "ham")):
            conn.execute(
                "INSERT INTO annotation (uuid, datapoint_id, annotator_id, value, status,"
                " schema_version_id, time_spent_ms, origin, created_at, updated_at)"
                " SELECT lower(hex(randomblob(16))), d.id, a.id, ?, 'complete',"
                " (SELECT max(id) FROM schema_version), 0, 'human', '2026-01-01', '2026-01-01'"
                f" FROM datapoint d, annotator a WHERE a.name = ? AND d.id BETWEEN"
                f" {items.start} AND {items.stop - 1}",
                (f'"{label}"', name),
            )
    conn.close()


def test_adjudication_tasks_are_a_run_too(make_project, tmp_path, small_chunks):
    project = team_project(make_project, tmp_path)
    _disagree(project, range(1, 12))
    before = seen_tasks(project)
    chunks = []

    def between_chunks(done, total, message):
        chunks.append((done, total))
        assert lock_is_free(project.path)
        assert seen_tasks(project) == before

    assert create_adjudication_tasks(project, "judge", progress=between_chunks) == 11
    assert chunks == [(4, 11), (8, 11), (11, 11)]
    assert list_annotators(project)[-1].open_tasks == 11
    assert create_adjudication_tasks(project, "judge") == 0  # one adjudicator per item
    assert verify_chain(project).ok


KILLED = textwrap.dedent(
    """
    import sys, time
    from app.core.project.project import open_project
    from app.core.team import assign, runtasks

    runtasks.FIRST_CHUNK = 3
    runtasks.next_chunk = lambda *args, **kwargs: 3

    def stall(done, total, message):
        if message == "Creating tasks":
            print("chunk", flush=True)
            time.sleep(60)

    with open_project(sys.argv[1]) as project:
        assign.generate_tasks(project, ["ana", "ben"], progress=stall)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_assignment_is_swept_on_open(make_project, tmp_path):
    project = team_project(make_project, tmp_path)
    project.close()
    kill_at_first_chunk(KILLED, str(project.path))
    assert raw_rows(project, "SELECT count(*) FROM task WHERE run_id IS NOT NULL") == [(3,)]
    with open_project(project.path) as again:
        assert [(s.kind, s.rows) for s in again.swept] == [("assign", 3)]
        assert raw_rows(again, "SELECT count(*) FROM task") == [(0,)]
        assert raw_rows(again, "SELECT count(*) FROM write_run") == [(0,)]
        assert generate_tasks(again, ["ana", "ben"]).tasks == 22
        assert verify_chain(again).ok


def test_bundles_carry_published_run_tasks_as_plain_rows(make_project, tmp_path):
    """A bundle never says which run wrote a task: open and merge insert tasks with no run."""
    from app.core.bundle import export_project_bundle, merge_bundle, open_bundle

    project = team_project(make_project, tmp_path)
    export_project_bundle(project, tmp_path / "first.tlbundle")
    open_bundle(tmp_path / "first.tlbundle", tmp_path / "copy.tagloop")
    generate_tasks(project, ["ana", "ben"], fraction=0.5)
    assert raw_rows(project, "SELECT count(*) FROM task WHERE run_id IS NOT NULL") == [(11,)]
    export_project_bundle(project, tmp_path / "second.tlbundle")
    open_bundle(tmp_path / "second.tlbundle", tmp_path / "opened.tagloop")
    with open_project(tmp_path / "copy.tagloop") as copy:
        merge_bundle(copy, tmp_path / "second.tlbundle")
    for name in ("opened", "copy"):
        conn = sqlite3.connect(tmp_path / f"{name}.tagloop")
        try:
            counts = conn.execute("SELECT count(*), count(run_id) FROM task").fetchone()
        finally:
            conn.close()
        assert counts == (11, 0), name


def test_a_reassignment_moves_all_or_nothing(make_project, tmp_path, small_chunks):
    from app.core.team.assign import reassign

    project = team_project(make_project, tmp_path)
    generate_tasks(project, ["ana", "ben"])  # 11 each
    before = seen_tasks(project)
    chunks = []

    def between_chunks(done, total, message):
        if message == "Closing moved tasks":  # published: the close settle (test_reassign_close)
            return
        chunks.append(done if message == "Creating tasks" else -done)  # marks: negative
        assert lock_is_free(project.path)
        assert seen_tasks(project) == before  # ben's tasks still open, ana's new ones unseen

    with pytest.raises(Cancelled):
        reassign(project, "ben", "ana", progress=between_chunks, cancel=lambda: len(chunks) >= 2)
    assert seen_tasks(project) == before and raw_rows(project, LOADING_TASKS) == [(0,)]
    assert raw_rows(project, "SELECT count(close_run_id) FROM task") == [(0,)]  # marks cleared
    chunks.clear()
    report = reassign(project, "ben", "ana", progress=between_chunks)
    assert (report.moved, report.already_theirs, chunks) == (11, 0, [-4, -8, -11, 4, 8, 11])
    counts = {name: (todo, done) for name, todo, done in seen_tasks(project)["annotators"]}
    assert counts["ana"] == (22, 0) and counts["ben"] == (0, 0)
    assert raw_rows(project, "SELECT count(*) FROM task WHERE status = 'cancelled'") == [(11,)]
    assert verify_chain(project).ok


def test_a_reassignment_is_refused_if_the_work_changed_meanwhile(
    make_project, tmp_path, small_chunks
):
    from app.core.team.assign import reassign

    project = team_project(make_project, tmp_path)
    generate_tasks(project, ["ana", "ben"])
    changed = []

    def someone_else(done, total, message):
        if not changed:  # another user closes one of ben's tasks between two chunks
            with write_transaction(project.engine) as conn:
                changed.append(
                    conn.exec_driver_sql(
                        "UPDATE task SET status = 'cancelled' WHERE id = (SELECT min(t.id)"
                        " FROM task t JOIN annotator a ON a.id = t.annotator_id"
                        " WHERE a.name = 'ben')"
                    ).rowcount
                )

    with pytest.raises(ProjectError, match="ben's open tasks changed"):
        reassign(project, "ben", "ana", progress=someone_else)
    assert changed == [1]
    assert raw_rows(project, "SELECT status, count(*) FROM task GROUP BY 1") == [
        ("cancelled", 1),
        ("todo", 21),
    ]
