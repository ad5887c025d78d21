"""The new datasets of a merged bundle and their datapoints: written before the merge's last
transaction, in short ones, and unseen until it publishes them.

A project bundle can bring data the project lacks: whole datasets (hundreds of thousands of
datapoints). Writing them inside the merge's last transaction would hold the write lock for
seconds, so they go in first, in chunks of CHUNK rows (each its own transaction: the lock is
free between two), under a dataset in state LOADING (app.core.storage.visibility), which
every read that enumerates or counts datapoints leaves out. The merge's last transaction sets
them READY with everything else; a cancel or an error deletes them (in chunks too), and a
crash leaves them to the sweep on open of datasets whose loader has died.

Datapoints the bundle brings for a dataset the project already shows (a project opened from
a bundle of a selection, merged with a fuller one) would be seen at once: they are staged
instead (app.core.bundle.merge_staging, provisional ids) and written by the last transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from app.core.annotation.commands import DERIVE_STATUS
from app.core.bundle import merge_staging as staging
from app.core.bundle.errors import BundleError
from app.core.bundle.rows import VERSION_COLUMNS, Checker, datapoint_fields, insert_dataset
from app.core.errors import Cancelled
from app.core.jobs import check_cancel, never_cancel
from app.core.storage import fts, sqlite, visibility
from app.core.storage.staging import other_live_load, wait_turn

CHUNK = 20_000  # datapoints per transaction (about 0.1-0.3 s of lock)
DERIVE_CHUNK = 5_000
ANNOTATION_WRITTEN = ("uuid", *VERSION_COLUMNS, "synced_from")
MERGE_LACKS = "lacks a field, or names a dataset it does not hold"
DATAPOINT_INSERT = (
    "INSERT INTO datapoint (id, dataset_id, row, text, context, status, flagged)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class HiddenLoad:
    """Writes the new datasets and datapoints of one merge (see the module doc). `merge` is
    the running app.core.bundle.merge._Merge (conn, sa_conn, reader, refs, steps, cancel)."""

    def __init__(self, merge: Any) -> None:
        self.m = merge
        self.datasets: list[int] = []  # ids of the datasets this merge is loading
        self.ranges: list[tuple[int, int]] = []  # the ids of their datapoints, chunk by chunk
        self.moved: dict[str, int] = {}  # report counts of the annotations written hidden
        self.added = 0
        self.staged = 0  # datapoints of existing datasets, staged with provisional ids
        self.tag = visibility.loader_tag()  # its datasets' loader (see staging.load_running)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One short transaction on the merge's connection."""
        file = self.m.file
        if self.m.conn.in_transaction:  # rows staged in TEMP tables since the last chunk
            self.m.conn.commit()
        with sqlite.bulk_write(
            self.m.sa_conn,
            self.m.cancel,
            lambda exc: BundleError(file, f"the database refused the merge ({exc})"),
        ) as conn:
            yield conn

    def datasets_member(self) -> None:
        """The bundle's datasets the project lacks, added as LOADING (unseen)."""
        name = "datasets.jsonl"
        check = Checker(self.m.file, name)
        refs = self.m.refs
        new = [
            row for row in self.m.reader.rows(name) if check.str(row, "uuid") not in refs.datasets
        ]
        if new:
            while (other := self._add_datasets(check, new)) is not None:
                wait_turn(other, self.m.progress, self.m.cancel)
            self.m.count(self.m.report.added, "datasets", len(new))
        self.m.steps.advance(name)

    def _add_datasets(self, check: Checker, new: list[dict]) -> str | None:
        """Add the new datasets as LOADING, unless another program of this machine is loading
        one (an import or a merge: its new datapoint ids would meet this merge's): then add
        nothing and return its source name. Looked at and added in one write transaction."""
        refs = self.m.refs
        tag = self.tag
        with self.transaction() as conn:
            other = other_live_load(conn)
            if other is not None:
                return other
            for row in new:
                by = check.str(row, "imported_by", nullable=True)
                row = {**row, "imported_by": None}  # maybe an annotator not added yet
                dataset_id = insert_dataset(conn, check, row, refs)
                conn.execute(
                    "UPDATE dataset SET state = ?, loader = ? WHERE id = ?",
                    (visibility.LOADING, tag, dataset_id),
                )
                conn.execute(
                    "INSERT INTO temp.stage_dataset (id, imported_by) VALUES (?, ?)",
                    (dataset_id, by),
                )
                self.datasets.append(dataset_id)
        return None

    def datapoints_member(self) -> None:
        """datapoints.jsonl: new datasets' rows in chunks, existing datasets' rows staged."""
        name = "datapoints.jsonl"
        if not self.m.reader.has(name):
            return
        check = Checker(self.m.file, name)
        loading = set(self.datasets)
        chunk: list[tuple] = []
        for values in self._rows(check, name):
            if values[0] in loading:
                chunk.append(values)
                if len(chunk) >= CHUNK:
                    self._insert(chunk)
                    chunk = []
            else:
                self._stage(values)
        if chunk:
            self._insert(chunk)
        if self.added or self.staged:
            self.m.count(self.m.report.added, "datapoints", self.added + self.staged)
        self.m.steps.advance(name)

    def _rows(self, check: Checker, name: str) -> Iterator[tuple]:
        """(dataset id, row, text, context) of each checked datapoint the project lacks."""
        datasets = self.m.refs.datasets
        points = self.m.refs.points
        for row in self.m.reader.rows(name, self.m.steps.reporter(name)):
            dataset_id, number, text_, context, _status, _flagged = datapoint_fields(
                check, row, datasets, MERGE_LACKS
            )
            if points.get(dataset_id, number) is not None:
                continue  # a datapoint's text never changes; its status is derived
            if context is not None:
                check.json_text(row, "context")
            yield dataset_id, number, text_, context

    def _insert(self, chunk: list[tuple]) -> None:
        """One chunk in one short transaction, above the search index's mark (new ids are
        taken under the lock: another writer may have added datapoints since the last chunk).
        Status and flagged start at 0 and are derived by the last transaction."""
        check_cancel(self.m.cancel)
        with self.transaction() as conn:
            upto, top = fts.pending(conn)
            base = max(upto, top)
            conn.executemany(
                DATAPOINT_INSERT,
                ((base + i, ds, n, t, c, 0, False) for i, (ds, n, t, c) in enumerate(chunk, 1)),
            )
        self.ranges.append((base + 1, base + len(chunk)))
        points = self.m.refs.points
        for i, (ds, n, _t, _c) in enumerate(chunk, 1):
            points.add(ds, n, base + i)
        self.added += len(chunk)
        self.m.after_chunk(self.added)

    def annotations(self) -> None:
        """After the staging: the staged annotations of hidden datapoints (no one else can
        have annotated them: they were never seen) written now, a chunk of datapoints per
        transaction, with their labels, the versions they send to history and the derived
        status; they leave the staging tables, so the last transaction has less to do. Only
        those by annotators and under schema versions the project has: new ones are added
        by the last transaction (an annotator listed early would be seen)."""
        m = self.m
        for lo, hi in self.ranges:
            check_cancel(m.cancel)
            with self.transaction() as conn:
                added, kept, ids = _move(conn, (lo, hi, m.top[0], m.top[1]))
                for start in range(0, len(ids), DERIVE_CHUNK):
                    m.sa_conn.execute(DERIVE_STATUS, {"ids": ids[start : start + DERIVE_CHUNK]})
            for key, n in (("annotations", added), ("annotation_history", kept)):
                self.moved[key] = self.moved.get(key, 0) + n
            if kept:
                m.count(m.report.added, "annotation_history", kept)
            m.progress(
                m.steps.done,
                m.steps.total,
                f"Merging: annotations of {hi - lo + 1:,} new datapoints written",
            )

    def _stage(self, values: tuple) -> None:
        dataset_id, number, text_, context = values
        self.staged += 1
        self.m.conn.execute(
            "INSERT INTO temp.stage_datapoint (id, dataset_id, row, text, context, status,"
            " flagged) VALUES (?, ?, ?, ?, ?, 0, 0)",
            (-self.staged, dataset_id, number, text_, context),
        )
        self.m.refs.points.add(dataset_id, number, -self.staged)

    def sweep(self) -> None:
        """After a cancel or an error: delete what this merge loaded, in short transactions
        (nothing of it was ever seen). Best effort: a crash here leaves it to the sweep on open."""
        if not self.datasets:
            return
        marks = ", ".join("?" * len(self.datasets))
        with contextlib.suppress(sqlite3.Error, BundleError, Cancelled):
            saved, self.m.cancel = self.m.cancel, never_cancel
            try:
                while True:
                    with self.transaction() as conn:
                        gone = conn.execute(
                            "DELETE FROM datapoint WHERE id IN (SELECT id FROM datapoint"
                            f" WHERE dataset_id IN ({marks}) LIMIT ?)",
                            (*self.datasets, CHUNK),
                        ).rowcount
                        if gone < CHUNK:
                            conn.execute(
                                f"DELETE FROM dataset WHERE id IN ({marks}) AND state = ?",
                                (*self.datasets, visibility.LOADING),
                            )
                            break
            finally:
                self.m.cancel = saved
        self.datasets = []


