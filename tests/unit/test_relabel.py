"""A relabel of many existing annotations (app.core.annotation.relabel): worked out before the
lock, written set-based under it. It gives exactly what the item-by-item write gives (rows,
label index, statuses, audit event, undo), a reader meanwhile sees the old values, and a save
made between the plan and the lock is noticed (the write falls back, newest wins).

The bulk label's run machinery (cancel, kill, a save meanwhile) is tested in test_bulk_runs,
whose bulk label relabels items 5-10 through this path too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from app.core.annotation import relabel
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.audit.chain import verify_chain
from app.core.project.project import open_project
from tests.unit.killing import ROOT
from tests.unit.test_bulk_runs import SMALL, _setup, bulk, label, small_runs, state  # noqa: F401

MULTI = ("a", "b", "c", "d")


def events(project) -> list[tuple]:
    with project.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT action, before, after FROM audit_event WHERE entity = 'annotation' ORDER BY id"
        ).all()
    return [(a, json.loads(b) if b else b, json.loads(c) if c else c) for a, b, c in rows]


def _without_uuids(found: dict) -> dict:
    """The rows, label rows and statuses, without what differs between two projects."""
    rows = [row[:4] + row[5:] for row in found["annotations"]]
    return {"annotations": rows, "labels": found["labels"], "statuses": found["statuses"]}


def _never_as_planned(monkeypatch) -> None:
    monkeypatch.setattr(relabel, "unchanged", lambda raw, plan: False)


@pytest.fixture
def set_based(monkeypatch) -> list[bool]:
    """Whether each relabel.write wrote (True) or fell back (False), in order."""
    calls: list[bool] = []
    write = relabel.write

    def spy(*args, **kwargs):
        written = write(*args, **kwargs)
        calls.append(written is not None)
        return written

    monkeypatch.setattr(relabel, "write", spy)
    return calls


@pytest.mark.usefixtures("small_runs")
@pytest.mark.parametrize("planned", [True, False])
def test_a_bulk_relabel_gives_what_the_item_by_item_write_gives(
    make_project, tmp_path, monkeypatch, planned, set_based
):
    """Same rows, label rows, statuses and audit events both ways; undo and redo too."""
    if not planned:
        _never_as_planned(monkeypatch)
    project = _setup(make_project, tmp_path)
    draft = AnnotationState("ham", "draft")  # item 9 unlabelled: the bulk label labels it
    SetAnnotations(project.local_annotator_id, ((9, draft),)).apply(project)
    before = state(project)
    assert dict(before["statuses"])[9] == 0
    applied = bulk(project)
    after = state(project)
    assert [row[2] for row in after["annotations"] if row[0] in range(5, 11)] == ['"spam"'] * 6
    assert dict(after["statuses"])[9] == 1
    undone = applied.inverse.apply(project)
    assert state(project) == before
    assert set_based == [planned, planned]  # the publish, then the undo
    undone.inverse.apply(project)
    redone = state(project)
    assert redone["labels"] == after["labels"] and redone["statuses"] == after["statuses"]
    assert verify_chain(project).ok
    log = events(project)
    earlier = {
        str(i): {"value": "ham", "status": "complete", "origin": "human"} for i in range(5, 11)
    }
    earlier["9"]["status"] = "draft"
    assert log[-3][0] == "label spam" and log[-3][1] == earlier  # the bulk label's `before`


def test_the_planned_and_the_fallback_write_agree(make_project, tmp_path, monkeypatch, set_based):
    """A multilabel relabel (labels kept, changed, removed; a draft finished; an annotation
    removed) of PLAN_FROM items in one transaction, planned and not: identical results."""
    monkeypatch.setattr(relabel, "PLAN_FROM", 3)
    results = []
    for planned in (True, False):
        where = tmp_path / str(planned)
        where.mkdir()
        project = make_project("multilabel", MULTI)
        (where / "m.csv").write_text("text\n" + "".join(f"x {i}\n" for i in range(8)))
        from app.core.io.importer import import_dataset

        import_dataset(project, where / "m.csv")
        who = project.local_annotator_id
        first = {1: ["a", "b"], 2: ["c"], 3: ["a"], 4: ["b", "d"]}
        changes = [(dp, AnnotationState(v, "complete")) for dp, v in first.items()]
        changes.append((5, AnnotationState(["a"], "draft")))
        SetAnnotations(who, tuple(changes)).apply(project)
        set_based.clear()
        with monkeypatch.context() as patch:
            if not planned:
                _never_as_planned(patch)
            relabelled = [(dp, AnnotationState(["b", "c"], "complete")) for dp in (1, 2, 3, 5)]
            relabelled += [(4, None), (6, AnnotationState(None, "skipped"))]
            applied = SetAnnotations(who, tuple(relabelled), "relabel").apply(project)
            result = _without_uuids(state(project))
            log = events(project)[-1]
            applied.inverse.apply(project)
            results.append((result, log, _without_uuids(state(project)), events(project)[-1]))
            assert set_based == [planned, planned]  # the relabel, then its undo
    for planned_part, fallback_part in zip(results[0], results[1], strict=True):
        assert planned_part == fallback_part
    labels = {(dp, lab) for dp, _who, lab in results[0][0]["labels"]}
    assert labels == {(dp, lab) for dp in (1, 2, 3, 5) for lab in ("b", "c")}


@pytest.mark.usefixtures("small_runs")
def test_a_reader_during_the_run_sees_the_old_values(make_project, tmp_path):
    project = _setup(make_project, tmp_path)
    seen_meanwhile = []

    def progress(done, total, message):
        if not message.startswith("Saving"):  # a chunk of the run, before it publishes
            return
        with project.engine.connect() as conn:
            seen_meanwhile.append(
                conn.exec_driver_sql(
                    "SELECT count(*) FROM annotation_label l JOIN annotation a"
                    " ON a.id = l.annotation_id WHERE l.label = 'ham' AND a.datapoint_id <= 10"
                    " AND a.annotator_id = ?",
                    (project.local_annotator_id,),
                ).scalar_one()
            )

    bulk(project, progress=progress)
    assert seen_meanwhile and set(seen_meanwhile) == {10}  # no half relabel, ever
    with project.engine.connect() as conn:
        hams = conn.exec_driver_sql(
            "SELECT count(*) FROM annotation WHERE value = '\"ham\"' AND annotator_id = ?",
            (project.local_annotator_id,),
        ).scalar_one()
    assert hams == 4  # 1-4 kept; 5-10 relabelled at once


@pytest.mark.usefixtures("small_runs")
def test_a_save_between_the_plan_and_the_lock_is_noticed(
    make_project, tmp_path, monkeypatch, set_based
):
    """Another window relabels item 7 after the plan was made: the write falls back to the
    item-by-item path, the bulk label (the newer action) wins, and its undo gives back the
    other window's value, not the planned one."""
    project = _setup(make_project, tmp_path)
    who = project.local_annotator_id
    planned = relabel.plan
    used = []

    def plan_then_save(raw, annotator_id, changes):
        made = planned(raw, annotator_id, changes)
        if len(changes) > 1 and not used:
            used.append(True)
            raw.rollback()  # end this snapshot: the save commits after it
            note = (7, AnnotationState("ham", "complete", origin="corrected"))
            SetAnnotations(who, (note,), "other window").apply(project)
        return made

    monkeypatch.setattr(relabel, "plan", plan_then_save)
    applied = bulk(project)
    assert used and set_based == [False]
    with project.engine.connect() as conn:
        value = conn.exec_driver_sql(
            "SELECT value, origin FROM annotation WHERE datapoint_id = 7 AND annotator_id = ?",
            (who,),
        ).one()
    assert tuple(value) == ('"spam"', "human")
    monkeypatch.undo()
    applied.inverse.apply(project)
    with project.engine.connect() as conn:
        value = conn.exec_driver_sql(
            "SELECT value, origin FROM annotation WHERE datapoint_id = 7 AND annotator_id = ?",
            (who,),
        ).one()
    assert tuple(value) == ('"ham"', "corrected")
    assert events(project)[-2][1]["7"]["origin"] == "corrected"  # the bulk label's `before`


