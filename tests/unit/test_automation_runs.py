"""An automation run is a write run (issue 14, lock contention): its auto-labels and tasks go in
short transactions that no read shows until the last one publishes them, the lock is free
between two of them, a cancel leaves nothing, a person's label saved meanwhile wins (the item
is left out of the run), a killed run is swept on open, and the items' statuses, settled
after publishing, are counted as labelled by every status read meanwhile.

Chunks are made tiny by replacing the chunk sizer; nothing asserts on time.
"""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from app.core.annotation.browse import Browser, Query
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.annotation.stats import labeling_progress, project_stats
from app.core.annotation.worklist import Worklist, WorklistSpec
from app.core.audit.chain import verify_chain
from app.core.errors import Cancelled, ProjectError
from app.core.io.export import iter_records
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.quality import automation, automation_chunks
from app.core.storage import runs, staging
from app.core.team.assign import add_annotator
from app.ml.loop import training_set
from tests.fixtures_data import write_csv
from tests.unit.killing import kill_at_first_chunk

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 4


@pytest.fixture
def small_chunks(monkeypatch):
    """Every chunk of a run (and of its cleanup or settle) takes CHUNK rows."""
    monkeypatch.setattr(staging, "next_chunk", lambda *_args, **_kwargs: CHUNK)
    monkeypatch.setattr(automation_chunks, "FIRST_CHUNK", CHUNK)
    monkeypatch.setattr(staging, "FIRST_CHUNK", CHUNK)


def _setup(make_project, tmp_path):
    """10 items labelled by a person (a.csv), 30 unlabelled (b.csv); an annotator and a
    reviewer. The plan: the model labels b's first 24 items, routes the last 6."""
    project = make_project()
    write_csv(tmp_path / "a.csv", [["text"], *[[f"old message {i}"] for i in range(10)]])
    write_csv(tmp_path / "b.csv", [["text"], *[[f"new message {i}"] for i in range(30)]])
    import_dataset(project, tmp_path / "a.csv")
    import_dataset(project, tmp_path / "b.csv")
    label(project, range(1, 11), "ham")
    add_annotator(project, "ann", "annotator")
    add_annotator(project, "rita", "reviewer")
    return project, plan_for()


def label(project, ids, value: str) -> None:
    changes = tuple((dp, AnnotationState(value, "complete")) for dp in ids)
    SetAnnotations(project.local_annotator_id, changes).apply(project)


def seen(project) -> dict:
    """What a user can see: browse counts and pages, status counts, stats, the worklist of
    unlabelled items, exports, training data, the tasks."""
    browser = Browser(project)
    with project.engine.connect() as conn:
        where = runs.task_where(conn)
        tasks = conn.exec_driver_sql(
            "SELECT count(*) FROM task t WHERE 1" + runs.and_visible(where)
        ).scalar_one()
    return {
        "unlabelled": browser.count(Query(status="unlabeled")),
        "spam": browser.count(Query(label="spam")),
        "auto": browser.count(Query(status="auto-labelled")),
        "page": [(r.id, r.status, r.labels) for r in browser.page(Query(), 0, 100)],
        "status": browser.status_counts(),
        "stats": project_stats(project)["labels"],
        "datasets": project_stats(project)["datasets"],
        "progress": labeling_progress(project),
        "worklist": len(Worklist(project)),
        "export": [(r["id"], r.get("label")) for r in iter_records(project)],
        "training": training_set(project).datapoint_ids,
        "tasks": tasks,
    }


def free_lock_and_write(project) -> None:
    """Another connection takes the write lock at once (it would fail if the run held it)
    and commits a write."""
    other = sqlite3.connect(project.path, timeout=0)
    try:
        other.execute("PRAGMA busy_timeout=0")
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT OR REPLACE INTO project_meta (key, value) VALUES ('probe', 'x')")
        other.execute("COMMIT")
    finally:
        other.close()


