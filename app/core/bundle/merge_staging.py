"""The staging area of a bundle merge: TEMP tables of the merging connection.

A merge decides everything it can without the write lock (reading the project in one WAL
snapshot) and writes its decisions here; its last, short transaction then applies them to the
project with set-based INSERT ... SELECT and UPDATE ... FROM (app.core.bundle.merge_publish).
TEMP tables live in SQLite's own temporary file of that one connection: nobody else sees them,
and they vanish with the connection however the merge ends (a crash leaves no file to sweep).

Every staged table is named `stage_<table>` and has the columns of the project table (no
constraints), plus a few of its own for the annotations (what the project held when the
decision was made, to re-check under the lock) and for the datapoints that join an existing
dataset (which get negative provisional ids, made real at publish).
"""

from __future__ import annotations

import sqlite3

from app.core.bundle.rows import VERSION_COLUMNS

# Project tables whose rows a merge stages as they are (their own columns).
PLAIN = (
    "annotator",
    "schema_version",
    "annotation_history",
    "task",
    "comment",
    "flag",
    "gold_item",
    "custom_status",
    "qualification_set",
    "qualification_item",
    "qualification_result",
    "adjudication",
    "review_decision",
    "audit_event",
    "model_version",
    "prediction",
)
# Staged tables with a datapoint_id column (remapped when provisional ids become real).
ABOUT_DATAPOINT = (
    "annotation",
    "annotation_label",
    "annotation_history",
    "task",
    "comment",
    "flag",
    "gold_item",
    "qualification_item",
    "adjudication",
    "prediction",
)
# The staged annotation decisions: op is insert / update / sync (synced_from only) / keep
# (the project's version stays; the bundle's went to history). l_* are the project's row when
# the decision was made; e_* what the decision added to the report; b_* the bundle row's
# datapoint (dataset UUID, row) and labels (JSON) to decide again under the lock.
ANNOTATION_COLUMNS = (
    "op",
    "datapoint_id",
    "annotator_id",
    "uuid",
    *VERSION_COLUMNS,
    "synced_from",
    "l_id",
    "l_uuid",
    "l_value",
    "l_status",
    "l_updated_at",
    "l_synced",
    "e_added",
    "e_updated",
    "e_superseded",
    "e_conflict",
    "b_dataset",
    "b_row",
    "b_labels",
)
# The columns of an annotation that a merge writes (its id aside).
EARLY_WRITTEN = ("uuid", *VERSION_COLUMNS, "synced_from", "datapoint_id", "annotator_id")
# seq: an inserted annotation's place in (datapoint, annotator) order, decided at the end of
# the staging (prepare_publish): the publish gives it the id (largest id then) + seq, and its
# label rows that id too (a label row's `aid` is the updated annotation's id), so neither
# needs a lookup under the lock and both go into their indexes in order.
EXTRA = {
    "annotation": f"CREATE TEMP TABLE stage_annotation ({', '.join(ANNOTATION_COLUMNS)}, seq)",
    "annotation_label": "CREATE TEMP TABLE stage_annotation_label"
    " (datapoint_id, annotator_id, label, seq, aid)",
    "datapoint": "CREATE TEMP TABLE stage_datapoint AS SELECT * FROM main.datapoint WHERE 0",
    "dataset": "CREATE TEMP TABLE stage_dataset (id, imported_by)",
    # the inserts written before the last transaction (app.core.bundle.merge_early), in order
    # (n): their stage_annotation rowid (sid), the id written (aid; -1: skipped) and the row
    "early": "CREATE TEMP TABLE stage_early (n INTEGER PRIMARY KEY, sid, aid,"
    f" {', '.join(EARLY_WRITTEN)})",
}


def create(conn: sqlite3.Connection) -> None:
    """Make the (empty) staging tables on this connection."""
    drop(conn)
    for table in PLAIN:
        conn.execute(f"CREATE TEMP TABLE stage_{table} AS SELECT * FROM main.{table} WHERE 0")
    # annotation_history rows a decision staged (1), not the member's (NULL): undone on re-check
    conn.execute("ALTER TABLE temp.stage_annotation_history ADD COLUMN src")
    for sql in EXTRA.values():
        conn.execute(sql)
    conn.execute(
        "CREATE INDEX temp.ix_stage_annotation ON stage_annotation (datapoint_id, annotator_id)"
    )
    conn.execute("CREATE INDEX temp.ix_stage_label ON stage_annotation_label (datapoint_id)")
    conn.execute("CREATE INDEX temp.ix_stage_history ON stage_annotation_history (uuid)")
    conn.execute(
        "CREATE INDEX temp.ix_stage_history_datapoint ON stage_annotation_history (datapoint_id)"
    )


def clear(
    conn: sqlite3.Connection, keep: tuple[str, ...] = ("datapoint", "dataset", "early")
) -> None:
    """Empty the staged decisions before staging again (the hidden datapoints' and the
    early inserts' stay: they are written)."""
    for table in (*PLAIN, *EXTRA):
        if table not in keep:
            conn.execute(f"DELETE FROM temp.stage_{table}")


def drop(conn: sqlite3.Connection) -> None:
    for table in (*PLAIN, *EXTRA):
        conn.execute(f"DROP TABLE IF EXISTS temp.stage_{table}")


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """The columns of a project table, in order."""
    return [row[1] for row in conn.execute(f"PRAGMA main.table_info({table})")]


def publish_plain(
    conn: sqlite3.Connection,
    table: str,
    verb: str = "INSERT OR IGNORE",
    where: str = "",
    with_id: bool = False,
) -> int:
    """Copy a staged table's rows (in staging order) into the project, with the ids staged
    (`with_id`) or new ones; how many went in."""
    names = ", ".join(c for c in columns(conn, table) if c != "id" or with_id)
    before = conn.total_changes
    conn.execute(
        f"{verb} INTO main.{table} ({names}) SELECT {names} FROM temp.stage_{table} s"
        f" {where} ORDER BY s.rowid"
    )
    return conn.total_changes - before


# Staged rows whose id is decided when staging (new annotators, schema versions, sets, models:
# referred to by other staged rows); the publish checks that no one took those ids meanwhile.
PREALLOCATED = ("annotator", "schema_version", "qualification_set", "model_version")


def top_ids(conn: sqlite3.Connection) -> tuple[int, ...]:
    """The largest id of each table whose new ids a merge decides before taking the lock."""
    return tuple(
        conn.execute(f"SELECT coalesce(max(id), 0) FROM main.{table}").fetchone()[0]
        for table in PREALLOCATED
    )


def make_ids_real(conn: sqlite3.Connection, base: int) -> int:
    """Give the staged datapoints of existing datasets (provisional ids -1, -2, ...) the real
    ids base+1, base+2, ... everywhere they are referred to; how many there are."""
    n = conn.execute("SELECT count(*) FROM temp.stage_datapoint").fetchone()[0]
    if n:
        conn.execute("UPDATE temp.stage_datapoint SET id = ? - id", (base,))
        for table in ABOUT_DATAPOINT:
            conn.execute(
                f"UPDATE temp.stage_{table} SET datapoint_id = ? - datapoint_id"
                " WHERE datapoint_id < 0",
                (base,),
            )
    return n