@pytest.mark.usefixtures("small_runs")
def test_a_relabel_of_a_published_run_taken_back_since_is_not_planned(make_project, tmp_path):
    """Rows of a run that an undo has hidden again since the plan: the fingerprint is equal,
    but the rows are unseen now; the write falls back (and once they are removed, too)."""
    project = _setup(make_project, tmp_path)
    who = project.local_annotator_id
    applied = bulk(project)  # items 11-40 in a published run
    with project.engine.connect() as conn:
        plan = relabel.plan(conn.connection.driver_connection, who, [(20, None), (21, None)])
        conn.rollback()
    assert plan.run_ids and not plan.hidden
    meanwhile = []

    def progress(done, total, message):  # the run hidden again, its rows not removed yet
        with project.engine.connect() as conn:
            raw = conn.connection.driver_connection
            snapshot = raw.execute(relabel.FINGERPRINT, (who, "[20, 21]")).fetchone()[0]
            meanwhile.append((snapshot == plan.fingerprint, relabel.unchanged(raw, plan)))

    applied.inverse.apply(project, progress=progress)  # hides the run, then removes it
    assert meanwhile and set(meanwhile) == {(True, False)}
    with project.engine.connect() as conn:
        assert not relabel.unchanged(conn.connection.driver_connection, plan)