def test_chunks_are_unseen_until_published_and_the_lock_is_free_between_them(
    make_project, tmp_path, small_chunks
):
    project, plan = _setup(make_project, tmp_path)
    before = seen(project)
    observed = []

    def between(done, total, message):
        if not message.startswith("Writing"):
            return
        free_lock_and_write(project)
        with project.engine.connect() as conn:
            observed.append(
                conn.exec_driver_sql(
                    "SELECT (SELECT count(*) FROM annotation WHERE run_id IS NOT NULL),"
                    " (SELECT count(*) FROM task WHERE run_id IS NOT NULL)"
                ).one()
            )
        assert seen(project) == before  # committed, but nothing of the run shows yet

    report = automation.write_run(project, plan, project.local_annotator_id, progress=between)
    assert report.auto_labelled == 24 and report.routed == 6 and report.dropped == 0
    assert report.label_tasks == 6 and report.audit_tasks == 24  # the audit takes all (< 50)
    assert len(observed) >= (24 + 30) // CHUNK  # several chunks, each committed
    assert observed[0] == (CHUNK, 0) and observed[-1] == (24, 30)
    after = seen(project)
    assert after["unlabelled"] == 6 and after["spam"] == 24 and after["auto"] == 24
    assert after["status"]["unlabeled"] == 6 and after["worklist"] == 6
    assert after["tasks"] == 30
    with project.engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT count(*) FROM datapoint WHERE status = 1").scalar() == 34
        )
        assert conn.exec_driver_sql("SELECT state FROM write_run").all() == [(runs.PUBLISHED,)]
        assert runs.settling(conn) == {}
    assert verify_chain(project).ok


def test_a_cancel_midway_leaves_nothing(make_project, tmp_path, small_chunks):
    project, plan = _setup(make_project, tmp_path)
    before = seen(project)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3  # after three chunks

    with pytest.raises(Cancelled):
        automation.write_run(project, plan, project.local_annotator_id, cancel=cancel)
    assert seen(project) == before
    with project.engine.connect() as conn:
        for table in ("write_run", "task"):
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM annotation").scalar() == 10
    assert verify_chain(project).ok


def test_a_label_saved_meanwhile_is_kept_and_its_item_left_out(
    make_project, tmp_path, small_chunks
):
    project, plan = _setup(make_project, tmp_path)
    auto_item, routed_item = plan.auto[1][0], plan.routed[0]
    saved = []

    def between(done, total, message):
        if message.startswith("Writing") and not saved:
            label(project, [auto_item, routed_item], "ham")  # a person, while the run writes
            saved.append(1)

    report = automation.write_run(project, plan, project.local_annotator_id, progress=between)
    assert report.dropped == 2 and report.auto_labelled == 23
    assert "2 items labelled meanwhile by a person were left out" in report.summary()
    with project.engine.connect() as conn:
        for item in (auto_item, routed_item):
            values = conn.execute(
                text("SELECT origin, value FROM annotation WHERE datapoint_id = :d"), {"d": item}
            ).all()
            assert values == [("human", '"ham"')]
            assert (
                conn.execute(
                    text("SELECT count(*) FROM task WHERE datapoint_id = :d"), {"d": item}
                ).scalar()
                == 0
            )
        event = conn.exec_driver_sql(
            "SELECT json_extract(after, '$.auto_labelled'),"
            " json_extract(after, '$.left_out_labelled_meanwhile')"
            " FROM audit_event WHERE action = 'automate'"
        ).one()
    assert event == (23, 2)
    assert automation.run_confidences(sqlite3.connect(project.path)).keys() == {
        dp for dp, _v, _c in plan.auto if dp != auto_item
    }
    assert verify_chain(project).ok


