"""The last transaction of a bundle merge: the staged decisions applied with set-based SQL.

Everything the user sees changes here, at once (app.core.bundle.merge, step 4). What could
have changed since the staging snapshot is decided again under the lock:

- the ids the staging gave new annotators, schema versions, qualification sets and models
  must still be free (another process may have added one): if not, nothing is written and
  the merge stages again;
- an annotation saved meanwhile: re-checked row by row (app.core.bundle.merge_annotations);
- tasks (state only moves forward), flags (the earliest resolution), gold items (the newest)
  and every insert-if-absent row: their rules are SQL comparisons against the rows as they
  are now, so they hold whatever happened in between.
"""

from __future__ import annotations

import time
from typing import Any

from app.core.annotation.commands import DERIVE_STATUS
from app.core.bundle import merge_staging as staging
from app.core.bundle.errors import BundleError
from app.core.bundle.rows import TASK_STATUSES, record_audit
from app.core.storage import fts, sqlite, visibility
from app.core.storage.tables import DatapointStatus

DERIVE_CHUNK = 5_000
# Set for the publish only (bulk_write puts it back after): no checkpoint inside the COMMIT
# call; it is done after the lock is released. Measured and not kept (no gain beyond the noise
# of bench/merge_lock.py): a larger page cache (cache_size -262144: the dirty pages are then
# written at COMMIT instead of spilled) and memory-mapped reads (mmap_size).
PUBLISH_PRAGMAS = {"wal_autocheckpoint": "0"}
_RANK = " ".join(f"WHEN '{status}' THEN {rank}" for rank, status in enumerate(TASK_STATUSES))
# Members counted in the report under their own name once published (insert if absent).
_PLAIN_ADDED = (
    ("comment", "comments"),
    ("custom_status", "custom_statuses"),
    ("qualification_set", "qualification_sets"),
    ("qualification_item", "qualification_items"),
    ("qualification_result", "qualification_results"),
    ("adjudication", "adjudications"),
    ("review_decision", "review_decisions"),
)


def _rank(column: str) -> str:
    return f"(CASE {column} {_RANK} ELSE 0 END)"


def publish(m: Any) -> bool:
    """Apply what merge `m` (app.core.bundle.merge._Merge) staged, in one transaction; False
    (nothing written) if the ids it decided were taken meanwhile."""
    file = m.file
    clock = _Clock(m.report.timings)
    with sqlite.bulk_write(
        m.sa_conn,
        m.cancel,
        lambda exc: BundleError(file, f"the database refused the merge ({exc})"),
        pragmas=PUBLISH_PRAGMAS,
    ) as conn:
        clock.start()
        if staging.top_ids(conn) != m.top:
            return False
        upto, top = fts.pending(conn)
        if staging.make_ids_real(conn, max(upto, top)):
            staging.publish_plain(conn, "datapoint", "INSERT", with_id=True)
        _setup(conn)
        clock("setup")
        m.publish_annotations(conn, clock)
        _rows(m, conn)
        clock("other rows")
        m.early.publish(conn)
        clock("publish run")
        m.report.seconds = time.perf_counter() - m.started
        _derive(m, conn)
        if m.report.changed:
            record_audit(conn, m.actor, "merge-bundle", m.project.uuid, m.report.as_dict())
        clock("status")
    clock("commit")
    m.report.timings["publish (lock held)"] = time.perf_counter() - clock.began
    m.report.timings["publish (lock held), CPU"] = time.process_time() - clock.cpu
    # The WAL copied back into the database file after the lock is released (a passive
    # checkpoint never blocks a writer); SQLite would otherwise do it inside the COMMIT call.
    m.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    clock("checkpoint (no lock)")
    m.hidden.datasets = []  # published: nothing to sweep any more
    return True


