"""Merging work and project bundles: idempotent, order-independent, all-or-nothing, and a
conflict never loses a version."""

from __future__ import annotations

import itertools
import json

import pytest

from app.core.annotation import commands as annotate
from app.core.annotation.commands import AddComment, AddFlag, AnnotationState, SetAnnotations
from app.core.bundle import (
    BundleError,
    export_project_bundle,
    export_work_bundle,
    merge_bundle,
    open_bundle,
)
from app.core.bundle import merge as merge_module
from app.core.bundle.assignments import export_assignment_bundles
from app.core.errors import Cancelled
from app.core.io.importer import import_dataset
from app.core.project.project import open_project, update_schema
from app.core.team.assign import add_annotator, generate_tasks
from tests.unit.bundle_helpers import dump

SKIP = ("open-bundle", "merge-bundle", "export-bundle")


@pytest.fixture
def team(make_project, tmp_path):
    owner = make_project()
    source = tmp_path / "items.csv"
    source.write_text("text\n" + "".join(f"item {i}\n" for i in range(30)), encoding="utf-8")
    import_dataset(owner, source)
    add_annotator(owner, "alice")
    add_annotator(owner, "bob")
    generate_tasks(owner, ["alice", "bob"], overlap_fraction=0.4, per_item=2, seed=1)
    reports = export_assignment_bundles(owner, tmp_path / "assignments")
    bundles = {r.path.stem.split("-")[-1]: r.path for r in reports}
    return owner, bundles


def work(monkeypatch, assignment, dest, labels: dict[int, str], when: str, comment=None):
    """Open an assignment on a 'machine', label rows at time `when`, return the work bundle."""
    if not dest.exists():
        open_bundle(assignment, dest)
    with monkeypatch.context() as patch, open_project(dest) as copy:
        patch.setattr(annotate, "now_iso", lambda: when)
        me = copy.local_annotator_id
        ids = dict(copy.engine.connect().exec_driver_sql("SELECT row, id FROM datapoint").all())
        changes = tuple(
            (ids[row], AnnotationState(label, "complete", 100)) for row, label in labels.items()
        )
        SetAnnotations(me, changes).apply(copy)
        if comment:
            AddComment(ids[next(iter(labels))], me, comment).apply(copy)
            AddFlag(ids[next(iter(labels))], me, comment, created_at=when).apply(copy)
        out = dest.with_name(f"{dest.stem}-{when[:19].replace(':', '')}.tlbundle")
        export_work_bundle(copy, out)
    return out


def rows_of(project, name):
    with open_project(project.path if hasattr(project, "path") else project) as p:
        return {
            row
            for (row,) in p.engine.connect().exec_driver_sql(
                "SELECT d.row FROM task t JOIN datapoint d ON d.id = t.datapoint_id"
                " JOIN annotator a ON a.id = t.annotator_id WHERE a.name = ?",
                (name,),
            )
        }


def test_assignment_is_worked_as_the_assignee_and_returned(team, tmp_path, monkeypatch):
    owner, bundles = team
    alice_rows = sorted(rows_of(owner, "alice"))
    out = work(
        monkeypatch,
        bundles["alice"],
        tmp_path / "alice.tagloop",
        {r: "spam" for r in alice_rows[:3]},
        "2099-01-01T00:00:01.000+00:00",
        comment="unsure",
    )
    with open_project(tmp_path / "alice.tagloop") as copy:
        who = (
            copy.engine.connect()
            .exec_driver_sql("SELECT name FROM annotator WHERE id = ?", (copy.local_annotator_id,))
            .scalar()
        )
        assert who == "alice"
        rows = {r for (r,) in copy.engine.connect().exec_driver_sql("SELECT row FROM datapoint")}
        assert rows == set(alice_rows)  # only her datapoints
    report = merge_bundle(owner, out)
    # her annotate, comment, flag and open-bundle events travel too
    assert report.added == {"annotations": 3, "comments": 1, "flags": 1, "audit_events": 4}
    assert report.updated == {"tasks": 3}
    assert report.conflict_count == 0
    db = dump(owner.path)
    assert len(db["annotation"]) == 3 and {r[2] for r in db["annotation"]} == {
        owner.engine.connect()
        .exec_driver_sql("SELECT uuid FROM annotator WHERE name='alice'")
        .scalar()
    }
    assert sum(1 for r in db["datapoint"] if r[4] == 1) == 3  # status derived: labeled
    assert sum(1 for r in db["datapoint"] if r[5]) == 1  # flagged
    events = (
        owner.engine.connect()
        .exec_driver_sql("SELECT after FROM audit_event WHERE action = 'merge-bundle'")
        .all()
    )
    assert json.loads(events[-1][0])["sha256"] == report.sha256