def test_statuses_being_settled_count_as_labelled_and_the_next_open_finishes(
    make_project, tmp_path, small_chunks, monkeypatch
):
    project, plan = _setup(make_project, tmp_path)
    monkeypatch.setattr(runs, "settle", lambda *_args, **_kwargs: 0)  # stopped before settling
    automation.write_run(project, plan, project.local_annotator_id)
    monkeypatch.undo()
    with project.engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT count(*) FROM datapoint WHERE status = 1").scalar() == 10
        )
        assert list(runs.settling(conn)) == [1]
    shown = seen(project)
    assert shown["unlabelled"] == 6 and shown["status"]["unlabeled"] == 6  # the routed ones
    assert shown["worklist"] == 6 and shown["progress"].auto == 24
    assert shown["datasets"][1]["labeled"] == 24
    statuses = {dp: status for dp, status, _labels in shown["page"]}
    assert {statuses[dp] for dp, _v, _c in plan.auto} == {"labeled"}
    assert {statuses[dp] for dp in plan.routed} == {"unlabeled"}
    project.close()
    with open_project(project.path, sweep=True) as again:
        with again.engine.connect() as conn:
            assert (
                conn.exec_driver_sql("SELECT count(*) FROM datapoint WHERE status = 1").scalar()
                == 34
            )
            assert runs.settling(conn) == {}
        assert seen(again) == shown


def test_sort_by_status_counts_items_being_settled_as_labelled(
    make_project, tmp_path, small_chunks, monkeypatch
):
    project, plan = _setup(make_project, tmp_path)
    monkeypatch.setattr(runs, "settle", lambda *_args, **_kwargs: 0)  # stopped before settling
    automation.write_run(project, plan, project.local_annotator_id)
    monkeypatch.undo()
    by_status = Query(sort="status", descending=True)  # labelled (1) before unlabelled (0)
    rows = Browser(project).page(by_status, 0, 100)
    assert [r.status for r in rows] == ["labeled"] * 34 + ["unlabeled"] * 6
    assert {r.id for r in rows[34:]} == set(plan.routed)
    worklist = Worklist(project, WorklistSpec(Query(sort="status", descending=True)))
    assert [worklist.id_at(i) for i in range(34, 40)] == sorted(plan.routed, reverse=True)


def test_a_cancel_during_the_settle_leaves_the_run_and_the_next_open_finishes(
    make_project, tmp_path, small_chunks
):
    project, plan = _setup(make_project, tmp_path)
    settled = []

    def progress(done, total, message):
        if message == "Settling":
            settled.append(done)

    report = automation.write_run(
        project, plan, project.local_annotator_id, cancel=lambda: bool(settled), progress=progress
    )
    assert settled == [CHUNK] and not report.settled  # one step, then Cancel was seen
    assert "Cancel came after the run was saved: it stands" in report.summary()
    assert report.auto_labelled == 24
    shown = seen(project)
    assert shown["unlabelled"] == 6 and shown["progress"].auto == 24
    with project.engine.connect() as conn:
        assert list(runs.settling(conn)) == [1]  # the mark is left for the next open
    project.close()
    with open_project(project.path) as again:
        with again.engine.connect() as conn:
            assert runs.settling(conn) == {}
            stored = conn.exec_driver_sql("SELECT count(*) FROM datapoint WHERE status = 1")
            assert stored.scalar() == 34
        assert seen(again) == shown


