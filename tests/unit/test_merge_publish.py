"""The merge's last transaction (issue 14): the annotations it inserts get their ids and label
rows from the staging (largest id under the lock + their place in datapoint order), and it
skips the re-check of staged decisions only when no other connection has committed since
the staging snapshot, which the merge's own short commits in between must not hide."""

from __future__ import annotations

import sqlite3

from app.core.annotation import commands as annotate
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.audit.chain import verify_chain
from app.core.bundle import export_project_bundle, merge_bundle, open_bundle
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.team.assign import add_annotator
from tests.unit.test_merge_staging import MINE, NEW_ROWS, OLD, richer  # noqa: F401 (fixture)


def _consistent(path) -> None:
    """Every label row names its annotation's datapoint and value; no dangling reference."""
    conn = sqlite3.connect(path)
    try:
        wrong = conn.execute(
            "SELECT count(*) FROM annotation_label l JOIN annotation a ON a.id = l.annotation_id"
            " WHERE a.datapoint_id <> l.datapoint_id OR json_extract(a.value, '$') <> l.label"
        ).fetchone()[0]
        assert wrong == 0
        unlabelled = conn.execute(
            "SELECT count(*) FROM annotation a WHERE a.value IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM annotation_label l WHERE l.annotation_id = a.id)"
        ).fetchone()[0]
        assert unlabelled == 0
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_published_annotations_go_above_an_annotation_saved_meanwhile(richer):  # noqa: F811
    owner, bundle = richer
    me = owner.local_annotator_id
    saved: list[int] = []

    def progress(done, total, message):
        if message == "Merging: writing" and not saved:  # staged, not yet published
            SetAnnotations(me, ((5, AnnotationState("ham", "complete")),)).apply(owner)
            conn = sqlite3.connect(owner.path)
            saved.append(conn.execute("SELECT max(id) FROM annotation").fetchone()[0])
            conn.close()

    report = merge_bundle(owner, bundle, progress=progress)
    assert saved
    assert report.added["annotations"] == NEW_ROWS // 2 + MINE + 1
    conn = sqlite3.connect(owner.path)
    mine = conn.execute(
        "SELECT id, value FROM annotation WHERE datapoint_id = 5 AND annotator_id = ?", (me,)
    ).fetchone()
    assert mine == (saved[0], '"ham"')  # the save made meanwhile keeps its row and id
    published = conn.execute(
        "SELECT id, datapoint_id, annotator_id FROM annotation WHERE id > ? ORDER BY id",
        (saved[0],),
    ).fetchall()
    # the new annotator's (imported labels: it is new, so they wait for the last transaction)
    # and datapoint 1's, with ids in (datapoint, annotator) order
    assert len(published) == NEW_ROWS // 2 + 1
    assert [row[1:] for row in published] == sorted(row[1:] for row in published)
    status = conn.execute("SELECT status FROM datapoint WHERE id IN (1, 5)").fetchall()
    assert status == [(1,), (1,)]
    conn.close()
    _consistent(owner.path)
    assert not merge_bundle(owner, bundle).changed


def test_a_save_between_the_merges_own_commits_is_still_rechecked(richer):  # noqa: F811
    """A label saved by another connection while the merge writes the annotations of its
    hidden datapoints (its own commits follow): the publish must still see it."""
    owner, bundle = richer
    me = owner.local_annotator_id
    saved: list[str] = []

    def progress(done, total, message):
        if message.startswith("Merging: annotations of") and not saved:  # more chunks follow
            SetAnnotations(me, ((1, AnnotationState("ham", "complete")),)).apply(owner)
            saved.append(message)

    report = merge_bundle(owner, bundle, progress=progress)
    assert saved
    conn = sqlite3.connect(owner.path)
    value, updated = conn.execute(
        "SELECT value, updated_at FROM annotation WHERE datapoint_id = 1 AND annotator_id = ?",
        (me,),
    ).fetchone()
    assert value == '"ham"' and updated > OLD  # the newer save stands
    history = conn.execute(
        "SELECT value, updated_at FROM annotation_history WHERE datapoint_id = 1"
    ).fetchall()
    assert ('"spam"', OLD) in history  # the bundle's older version went to history
    conn.close()
    assert report.added["annotations"] == NEW_ROWS // 2 + MINE
    _consistent(owner.path)
    assert not merge_bundle(owner, bundle).changed


