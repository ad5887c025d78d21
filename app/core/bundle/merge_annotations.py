"""Merging two versions of one annotation, the part of a bundle merge with real rules.

Rows are matched by datapoint and annotator (which the database holds unique). Two versions of
one annotator's annotation of one datapoint: the one with the newer `updated_at` is kept (ties
broken by a hash of the content), and the other goes to `annotation_history` under a UUID made
from its content, so the same superseded version is stored once. A change on both sides since
the bundle's base is a conflict; both versions are kept and it is reported.

A mixin of app.core.bundle.merge._Merge, whose state (conn, refs, report, replica, base, steps)
it uses; it is SQLite-bound like the merge (it writes on the raw driver connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.bundle.rows import VERSION_COLUMNS, Checker, annotation_labels, version_uuid
from app.core.ids import datapoint_uuid

MAX_CONFLICTS_LISTED = 200
# The columns of a local annotation row, as the merge reads them.
LOCAL_COLUMNS = ("id", "uuid", *VERSION_COLUMNS, "synced_from")
_VERSION_LIST = ", ".join(VERSION_COLUMNS)
_VERSION_MARKS = ", ".join("?" * len(VERSION_COLUMNS))


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
        conn = self.conn
        task_type = self.project.task_type
        schema_uuid = {v: k for k, v in self.refs.schemas.items()}
        for row in self.reader.rows(name, self.steps.reporter(name)):
            dp_id, annotator_id, incoming = self._incoming(check, row)
            if dp_id is None:
                self.report.skipped += 1
                continue
            local = conn.execute(
                f"SELECT {', '.join(LOCAL_COLUMNS)} FROM annotation"
                " WHERE datapoint_id = ? AND annotator_id = ?",
                (dp_id, annotator_id),
            ).fetchone()
            synced = f"{self.replica}@{incoming['updated_at']}" if self.replica else None
            if local is not None and local[1:9] == tuple(incoming.values()):
                # The very same version (the common case when re-merging). Which replica it
                # is said to come from must not depend on merge order: the smallest wins.
                mark = local[9]
                if synced and mark and mark.endswith(f"@{local[8]}") and synced < mark:
                    conn.execute(
                        "UPDATE annotation SET synced_from = ? WHERE id = ?", (synced, local[0])
                    )
                continue
            labels = annotation_labels(
                task_type,
                self.refs,
                check,
                row,
                incoming["value"],
                incoming["status"],
                incoming["schema_version_id"],
            )
            if local is None:
                self._write_annotation(None, dp_id, annotator_id, incoming, labels, synced)
                self.count(self.report.added, "annotations")
                continue
            mine = dict(zip(LOCAL_COLUMNS, local, strict=True))
            self._resolve(row, dp_id, annotator_id, incoming, mine, labels, synced, schema_uuid)
        self.steps.advance(name)

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
            "SELECT name FROM annotator WHERE id = ?", (annotator_id,)
        ).fetchone()[0]

    def _keep_history(
        self, version: dict[str, Any], dp_id: int, annotator_id: int, uid: str, reason: str
    ) -> bool:
        """Store a superseded version (once); True if it was not stored yet."""
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO annotation_history (uuid, annotation_uuid, datapoint_id,"
            f" annotator_id, {_VERSION_LIST}, reason) VALUES (?, ?, ?, ?, {_VERSION_MARKS}, ?)",
            (uid, version["uuid"], dp_id, annotator_id, *_version_values(version), reason),
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
        kept), and its label index rows, as app.core.annotation.commands keeps them."""
        values = (version["uuid"], *_version_values(version), synced)
        if existing_id is None:
            annotation_id = self.conn.execute(
                f"INSERT INTO annotation (uuid, {_VERSION_LIST}, synced_from, datapoint_id,"
                f" annotator_id) VALUES (?, {_VERSION_MARKS}, ?, ?, ?)",
                (*values, dp_id, annotator_id),
            ).lastrowid
        else:
            annotation_id = existing_id
            assigned = ", ".join(f"{c} = ?" for c in ("uuid", *VERSION_COLUMNS, "synced_from"))
            self.conn.execute(
                f"UPDATE annotation SET {assigned} WHERE id = ?", (*values, existing_id)
            )
            self.conn.execute(
                "DELETE FROM annotation_label WHERE annotation_id = ?", (annotation_id,)
            )
        if labels:
            self.conn.executemany(
                "INSERT OR IGNORE INTO annotation_label (annotation_id, label, datapoint_id)"
                " VALUES (?, ?, ?)",
                [(annotation_id, label, dp_id) for label in labels],
            )
        self.touch(dp_id)
