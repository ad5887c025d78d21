"""Merging two versions of one annotation, the part of a bundle merge with real rules.

Rows are matched by datapoint and annotator (which the database holds unique). Two versions of
one annotator's annotation of one datapoint: the one with the newer `updated_at` is kept (ties
broken by a hash of the content), and the other goes to `annotation_history` under a UUID made
from its content, so the same superseded version is stored once. A change on both sides since
the bundle's base is a conflict; both versions are kept and it is reported.

Decided without the write lock (app.core.bundle.merge, step 3): each decision is staged
(app.core.bundle.merge_staging: stage_annotation, its labels, the versions it sends to
history) with the project's row it was made against. The last transaction re-checks those
rows under the lock: one that changed meanwhile (a label saved by the user, or by another
process) has its staged decision undone and decided again by the same rule, against the row
as it now is, and written directly (`direct`); the others are applied with set-based SQL.

A mixin of app.core.bundle.merge._Merge, whose state (conn, refs, report, replica, base, steps,
direct, touched) it uses; it is SQLite-bound like the merge (it works on the raw driver
connection).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.annotation import bulk
from app.core.bundle.merge_staging import ANNOTATION_COLUMNS
from app.core.bundle.rows import VERSION_COLUMNS, Checker, annotation_labels, version_uuid
from app.core.ids import datapoint_uuid

MAX_CONFLICTS_LISTED = 200
# The columns of a local annotation row, as the merge reads them.
LOCAL_COLUMNS = ("id", "uuid", *VERSION_COLUMNS, "synced_from")
_VERSION_LIST = ", ".join(VERSION_COLUMNS)
_VERSION_MARKS = ", ".join("?" * len(VERSION_COLUMNS))
_WRITTEN = ("uuid", *VERSION_COLUMNS, "synced_from")
_STAGE_INSERT = (
    f"INSERT INTO temp.stage_annotation ({', '.join(ANNOTATION_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(ANNOTATION_COLUMNS))})"
)
# Staged decisions whose project row is no longer the one they were made against. Those of
# the rows written early (op 'early', app.core.bundle.merge_early) are found by the id written,
# one lookup instead of two (the pair is compared too: a deleted row's id can be reused).
_STAGED = (
    "SELECT s.rowid, s.datapoint_id, s.annotator_id, s.uuid, "
    + ", ".join(f"s.{c}" for c in VERSION_COLUMNS)
    + ", s.e_added, s.e_updated, s.e_superseded, s.e_conflict, s.b_dataset, s.b_row, s.b_labels,"
    " s.op FROM temp.stage_annotation s LEFT JOIN main.annotation a"
)
_DIFFERS = (
    " a.id IS NOT s.l_id OR a.uuid IS NOT s.l_uuid OR a.value IS NOT s.l_value"
    " OR a.status IS NOT s.l_status OR a.updated_at IS NOT s.l_updated_at"
    " OR a.synced_from IS NOT s.l_synced"
)
_CHANGED = (
    f"{_STAGED} ON a.datapoint_id = s.datapoint_id AND a.annotator_id = s.annotator_id"
    f" WHERE s.op <> 'early' AND ({_DIFFERS})"
    f" UNION ALL {_STAGED} ON a.id = s.l_id WHERE s.op = 'early' AND ({_DIFFERS}"
    " OR a.datapoint_id IS NOT s.datapoint_id OR a.annotator_id IS NOT s.annotator_id)"
)


def _version_values(version: dict[str, Any]) -> tuple[Any, ...]:
    """A version's values in the order of VERSION_COLUMNS."""
    return tuple(version[column] for column in VERSION_COLUMNS)


@dataclass(frozen=True)
class Conflict:
    """One annotation changed on both sides: which version was kept, which went to history."""

    datapoint: str  # the datapoint's UUID
    annotator: str  # the annotator's name
    kept: str  # "bundle" or "project": whose version is now the annotation
    kept_updated_at: str
    superseded_updated_at: str


