"""A large merge without a long write lock (issue 14): new datapoints are written in short
chunks, unseen until the last transaction; the lock is free between chunks; a cancel changes
nothing; a label saved while the merge runs is not overwritten by an older bundle version."""

from __future__ import annotations

import sqlite3

import pytest

from app.core.annotation import commands as annotate
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.bundle import export_project_bundle, merge_bundle, merge_load, open_bundle
from app.core.errors import Cancelled
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.storage.visibility import visible
from app.core.team.assign import add_annotator
from tests.unit.bundle_helpers import dump

NEW_ROWS = 120
CHUNK = 25
MINE = 30  # new datapoints the owner's own identity labelled in the copy
OLD = "2020-01-01T00:00:00.000+00:00"


@pytest.fixture
def richer(make_project, tmp_path, monkeypatch):
    """(a project, the bundle of a copy of it that gained a dataset of NEW_ROWS datapoints,
    half of them labelled by a new annotator and MINE by the owner's identity, and a label on
    an old datapoint), with small merge chunks."""
    monkeypatch.setattr(merge_load, "CHUNK", CHUNK)
    owner = make_project()
    first = tmp_path / "first.csv"
    first.write_text("text\n" + "".join(f"old {i}\n" for i in range(10)), encoding="utf-8")
    import_dataset(owner, first)
    copy_path = tmp_path / "copy.tagloop"
    open_bundle(export_project_bundle(owner, tmp_path / "owner.tlbundle").path, copy_path)
    more = tmp_path / "more.csv"
    more.write_text(
        "text,label\n" + "".join(f"new {i},{'ham' if i % 2 else ''}\n" for i in range(NEW_ROWS)),
        encoding="utf-8",
    )
    with open_project(copy_path) as copy, monkeypatch.context() as patch:
        import_dataset(copy, more, label_column="label")  # labels by a new annotator
        me = copy.local_annotator_id  # the owner's identity too (one config)
        spam = AnnotationState("spam", "complete")
        SetAnnotations(me, tuple((dp, spam) for dp in range(11, 11 + MINE))).apply(copy)
        patch.setattr(annotate, "now_iso", lambda: OLD)
        SetAnnotations(me, ((1, spam),)).apply(copy)
        bundle = export_project_bundle(copy, tmp_path / "copy.tlbundle").path
    return owner, bundle


def _seen(path) -> tuple[int, int]:
    """(datapoints, annotations) another connection sees, as every listing filters them."""
    conn = sqlite3.connect(path)
    try:
        points = conn.execute(f"SELECT count(*) FROM datapoint d WHERE {visible('d')}").fetchone()
        notes = conn.execute(
            "SELECT count(*) FROM annotation a JOIN datapoint d ON d.id = a.datapoint_id"
            f" WHERE {visible('d')}"
        ).fetchone()
        return points[0], notes[0]
    finally:
        conn.close()


