"""The hash-chained audit trail: intact after real work (bundle merge and open included),
tampering and deletion detected, the migration backfill, an item's history, and the CLI."""

from __future__ import annotations

import json
import sqlite3

from sqlalchemy import text

from app.cli.main import main
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.audit import chain as audit
from app.core.audit import history
from app.core.bundle import export_project_bundle, merge_bundle, open_bundle
from app.core.project.project import open_project
from app.core.storage import db
from tests.unit.bundle_helpers import rich_project
from tests.unit.helpers import next_millisecond, rows


def _sql(project, sql, *params):
    conn = sqlite3.connect(project.path)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def test_chain_is_intact_after_real_work(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    report = audit.verify_chain(project)
    count = rows(project, "SELECT count(*) FROM audit_event")[0][0]
    assert report.ok and report.checked == count > 10
    assert report.head == rows(project, "SELECT hash FROM audit_event ORDER BY id DESC")[0][0]
    first = rows(project, "SELECT prev_hash FROM audit_event ORDER BY id LIMIT 1")[0][0]
    assert first == audit.GENESIS
    assert rows(project, "SELECT count(*) FROM audit_event WHERE hash IS NULL") == [(0,)]


def test_bundle_open_and_merge_keep_the_chain(make_project, tmp_path):
    owner = rich_project(make_project, tmp_path)
    bundle = export_project_bundle(owner, tmp_path / "o.tlbundle").path
    copy_path = open_bundle(bundle, tmp_path / "copy.tagloop").path
    with open_project(copy_path) as copy:
        assert audit.verify_chain(copy).ok  # rebuilt for the new file
        me = copy.local_annotator_id
        SetAnnotations(me, ((10, AnnotationState("ham", "complete")),)).apply(copy)
        assert audit.verify_chain(copy).ok
        back = export_project_bundle(copy, tmp_path / "back.tlbundle").path
    before = rows(owner, "SELECT count(*) FROM audit_event")[0][0]
    merge_bundle(owner, back)
    after = rows(owner, "SELECT count(*) FROM audit_event")[0][0]
    assert after > before + 1  # the copy's events, then the merge itself
    report = audit.verify_chain(owner)
    assert report.ok and report.checked == after


def test_tampering_with_an_event_names_it(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    ids = [r[0] for r in rows(project, "SELECT id FROM audit_event ORDER BY id")]
    victim = ids[len(ids) // 2]
    _sql(project, "UPDATE audit_event SET after = '{\"forged\": true}' WHERE id = ?", victim)
    report = audit.verify_chain(project)
    assert not report.ok and report.first_bad_id == victim
    assert "altered" in report.problem


def test_deleting_an_event_is_detected(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    ids = [r[0] for r in rows(project, "SELECT id FROM audit_event ORDER BY id")]
    _sql(project, "DELETE FROM audit_event WHERE id = ?", ids[3])
    report = audit.verify_chain(project)
    assert not report.ok and report.first_bad_id == ids[4]
    assert "removed" in report.problem
    _sql(project, "DELETE FROM audit_event WHERE id = ?", ids[0])
    report = audit.verify_chain(project)
    assert not report.ok and report.first_bad_id == ids[1]


def test_a_fork_is_refused_by_the_database(make_project, tmp_path):
    project = make_project()
    prev = rows(project, "SELECT prev_hash FROM audit_event ORDER BY id DESC LIMIT 1")[0][0]
    conn = sqlite3.connect(project.path)
    try:
        conn.execute(
            "INSERT INTO audit_event (uuid, at, action, entity, prev_hash, hash)"
            " VALUES ('f' || hex(randomblob(15)), '2030', 'x', 'x', ?, 'y')",
            (prev,),
        )
    except sqlite3.IntegrityError:
        pass
    else:
        raise AssertionError("two events followed the same one")
    finally:
        conn.close()


def test_the_migration_backfills_a_valid_chain(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    count = rows(project, "SELECT count(*) FROM audit_event")[0][0]
    project.close()
    # Make the file a schema-0003 file again: no chain columns, no loading state, revision 0003.
    conn = sqlite3.connect(project.path)
    try:
        conn.execute("DROP TABLE audit_pending")  # added by 0010
        conn.execute("DROP INDEX ix_audit_event_prev_hash")
        conn.execute("ALTER TABLE audit_event DROP COLUMN hash")
        conn.execute("ALTER TABLE audit_event DROP COLUMN prev_hash")
        conn.execute("ALTER TABLE dataset DROP COLUMN loader")  # added by 0007
        conn.execute("ALTER TABLE dataset DROP COLUMN state")
        conn.execute("DROP INDEX ix_task_close_run")  # added by 0009
        conn.execute("ALTER TABLE task DROP COLUMN close_run_id")
        conn.execute("DROP INDEX ix_task_run")  # added by 0008
        conn.execute("DROP INDEX ix_annotation_run")
        conn.execute("ALTER TABLE task DROP COLUMN run_id")
        conn.execute("ALTER TABLE annotation DROP COLUMN run_id")
        conn.execute("DROP TABLE write_run")
        conn.execute("UPDATE alembic_version SET version_num = '0003'")
        conn.commit()
    finally:
        conn.close()
    with open_project(project.path) as again:
        assert db.current_revision(again.engine) == db.SCHEMA_HEAD
        report = audit.verify_chain(again)
        assert report.ok and report.checked == count
        SetAnnotations(again.local_annotator_id, ((7, AnnotationState("ham", "complete")),)).apply(
            again
        )
        assert audit.verify_chain(again).checked == count + 1


def test_two_writers_do_not_fork_the_chain(make_project, tmp_path):
    project = make_project()
    with project.engine.begin() as a:
        audit.record(a, None, "x", "test")
        # A second connection cannot write until the first commits (the write lock is held).
        with project.engine.connect() as b:
            b.exec_driver_sql("PRAGMA busy_timeout=50")
            b.commit()
            try:
                with b.begin():
                    audit.record(b, None, "y", "test")
            except Exception as exc:  # sqlite3 OperationalError: locked
                assert "locked" in str(exc)
            else:
                raise AssertionError("a second writer wrote while the first held the lock")
    with project.engine.begin() as b:
        audit.record(b, None, "y", "test")
    assert audit.verify_chain(project).ok


def test_item_history_tells_the_lineage(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    entries = history.item_history(project, 2)
    whats = [(e.actor, e.what) for e in entries]
    assert ("alice", "label") in whats
    assert ("bob", "correction") in whats and ("bob", "review") in whats
    assert ("bob", "adjudication") in whats
    assert any(e.what == "comment" for e in entries)
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    alice = next(e for e in entries if e.actor == "alice" and e.what == "label")
    assert alice.after["value"] == "ham" and alice.schema_version == 2
    # A change keeps the value before it.
    me = project.local_annotator_id
    next_millisecond()  # the history is in time order: the change after the fixture's last act
    SetAnnotations(me, ((2, AnnotationState("ham", "complete")),)).apply(project)
    change = history.item_history(project, 2)[-1]
    assert change.what == "change"
    assert change.before["value"] == "spam" and change.after["value"] == "ham"
    assert history.format_value(change.before) == "spam"


def test_cli_verify_and_history(make_project, tmp_path, capsys):
    project = rich_project(make_project, tmp_path)
    path = str(project.path)
    assert main(["audit", "verify", path]) == 0
    out = capsys.readouterr().out
    count = rows(project, "SELECT count(*) FROM audit_event")[0][0]
    assert f"OK: {count} events, chain intact" in out
    assert main(["audit", "history", path, "2", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {"label", "review", "adjudication"} <= {e["what"] for e in listed}
    assert main(["audit", "history", path, "2"]) == 0
    assert "alice" in capsys.readouterr().out
    assert main(["audit", "history", path, "99999"]) == 1
    victim = rows(project, "SELECT id FROM audit_event ORDER BY id LIMIT 1 OFFSET 5")[0][0]
    _sql(project, "UPDATE audit_event SET actor_id = NULL WHERE id = ?", victim)
    capsys.readouterr()
    assert main(["audit", "verify", path]) == 1
    assert f"event {victim}" in capsys.readouterr().err


def test_a_link_is_computed_inside_the_writing_transaction(make_project):
    project = make_project()
    with project.engine.begin() as conn:
        audit.record(conn, None, "x", "test")
        last = conn.execute(
            text("SELECT prev_hash, hash FROM audit_event ORDER BY id DESC LIMIT 2")
        ).all()
    assert last[0][0] == last[1][1]


def test_every_task_created_or_cancelled_is_an_event(make_project, tmp_path):
    from app.core.team import assign
    from tests.fixtures_data import write_csv

    project = make_project()
    path = tmp_path / "items.csv"
    write_csv(path, [["text"], *[[f"item {i}"] for i in range(12)]])
    from app.core.io.importer import import_dataset

    import_dataset(project, path)
    assign.add_annotator(project, "ana")
    assign.add_annotator(project, "ben")
    report = assign.generate_tasks(project, ["ana", "ben"], overlap_fraction=0.5, per_item=2)
    # An assignment is a write run (issue 14): ONE "assign" event names its tasks' UUID
    # prefix and their count (the UUIDs are the prefix and a counter), not one per task.
    (assigned,) = rows(
        project, "SELECT after FROM audit_event WHERE entity = 'task' AND action = 'assign'"
    )
    what = json.loads(assigned[0])
    tasks = rows(project, "SELECT uuid, kind, status FROM task ORDER BY id")
    assert what["tasks"] == report.tasks == len(tasks) == 18
    assert [uid for uid, _k, _s in tasks] == [
        f"{what['task_uuid_prefix']}{n:012x}" for n in range(18)
    ]
    creates = "SELECT count(*) FROM audit_event WHERE entity = 'task' AND action = 'create'"
    assert rows(project, creates) == [(0,)]
    moved = assign.reassign(project, "ben", "ana")
    # A reassignment is a run too: ONE "reassign" event says how many tasks were moved and
    # closed, and names the new tasks' UUID prefix.
    (after,) = rows(project, "SELECT after FROM audit_event WHERE action = 'reassign'")
    what = json.loads(after[0])
    assert (what["moved"], what["closed"]) == (moved.moved, moved.already_theirs) == (3, 6)
    closed = rows(project, "SELECT count(*) FROM task WHERE status = 'cancelled'")
    assert closed == [(moved.moved + moved.already_theirs,)]
    new = rows(project, f"SELECT count(*) FROM task WHERE uuid LIKE '{what['task_uuid_prefix']}%'")
    assert new == [(moved.moved,)]
    assert audit.verify_chain(project).ok
