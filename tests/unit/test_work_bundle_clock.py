"""Returned work survives an annotator's clock running behind the owner's.

Air-gapped machines have no time server: their clocks drift by minutes or hours. Work done on
the annotator's machine is stamped by its clock, the assignment bundle by the owner's; a work
bundle that picked "work since the bundle was made" by the owner's clock alone would leave out
everything labelled within the drift, silently.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.bundle import export_work_bundle, merge_bundle, open_bundle
from app.core.bundle.assignments import export_assignment_bundles
from app.core.project.project import META_BASE, META_OPENED_AT, open_project
from app.core.team.assign import generate_tasks
from tests.unit.helpers import next_millisecond
from tests.unit.quality_helpers import team, with_items


def _assigned(owner, folder: Path, *, hours_ahead: float = 0, register: bool = True) -> Path:
    """Ana's file, opened from her assignment bundle, as if the owner's clock ran
    `hours_ahead` of hers when the bundle was made."""
    if register:
        team(owner, "ana")
        generate_tasks(owner, ["ana"], fraction=1.0, seed=1)
    (bundle,) = export_assignment_bundles(owner, folder / "out")
    machine = open_bundle(bundle.path, folder / "ana.tagloop").path
    if hours_ahead:
        with open_project(machine) as project, project.engine.begin() as conn:
            value = conn.exec_driver_sql(
                "SELECT value FROM project_meta WHERE key = ?", (META_BASE,)
            ).scalar_one()
            moved = datetime.fromisoformat(value) + timedelta(hours=hours_ahead)
            conn.exec_driver_sql(
                "UPDATE project_meta SET value = ? WHERE key = ?",
                (moved.isoformat(timespec="milliseconds"), META_BASE),
            )
    return machine


def _work(machine: Path, value: str, count: int | None = None, before=None) -> Path:
    """Ana labels her first `count` items (all of them by default) `value` and returns her
    work; `before(project)` runs on her file first."""
    with open_project(machine) as copy:
        if before is not None:
            before(copy)
        me = copy.local_annotator_id
        ids = [r[0] for r in copy.engine.connect().exec_driver_sql("SELECT id FROM datapoint")]
        next_millisecond()  # work is what was stamped after the file was opened
        answers = tuple((i, AnnotationState(value, "complete")) for i in ids[:count])
        SetAnnotations(me, answers).apply(copy)
        out = machine.with_name(f"{machine.stem}-work.tlbundle")
        export_work_bundle(copy, out)
    return out


def _owner(make_project, tmp_path, count: int):
    owner = make_project(labels=("a", "b"))
    with_items(owner, tmp_path, [f"item {i}" for i in range(count)])
    return owner


def _anas_values(owner) -> list[tuple[str, int]]:
    with owner.engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT a.value, count(*) FROM annotation a JOIN annotator n ON n.id = a.annotator_id"
            " WHERE n.name = 'ana' GROUP BY a.value ORDER BY a.value"
        ).all()


def test_work_done_behind_the_owners_clock_is_returned(make_project, tmp_path):
    owner = _owner(make_project, tmp_path, 6)
    report = merge_bundle(owner, _work(_assigned(owner, tmp_path, hours_ahead=3), "a"))
    assert (report.added["annotations"], report.conflict_count) == (6, 0)
    assert _anas_values(owner) == [('"a"', 6)]


def test_a_clock_ahead_returns_the_same_work(make_project, tmp_path):
    owner = _owner(make_project, tmp_path, 6)
    report = merge_bundle(owner, _work(_assigned(owner, tmp_path, hours_ahead=-3), "a"))
    assert (report.added["annotations"], report.conflict_count) == (6, 0)


def test_a_file_opened_before_the_opened_at_stamp_still_exports(make_project, tmp_path):
    """Files opened by an older version have no opened_at: the bundle's base alone decides."""
    owner = _owner(make_project, tmp_path, 4)

    def forget(copy) -> None:
        with copy.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM project_meta WHERE key = ?", (META_OPENED_AT,))

    work = _work(_assigned(owner, tmp_path), "b", before=forget)
    assert merge_bundle(owner, work).added["annotations"] == 4


def test_a_second_round_behind_the_clock_sends_only_changes_that_matter(make_project, tmp_path):
    """Round two's bundle carries ana's round-one labels; with her clock behind, the unchanged
    ones go back too, and merge as nothing: no conflict, no history, no second copy."""
    owner = _owner(make_project, tmp_path, 6)
    (tmp_path / "one").mkdir()
    first = merge_bundle(owner, _work(_assigned(owner, tmp_path / "one"), "a"))
    assert first.added["annotations"] == 6
    with owner.engine.connect() as conn:
        history_before = conn.exec_driver_sql("SELECT count(*) FROM annotation_history").scalar()
    (tmp_path / "two").mkdir()
    machine = _assigned(owner, tmp_path / "two", hours_ahead=3, register=False)
    report = merge_bundle(owner, _work(machine, "b", count=2))
    assert report.conflict_count == 0
    assert report.updated.get("annotations", 0) == 2 and not report.added.get("annotations")
    with owner.engine.connect() as conn:
        history = conn.exec_driver_sql("SELECT count(*) FROM annotation_history").scalar()
    assert _anas_values(owner) == [('"a"', 4), ('"b"', 2)]
    assert history - history_before == 2  # the two replaced versions, nothing for the rest


def test_work_in_the_millisecond_the_file_was_opened_is_returned(make_project, tmp_path):
    """Stamps have millisecond resolution: work stamped in the very millisecond of the floor
    goes back too (a row sent twice merges as nothing)."""
    owner = _owner(make_project, tmp_path, 2)
    machine = _assigned(owner, tmp_path)
    with open_project(machine) as copy:
        first = copy.engine.connect().exec_driver_sql("SELECT min(id) FROM datapoint").scalar()
        SetAnnotations(copy.local_annotator_id, ((first, AnnotationState("b", "complete")),)).apply(
            copy
        )
        with copy.engine.begin() as conn:
            stamp = conn.exec_driver_sql("SELECT updated_at FROM annotation").scalar_one()
            conn.exec_driver_sql(
                "UPDATE project_meta SET value = ? WHERE key IN (?, ?)",
                (stamp, META_BASE, META_OPENED_AT),
            )
        out = tmp_path / "ana-work.tlbundle"
        export_work_bundle(copy, out)
    assert merge_bundle(owner, out).added["annotations"] == 1