# Staged rows about hidden datapoints lo..hi, by annotators and under schema versions the
# project has (ids up to the two tops): (lo, hi, top annotator id, top schema version id).
_MOVABLE = "datapoint_id BETWEEN ? AND ? AND annotator_id <= ? AND schema_version_id <= ?"


def _move(
    conn: sqlite3.Connection, within: tuple[int, int, int, int]
) -> tuple[int, int, list[int]]:
    """Write the movable staged annotations of one chunk of hidden datapoints (see
    HiddenLoad.annotations) and drop them from the staging tables: (annotations counted as
    added when staged, versions added to history, datapoints whose status to derive)."""
    names = ", ".join((*ANNOTATION_WRITTEN, "datapoint_id", "annotator_id"))
    history = ", ".join(c for c in staging.columns(conn, "annotation_history") if c != "id")
    added = conn.execute(
        f"SELECT coalesce(sum(e_added), 0) FROM temp.stage_annotation WHERE {_MOVABLE}", within
    ).fetchone()[0]
    ids = [
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT datapoint_id FROM temp.stage_annotation WHERE {_MOVABLE}", within
        )
    ]
    conn.execute(
        f"INSERT INTO main.annotation ({names}) SELECT {names} FROM temp.stage_annotation"
        f" WHERE {_MOVABLE} AND op = 'insert' ORDER BY rowid",
        within,
    )
    conn.execute(
        "INSERT OR IGNORE INTO main.annotation_label (annotation_id, label, datapoint_id)"
        " SELECT a.id, l.label, l.datapoint_id FROM temp.stage_annotation_label l"
        " JOIN main.annotation a"
        " ON a.datapoint_id = l.datapoint_id AND a.annotator_id = l.annotator_id"
        " WHERE l.datapoint_id BETWEEN ? AND ?",
        within[:2],
    )
    before = conn.total_changes
    conn.execute(
        f"INSERT OR IGNORE INTO main.annotation_history ({history}) SELECT {history}"
        f" FROM temp.stage_annotation_history WHERE {_MOVABLE} ORDER BY rowid",
        within,
    )
    kept = conn.total_changes - before
    conn.execute(
        "DELETE FROM temp.stage_annotation_label AS l WHERE l.datapoint_id BETWEEN ? AND ?"
        " AND EXISTS (SELECT 1 FROM main.annotation a"
        " WHERE a.datapoint_id = l.datapoint_id AND a.annotator_id = l.annotator_id)",
        within[:2],
    )
    for table in ("annotation", "annotation_history"):
        conn.execute(f"DELETE FROM temp.stage_{table} WHERE {_MOVABLE}", within)
    return added, kept, ids