KILLED = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from app.core.project.project import open_project
    from app.core.quality import automation, automation_chunks
    from app.core.storage import staging
    from tests.unit.test_automation_runs import plan_for

    staging.next_chunk = lambda *args, **kwargs: 4
    automation_chunks.FIRST_CHUNK = 4
    chunks = []

    def stall(done, total, message):
        if message.startswith("Writing"):
            chunks.append(1)
            if len(chunks) == 2:
                print("chunk", flush=True)
                time.sleep(600)  # until the test kills this process

    with open_project(Path(sys.argv[1])) as project:
        automation.write_run(project, plan_for(), project.local_annotator_id, progress=stall)
    """
)


def plan_for() -> automation.RunPlan:
    """The plan of `_setup` (for the child process)."""
    ids = list(range(11, 41))
    return automation.RunPlan(
        1,
        "version-uuid",
        2,
        "b.csv",
        0.95,
        0.95,
        0.9,
        0.97,
        0.8,
        auto=[(dp, '"spam"', 0.99) for dp in ids[:24]],
        routed=ids[24:],
        audit_rate=0.5,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_run_is_swept_on_open(make_project, tmp_path):
    project, _plan = _setup(make_project, tmp_path)
    before = seen(project)
    project.close()
    kill_at_first_chunk(KILLED, str(project.path))
    raw = sqlite3.connect(project.path)
    try:
        state, hidden = raw.execute(
            "SELECT r.state, (SELECT count(*) FROM annotation a WHERE a.run_id = r.id)"
            " FROM write_run r"
        ).fetchone()
    finally:
        raw.close()
    assert state == runs.LOADING and hidden == 2 * CHUNK
    with open_project(project.path) as again:
        assert [(s.kind, s.rows) for s in again.swept] == [("automate", 2 * CHUNK)]
        with again.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM write_run").scalar() == 0
            assert conn.exec_driver_sql("SELECT count(*) FROM annotation").scalar() == 10
        assert seen(again) == before
        assert verify_chain(again).ok


def test_a_second_run_while_one_is_written_is_refused(make_project, tmp_path, small_chunks):
    project, plan = _setup(make_project, tmp_path)
    refused = []

    def between(done, total, message):
        if message.startswith("Writing") and not refused:
            with pytest.raises(ProjectError, match="another automation run") as caught:
                automation.write_run(project, plan, project.local_annotator_id)
            refused.append(str(caught.value))

    report = automation.write_run(project, plan, project.local_annotator_id, progress=between)
    assert refused and report.auto_labelled == 24  # the first run is untouched
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM write_run").scalar() == 1


def test_a_skip_meanwhile_is_not_turned_into_a_label_by_the_hidden_auto_label(
    make_project, tmp_path, small_chunks
):
    """A person skips an item whose auto-label is written but unseen: the item is skipped
    (the hidden auto-label does not make it labelled), and the run leaves it out."""
    project, plan = _setup(make_project, tmp_path)
    item = plan.auto[0][0]
    statuses = []

    def between(done, total, message):
        if message.startswith("Writing") and not statuses:
            skip = AnnotationState(None, "skipped")
            applied = SetAnnotations(project.local_annotator_id, ((item, skip),)).apply(project)
            statuses.append(applied.statuses)

    report = automation.write_run(project, plan, project.local_annotator_id, progress=between)
    assert statuses == [{item: ("unlabeled", "skipped")}]
    assert report.dropped == 1 and report.auto_labelled == 23
    with project.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT status FROM datapoint WHERE id = :d"), {"d": item}).scalar()
            == 2
        )
        assert conn.execute(
            text("SELECT origin, status FROM annotation WHERE datapoint_id = :d"), {"d": item}
        ).all() == [("human", "skipped")]


def test_items_another_run_labelled_and_not_yet_settled_are_left_out(
    make_project, tmp_path, small_chunks, monkeypatch
):
    """A bulk label (a write run) published while the automation run writes, its statuses not
    settled yet: its items read as labelled (runs.status_expr) though their stored status is
    still 0, so the automation run leaves them out as it does an item a person labelled."""
    from app.core.annotation import bulk_runs

    project, plan = _setup(make_project, tmp_path)
    auto_item, routed_item = plan.auto[1][0], plan.routed[0]
    monkeypatch.setattr(bulk_runs, "RUN_THRESHOLD", 1)
    settle = runs.settle
    stored = []

    def between(done, total, message):
        if message.startswith("Writing") and not stored:
            runs.settle = lambda *_args, **_kwargs: 0  # the bulk label stops before settling
            try:
                label(project, [auto_item, routed_item], "spam")
            finally:
                runs.settle = settle
            with project.engine.connect() as conn:
                stored.append(
                    conn.exec_driver_sql(
                        "SELECT count(*) FROM datapoint WHERE status = 0"
                        f" AND id IN ({auto_item}, {routed_item})"
                    ).scalar()
                )

    report = automation.write_run(project, plan, project.local_annotator_id, progress=between)
    assert stored == [2]  # stored as unlabelled when the automation run published
    assert report.dropped == 2 and report.auto_labelled == 23
    with project.engine.connect() as conn:
        for item in (auto_item, routed_item):
            values = conn.execute(
                text("SELECT origin, value FROM annotation WHERE datapoint_id = :d"), {"d": item}
            ).all()
            assert values == [("human", '"spam"')]