class AnnotationMerging:
    """annotations.jsonl into the project, and the superseded versions it leaves."""

    def annotations(self) -> None:
        name = "annotations.jsonl"
        check = Checker(self.file, name)
        for row in self.reader.rows(name, self.steps.reporter(name)):
            dp_id, annotator_id, incoming = self._incoming(check, row)
            if dp_id is None:
                self.report.skipped += 1
                continue
            self._decide(check, row, dp_id, annotator_id, incoming)
        self.steps.advance(name)

    def _effects(self) -> tuple[int, int, int, int]:
        """The report's counts that one decision can move."""
        report = self.report
        return (
            report.added.get("annotations", 0),
            report.updated.get("annotations", 0),
            report.superseded,
            report.conflict_count,
        )

    def _decide(
        self,
        check: Checker,
        row: dict[str, Any],
        dp_id: int,
        annotator_id: int,
        incoming: dict[str, Any],
        labels: list[str] | None = None,
    ) -> None:
        """One bundle version against the project's row: staged, or written when `direct`."""
        conn = self.conn
        local = conn.execute(
            f"SELECT {', '.join(LOCAL_COLUMNS)} FROM main.annotation"
            " WHERE datapoint_id = ? AND annotator_id = ?",
            (dp_id, annotator_id),
        ).fetchone()
        synced = f"{self.replica}@{incoming['updated_at']}" if self.replica else None
        self._op: tuple[str, list[str]] = ("keep", [])
        if local is not None and local[1:9] == tuple(incoming.values()):
            # The very same version (the common case when re-merging). Which replica it
            # is said to come from must not depend on merge order: the smallest wins.
            mark = local[9]
            if synced and mark and mark.endswith(f"@{local[8]}") and synced < mark:
                if self.direct:
                    conn.execute(
                        "UPDATE annotation SET synced_from = ? WHERE id = ?", (synced, local[0])
                    )
                else:
                    self._stage(row, dp_id, annotator_id, incoming, synced, local, "sync", None)
            return
        if labels is None:
            labels = annotation_labels(
                self.project.task_type,
                self.refs,
                check,
                row,
                incoming["value"],
                incoming["status"],
                incoming["schema_version_id"],
            )
        before = self._effects()
        if local is None:
            self._write_annotation(None, dp_id, annotator_id, incoming, labels, synced)
            self.count(self.report.added, "annotations")
        else:
            mine = dict(zip(LOCAL_COLUMNS, local, strict=True))
            schema_uuid = {v: k for k, v in self.refs.schemas.items()}
            self._resolve(row, dp_id, annotator_id, incoming, mine, labels, synced, schema_uuid)
        if not self.direct:
            op, written = self._op
            effects = tuple(a - b for a, b in zip(self._effects(), before, strict=True))
            self._stage(row, dp_id, annotator_id, incoming, synced, local, op, labels, effects)
            conn.executemany(
                "INSERT INTO temp.stage_annotation_label (datapoint_id, annotator_id, label)"
                " VALUES (?, ?, ?)",
                [(dp_id, annotator_id, label) for label in written],
            )

    def _stage(
        self,
        row: dict[str, Any],
        dp_id: int,
        annotator_id: int,
        incoming: dict[str, Any],
        synced: str | None,
        local: tuple | None,
        op: str,
        labels: list[str] | None,
        effects: tuple[int, ...] = (0, 0, 0, 0),
    ) -> None:
        """One staged decision, with the project's row it was made against."""
        mine = (
            (None,) * 6
            if local is None
            else (local[0], local[1], local[2], local[3], local[8], local[9])
        )
        self.conn.execute(
            _STAGE_INSERT,
            (
                op,
                dp_id,
                annotator_id,
                *(incoming[c] for c in ("uuid", *VERSION_COLUMNS)),
                synced,
                *mine,
                *effects,
                row["dataset"],
                row["row"],
                None if labels is None else json.dumps(labels),
            ),
        )

    def _incoming(
        self, check: Checker, row: dict[str, Any]
    ) -> tuple[int | None, int, dict[str, Any]]:
        """A bundle's annotation row, checked: (datapoint id or None, annotator id, version)."""
        dp_id = self.refs.datapoint(check, row)
        uid = check.str(row, "uuid")
        annotator_id = self.refs.annotator(check, row)
        schema_id = self.refs.schema(check, row)
        value = check.str(row, "value", nullable=True)
        status = check.str(row, "status")
        incoming = {
            "uuid": uid,
            "value": value,
            "status": status,
            "schema_version_id": schema_id,
            "time_spent_ms": check.int(row, "time_spent_ms"),
            "origin": check.str(row, "origin"),
            "created_at": check.str(row, "created_at"),
            "updated_at": check.str(row, "updated_at"),
        }
        return dp_id, annotator_id, incoming

    def _resolve(
        self,
        row: dict[str, Any],
        dp_id: int,
        annotator_id: int,
        incoming: dict[str, Any],
        mine: dict[str, Any],
        labels: list[str],
        synced: str | None,
        schema_uuid: dict[int, str],
    ) -> None:
        """Two versions of one annotator's annotation of one datapoint: the newer is kept, the
        older goes to history, and a change on both sides since the base is a conflict."""
        mine_version = version_uuid(mine, mine["uuid"], schema_uuid[mine["schema_version_id"]])
        theirs_version = version_uuid(
            incoming, incoming["uuid"], schema_uuid[incoming["schema_version_id"]]
        )
        if mine_version == theirs_version:  # same content under another annotation UUID
            return
        theirs_newer = (incoming["updated_at"], theirs_version) > (
            mine["updated_at"],
            mine_version,
        )
        same_line = bool(
            self.replica and mine["synced_from"] == f"{self.replica}@{mine['updated_at']}"
        )
        changed_here = self.base is None or mine["updated_at"] > self.base
        changed_there = self.base is None or incoming["updated_at"] > self.base
        conflict = changed_here and changed_there and not same_line
        reason = "conflict" if conflict else "superseded"
        if theirs_newer:
            self._keep_history(mine, dp_id, annotator_id, mine_version, reason)
            self._write_annotation(mine["id"], dp_id, annotator_id, incoming, labels, synced)
            stored = True
            if not conflict:
                self.count(self.report.updated, "annotations")
        else:
            stored = self._keep_history(incoming, dp_id, annotator_id, theirs_version, reason)
            if stored and not conflict:
                self.report.superseded += 1
        if conflict and stored:
            self.report.conflict_count += 1
            if len(self.report.conflicts) < MAX_CONFLICTS_LISTED:
                self.report.conflicts.append(
                    Conflict(
                        self._datapoint_uuid(row),
                        self._annotator_name(annotator_id),
                        "bundle" if theirs_newer else "project",
                        max(incoming["updated_at"], mine["updated_at"]),
                        min(incoming["updated_at"], mine["updated_at"]),
                    )
                )

    def _datapoint_uuid(self, row: dict[str, Any]) -> str:
        return datapoint_uuid(row["dataset"], row["row"])

    def _annotator_name(self, annotator_id: int) -> str:
        return self.conn.execute(
            "SELECT name FROM main.annotator WHERE id = ?"
            " UNION ALL SELECT name FROM temp.stage_annotator WHERE id = ?",
            (annotator_id, annotator_id),
        ).fetchone()[0]

    def _keep_history(
        self, version: dict[str, Any], dp_id: int, annotator_id: int, uid: str, reason: str
    ) -> bool:
        """Store a superseded version (once); True if it was not stored yet. Staged, it is
        counted as added when published (app.core.bundle.merge_publish)."""
        values = (uid, version["uuid"], dp_id, annotator_id, *_version_values(version), reason)
        if not self.direct:
            known = self.conn.execute(
                "SELECT 1 FROM main.annotation_history WHERE uuid = ?"
                " UNION ALL SELECT 1 FROM temp.stage_annotation_history WHERE uuid = ?",
                (uid, uid),
            ).fetchone()
            if known:
                return False
            self.conn.execute(
                "INSERT INTO temp.stage_annotation_history (uuid, annotation_uuid, datapoint_id,"
                f" annotator_id, {_VERSION_LIST}, reason, src)"
                f" VALUES (?, ?, ?, ?, {_VERSION_MARKS}, ?, 1)",
                values,
            )
            return True
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO main.annotation_history (uuid, annotation_uuid, datapoint_id,"
            f" annotator_id, {_VERSION_LIST}, reason) VALUES (?, ?, ?, ?, {_VERSION_MARKS}, ?)",
            values,
        )
        if cursor.rowcount > 0:
            self.count(self.report.added, "annotation_history")
            return True
        return False

    def _write_annotation(
        self,
        existing_id: int | None,
        dp_id: int,
        annotator_id: int,
        version: dict[str, Any],
        labels: list[str],
        synced: str | None,
    ) -> None:
        """Insert or replace an annotation row with a version as it is (its UUID and times
        kept), and its label index rows, as app.core.annotation.commands keeps them. Staged,
        it is only noted (_decide stages it)."""
        if not self.direct:
            self._op = ("insert" if existing_id is None else "update", labels)
            return
        values = (version["uuid"], *_version_values(version), synced)
        if existing_id is None:
            annotation_id = self.conn.execute(
                f"INSERT INTO main.annotation (uuid, {_VERSION_LIST}, synced_from, datapoint_id,"
                f" annotator_id) VALUES (?, {_VERSION_MARKS}, ?, ?, ?)",
                (*values, dp_id, annotator_id),
            ).lastrowid
        else:
            annotation_id = existing_id
            assigned = ", ".join(f"{c} = ?" for c in _WRITTEN)
            leave = bulk.leave_hidden_run(keep=self._own_run_id)  # a bulk label's hidden row
            self.conn.execute(
                f"UPDATE main.annotation SET {assigned}, {leave} WHERE id = ?",
                (*values, existing_id),
            )
            self.conn.execute(
                "DELETE FROM main.annotation_label WHERE annotation_id = ?", (annotation_id,)
            )
        if labels:
            self.conn.executemany(
                "INSERT OR IGNORE INTO main.annotation_label (annotation_id, label, datapoint_id)"
                " VALUES (?, ?, ?)",
                [(annotation_id, label, dp_id) for label in labels],
            )
        self.touched.add(dp_id)

    # -- the last transaction (app.core.bundle.merge_publish) -----------------------------

    def prepare_publish(self) -> None:
        """At the end of the staging (no lock yet): the staged annotations and their label rows
        put in the order they go into the project's indexes, each insert numbered (seq), so
        the last transaction only copies them (app.core.bundle.merge_staging.EXTRA)."""
        conn = self.conn
        cols = ", ".join(ANNOTATION_COLUMNS)
        # provisional datapoint ids (-1, -2, ...) become base+1, base+2, ...: after the others
        order = "datapoint_id < 0, abs(datapoint_id), annotator_id"
        conn.execute("DROP TABLE IF EXISTS temp.stage_sorting")
        conn.execute(
            f"CREATE TEMP TABLE stage_sorting AS SELECT {cols},"
            f" row_number() OVER (ORDER BY {order}) AS seq FROM temp.stage_annotation"
        )
        conn.execute("DELETE FROM temp.stage_annotation")
        conn.execute(
            f"INSERT INTO temp.stage_annotation ({cols}, seq) SELECT {cols},"
            " CASE WHEN op = 'insert' THEN seq END FROM temp.stage_sorting ORDER BY seq"
        )
        conn.execute("DROP TABLE temp.stage_sorting")
        self.staged_ops = dict(
            conn.execute("SELECT op, count(*) FROM temp.stage_annotation GROUP BY op")
        )
        conn.execute(
            "CREATE TEMP TABLE stage_sorting AS SELECT l.datapoint_id, l.annotator_id, l.label,"
            " s.seq, CASE WHEN s.op = 'update' THEN s.l_id END AS aid"
            " FROM temp.stage_annotation_label l JOIN temp.stage_annotation s"
            " ON s.datapoint_id = l.datapoint_id AND s.annotator_id = l.annotator_id"
            " WHERE s.op IN ('insert', 'update') ORDER BY s.rowid, l.label"
        )
        conn.execute("DELETE FROM temp.stage_annotation_label")
        conn.execute(
            "INSERT INTO temp.stage_annotation_label SELECT * FROM temp.stage_sorting"
            " ORDER BY rowid"
        )
        conn.execute("DROP TABLE temp.stage_sorting")

    @property
    def _own_run_id(self) -> int | None:
        """The id of this merge's own write run (its early inserts), if it began one: its rows
        publish with the last transaction, so an update of one keeps it in the run."""
        early = getattr(self, "early", None)
        run = getattr(early, "run", None)
        return run.id if run is not None else None

    def publish_annotations(
        self, conn: sqlite3.Connection, tick: Callable[[str], None] = lambda step: None
    ) -> None:
        """Under the lock: set aside the decisions whose project row changed since staging
        (decided again by rerun_annotations), then apply the others, set-based, with the ids
        and in the order prepare_publish gave them."""
        # Unless another connection committed since the staging snapshot (PRAGMA data_version
        # counts those), every row a decision was made against is as it was.
        moved = conn.execute("PRAGMA data_version").fetchone()[0] != self.data_version
        self._changed = conn.execute(_CHANGED).fetchall() if moved else []
        for found in self._changed:
            rowid, dp_id, annotator_id = found[:3]
            added, updated, superseded, conflict = found[11:15]
            report = self.report
            report.added["annotations"] = report.added.get("annotations", 0) - added
            report.updated["annotations"] = report.updated.get("annotations", 0) - updated
            report.superseded -= superseded
            report.conflict_count -= conflict
            if conflict:
                where = (datapoint_uuid(found[15], found[16]), self._annotator_name(annotator_id))
                report.conflicts = [
                    c for c in report.conflicts if (c.datapoint, c.annotator) != where
                ]
            if found[18] == "early":  # a hidden row a save changed: its item's status too
                self.touched.add(dp_id)
            conn.execute("DELETE FROM temp.stage_annotation WHERE rowid = ?", (rowid,))
            for table, extra in (("annotation_label", ""), ("annotation_history", " AND src = 1")):
                conn.execute(
                    f"DELETE FROM temp.stage_{table} WHERE datapoint_id = ? AND annotator_id = ?"
                    + extra,
                    (dp_id, annotator_id),
                )
        tick("annotations re-check")
        ops = self.staged_ops  # as staged: a set-aside row makes a statement find less, never more
        if ops.get("update"):
            assigned = ", ".join(f"{c} = s.{c}" for c in _WRITTEN)
            leave = bulk.leave_hidden_run("annotation.run_id", self._own_run_id)  # a bulk label's
            conn.execute(
                f"UPDATE main.annotation SET {assigned}, {leave} FROM temp.stage_annotation s"
                " WHERE s.op = 'update' AND annotation.id = s.l_id"
            )
            conn.execute(
                "DELETE FROM main.annotation_label WHERE annotation_id IN"
                " (SELECT l_id FROM temp.stage_annotation WHERE op = 'update')"
            )
        if ops.get("sync"):
            conn.execute(
                "UPDATE main.annotation SET synced_from = s.synced_from"
                " FROM temp.stage_annotation s WHERE s.op = 'sync' AND annotation.id = s.l_id"
            )
        tick("annotations update")
        # New ids above every id now: nobody else can take them while the lock is held.
        base = conn.execute("SELECT coalesce(max(id), 0) FROM main.annotation").fetchone()[0]
        names = ", ".join((*_WRITTEN, "datapoint_id", "annotator_id"))
        if ops.get("insert"):
            conn.execute(
                f"INSERT INTO main.annotation (id, {names}) SELECT ? + seq, {names}"
                " FROM temp.stage_annotation WHERE op = 'insert' ORDER BY rowid",
                (base,),
            )
        tick("annotations insert")
        conn.execute(
            "INSERT OR IGNORE INTO main.annotation_label (annotation_id, label, datapoint_id)"
            " SELECT coalesce(? + seq, aid), label, datapoint_id"
            " FROM temp.stage_annotation_label ORDER BY rowid",
            (base,),
        )
        tick("annotations labels")

    def rerun_annotations(self, conn: sqlite3.Connection) -> None:
        """Decide again, against the project's rows as they are now, the decisions that
        publish_annotations set aside; written directly (the lock is held)."""
        check = Checker(self.file, "annotations.jsonl")
        self.direct = True
        for found in self._changed:
            dp_id, annotator_id = found[1:3]
            incoming = dict(zip(("uuid", *VERSION_COLUMNS), found[3:11], strict=True))
            row = {"uuid": incoming["uuid"], "dataset": found[15], "row": found[16]}
            labels = None if found[17] is None else json.loads(found[17])
            self._decide(check, row, dp_id, annotator_id, incoming, labels)