def test_merging_twice_changes_nothing(team, tmp_path, monkeypatch):
    owner, bundles = team
    rows = sorted(rows_of(owner, "bob"))[:4]
    out = work(
        monkeypatch,
        bundles["bob"],
        tmp_path / "bob.tagloop",
        dict.fromkeys(rows, "ham"),
        "2099-01-01T00:00:01.000+00:00",
        comment="hm",
    )
    merge_bundle(owner, out)
    once = dump(owner.path)
    again = merge_bundle(owner, out)
    assert not again.changed and again.summary().endswith("nothing new")
    assert dump(owner.path) == once  # not even an audit event


def test_a_conflict_keeps_the_newest_and_the_older_in_history(team, tmp_path, monkeypatch):
    owner, bundles = team
    row = sorted(rows_of(owner, "alice"))[0]
    early = work(
        monkeypatch,
        bundles["alice"],
        tmp_path / "m1.tagloop",
        {row: "ham"},
        "2099-01-01T00:00:01.000+00:00",
    )
    late = work(
        monkeypatch,
        bundles["alice"],
        tmp_path / "m2.tagloop",
        {row: "spam"},
        "2099-01-01T00:00:09.000+00:00",
    )
    for order in ((early, late), (late, early)):
        target = open_bundle(
            export_project_bundle(owner, tmp_path / "o.tlbundle").path,
            tmp_path / f"target-{order[0].stem}.tagloop",
        ).path
        with open_project(target) as project:
            first = merge_bundle(project, order[0])
            second = merge_bundle(project, order[1])
            assert first.conflict_count == 0 and second.conflict_count == 1
            (conflict,) = second.conflicts
            assert conflict.annotator == "alice"
            assert conflict.kept_updated_at.startswith("2099-01-01T00:00:09")
            db = dump(project.path)
            (current,) = db["annotation"]
            assert current[3] == '"spam"'
            (older,) = db["annotation_history"]
            assert older[4] == '"ham"' and older[-1] == "conflict"
            assert db["annotation_label"] == [(current[0], "spam", current[1])]


def test_returning_work_twice_is_an_update_not_a_conflict(team, tmp_path, monkeypatch):
    owner, bundles = team
    row = sorted(rows_of(owner, "alice"))[0]
    machine = tmp_path / "alice.tagloop"
    first = work(
        monkeypatch, bundles["alice"], machine, {row: "ham"}, "2099-01-01T00:00:01.000+00:00"
    )
    second = work(
        monkeypatch, bundles["alice"], machine, {row: "spam"}, "2099-01-01T00:00:05.000+00:00"
    )
    snapshot = export_project_bundle(owner, tmp_path / "o.tlbundle").path
    report_a = merge_bundle(owner, first)
    report_b = merge_bundle(owner, second)
    assert report_a.added["annotations"] == 1
    assert report_b.updated["annotations"] == 1 and report_b.conflict_count == 0
    # The newer return first: the older one is only kept in history, and the rows match.
    with open_project(open_bundle(snapshot, tmp_path / "r.tagloop").path) as reverse:
        assert merge_bundle(reverse, second).added["annotations"] == 1
        late = merge_bundle(reverse, first)
        assert late.superseded == 1 and late.conflict_count == 0
        assert dump(reverse.path, SKIP) == dump(owner.path, SKIP)
    (older,) = dump(owner.path)["annotation_history"]
    assert older[4] == '"ham"' and older[-1] == "superseded"


def test_merge_order_does_not_matter(make_project, team, tmp_path, monkeypatch):
    owner, bundles = team
    alice = sorted(rows_of(owner, "alice"))
    bob = sorted(rows_of(owner, "bob"))
    shared = sorted(set(alice) & set(bob))
    assert shared, "the fixture must have overlap items"
    works = [
        work(
            monkeypatch,
            bundles["alice"],
            tmp_path / "a1.tagloop",
            {**dict.fromkeys(alice[:5], "ham"), shared[0]: "ham"},
            "2099-01-01T00:00:01.000+00:00",
            comment="a1",
        ),
        work(
            monkeypatch,
            bundles["alice"],
            tmp_path / "a2.tagloop",
            {shared[0]: "spam", alice[1]: "spam"},
            "2099-01-01T00:00:03.000+00:00",
        ),
        work(
            monkeypatch,
            bundles["bob"],
            tmp_path / "b.tagloop",
            {**dict.fromkeys(bob[:6], "spam"), shared[0]: "ham"},
            "2099-01-01T00:00:02.000+00:00",
            comment="b",
        ),
    ]
    snapshot = export_project_bundle(owner, tmp_path / "owner.tlbundle").path
    results = []
    for n, order in enumerate(itertools.permutations(works)):
        target = open_bundle(snapshot, tmp_path / f"order{n}.tagloop").path
        with open_project(target) as project:
            for bundle in order:
                merge_bundle(project, bundle)
        results.append(dump(target, SKIP))
    for other in results[1:]:
        assert other == results[0]
    merged = results[0]
    assert merged["annotation_history"]  # alice's two machines disagreed
    # Merging everything again, in any order, changes nothing.
    with open_project(tmp_path / "order0.tagloop") as project:
        for bundle in reversed(works):
            assert not merge_bundle(project, bundle).changed