def _killed(script: str, path) -> None:
    """Run `script` on the project in a child process that ends itself with os._exit(9)."""
    child = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert child.returncode == 9, child.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="os._exit mid-transaction")
def test_a_kill_inside_the_publishing_transaction_leaves_no_half_relabel(make_project, tmp_path):
    project = _setup(make_project, tmp_path)
    before = state(project)
    project.close()
    script = SMALL + textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        from app.core.project.project import open_project
        from app.core.storage import runs
        from tests.unit.test_bulk_runs import bulk

        runs.publish = lambda *args: os._exit(9)  # the relabel written, nothing committed
        with open_project(Path(sys.argv[1])) as project:
            bulk(project)
        """
    )
    _killed(script, project.path)
    with open_project(project.path) as again:
        assert [(s.kind, s.rows) for s in again.swept] == [("bulk_label", 30)]
        assert state(again) == before
        assert verify_chain(again).ok


@pytest.mark.skipif(sys.platform == "win32", reason="os._exit mid-transaction")
def test_a_kill_inside_the_undos_transaction_leaves_the_bulk_label_whole(make_project, tmp_path):
    """The undo dies after writing the relabelled items' earlier values back, before its
    commit: on the next open the bulk label is there whole, as published."""
    project = _setup(make_project, tmp_path)
    me = project.local_annotator_id
    project.close()
    script = SMALL + textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        from app.core.project.project import open_project
        from app.core.storage import runs
        from tests.unit.test_bulk_runs import bulk

        with open_project(Path(sys.argv[1])) as project:
            applied = bulk(project)
            runs.mark_unsettling = lambda *args: os._exit(9)  # after the values written back
            applied.inverse.apply(project)
        """
    )
    _killed(script, project.path)
    with open_project(project.path) as again:
        assert again.swept == []
        found = state(again)
        mine = {r[0]: r[2] for r in found["annotations"] if r[1] == me}
        assert mine == {i: '"ham"' if i < 5 else '"spam"' for i in range(1, 41)}
        labels = {r[0]: r[2] for r in found["labels"] if r[1] == me}
        assert labels == {i: "ham" if i < 5 else "spam" for i in range(1, 41)}
        assert {dp: s for dp, s in found["statuses"] if dp >= 5} == dict.fromkeys(range(5, 41), 1)
        assert verify_chain(again).ok
