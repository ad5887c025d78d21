"""A merge's new annotations on datapoints the project shows are a write run (issue 14, lock
contention): written in short chunks before the last transaction, unseen by every read until
it publishes them, then seen all at once with their items' statuses (settled after the lock);
a label saved meanwhile on one of their (datapoint, annotator) pairs is decided by the merge's
rule, newest wins, before or after its chunk; a cancel or a kill leaves nothing; merging twice
changes nothing the second time; and the result is the one the last transaction alone gave.

Chunks are made tiny by replacing the chunk sizer; nothing asserts on time.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from app.core.annotation import commands as annotate
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.audit.chain import verify_chain
from app.core.bundle import export_project_bundle, merge_bundle, merge_early, open_bundle
from app.core.errors import Cancelled
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.storage import runs, staging
from app.core.team.assign import add_annotator
from tests.unit.bundle_helpers import dump
from tests.unit.killing import kill_at_first_chunk
from tests.unit.test_automation_runs import free_lock_and_write, seen

CHUNK = 4
ITEMS = 20
LABELLED = 16  # items 1..16: the colleague's complete labels (written early)
DRAFT = 18  # the colleague's draft (written early, no status)
SKIPPED = 17  # the colleague's skip (left to the last transaction: it derives a status)
MINE_SKIPPED = 2  # the owner skipped it before the merge: the colleague's label makes it labeled
WRITTEN = "annotations written"  # the progress message after each early chunk


@pytest.fixture
def small_chunks(monkeypatch):
    """Every early chunk (and every settle step) takes CHUNK rows."""
    monkeypatch.setattr(merge_early, "next_chunk", lambda *_args, **_kwargs: CHUNK)
    monkeypatch.setattr(merge_early, "FIRST_CHUNK", CHUNK)
    monkeypatch.setattr(staging, "next_chunk", lambda *_args, **_kwargs: CHUNK)
    monkeypatch.setattr(staging, "FIRST_CHUNK", CHUNK)


@pytest.fixture
def colleague(make_project, tmp_path, small_chunks):
    """(a project of ITEMS items, the colleague's annotator id in it, the project bundle of a
    copy in which the colleague labelled items 1..LABELLED, skipped SKIPPED and drafted
    DRAFT); the owner skipped MINE_SKIPPED meanwhile."""
    owner = make_project()
    source = tmp_path / "items.csv"
    source.write_text("text\n" + "".join(f"item {i}\n" for i in range(ITEMS)), encoding="utf-8")
    import_dataset(owner, source)
    them = add_annotator(owner, "colleague").id
    copy_path = tmp_path / "copy.tagloop"
    open_bundle(export_project_bundle(owner, tmp_path / "owner.tlbundle").path, copy_path)
    with open_project(copy_path) as copy:
        who = copy.engine.connect().exec_driver_sql(
            "SELECT id FROM annotator WHERE name = 'colleague'"
        )
        them_there = who.scalar_one()
        changes = [
            (dp, AnnotationState("spam" if dp % 2 else "ham", "complete"))
            for dp in range(1, LABELLED + 1)
        ]
        changes.append((SKIPPED, AnnotationState(None, "skipped")))
        changes.append((DRAFT, AnnotationState("ham", "draft")))
        SetAnnotations(them_there, tuple(changes)).apply(copy)
        bundle = export_project_bundle(copy, tmp_path / "copy.tlbundle").path
    skip = AnnotationState(None, "skipped")
    SetAnnotations(owner.local_annotator_id, ((MINE_SKIPPED, skip),)).apply(owner)
    return owner, them, bundle


def _raw(project, sql: str, args: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(project.path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _derived(project) -> dict[int, int]:
    """{datapoint: status} as derived from scratch from every annotation."""
    return dict(
        _raw(
            project,
            "SELECT d.id, CASE WHEN EXISTS (SELECT 1 FROM annotation a WHERE a.datapoint_id = d.id"
            " AND a.status = 'complete') THEN 1 WHEN EXISTS (SELECT 1 FROM annotation a"
            " WHERE a.datapoint_id = d.id AND a.status = 'discarded') THEN 3 WHEN EXISTS (SELECT"
            " 1 FROM annotation a WHERE a.datapoint_id = d.id AND a.status = 'skipped') THEN 2"
            " ELSE 0 END FROM datapoint d",
        )
    )


def _stored(project) -> dict[int, int]:
    return dict(_raw(project, "SELECT id, status FROM datapoint"))


def _consistent(project) -> None:
    """Statuses as derived, one annotation per pair, label rows right, no dangling row."""
    assert _stored(project) == _derived(project)
    pairs = _raw(
        project,
        "SELECT datapoint_id, annotator_id, count(*) FROM annotation GROUP BY 1, 2"
        " HAVING count(*) > 1",
    )
    assert pairs == []
    wrong = _raw(
        project,
        "SELECT count(*) FROM annotation a WHERE a.status = 'complete' AND NOT EXISTS"
        " (SELECT 1 FROM annotation_label l WHERE l.annotation_id = a.id"
        " AND l.label = json_extract(a.value, '$') AND l.datapoint_id = a.datapoint_id)",
    )
    assert wrong == [(0,)]
    assert _raw(project, "PRAGMA foreign_key_check") == []


def test_merged_annotations_are_unseen_until_the_last_transaction_then_all_at_once(colleague):
    owner, _them, bundle = colleague
    before = seen(owner)
    hidden: list[int] = []

    def progress(done, total, message):
        if message.endswith(WRITTEN) or message == "Merging: writing":
            free_lock_and_write(owner)  # the lock is free between two chunks
            hidden.append(
                _raw(owner, "SELECT count(*) FROM annotation WHERE run_id IS NOT NULL")[0][0]
            )
            assert seen(owner) == before  # browse, label filter, stats, export, training...

    report = merge_bundle(owner, bundle, progress=progress)
    early = LABELLED + 1  # and the draft
    assert hidden == [CHUNK, 2 * CHUNK, 3 * CHUNK, 4 * CHUNK, early, early]  # then the publish
    assert report.added["annotations"] == LABELLED + 2
    after = seen(owner)
    assert after["spam"] == LABELLED // 2
    assert after["status"]["labeled"] == LABELLED
    assert after["status"]["skipped"] == 1  # SKIPPED (MINE_SKIPPED is labelled now)
    assert after["unlabelled"] == ITEMS - LABELLED - 1
    exported = [label for _uuid, label in after["export"]]
    assert exported == ["spam" if dp % 2 else "ham" for dp in range(1, LABELLED + 1)] + [None] * 4
    assert len(after["training"]) == LABELLED
    assert _stored(owner)[MINE_SKIPPED] == 1  # turned labeled in the publishing transaction
    _consistent(owner)
    runs_ = _raw(owner, "SELECT kind, state FROM write_run")
    assert runs_ == [("merge", runs.PUBLISHED)]
    with owner.engine.connect() as conn:
        assert runs.settling(conn) == {}  # the settle is done
    assert verify_chain(owner).ok


def test_the_result_is_the_one_the_last_transaction_alone_gave(colleague, monkeypatch, tmp_path):
    """Same rows, statuses, report and audit as a merge that writes nothing early."""
    owner, _them, bundle = colleague
    other_path = tmp_path / "other.tagloop"
    source = sqlite3.connect(owner.path)
    target = sqlite3.connect(other_path)
    source.backup(target)
    source.close()
    target.close()
    report = merge_bundle(owner, bundle)
    with monkeypatch.context() as patch, open_project(other_path) as other:
        patch.setattr(merge_early, "EARLY_STATUSES", ())  # nothing early: as before
        plain = merge_bundle(other, bundle)
        # no annotation written early (the merge's run holds its audit events only)
        assert _raw(other, "SELECT count(*) FROM annotation WHERE run_id IS NOT NULL") == [(0,)]
        assert _raw(other, "SELECT count(*) FROM write_run") == [(1,)]
    assert _raw(owner, "SELECT count(*) FROM write_run") == [(1,)]
    assert report.as_dict() | {"seconds": 0} == plain.as_dict() | {"seconds": 0}
    assert dump(owner.path, ("merge-bundle",)) == dump(other_path, ("merge-bundle",))

    def merge_event(path) -> dict:
        conn = sqlite3.connect(path)
        (after,) = conn.execute(
            "SELECT after FROM audit_event WHERE action = 'merge-bundle'"
        ).fetchone()
        conn.close()
        return {**json.loads(after), "seconds": 0}

    assert merge_event(owner.path) == merge_event(other_path)


def test_merging_twice_changes_nothing_the_second_time(colleague):
    owner, _them, bundle = colleague
    assert merge_bundle(owner, bundle).changed
    once = dump(owner.path)
    again = merge_bundle(owner, bundle)
    assert not again.changed
    assert dump(owner.path) == once
    assert _raw(owner, "SELECT count(*) FROM write_run") == [(1,)]  # no second run


@pytest.mark.parametrize("when", ["before its chunk", "after its chunk"])
def test_a_save_meanwhile_on_a_pair_is_decided_newest_wins(colleague, monkeypatch, when):
    """The colleague's identity (another process of theirs) saves item 9 while the merge
    writes: before its chunk (the chunk skips the pair) or after (the save changes the hidden
    row in place). The save is newer: it stands, and the bundle's version goes to history."""
    owner, them, bundle = colleague
    item = 9
    saved: list[str] = []
    monkeypatch.setattr(annotate, "now_iso", lambda: "2031-01-01T00:00:00.000+00:00")

    def progress(done, total, message):
        if not message.endswith(WRITTEN) or saved:
            return
        written = _raw(owner, "SELECT 1 FROM annotation WHERE datapoint_id = ?", (item,))
        if (when == "after its chunk") == bool(written):
            SetAnnotations(them, ((item, AnnotationState("ham", "complete")),)).apply(owner)
            saved.append(message)

    report = merge_bundle(owner, bundle, progress=progress)
    assert saved
    rows = _raw(
        owner,
        "SELECT value, updated_at FROM annotation WHERE datapoint_id = ? AND annotator_id = ?",
        (item, them),
    )
    assert rows == [('"ham"', "2031-01-01T00:00:00.000+00:00")]  # the newer save, once
    history = _raw(
        owner, "SELECT value, reason FROM annotation_history WHERE datapoint_id = ?", (item,)
    )
    assert history == [('"spam"', "conflict")]  # the bundle's older version
    assert report.conflict_count == 1
    assert report.added["annotations"] == LABELLED + 1  # item 9 is no longer new
    assert report.added["annotation_history"] == 1
    _consistent(owner)
    assert seen(owner)["spam"] == LABELLED // 2 - 1
    assert not merge_bundle(owner, bundle).changed


