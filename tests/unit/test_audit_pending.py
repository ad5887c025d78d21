"""A merge's audit events (issue 14, lock contention): staged in audit_pending in short chunks
before the last transaction, unseen; published with the merge's run; appended to the hash
chain in short steps after it, in merge order, with label saves interleaving. A cancel or a
kill before the publish leaves no event; a kill after it leaves events that the next open
(or the next merge) appends; `audit verify` is OK throughout, and a forged chain is refused.

Chunks are made tiny by replacing the chunk sizers; nothing asserts on time.
"""

from __future__ import annotations

import itertools
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.audit import pending
from app.core.audit.chain import verify_chain
from app.core.bundle import export_project_bundle, merge_bundle, merge_early, open_bundle
from app.core.bundle.errors import BundleError
from app.core.errors import Cancelled
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.storage import runs, staging
from app.core.team.assign import add_annotator
from tests.unit.killing import kill_at_first_chunk
from tests.unit.test_bundle_hostile import edited
from tests.unit.test_merge_runs import _consistent

CHUNK = 4
STAGED = "audit events staged"  # the progress message after each chunk staged
CHAINED = "audit events chained"  # ... and after each chunk appended to the chain


ITEMS = 24
LABELLED = 18  # the colleague's labels, one save (one audit event) each


@pytest.fixture
def tiny(make_project, tmp_path, monkeypatch):
    """(a project of ITEMS items, the project bundle of a copy in which a colleague the project
    knows labelled items 1..LABELLED one save at a time); every chunk of the merge (staging
    its events, appending and discarding them, the early annotations) takes CHUNK rows."""
    for module in (pending, merge_early, staging):
        monkeypatch.setattr(module, "FIRST_CHUNK", CHUNK)
        monkeypatch.setattr(module, "next_chunk", lambda *_args, **_kwargs: CHUNK)
    owner = make_project()
    source = tmp_path / "items.csv"
    source.write_text("text\n" + "".join(f"item {i}\n" for i in range(ITEMS)), encoding="utf-8")
    import_dataset(owner, source)
    add_annotator(owner, "colleague")
    copy_path = tmp_path / "copy.tagloop"
    open_bundle(export_project_bundle(owner, tmp_path / "owner.tlbundle").path, copy_path)
    with open_project(copy_path) as copy:
        who = copy.engine.connect().exec_driver_sql(
            "SELECT id FROM annotator WHERE name = 'colleague'"
        )
        them = who.scalar_one()
        for dp in range(1, LABELLED + 1):
            state = AnnotationState("spam" if dp % 2 else "ham", "complete")
            SetAnnotations(them, ((dp, state),)).apply(copy)
        bundle = export_project_bundle(copy, tmp_path / "copy.tlbundle").path
    return owner, bundle