def test_a_discard_saved_meanwhile_by_another_annotator_keeps_the_derived_status(
    richer,  # noqa: F811
    monkeypatch,
):
    """The status of a datapoint the merge labels is derived from every annotator's
    annotation as they are under the lock: one labelled complete stays labeled whatever
    another annotator saved meanwhile."""
    owner, bundle = richer
    other = owner.local_annotator_id
    colleague = add_annotator(owner, "colleague").id  # known before the merge
    saved: list[str] = []
    monkeypatch.setattr(annotate, "now_iso", lambda: "2031-01-01T00:00:00.000+00:00")

    def progress(done, total, message):
        if message == "Merging: writing" and not saved:
            SetAnnotations(colleague, ((1, AnnotationState(None, "discarded")),)).apply(owner)
            saved.append(message)

    merge_bundle(owner, bundle, progress=progress)
    assert saved
    conn = sqlite3.connect(owner.path)
    rows = conn.execute(
        "SELECT annotator_id = ?, status FROM annotation WHERE datapoint_id = 1 ORDER BY 1",
        (other,),
    ).fetchall()
    assert sorted(rows) == [(0, "discarded"), (1, "complete")]
    assert conn.execute("SELECT status FROM datapoint WHERE id = 1").fetchone()[0] == 1
    conn.close()
    _consistent(owner.path)


def test_skipped_and_discarded_annotations_derive_the_status_set_based(make_project, tmp_path):
    """Annotations that are not complete derive their datapoint's status from every
    annotator's annotation (one set-based UPDATE under the lock)."""
    owner = make_project()
    source = tmp_path / "items.csv"
    source.write_text("text\n" + "".join(f"item {i}\n" for i in range(6)), encoding="utf-8")
    import_dataset(owner, source)
    colleague = add_annotator(owner, "colleague").id
    SetAnnotations(colleague, ((4, AnnotationState("ham", "complete")),)).apply(owner)
    copy_path = tmp_path / "copy.tagloop"
    open_bundle(export_project_bundle(owner, tmp_path / "owner.tlbundle").path, copy_path)
    with open_project(copy_path) as copy:
        me = copy.local_annotator_id
        changes = (
            (1, AnnotationState(None, "skipped")),
            (2, AnnotationState(None, "discarded")),
            (3, AnnotationState("spam", "complete")),
            (4, AnnotationState(None, "discarded")),  # the colleague's complete one wins
        )
        SetAnnotations(me, changes).apply(copy)
        bundle = export_project_bundle(copy, tmp_path / "copy.tlbundle").path
    report = merge_bundle(owner, bundle)
    assert report.added["annotations"] == 4
    conn = sqlite3.connect(owner.path)
    status = dict(conn.execute("SELECT id, status FROM datapoint").fetchall())
    conn.close()
    assert status == {1: 2, 2: 3, 3: 1, 4: 1, 5: 0, 6: 0}
    _consistent(owner.path)


def _events(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
    finally:
        conn.close()


def test_merged_events_are_hashed_onto_the_chain_after_a_save_made_meanwhile(richer):  # noqa: F811
    """The bundle's audit events get their hashes from the canonical texts staged, chained
    after the event a label save recorded between the staging and the publish."""
    owner, bundle = richer
    me = owner.local_annotator_id
    before = _events(owner.path)
    saved: list[str] = []

    def progress(done, total, message):
        if message == "Merging: writing" and not saved:
            SetAnnotations(me, ((5, AnnotationState("ham", "complete")),)).apply(owner)
            saved.append(message)

    report = merge_bundle(owner, bundle, progress=progress)
    assert saved and report.added["audit_events"] > 2
    # theirs, the save's and the merge's own event
    assert _events(owner.path) == before + report.added["audit_events"] + 2
    verified = verify_chain(owner)
    assert verified.ok, verified.summary()
    assert verified.checked == _events(owner.path)


def test_an_event_left_unlinked_meanwhile_is_linked_with_the_merged_ones(richer):  # noqa: F811
    """If an event without a hash is found under the lock (a writer that links later), the
    merged events are linked after it, one by one, as before: the chain stays intact."""
    owner, bundle = richer
    written: list[str] = []

    def progress(done, total, message):
        if message == "Merging: writing" and not written:
            conn = sqlite3.connect(owner.path)
            with conn:
                conn.execute(
                    "INSERT INTO audit_event (uuid, at, action, entity)"
                    " VALUES (?, ?, 'note', 'project')",
                    ("d" * 32, OLD),
                )
            conn.close()
            written.append(message)

    report = merge_bundle(owner, bundle, progress=progress)
    assert written and report.added["audit_events"] > 2
    verified = verify_chain(owner)
    assert verified.ok, verified.summary()
    assert verified.checked == _events(owner.path)