def test_another_projects_bundle_is_refused(make_project, team, tmp_path):
    owner, bundles = team
    stranger = make_project()
    before = dump(stranger.path)
    with pytest.raises(BundleError, match="belongs to another project") as err:
        merge_bundle(stranger, bundles["alice"])
    assert str(bundles["alice"]) in str(err.value) and owner.uuid in str(err.value)
    assert dump(stranger.path) == before


def test_a_failure_midway_changes_nothing(team, tmp_path, monkeypatch):
    owner, bundles = team
    rows = sorted(rows_of(owner, "alice"))[:3]
    out = work(
        monkeypatch,
        bundles["alice"],
        tmp_path / "a.tagloop",
        dict.fromkeys(rows, "ham"),
        "2099-01-01T00:00:01.000+00:00",
        comment="x",
    )
    before = dump(owner.path)
    written = []
    original = merge_module._Merge.comments

    def boom(self):
        written.append(
            self.conn.execute("SELECT count(*) FROM temp.stage_annotation").fetchone()[0]
        )
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(merge_module._Merge, "comments", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        merge_bundle(owner, out)
    assert written == [3]  # the annotations were decided (staged), not yet published
    assert dump(owner.path) == before
    monkeypatch.setattr(merge_module._Merge, "comments", original)

    seen = []
    with pytest.raises(Cancelled):
        merge_bundle(
            owner,
            out,
            progress=lambda d, t, m: seen.append(m),
            cancel=lambda: any("tasks" in m for m in seen),
        )
    assert dump(owner.path) == before
    assert merge_bundle(owner, out).added["annotations"] == 3


def test_project_bundles_merge_both_ways(make_project, tmp_path, monkeypatch):
    owner = make_project()
    source = tmp_path / "a.csv"
    source.write_text("text,label\none,ham\ntwo,spam\nthree,\n", encoding="utf-8")
    import_dataset(owner, source, label_column="label")
    snapshot = export_project_bundle(owner, tmp_path / "owner.tlbundle").path
    other_path = open_bundle(snapshot, tmp_path / "other.tagloop").path
    with open_project(other_path) as other:
        more = tmp_path / "b.csv"
        more.write_text("text\nfour\nfive\n", encoding="utf-8")
        import_dataset(other, more)
        carol = add_annotator(other, "carol")
        update_schema(other, guidelines="new rules")
        SetAnnotations(carol.id, ((4, AnnotationState("spam", "complete")),)).apply(other)
        AddComment(5, carol.id, "what?").apply(other)
        AddFlag(1, carol.id, "odd").apply(other)
        back = export_project_bundle(other, tmp_path / "other.tlbundle").path
    report = merge_bundle(owner, back)
    assert report.added["datasets"] == 1 and report.added["datapoints"] == 2
    assert report.added["annotators"] == 1 and report.added["schema_versions"] == 1
    assert report.added["annotations"] == 1 and report.added["comments"] == 1
    assert report.added["flags"] == 1
    # And the other way: both files now hold the same project.
    with open_project(other_path) as other:
        merge_bundle(other, export_project_bundle(owner, tmp_path / "owner2.tlbundle").path)
    mine, theirs = dump(owner.path), dump(other_path)
    for table in mine:
        if table == "annotation":  # which replica a version came from is each file's own
            assert [r[:-1] for r in mine[table]] == [r[:-1] for r in theirs[table]]
        elif table != "audit_event":
            assert mine[table] == theirs[table], table
    with open_project(owner.path) as again:
        flagged = (
            again.engine.connect()
            .exec_driver_sql("SELECT count(*) FROM datapoint WHERE flagged = 1")
            .scalar()
        )
        assert flagged == 1
