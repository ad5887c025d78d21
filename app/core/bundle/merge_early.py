"""The new annotations a merge brings for datapoints the project already shows: written before
its last transaction, in short chunks of a write run (app.core.storage.runs), unseen until
that transaction publishes the run.

A project bundle of a colleague's 200,000 labels on the project's own datapoints used to be
inserted by the merge's last transaction: 2 s of write lock. These inserts (no annotation of
that datapoint and annotator in the project at the staging snapshot) are the bulk of it, and
they need no decision under the lock, so they go in first (`EarlyInserts.write`), each chunk
its own short transaction with `run_id` set: every read leaves the unpublished run's
annotations and label rows out. The last transaction then (`publish`, under the lock):

- re-checks them with every other staged decision (merge_annotations.publish_annotations):
  their project row is noted as the one written here, so a row that a save changed meanwhile
  (a process writing as that annotator updates the hidden row in place) is set aside and
  decided again by the merge's rule, newest wins, the loser going to history. A pair that a
  save took before its chunk was written is skipped by the chunk (the UNIQUE index would
  refuse it) and left to that same re-check, as before;
- publishes the run and marks it for the settle (runs.mark_settling): the datapoint statuses
  of its items are written after the lock is released (`settle`, in short transactions;
  runs.settle_pending finishes it on the next open if the process is killed), and meanwhile
  every status read counts them as labelled (runs.status_expr). Items that are skipped or
  discarded (few) turn labeled in the publishing transaction itself.

Which inserts go early: complete or draft annotations (a skipped or discarded one changes its
item's derived status in ways the settle does not), on real datapoints, by annotators and
under schema versions the project already has (new ones appear in the last transaction), and
not by this process's own identity (`project.local_annotator_id`): every label save of this
machine is made as that identity, and a save on a hidden row would stay unseen until the
publish. The rest stay in the last transaction, as before.

All or nothing: a cancel or an error discards the run (runs.writing, in short transactions),
after giving back to the project any hidden row a save changed (`rescue`: the save's label is
the user's, not the merge's); a killed merge leaves a loading run, swept when the project next
opens (runs.sweep_abandoned), without such a row: the save took it out of the run already
(bulk.leave_hidden_run). SQLite-bound, like the merge: it works on the merge's raw driver
connection, whose TEMP staging tables it reads.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Any

from app.core.annotation.commands import DERIVE_STATUS
from app.core.bundle.merge_staging import EARLY_WRITTEN as WRITTEN
from app.core.jobs import check_cancel, never_cancel
from app.core.storage import runs
from app.core.storage.staging import next_chunk
from app.core.storage.tables import DatapointStatus

FIRST_CHUNK = 2_000  # annotations in the first transaction; later ones are sized by time
EARLY_STATUSES = ("complete", "draft")  # their items' derived status is the settle's to write
DERIVE_CHUNK = 5_000
_NAMES = ", ".join(WRITTEN)
# The hidden row as written, against the row as it is now (a save changed it meanwhile).
_EDITED = " OR ".join(f"a.{c} IS NOT e.{c}" for c in WRITTEN)
# The rows of an unpublished run (id bound) that a save changed after they were written.
_EDITED_ROWS = (
    "SELECT a.id, a.datapoint_id FROM temp.stage_early e JOIN main.annotation a ON a.id = e.aid"
    f" WHERE e.aid > 0 AND a.run_id = ? AND ({_EDITED}) AND EXISTS (SELECT 1 FROM"
    f" main.write_run r WHERE r.id = a.run_id AND r.state <> {runs.PUBLISHED})"
)
_LABELED = int(DatapointStatus.LABELED)
_NOT_LABELED = f"{int(DatapointStatus.SKIPPED)}, {int(DatapointStatus.DISCARDED)}"


class EarlyInserts:
    """The early inserts of one merge (see the module doc). `merge` is the running
    app.core.bundle.merge._Merge (conn, sa_conn, hidden, top, actor, progress, cancel)."""

    def __init__(self, merge: Any) -> None:
        self.m = merge
        self.run: runs.Run | None = None
        self.held: contextlib.ExitStack | None = None  # the merge's: the run lives in it
        self.written = 0  # annotations written early, over every staging attempt

    def write(self) -> None:
        """After the staging: the early inserts in chunks, each a short transaction of the
        run (begun at the first); then their staged decisions point at the rows written."""
        m = self.m
        conn = m.conn
        first = conn.execute("SELECT coalesce(max(n), 0) FROM temp.stage_early").fetchone()[0]
        conn.execute(
            f"INSERT INTO temp.stage_early (sid, {_NAMES}) SELECT rowid, {_NAMES}"
            " FROM temp.stage_annotation WHERE op = 'insert' AND datapoint_id > 0"
            f" AND status IN ({', '.join(repr(s) for s in EARLY_STATUSES)})"
            " AND annotator_id <= ? AND annotator_id <> ? AND schema_version_id <= ?"
            " ORDER BY rowid",
            (m.top[0], m.actor, m.top[1]),
        )
        last = conn.execute("SELECT coalesce(max(n), 0) FROM temp.stage_early").fetchone()[0]
        conn.commit()
        if last == first:
            return
        if self.run is None:
            assert self.held is not None
            self.run = self.held.enter_context(runs.writing(m.project.engine, "merge"))
        done, size = first, FIRST_CHUNK
        while done < last:
            check_cancel(m.cancel)
            started = time.perf_counter()
            upto = min(done + size, last)
            with m.hidden.transaction() as write:
                self._chunk(write, done, upto)
            size = next_chunk(size, upto - done, time.perf_counter() - started)
            m.progress(
                m.steps.done,
                m.steps.total,
                f"Merging: {upto - first:,} of {last - first:,} annotations written",
            )
            done = upto
        self._point_at_written(first)

    def _chunk(self, conn: sqlite3.Connection, lo: int, hi: int) -> None:
        """Inserts lo < n <= hi, with their label rows, under the lock: a pair annotated
        meanwhile is skipped (aid -1), left to the re-check of the last transaction."""
        assert self.run is not None
        span = (lo, hi)
        conn.execute(
            "UPDATE temp.stage_early SET aid = -1 WHERE n > ? AND n <= ? AND EXISTS (SELECT 1"
            " FROM main.annotation a WHERE a.datapoint_id = stage_early.datapoint_id"
            " AND a.annotator_id = stage_early.annotator_id)",
            span,
        )
        # ids above every id now (the lock is held), in the staging's (datapoint, annotator)
        # order, so that the indexes take them in order
        base = conn.execute("SELECT coalesce(max(id), 0) FROM main.annotation").fetchone()[0]
        conn.execute(
            "UPDATE temp.stage_early SET aid = ? + n - ? WHERE n > ? AND n <= ? AND aid IS NULL",
            (base, lo, *span),
        )
        conn.execute(
            f"INSERT INTO main.annotation (id, run_id, {_NAMES}) SELECT aid, ?, {_NAMES}"
            " FROM temp.stage_early WHERE n > ? AND n <= ? AND aid > 0 ORDER BY n",
            (self.run.id, *span),
        )
        conn.execute(
            "INSERT OR IGNORE INTO main.annotation_label (annotation_id, label, datapoint_id)"
            " SELECT e.aid, l.label, l.datapoint_id FROM temp.stage_early e"
            " JOIN temp.stage_annotation_label l"
            " ON l.datapoint_id = e.datapoint_id AND l.annotator_id = e.annotator_id"
            " WHERE e.n > ? AND e.n <= ? AND e.aid > 0 ORDER BY e.n, l.label",
            span,
        )

    def _point_at_written(self, first: int) -> None:
        """The staged decisions of the rows written (op 'early'): their project row is now the
        hidden one (l_*, which the last transaction re-checks), and their label rows are out
        of the staging (the last transaction writes no insert or label row for them)."""
        m = self.m
        conn = m.conn
        locals_ = ("id", "uuid", "value", "status", "updated_at", "synced")
        mine = ("aid", "uuid", "value", "status", "updated_at", "synced_from")
        assigned = ", ".join(f"l_{a} = e.{b}" for a, b in zip(locals_, mine, strict=True))
        conn.execute(
            f"UPDATE temp.stage_annotation SET op = 'early', {assigned} FROM temp.stage_early e"
            " WHERE e.sid = stage_annotation.rowid AND e.n > ? AND e.aid > 0",
            (first,),
        )
        conn.execute(
            "DELETE FROM temp.stage_annotation_label WHERE seq IN"
            " (SELECT seq FROM temp.stage_annotation WHERE op = 'early')"
        )
        written = conn.execute(
            "SELECT count(*) FROM temp.stage_early WHERE n > ? AND aid > 0", (first,)
        ).fetchone()[0]
        # what is left for the last transaction (it skips the statements that would find none)
        m.staged_ops = dict(
            conn.execute("SELECT op, count(*) FROM temp.stage_annotation GROUP BY op")
        )
        conn.commit()
        self.written += written
        # written: no longer new if the staging runs again (merge._Merge._run)
        m.hidden.moved["annotations"] = m.hidden.moved.get("annotations", 0) + written

    def publish(self, conn: sqlite3.Connection) -> None:
        """In the merge's last transaction, after the re-check: the run's rows appear, its
        statuses are to be settled, and its skipped or discarded items turn labeled."""
        if self.run is None:
            return
        runs.publish(conn, self.run.id)
        runs.mark_settling(conn, self.run.id)
        conn.execute(  # few: found from the status index, one probe each (not the run's rows)
            f"UPDATE main.datapoint SET status = {_LABELED} WHERE status IN ({_NOT_LABELED})"
            " AND EXISTS (SELECT 1 FROM main.annotation a WHERE a.datapoint_id = datapoint.id"
            " AND +a.run_id = ? AND a.status = 'complete')",
            (self.run.id,),
        )

    def settle(self) -> None:
        """After the publish (no lock): the statuses of the run's items, in short steps."""
        if self.run is None:
            return
        m = self.m

        def progress(done: int) -> None:
            m.progress(m.steps.done, m.steps.total, f"Merging: statuses of {done:,} items written")

        # published: a failure here only leaves statuses to settle when the project next opens
        # (runs.settle_pending); status reads count the items as labelled until then
        with contextlib.suppress(sqlite3.Error):
            runs.settle(m.project.engine, self.run.id, progress)

    def rescue(self) -> None:
        """Before a cancelled or failed merge discards its run: a hidden row that a label save
        changed meanwhile holds the user's label; it leaves the run (seen from now on, its
        item's status derived) instead of being deleted with it. Best effort."""
        if self.run is None:
            return
        m = self.m
        with contextlib.suppress(Exception):
            if m.conn.in_transaction:
                m.conn.rollback()
            saved, m.cancel = m.cancel, never_cancel
            try:
                with m.hidden.transaction() as conn:
                    edited = conn.execute(_EDITED_ROWS, (self.run.id,)).fetchall()
                    conn.executemany(
                        "UPDATE main.annotation SET run_id = NULL, synced_from = NULL WHERE id = ?",
                        [(row[0],) for row in edited],
                    )
                    ids = sorted({row[1] for row in edited})
                    for start in range(0, len(ids), DERIVE_CHUNK):
                        m.sa_conn.execute(DERIVE_STATUS, {"ids": ids[start : start + DERIVE_CHUNK]})
            finally:
                m.cancel = saved
