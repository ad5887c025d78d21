"""A bundle merge's audit events: staged before its last transaction, chained after it.

The events a bundle brings join this file's hash chain (app.core.audit.chain) in merge order.
Hashing and inserting 100,000 of them in the merge's last transaction held the write lock
for 2.9 s, so they go through a staging table instead (audit_pending, migration 0010):

1. before the lock (`PendingEvents.write`): the staged events the project lacks (by UUID)
   are written to audit_pending in short chunks, under the merge's write run
   (app.core.storage.runs: that of its early inserts, app.core.bundle.merge_early, or one
   begun here if it has none; seq is the merge order, the actor a UUID);
2. the merge's last transaction only publishes that run (`PendingEvents.publish`): from
   then on its events are part of the project, to be appended;
3. after the lock (`append`): short transactions, each appending the next chunk to
   audit_event, linked onto the chain's head as it is under that transaction's lock, and
   deleting the chunk's staged rows. A label save meanwhile links its own event at the head
   between two chunks: the chain stays one chain (it is per file), and the bundle's events
   keep their order.

All or nothing: a cancel or an error before the publish deletes the staged rows in short
transactions, then the run is discarded (runs.writing); a killed merge leaves a loading run
whose process is gone, whose rows the next open deletes (`settle_pending`, before
runs.sweep_abandoned removes the run; the foreign key's cascade removes any row left with the
run anyway). A merge killed after its publish leaves rows of a published run: the next open
appends them (`settle_pending`, like runs.settle_pending for statuses), and so does the next
merge before it reads the project's events. Appending twice is harmless: an event whose UUID
is in the chain already is dropped, and each step reads the staged rows under the lock.

Readers of events (an item's history, the audit log views, `audit verify`, exports and
bundles) read audit_event only: a published merge's events appear there chunk by chunk, in
the seconds after the publish, before merge_bundle returns (and after a kill, when the
project next opens). A bundle exported in another process meanwhile lacks them, as one
exported just before the merge would; the next one carries them (a merge adds events by
UUID). `audit verify` checks the chain as it stands, always whole.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine

from app.core.audit.chain import GENESIS, event_hash, link_pending
from app.core.errors import ProjectError
from app.core.jobs import check_cancel
from app.core.storage import runs, sqlite
from app.core.storage.retry import held_write
from app.core.storage.sqlite import driver_connection
from app.core.storage.staging import in_steps, load_abandoned, next_chunk

KIND = "merge"  # the write run of a merge's staged events, if its early inserts have none
FIRST_CHUNK = 5_000  # events staged by the first transaction; later ones are sized by time
_FIELDS = "uuid, at, actor_uuid, action, entity, entity_uuid, before, after"
# The staged events of rowids in (?, ?] that the project lacks, with their actor's UUID: a new
# annotator's (stage_annotator, ids above the project's at the staging) or the project's.
_STAGE = (
    f"INSERT INTO main.audit_pending (run_id, seq, {_FIELDS})"
    " SELECT ?, s.rowid, s.uuid, s.at, coalesce(n.uuid, a.uuid), s.action, s.entity,"
    " s.entity_uuid, s.before, s.after FROM temp.stage_audit_event s"
    " LEFT JOIN temp.stage_annotator n ON n.id = s.actor_id"
    " LEFT JOIN main.annotator a ON a.id = s.actor_id"
    " WHERE s.rowid > ? AND s.rowid <= ?"
    " AND NOT EXISTS (SELECT 1 FROM main.audit_event e WHERE e.uuid = s.uuid)"
    " ORDER BY s.rowid"
)
_INSERT = (
    "INSERT INTO audit_event (uuid, at, actor_id, action, entity, entity_uuid, before, after,"
    " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class PendingEvents:
    """The audit events of one merge (see the module doc). `merge` is the running
    app.core.bundle.merge._Merge (conn, project, hidden, steps, progress, cancel)."""

    def __init__(self, merge: Any) -> None:
        self.m = merge
        self.run: runs.Run | None = None
        self.held: contextlib.ExitStack | None = None  # the merge's: the run lives in it
        self.staged = 0  # events written to audit_pending (the report's "audit events" added)
        self.written = False  # once per merge: a staging run again finds the same events

    def write(self) -> None:
        """After the staging, before the lock: the events the project lacks, into
        audit_pending in short transactions of this merge's run (begun here, if any)."""
        if self.written:
            return
        m = self.m
        conn = m.conn
        (top,) = conn.execute("SELECT max(rowid) FROM temp.stage_audit_event").fetchone()
        lacking = conn.execute(  # none: no run (a merge that changes nothing writes nothing)
            "SELECT 1 FROM temp.stage_audit_event s WHERE NOT EXISTS"
            " (SELECT 1 FROM main.audit_event e WHERE e.uuid = s.uuid) LIMIT 1"
        ).fetchone()
        conn.commit()
        self.written = True
        if lacking is None:
            return
        assert self.held is not None
        # the run of the merge's early inserts if it has one (one run per merge), else its own
        self.run = m.early.run or self.held.enter_context(runs.writing(m.project.engine, KIND))
        engine, run_id = m.project.engine, self.run.id

        def unpublished(kind, _exc, _tb) -> bool:
            """Leaving the merge with an error or a cancel: the staged rows go in short
            transactions, before the run's discard (whose cascade would take them at once)."""
            if kind is not None:
                with contextlib.suppress(Exception):  # else the sweep on open deletes them
                    discard(engine, run_id)
            return False

        self.held.push(unpublished)  # runs before the run's own exit (last in, first out)
        done, size = 0, FIRST_CHUNK
        while done < top:
            check_cancel(m.cancel)
            started = time.perf_counter()
            upto = min(done + size, top)
            with m.hidden.transaction() as write:
                self.staged += write.execute(_STAGE, (self.run.id, done, upto)).rowcount
            size = next_chunk(size, upto - done, time.perf_counter() - started)
            done = upto
            m.progress(m.steps.done, m.steps.total, f"Merging: {done:,} audit events staged")

    def publish(self, conn: sqlite3.Connection) -> int:
        """In the merge's last transaction: its staged events become the project's (to be
        appended to the chain); how many."""
        if self.run is None:
            return 0
        if self.run is not self.m.early.run:  # else the early inserts' publish flips it
            runs.publish(conn, self.run.id)
        return self.staged

    def append(self) -> None:
        """After the publish (no lock): the events appended to the chain in short steps. A
        failure only leaves them to the next open (settle_pending): they are published."""
        if self.run is None:
            return
        m = self.m

        def progress(done: int) -> None:
            m.progress(m.steps.done, m.steps.total, f"Merging: {done:,} audit events chained")

        with contextlib.suppress(sqlite3.Error, ProjectError):
            append(m.project.engine, self.run.id, progress)