def test_a_cancel_midway_changes_nothing(colleague):
    owner, _them, bundle = colleague
    before = dump(owner.path)
    chunks: list[str] = []

    def progress(done, total, message):
        if message.endswith(WRITTEN):
            chunks.append(message)

    with pytest.raises(Cancelled):
        merge_bundle(owner, bundle, progress=progress, cancel=lambda: len(chunks) >= 2)
    assert len(chunks) == 2
    assert dump(owner.path) == before
    assert _raw(owner, "SELECT count(*) FROM write_run") == [(0,)]  # discarded
    assert _raw(owner, "SELECT count(*) FROM annotation") == [(1,)]  # the owner's skip
    _consistent(owner)


def test_a_save_on_a_hidden_row_survives_a_cancel(colleague, monkeypatch):
    """The colleague's save on a row written early holds their label: a cancelled merge
    gives it back to the project instead of deleting it with the run."""
    owner, them, bundle = colleague
    chunks: list[str] = []

    def progress(done, total, message):
        if message.endswith(WRITTEN):
            chunks.append(message)
            if len(chunks) == 1:  # items 1..4 are written, unseen
                SetAnnotations(them, ((3, AnnotationState("ham", "complete")),)).apply(owner)

    with pytest.raises(Cancelled):
        merge_bundle(owner, bundle, progress=progress, cancel=lambda: len(chunks) >= 2)
    rows = _raw(owner, "SELECT datapoint_id, annotator_id, value, run_id FROM annotation")
    assert sorted(rows) == [
        (MINE_SKIPPED, owner.local_annotator_id, None, None),
        (3, them, '"ham"', None),
    ]
    assert _raw(owner, "SELECT count(*) FROM write_run") == [(0,)]
    assert seen(owner)["status"]["labeled"] == 1
    _consistent(owner)