class _Clock:
    """Seconds spent in each step of the publish, into the report's timings (benchmarks)."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.began = self.last = time.perf_counter()
        self.cpu = time.process_time()

    def start(self) -> None:
        self.began = self.last = time.perf_counter()
        self.cpu = time.process_time()  # of this process, to compare runs on a busy machine

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.timings[f"publish {step}"] = now - self.last
        self.last = now


def _setup(conn) -> None:
    """New annotators and schema versions (ids decided when staging), and the new datasets
    made visible with their importer."""
    staging.publish_plain(conn, "annotator", "INSERT", with_id=True)
    staging.publish_plain(conn, "schema_version", "INSERT", with_id=True)
    conn.execute(
        "UPDATE main.dataset SET state = ?, loader = NULL,"
        " imported_by = (SELECT a.id FROM main.annotator a WHERE a.uuid = s.imported_by)"
        " FROM temp.stage_dataset s WHERE dataset.id = s.id",
        (visibility.READY,),
    )


def _rows(m: Any, conn) -> None:
    """Every other staged member, by its merge rule, counted in the report."""
    report = m.report

    def added(key: str, n: int) -> None:
        if n:
            m.count(report.added, key, n)

    def updated(key: str, n: int) -> None:
        if n:
            m.count(report.updated, key, n)

    added("annotation_history", staging.publish_plain(conn, "annotation_history"))
    m.rerun_annotations(conn)  # after the history: the rows re-decided write their own
    before = conn.total_changes
    conn.execute(
        f"UPDATE main.task SET status = s.status FROM temp.stage_task s WHERE task.uuid = s.uuid"
        f" AND {_rank('s.status')} > {_rank('task.status')}"
    )
    updated("tasks", conn.total_changes - before)
    added("tasks", staging.publish_plain(conn, "task", where="WHERE s.datapoint_id IS NOT NULL"))
    before = conn.total_changes
    conn.execute(
        "UPDATE main.flag SET resolved_at = s.resolved_at FROM temp.stage_flag s"
        " WHERE flag.uuid = s.uuid AND s.resolved_at IS NOT NULL"
        " AND (flag.resolved_at IS NULL OR s.resolved_at < flag.resolved_at)"
    )
    updated("flags", conn.total_changes - before)
    added("flags", staging.publish_plain(conn, "flag"))
    before = conn.total_changes
    conn.execute(
        "UPDATE main.gold_item SET uuid = s.uuid, value = s.value, created_by = s.created_by,"
        " created_at = s.created_at FROM temp.stage_gold_item s"
        " WHERE gold_item.datapoint_id = s.datapoint_id"
        " AND (s.created_at, s.uuid) > (gold_item.created_at, gold_item.uuid)"
    )
    gold = conn.total_changes - before
    gold += staging.publish_plain(
        conn,
        "gold_item",
        where="WHERE NOT EXISTS (SELECT 1 FROM main.gold_item g"
        " WHERE g.datapoint_id = s.datapoint_id)",
    )
    added("gold_items", gold)
    for table, key in _PLAIN_ADDED:
        added(key, staging.publish_plain(conn, table, with_id=table == "qualification_set"))
    added("audit_events", m.events.publish(conn))  # chained after the lock (audit.pending)
    staging.publish_plain(conn, "model_version", "INSERT", with_id=True)
    added("predictions", staging.publish_plain(conn, "prediction"))


def _derive(m: Any, conn) -> None:
    """Datapoint status and flagged, from the annotations and flags now present.

    A datapoint given a complete annotation here is labeled, whatever else it has (the first
    case of DERIVE_STATUS): one cheap UPDATE sets those (most of a merge's); the others are
    derived from all their annotations."""
    labeled = int(DatapointStatus.LABELED)
    ops = m.staged_ops  # none left when every insert went early (app.core.bundle.merge_early)
    if ops.get("insert") or ops.get("update"):
        _derive_staged(conn, labeled)
    ids = sorted(m.touched)  # the few decided again under the lock
    for start in range(0, len(ids), DERIVE_CHUNK):
        m.sa_conn.execute(DERIVE_STATUS, {"ids": ids[start : start + DERIVE_CHUNK]})
    conn.execute(  # DERIVE_FLAGGED, set-based, writing only the rows it changes
        f"UPDATE main.datapoint SET flagged = {_FLAGGED} WHERE flagged IS NOT {_FLAGGED}"
        " AND id IN (SELECT datapoint_id FROM temp.stage_flag)"
    )


def _derive_staged(conn, labeled: int) -> None:
    """The statuses of the items of the staged inserts and updates, set-based."""
    conn.execute(
        f"UPDATE main.datapoint SET status = {labeled} WHERE status <> {labeled} AND id IN"
        " (SELECT datapoint_id FROM temp.stage_annotation"
        "  WHERE op IN ('insert', 'update') AND status = 'complete')"
    )
    conn.execute(  # DERIVE_STATUS, set-based, writing only the rows whose status changes
        f"UPDATE main.datapoint SET status = x.status FROM (SELECT x.id, {_DERIVED} AS status"
        " FROM (SELECT DISTINCT datapoint_id AS id FROM temp.stage_annotation"
        "  WHERE op IN ('insert', 'update') AND status <> 'complete') x) x"
        " WHERE datapoint.id = x.id AND datapoint.status <> x.status"
    )


def _exists(status: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM main.annotation a WHERE a.datapoint_id = x.id"
        f" AND a.status = '{status}')"
    )


# The derived status of datapoint x.id, as DERIVE_STATUS (app.core.annotation.commands).
_DERIVED = (
    f"CASE WHEN {_exists('complete')} THEN {int(DatapointStatus.LABELED)}"
    f" WHEN {_exists('discarded')} THEN {int(DatapointStatus.DISCARDED)}"
    f" WHEN {_exists('skipped')} THEN {int(DatapointStatus.SKIPPED)}"
    f" ELSE {int(DatapointStatus.UNLABELED)} END"
)
_FLAGGED = (
    "EXISTS (SELECT 1 FROM main.flag f WHERE f.datapoint_id = datapoint.id"
    " AND f.resolved_at IS NULL)"
)