def _append_step(conn: Connection, run_id: int, size: int) -> int | None:
    """Append up to `size` more staged events of a published run to the chain, under this
    transaction's lock, and delete them from the staging; 0 when none is left, None when the
    run is not published."""
    raw = driver_connection(conn)
    found = raw.execute("SELECT state FROM write_run WHERE id = ?", (run_id,)).fetchone()
    if found is None or found[0] != runs.PUBLISHED:
        return None
    rows = raw.execute(
        f"SELECT p.seq, {', '.join(f'p.{c}' for c in _FIELDS.split(', '))}, a.id,"
        " EXISTS (SELECT 1 FROM audit_event e WHERE e.uuid = p.uuid)"
        " FROM audit_pending p LEFT JOIN annotator a ON a.uuid = p.actor_uuid"
        " WHERE p.run_id = ? ORDER BY p.seq LIMIT ?",
        (run_id, size),
    ).fetchall()
    if not rows:
        return 0
    link_pending(raw)  # an event a writer left unlinked comes first (each write links its own)
    head = raw.execute("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
    prev = head[0] if head else GENESIS
    values = []
    seen: set[str] = set()
    for _seq, uid, at, actor, action, entity, entity_uuid, before, after, actor_id, known in rows:
        if known or uid in seen:  # already chained (another merge of the same bundle)
            continue
        seen.add(uid)
        if actor_id is None:  # the hash covers the event as stored
            actor = None
        digest = event_hash(prev, uid, at, actor, action, entity, entity_uuid, before, after)
        values.append((uid, at, actor_id, action, entity, entity_uuid, before, after, prev, digest))
        prev = digest
    raw.executemany(_INSERT, values)
    raw.execute("DELETE FROM audit_pending WHERE run_id = ? AND seq <= ?", (run_id, rows[-1][0]))
    return len(rows)


def append(engine: Engine, run_id: int, progress: Callable[[int], None] | None = None) -> int:
    """Append a published run's staged events to the chain in short transactions, each sized
    to hold the lock about staging.TARGET_SECONDS; how many it went over.

    The events' two random-key indexes (uuid, prev_hash) make each chunk dirty pages all over
    them, so a chunk's cost grows with the table: the WAL is folded back into the database
    after each chunk, outside the lock (a passive checkpoint), not inside its COMMIT call, and
    only the locked part sizes the next chunk."""
    done, size = 0, FIRST_CHUNK
    with engine.connect() as sa_conn, sqlite.pragmas(sa_conn, {"wal_autocheckpoint": 0}):
        raw = driver_connection(sa_conn)
        while True:
            started = time.perf_counter()
            with held_write(sa_conn):
                count = _append_step(sa_conn, run_id, size)
            if not count:
                return done
            size = next_chunk(size, count, time.perf_counter() - started)
            done += count
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)")
            if progress is not None:
                progress(done)


def _delete_step(conn: Connection, run_id: int, size: int) -> int | None:
    """Delete up to `size` staged events of an unpublished run; 0 when none is left, None when
    the run is gone or published (its events are the project's then)."""
    raw = driver_connection(conn)
    found = raw.execute("SELECT state FROM write_run WHERE id = ?", (run_id,)).fetchone()
    if found is None or found[0] == runs.PUBLISHED:
        return None
    return raw.execute(
        "DELETE FROM audit_pending WHERE run_id = ? AND seq IN"
        " (SELECT seq FROM audit_pending WHERE run_id = ? ORDER BY seq LIMIT ?)",
        (run_id, run_id, size),
    ).rowcount


def discard(engine: Engine, run_id: int) -> int:
    """Delete an unpublished run's staged events in short transactions; how many."""
    return in_steps(engine, lambda conn, size: _delete_step(conn, run_id, size))


def settle_pending(engine: Engine) -> int:
    """Finish what killed merges left: append the staged events of published runs, delete
    those of runs whose process is gone (runs.sweep_abandoned then removes the run); how many
    events. A run still loading in a live process is left to it."""
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT id, state, loader FROM write_run w WHERE EXISTS"
            " (SELECT 1 FROM audit_pending p WHERE p.run_id = w.id) ORDER BY id"
        ).all()
    done = 0
    for run_id, state, loader in found:
        if state == runs.PUBLISHED:
            done += append(engine, run_id)
        elif load_abandoned(loader):
            done += discard(engine, run_id)
    return done


def waiting(conn: Connection | sqlite3.Connection) -> int:
    """How many events of published merges are still to be appended to the chain."""
    sql = (
        "SELECT count(*) FROM audit_pending p JOIN write_run w ON w.id = p.run_id"
        f" WHERE w.state = {runs.PUBLISHED}"
    )
    return int(driver_connection(conn).execute(sql).fetchone()[0])