KILLED = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from app.core.bundle import merge_bundle, merge_early
    from app.core.project.project import open_project

    merge_early.FIRST_CHUNK = 4
    merge_early.next_chunk = lambda *args, **kwargs: 4

    def stall(done, total, message):
        if message.endswith("annotations written"):
            print("chunk", flush=True)
            time.sleep(600)  # until the test kills this process

    with open_project(Path(sys.argv[1])) as project:
        merge_bundle(project, Path(sys.argv[2]), progress=stall)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_merge_leaves_nothing_visible_and_is_swept_on_open(colleague):
    owner, _them, bundle = colleague
    before = seen(owner)
    rows = dump(owner.path)
    owner.close()
    kill_at_first_chunk(KILLED, Path(owner.path), bundle)
    hidden = _raw(
        owner,
        "SELECT r.kind, r.state, (SELECT count(*) FROM annotation a WHERE a.run_id = r.id)"
        " FROM write_run r",
    )
    assert hidden == [("merge", runs.LOADING, CHUNK)]
    with open_project(owner.path) as again:
        assert [(s.kind, s.rows) for s in again.swept] == [("merge", CHUNK)]
        assert seen(again) == before
        assert dump(again.path) == rows
        assert _raw(again, "SELECT count(*) FROM write_run") == [(0,)]
        assert merge_bundle(again, bundle).added["annotations"] == LABELLED + 2
        _consistent(again)