def _raw(path, sql: str, args: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _events(path) -> list[str]:
    """The UUIDs of the project's audit events, in chain (id) order."""
    return [row[0] for row in _raw(path, "SELECT uuid FROM audit_event ORDER BY id")]


def _bundle_events(bundle: Path) -> list[str]:
    """The UUIDs of the bundle's audit events, in its order."""
    import json
    import zipfile

    with zipfile.ZipFile(bundle) as archive:
        lines = archive.read("audit_events.jsonl").decode("utf-8").splitlines()
    return [json.loads(line)["uuid"] for line in lines if line.strip()]


def _verified(path) -> int:
    with open_project(path, sweep=False) as project:
        report = verify_chain(project)
    assert report.ok, report.summary()
    return report.checked


def _chain_holds(owner, bundle: Path, before: list[str]) -> list[str]:
    """Every event of the bundle is in the chain once, in the bundle's order, after the ones
    the project had; the chain verifies; nothing is left staged. The new events, in order."""
    after = _events(owner.path)
    assert after[: len(before)] == before
    assert len(set(after)) == len(after)
    new = set(after) - set(before)
    theirs = [uid for uid in _bundle_events(bundle) if uid in new]
    assert [uid for uid in after if uid in set(theirs)] == theirs  # merge order kept
    assert set(_bundle_events(bundle)) <= set(after)
    assert _raw(owner.path, "SELECT count(*) FROM audit_pending") == [(0,)]
    assert _verified(owner.path) == len(after)
    return [uid for uid in after if uid in new]


def test_events_are_staged_unseen_then_chained_in_merge_order(tiny):
    owner, bundle = tiny
    before = _events(owner.path)
    staged: list[tuple] = []

    def progress(done, total, message):
        if message.endswith(STAGED):
            staged.append(
                (
                    len(_events(owner.path)),
                    _raw(owner.path, "SELECT count(*) FROM audit_pending")[0][0],
                    _raw(owner.path, "SELECT DISTINCT state FROM write_run"),
                )
            )

    report = merge_bundle(owner, bundle, progress=progress)
    lacking = len(set(_bundle_events(bundle)) - set(before))
    assert report.added["audit_events"] == lacking > 2 * CHUNK
    # while staging: the chain unchanged, the rows hidden under a loading run, CHUNK at a time
    assert [s[0] for s in staged] == [len(before)] * len(staged)
    counts = [0] + [s[1] for s in staged]  # chunks of CHUNK bundle events, some known here
    assert all(0 <= b - a <= CHUNK for a, b in itertools.pairwise(counts))
    assert counts[-1] == lacking and len(staged) > 2
    assert {tuple(s[2]) for s in staged} == {((runs.LOADING,),)}
    new = _chain_holds(owner, bundle, before)
    assert len(new) == lacking + 1  # and the merge's own event, recorded at the publish
    assert _raw(owner.path, "SELECT action FROM audit_event WHERE uuid = ?", (new[0],)) == [
        ("merge-bundle",)
    ]
    assert _raw(owner.path, "SELECT kind, state FROM write_run") == [("merge", runs.PUBLISHED)]


def test_label_saves_between_the_chunks_interleave_and_the_chain_holds(tiny):
    owner, bundle = tiny
    me = owner.local_annotator_id
    before = _events(owner.path)
    saved: list[int] = []

    def progress(done, total, message):
        if message.endswith((STAGED, CHAINED)):
            item = 19 + len(saved) % 2
            label = "spam" if len(saved) % 2 else "ham"
            SetAnnotations(me, ((item, AnnotationState(label, "complete")),)).apply(owner)
            saved.append(item)

    merge_bundle(owner, bundle, progress=progress)
    new = _chain_holds(owner, bundle, before)
    labels = [
        row[0]
        for row in _raw(
            owner.path,
            "SELECT e.uuid FROM audit_event e WHERE e.actor_id = ? AND e.entity = 'annotation'"
            " ORDER BY e.id",
            (me,),
        )
    ]
    interleaved = [uid for uid in labels if uid in set(new)]
    assert len(interleaved) == len(saved) > 4
    theirs = [i for i, uid in enumerate(new) if uid not in set(interleaved)]
    mine = [i for i, uid in enumerate(new) if uid in set(interleaved)]
    assert any(min(theirs) < i < max(theirs) for i in mine)  # between two chunks of theirs
    _consistent(owner)


def test_a_cancel_while_staging_leaves_no_event(tiny):
    owner, bundle = tiny
    before = _events(owner.path)
    chunks: list[str] = []

    def progress(done, total, message):
        if message.endswith(STAGED):
            chunks.append(message)

    with pytest.raises(Cancelled):
        merge_bundle(owner, bundle, progress=progress, cancel=lambda: len(chunks) >= 2)
    assert len(chunks) == 2
    assert _events(owner.path) == before
    assert _raw(owner.path, "SELECT count(*) FROM audit_pending") == [(0,)]
    assert _raw(owner.path, "SELECT count(*) FROM write_run") == [(0,)]
    assert _verified(owner.path) == len(before)
    report = merge_bundle(owner, bundle)  # and it merges whole afterwards
    assert report.added["audit_events"] == len(set(_bundle_events(bundle)) - set(before))
    _chain_holds(owner, bundle, before)


def test_a_failure_at_the_publish_leaves_no_event(tiny, monkeypatch):
    owner, bundle = tiny
    before = _events(owner.path)

    def refuse(conn):
        raise RuntimeError("refused at the publish")

    monkeypatch.setattr(pending.PendingEvents, "publish", lambda self, conn: refuse(conn))
    with pytest.raises(RuntimeError):
        merge_bundle(owner, bundle)
    assert _events(owner.path) == before
    assert _raw(owner.path, "SELECT count(*) FROM audit_pending") == [(0,)]
    assert _raw(owner.path, "SELECT count(*) FROM write_run") == [(0,)]


def test_events_left_by_a_stopped_append_are_chained_by_the_next_open(tiny, monkeypatch):
    """The merge stops right after its publish (the append never runs): the events wait,
    outside the chain, which verifies; the next open appends them."""
    owner, bundle = tiny
    before = _events(owner.path)
    with monkeypatch.context() as patch:
        patch.setattr(pending, "append", lambda *_args, **_kwargs: 0)
        report = merge_bundle(owner, bundle)
    with owner.engine.connect() as conn:
        assert pending.waiting(conn) == report.added["audit_events"]
    assert len(_events(owner.path)) == len(before) + 1  # the merge's own event only
    assert _verified(owner.path) == len(before) + 1
    owner.close()
    with open_project(owner.path) as again:
        with again.engine.connect() as conn:
            assert pending.waiting(conn) == 0
        _chain_holds(again, bundle, before)


def test_the_next_merge_chains_them_first_and_changes_nothing_more(tiny, monkeypatch):
    owner, bundle = tiny
    before = _events(owner.path)
    with monkeypatch.context() as patch:
        patch.setattr(pending, "append", lambda *_args, **_kwargs: 0)
        merge_bundle(owner, bundle)
    again = merge_bundle(owner, bundle)
    assert not again.changed  # the events waiting were the project's already
    _chain_holds(owner, bundle, before)
    assert _raw(owner.path, "SELECT count(*) FROM write_run") == [(1,)]  # no run for nothing


def test_two_appenders_at_once_chain_each_event_once(tiny):
    """The open of another process finishes a published merge's events while the merge
    appends them itself: each step reads the staged rows under the lock."""
    owner, bundle = tiny
    before = _events(owner.path)
    helped: list[int] = []

    def progress(done, total, message):
        if message.endswith(CHAINED) and not helped:
            helped.append(pending.settle_pending(owner.engine))

    merge_bundle(owner, bundle, progress=progress)
    assert helped and helped[0] > 0
    _chain_holds(owner, bundle, before)


def test_a_forged_chain_in_the_bundle_is_still_refused_before_anything_is_staged(tiny, tmp_path):
    """An event the project lacks, altered in the bundle: refused naming it, nothing staged."""
    owner, bundle = tiny
    before = _events(owner.path)
    lacking = [uid for uid in _bundle_events(bundle) if uid not in set(before)]
    victim = lacking[len(lacking) // 2]

    def change(found):
        for row in found:
            if row["uuid"] == victim:
                row["action"] = "forged"

    forged = edited(bundle, tmp_path, "audit_events.jsonl", change)
    with pytest.raises(BundleError, match=rf"audit event {victim} was altered"):
        merge_bundle(owner, forged)
    assert _events(owner.path) == before
    assert _raw(owner.path, "SELECT count(*) FROM audit_pending") == [(0,)]
    assert _raw(owner.path, "SELECT count(*) FROM write_run") == [(0,)]


KILLED = textwrap.dedent(
    """
    import sqlite3, sys, time
    from pathlib import Path
    from app.core.audit import pending
    from app.core.bundle import merge_bundle, merge_early
    from app.core.project.project import open_project
    from app.core.storage import staging

    for module in (merge_early, pending, staging):
        module.FIRST_CHUNK = 4
        module.next_chunk = lambda *args, **kwargs: 4
    at = sys.argv[3]

    def staged():
        conn = sqlite3.connect(sys.argv[1])
        try:
            return conn.execute("SELECT count(*) FROM audit_pending").fetchone()[0]
        finally:
            conn.close()

    def stall(done, total, message):
        if message.endswith(at) and staged():
            print("chunk", flush=True)
            time.sleep(600)  # until the test kills this process

    with open_project(Path(sys.argv[1])) as project:
        merge_bundle(project, Path(sys.argv[2]), progress=stall)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_merge_killed_while_staging_leaves_no_event_and_is_swept_on_open(tiny):
    owner, bundle = tiny
    before = _events(owner.path)
    owner.close()
    kill_at_first_chunk(KILLED, Path(owner.path), bundle, STAGED)
    assert 0 < _raw(owner.path, "SELECT count(*) FROM audit_pending")[0][0] <= CHUNK
    assert _raw(owner.path, "SELECT state FROM write_run") == [(runs.LOADING,)]
    assert _events(owner.path) == before
    with open_project(owner.path) as again:
        assert _raw(again.path, "SELECT count(*) FROM audit_pending") == [(0,)]
        assert _raw(again.path, "SELECT count(*) FROM write_run") == [(0,)]
        assert _events(again.path) == before
        assert verify_chain(again).ok
        merge_bundle(again, bundle)
        _chain_holds(again, bundle, before)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_merge_killed_while_chaining_is_finished_on_open(tiny):
    """Killed after its publish, one chunk appended: the chain verifies (the rest waits
    outside it), and the next open appends the rest after it, in merge order."""
    owner, bundle = tiny
    before = _events(owner.path)
    owner.close()
    kill_at_first_chunk(KILLED, Path(owner.path), bundle, CHAINED)
    waiting = _raw(owner.path, "SELECT count(*) FROM audit_pending")[0][0]
    assert waiting > 0
    assert _raw(owner.path, "SELECT state FROM write_run") == [(runs.PUBLISHED,)]
    # the merge's own event and the first chunk are chained
    assert len(_events(owner.path)) == len(before) + 1 + CHUNK
    assert _verified(owner.path) == len(before) + 1 + CHUNK
    with open_project(owner.path) as again:
        new = _chain_holds(again, bundle, before)
        assert len(new) == 1 + CHUNK + waiting
        _consistent(again)


def test_a_downgrade_refuses_to_drop_events_still_to_chain(tiny, monkeypatch):
    from tests.unit.test_migrations_shape import _downgrade

    owner, bundle = tiny
    with monkeypatch.context() as patch:
        patch.setattr(pending, "append", lambda *_args, **_kwargs: 0)
        merge_bundle(owner, bundle)
    with pytest.raises(RuntimeError, match="waiting to join the audit chain"):
        _downgrade(owner.engine, "0009")
    assert pending.settle_pending(owner.engine) > 0
    _downgrade(owner.engine, "0009")
    assert _raw(owner.path, "SELECT name FROM sqlite_master WHERE name = 'audit_pending'") == []


def test_events_of_an_annotator_new_to_the_project_keep_their_actor(tiny, tmp_path):
    """The bundle's events by an annotator it brings (no id here before the publish) are
    staged with the actor's UUID and chained with the id the publish gave them."""
    owner, _bundle = tiny
    before = _events(owner.path)
    copy_path = tmp_path / "newbie.tagloop"
    open_bundle(export_project_bundle(owner, tmp_path / "again.tlbundle").path, copy_path)
    with open_project(copy_path) as copy:
        newbie = add_annotator(copy, "newbie")
        for dp in range(1, 7):
            SetAnnotations(newbie.id, ((dp, AnnotationState("ham", "complete")),)).apply(copy)
        bundle = export_project_bundle(copy, tmp_path / "newbie.tlbundle").path
    report = merge_bundle(owner, bundle)
    assert report.added["annotators"] == 1
    new = _chain_holds(owner, bundle, before)
    actors = _raw(
        owner.path,
        "SELECT a.name, count(*) FROM audit_event e JOIN annotator a ON a.id = e.actor_id"
        f" WHERE e.uuid IN ({', '.join('?' * len(new))}) AND e.entity = 'annotation'"
        " GROUP BY a.name",
        tuple(new),
    )
    assert ("newbie", 6) in actors
