"""Returned work survives an annotator's clock running behind the owner's.

Air-gapped machines have no time server: their clocks drift by minutes or hours. Work done on
the annotator's machine is stamped by its clock, the assignment bundle by the owner's; a work
bundle that picked "work since the bundle was made" by the owner's clock alone would leave out
everything labelled within the drift, silently.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.bundle import export_work_bundle, merge_bundle, open_bundle
from app.core.bundle.assignments import export_assignment_bundles
from app.core.project.project import META_BASE, META_OPENED_AT, open_project
from app.core.team.assign import generate_tasks
from tests.unit.helpers import next_millisecond
from tests.unit.quality_helpers import team, with_items


def _shift_meta(path, key: str, hours: float) -> None:
    with open_project(path) as project, project.engine.begin() as conn:
        value = conn.exec_driver_sql(
            "SELECT value FROM project_meta WHERE key = ?", (key,)
        ).scalar_one()
        moved = (datetime.fromisoformat(value) + timedelta(hours=hours)).isoformat(
            timespec="milliseconds"
        )
        conn.exec_driver_sql("UPDATE project_meta SET value = ? WHERE key = ?", (moved, key))


def _returned(owner, tmp_path, hours_ahead: float) -> tuple[int, int]:
    """(annotations merged, flags merged) after the owner's clock ran `hours_ahead` of ana's."""
    team(owner, "ana")
    generate_tasks(owner, ["ana"], fraction=1.0, seed=1)
    (bundle,) = export_assignment_bundles(owner, tmp_path / "out")
    machine = open_bundle(bundle.path, tmp_path / "ana.tagloop").path
    _shift_meta(machine, META_BASE, hours_ahead)  # as if made on a clock that far ahead
    with open_project(machine) as copy:
        me = copy.local_annotator_id
        ids = [r[0] for r in copy.engine.connect().exec_driver_sql("SELECT id FROM datapoint")]
        next_millisecond()  # work is what was stamped after the file was opened
        SetAnnotations(me, tuple((i, AnnotationState("a", "complete")) for i in ids)).apply(copy)
        out = tmp_path / "ana-work.tlbundle"
        export_work_bundle(copy, out)
    report = merge_bundle(owner, out)
    return report.added.get("annotations", 0), report.conflict_count


def test_work_done_behind_the_owners_clock_is_returned(make_project, tmp_path):
    owner = make_project(labels=("a", "b"))
    with_items(owner, tmp_path, [f"item {i}" for i in range(6)])
    assert _returned(owner, tmp_path, hours_ahead=3) == (6, 0)
    with owner.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT count(*) FROM annotation a JOIN annotator n ON n.id = a.annotator_id"
            " WHERE n.name = 'ana' AND a.value = '\"a\"'"
        ).scalar()
    assert rows == 6


def test_a_clock_ahead_returns_the_same_work(make_project, tmp_path):
    owner = make_project(labels=("a", "b"))
    with_items(owner, tmp_path, [f"item {i}" for i in range(6)])
    assert _returned(owner, tmp_path, hours_ahead=-3) == (6, 0)


def test_a_file_opened_before_the_opened_at_stamp_still_exports(make_project, tmp_path):
    """Files opened by an older version have no opened_at: the bundle's base alone decides."""
    owner = make_project(labels=("a", "b"))
    with_items(owner, tmp_path, [f"item {i}" for i in range(4)])
    team(owner, "ana")
    generate_tasks(owner, ["ana"], fraction=1.0, seed=1)
    (bundle,) = export_assignment_bundles(owner, tmp_path / "out")
    machine = open_bundle(bundle.path, tmp_path / "ana.tagloop").path
    with open_project(machine) as copy:
        with copy.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM project_meta WHERE key = ?", (META_OPENED_AT,))
        me = copy.local_annotator_id
        ids = [r[0] for r in copy.engine.connect().exec_driver_sql("SELECT id FROM datapoint")]
        next_millisecond()  # work is what was stamped after the file was opened
        SetAnnotations(me, tuple((i, AnnotationState("b", "complete")) for i in ids)).apply(copy)
        out = tmp_path / "ana-work.tlbundle"
        export_work_bundle(copy, out)
    assert merge_bundle(owner, out).added["annotations"] == 4


def test_a_second_round_behind_the_clock_sends_only_changes_that_matter(make_project, tmp_path):
    """Round two's bundle carries ana's round-one labels; with her clock behind, the unchanged
    ones go back too, and merge as nothing: no conflict, no history, no second copy."""
    owner = make_project(labels=("a", "b"))
    with_items(owner, tmp_path, [f"item {i}" for i in range(6)])
    assert _returned(owner, tmp_path / "one", hours_ahead=0) == (6, 0)
    with owner.engine.connect() as conn:
        history_before = conn.exec_driver_sql("SELECT count(*) FROM annotation_history").scalar()
    (bundle,) = export_assignment_bundles(owner, tmp_path / "two")
    machine = open_bundle(bundle.path, tmp_path / "ana2.tagloop").path
    _shift_meta(machine, META_BASE, 3)
    with open_project(machine) as copy:
        me = copy.local_annotator_id
        ids = [r[0] for r in copy.engine.connect().exec_driver_sql("SELECT id FROM datapoint")]
        changed = ids[:2]
        next_millisecond()  # work is what was stamped after the file was opened
        SetAnnotations(me, tuple((i, AnnotationState("b", "complete")) for i in changed)).apply(
            copy
        )
        out = tmp_path / "ana2-work.tlbundle"
        export_work_bundle(copy, out)
    report = merge_bundle(owner, out)
    assert report.conflict_count == 0
    assert report.updated.get("annotations", 0) == 2 and not report.added.get("annotations")
    with owner.engine.connect() as conn:
        values = conn.exec_driver_sql(
            "SELECT a.value, count(*) FROM annotation a JOIN annotator n ON n.id = a.annotator_id"
            " WHERE n.name = 'ana' GROUP BY a.value ORDER BY a.value"
        ).all()
        history = conn.exec_driver_sql("SELECT count(*) FROM annotation_history").scalar()
    assert values == [('"a"', 4), ('"b"', 2)]
    assert history - history_before == 2  # the two replaced versions, nothing for the rest


def test_work_in_the_millisecond_the_file_was_opened_is_returned(make_project, tmp_path):
    """Stamps have millisecond resolution: work stamped in the very millisecond of the floor
    goes back too (a row sent twice merges as nothing)."""
    owner = make_project(labels=("a", "b"))
    with_items(owner, tmp_path, ["one", "two"])
    team(owner, "ana")
    generate_tasks(owner, ["ana"], fraction=1.0, seed=1)
    (bundle,) = export_assignment_bundles(owner, tmp_path / "out")
    machine = open_bundle(bundle.path, tmp_path / "ana.tagloop").path
    with open_project(machine) as copy:
        me = copy.local_annotator_id
        (first, _second) = [
            r[0] for r in copy.engine.connect().exec_driver_sql("SELECT id FROM datapoint")
        ]
        SetAnnotations(me, ((first, AnnotationState("b", "complete")),)).apply(copy)
        with copy.engine.begin() as conn:
            stamp = conn.exec_driver_sql("SELECT updated_at FROM annotation").scalar_one()
            conn.exec_driver_sql(
                "UPDATE project_meta SET value = ? WHERE key IN (?, ?)",
                (stamp, META_BASE, META_OPENED_AT),
            )
        out = tmp_path / "ana-work.tlbundle"
        export_work_bundle(copy, out)
    assert merge_bundle(owner, out).added["annotations"] == 1