def test_statuses_left_unsettled_count_as_labelled_and_settle_on_open(colleague, monkeypatch):
    """The merge is killed right after publishing (its settle never runs): every status read
    counts the run's items as labelled, and the next open writes their statuses."""
    owner, _them, bundle = colleague
    with monkeypatch.context() as patch:
        patch.setattr(runs, "settle", lambda *_args, **_kwargs: 0)
        merge_bundle(owner, bundle)
    stored = _stored(owner)
    unsettled = [dp for dp in range(1, LABELLED + 1) if dp != MINE_SKIPPED]
    assert [stored[dp] for dp in unsettled] == [0] * len(unsettled)  # not written yet
    assert stored[MINE_SKIPPED] == 1  # skipped: turned labeled by the publish itself
    shown = seen(owner)
    assert shown["status"]["labeled"] == LABELLED
    assert shown["unlabelled"] == ITEMS - LABELLED - 1
    with owner.engine.connect() as conn:
        assert list(runs.settling(conn)) == [1]
    owner.close()
    with open_project(owner.path) as again:
        assert seen(again) == shown
        with again.engine.connect() as conn:
            assert runs.settling(conn) == {}
        _consistent(again)


def test_staging_again_keeps_the_rows_written_early_and_the_counts(colleague):
    """Another process adds an annotator before the last transaction (the ids the staging
    decided may be taken): the merge stages again; what it wrote early stays written, is
    counted once, and is published by the same run."""
    owner, _them, bundle = colleague
    writes: list[str] = []

    def progress(done, total, message):
        if message == "Merging: writing":
            writes.append(message)
            if len(writes) == 1:
                add_annotator(owner, "zed")

    report = merge_bundle(owner, bundle, progress=progress)
    assert len(writes) == 2  # staged again, then published
    assert report.added["annotations"] == LABELLED + 2
    assert _raw(owner, "SELECT kind, state FROM write_run") == [("merge", runs.PUBLISHED)]
    assert _raw(owner, "SELECT count(*) FROM annotation WHERE run_id IS NOT NULL") == [
        (LABELLED + 1,)
    ]
    assert seen(owner)["status"]["labeled"] == LABELLED
    _consistent(owner)
    assert not merge_bundle(owner, bundle).changed