def test_new_datapoints_are_unseen_until_the_merge_publishes_them(richer):
    owner, bundle = richer
    before = _seen(owner.path)
    assert before == (10, 0)
    mid: list[tuple[tuple[int, int], int]] = []

    def progress(done, total, message):
        if message.endswith("written"):  # between two chunks: datapoints, then annotations
            conn = sqlite3.connect(owner.path)
            hidden = conn.execute("SELECT count(*) FROM datapoint").fetchone()[0]
            conn.close()
            mid.append((_seen(owner.path), hidden))

    report = merge_bundle(owner, bundle, progress=progress)
    assert len(mid) >= 2 * (NEW_ROWS // CHUNK)  # one call after each chunk
    assert all(seen == before for seen, _hidden in mid)  # nothing new is seen midway
    assert mid[-1][1] == 10 + NEW_ROWS  # yet it was written
    assert report.added["datapoints"] == NEW_ROWS
    assert _seen(owner.path) == (10 + NEW_ROWS, NEW_ROWS // 2 + MINE + 1)  # all, at once
    assert report.added["annotations"] == NEW_ROWS // 2 + MINE + 1
    states = owner.engine.connect().exec_driver_sql("SELECT state, loader FROM dataset").all()
    assert states == [(0, None), (0, None)]
    labelled = owner.engine.connect().exec_driver_sql(
        "SELECT count(*) FROM datapoint WHERE status = 1"
    )
    complete = owner.engine.connect().exec_driver_sql(
        "SELECT count(DISTINCT datapoint_id) FROM annotation WHERE status = 'complete'"
    )
    assert labelled.scalar() == complete.scalar() == NEW_ROWS // 2 + MINE // 2 + 1  # derived
    labels = owner.engine.connect().exec_driver_sql("SELECT count(*) FROM annotation_label")
    assert labels.scalar() == NEW_ROWS // 2 + MINE + 1


def test_the_write_lock_is_free_between_chunks(richer):
    owner, bundle = richer
    took: list[bool] = []

    def progress(done, total, message):
        if message.endswith("written") or message == "Merging: writing":
            other = sqlite3.connect(owner.path, isolation_level=None, timeout=0)
            other.execute("PRAGMA busy_timeout=0")
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                took.append(True)
            except sqlite3.OperationalError:
                took.append(False)
            finally:
                other.close()

    merge_bundle(owner, bundle, progress=progress)
    assert len(took) > NEW_ROWS // CHUNK
    assert all(took)


@pytest.mark.parametrize("step", ["datapoints written", "annotations of"])
def test_a_cancel_midway_changes_nothing_and_leaves_no_hidden_rows(richer, step):
    owner, bundle = richer
    before = dump(owner.path)
    chunks: list[str] = []

    def progress(done, total, message):
        if step in message:
            chunks.append(message)

    with pytest.raises(Cancelled):
        merge_bundle(owner, bundle, progress=progress, cancel=lambda: len(chunks) >= 2)
    assert dump(owner.path) == before
    conn = sqlite3.connect(owner.path)
    assert conn.execute("SELECT count(*) FROM datapoint").fetchone()[0] == 10  # swept
    assert conn.execute("SELECT count(*) FROM dataset").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM annotation").fetchone()[0] == 0
    conn.close()
    assert merge_bundle(owner, bundle).added["datapoints"] == NEW_ROWS  # and it merges after


def test_a_failure_in_the_last_transaction_changes_nothing(richer, monkeypatch):
    owner, bundle = richer
    before = dump(owner.path)
    from app.core.bundle import merge_publish

    def boom(m, conn):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(merge_publish, "_derive", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        merge_bundle(owner, bundle)
    assert dump(owner.path) == before
    conn = sqlite3.connect(owner.path)
    assert conn.execute("SELECT count(*) FROM datapoint").fetchone()[0] == 10
    conn.close()


def test_a_label_saved_during_the_merge_is_not_overwritten_by_an_older_version(richer):
    owner, bundle = richer
    me = owner.local_annotator_id
    saved: list[str] = []

    def progress(done, total, message):
        if message == "Merging: writing" and not saved:  # decided, not yet published
            SetAnnotations(me, ((1, AnnotationState("ham", "complete")),)).apply(owner)
            saved.append(message)

    report = merge_bundle(owner, bundle, progress=progress)
    assert saved
    conn = owner.engine.connect()
    value, updated = conn.exec_driver_sql(
        "SELECT value, updated_at FROM annotation WHERE datapoint_id = 1 AND annotator_id = ?",
        (me,),
    ).one()
    assert value == '"ham"' and updated > OLD  # the newer, local save is kept
    history = conn.exec_driver_sql(
        "SELECT value, updated_at FROM annotation_history WHERE datapoint_id = 1"
    ).all()
    assert ('"spam"', OLD) in history  # the bundle's older version is kept in history
    assert report.added["annotations"] == NEW_ROWS // 2 + MINE  # dp 1's not counted as added
    labels = (
        conn.exec_driver_sql("SELECT label FROM annotation_label WHERE datapoint_id = 1")
        .scalars()
        .all()
    )
    assert labels == ["ham"]
    status = conn.exec_driver_sql("SELECT status FROM datapoint WHERE id = 1").scalar()
    assert status == 1
    # The same merge again changes nothing (idempotent after the race, too).
    assert not merge_bundle(owner, bundle).changed


def test_an_annotator_added_during_the_merge_makes_it_decide_again(richer):
    owner, bundle = richer
    writes: list[str] = []

    def progress(done, total, message):
        if message == "Merging: writing":
            writes.append(message)
            if len(writes) == 1:  # the id the merge gave its new annotator is taken now
                add_annotator(owner, "zed")

    report = merge_bundle(owner, bundle, progress=progress)
    assert len(writes) == 2  # staged again, then published
    assert report.added["annotations"] == NEW_ROWS // 2 + MINE + 1
    assert report.added["annotators"] == 1
    conn = owner.engine.connect()
    names = conn.exec_driver_sql("SELECT name FROM annotator ORDER BY id").scalars().all()
    assert "zed" in names and len(names) == len(set(names))
    # every annotation names an annotator that exists, and the import's labels are its own
    orphans = conn.exec_driver_sql(
        "SELECT count(*) FROM annotation WHERE annotator_id NOT IN (SELECT id FROM annotator)"
    ).scalar()
    assert orphans == 0
    zed = conn.exec_driver_sql(
        "SELECT count(*) FROM annotation a JOIN annotator n ON n.id = a.annotator_id"
        " WHERE n.name = 'zed'"
    ).scalar()
    assert zed == 0
    assert not merge_bundle(owner, bundle).changed


def test_a_label_saved_during_the_merge_over_an_older_one_is_not_overwritten(richer, monkeypatch):
    owner, bundle = richer
    me = owner.local_annotator_id
    with monkeypatch.context() as patch:  # the project's own, older version of datapoint 1
        patch.setattr(annotate, "now_iso", lambda: "2019-01-01T00:00:00.000+00:00")
        SetAnnotations(me, ((1, AnnotationState("ham", "complete")),)).apply(owner)
    saved: list[str] = []

    def progress(done, total, message):
        if message == "Merging: writing" and not saved:  # the bundle's (2020) was to win
            SetAnnotations(me, ((1, AnnotationState(None, "discarded")),)).apply(owner)
            saved.append(message)

    merge_bundle(owner, bundle, progress=progress)
    conn = owner.engine.connect()
    status, updated = conn.exec_driver_sql(
        "SELECT status, updated_at FROM annotation WHERE datapoint_id = 1 AND annotator_id = ?",
        (me,),
    ).one()
    assert status == "discarded" and updated > OLD  # the save made during the merge stands
    history = conn.exec_driver_sql(
        "SELECT value, updated_at FROM annotation_history WHERE datapoint_id = 1"
    ).all()
    assert ('"spam"', OLD) in history
    assert conn.exec_driver_sql("SELECT status FROM datapoint WHERE id = 1").scalar() == 3
    labels = conn.exec_driver_sql("SELECT count(*) FROM annotation_label WHERE datapoint_id = 1")
    assert labels.scalar() == 0


def test_datapoints_a_shown_dataset_lacks_come_with_the_last_transaction(
    make_project, tmp_path, monkeypatch
):
    """Rows of a dataset the project already shows (staged with provisional ids, given real
    ones under the lock), and the annotations about them."""
    owner = make_project()
    source = tmp_path / "items.csv"
    source.write_text("text\n" + "".join(f"item {i}\n" for i in range(10)), encoding="utf-8")
    import_dataset(owner, source)
    copy_path = tmp_path / "copy.tagloop"
    open_bundle(export_project_bundle(owner, tmp_path / "owner.tlbundle").path, copy_path)
    with open_project(copy_path) as copy:
        ids = dict(copy.engine.connect().exec_driver_sql("SELECT row, id FROM datapoint").all())
        rows = sorted(ids)  # the first five the project keeps, the last five it lacks
        spam = AnnotationState("spam", "complete")
        changes = ((ids[rows[7]], spam), (ids[rows[2]], spam))
        SetAnnotations(copy.local_annotator_id, changes).apply(copy)
        bundle = export_project_bundle(copy, tmp_path / "copy.tlbundle").path
    raw = sqlite3.connect(owner.path)
    with raw:
        raw.execute("DELETE FROM datapoint WHERE row >= ?", (rows[5],))
    raw.close()
    assert _seen(owner.path) == (5, 0)
    seen: list[tuple[int, int]] = []

    def progress(done, total, message):
        if message == "Merging: writing":
            seen.append(_seen(owner.path))

    report = merge_bundle(owner, bundle, progress=progress)
    assert seen == [(5, 0)]  # nothing of it before the last transaction
    assert report.added["datapoints"] == 5 and report.added["annotations"] == 2
    conn = owner.engine.connect()
    labelled = conn.exec_driver_sql(
        "SELECT d.row, d.status, l.label FROM annotation a JOIN datapoint d"
        " ON d.id = a.datapoint_id JOIN annotation_label l ON l.annotation_id = a.id"
        " ORDER BY d.row"
    ).all()
    assert labelled == [(rows[2], 1, "spam"), (rows[7], 1, "spam")]
    points = conn.exec_driver_sql("SELECT row, text FROM datapoint ORDER BY row").all()
    assert points == [(row, f"item {i}") for i, row in enumerate(rows)]
    assert min(r[0] for r in conn.exec_driver_sql("SELECT id FROM datapoint").all()) > 0
    assert not merge_bundle(owner, bundle).changed
