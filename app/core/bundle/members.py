"""The quality tables in bundles: adjudications, review decisions, custom statuses, gold items,
qualification sets, their items and results (schema 0003, bundle format 2).

What travels where:

- project bundles: every row of every quality table;
- assignment bundles: the custom statuses, and the review decisions on the annotations the
  bundle carries (so an annotator sees why their work was rejected); never gold answers,
  adjudications or qualification sets (a gold task travels as an ordinary label task, see
  app.core.bundle.export);
- work bundles: the returning annotator's review decisions (their corrections are their own
  annotations, origin 'review'), adjudications and the qualification results they recorded,
  since the bundle's base.

Merging is idempotent and order-independent: rows are matched by UUID and never change, except
a gold item, of which one per datapoint is kept: the newest by (created_at, uuid).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from app.core.bundle.rows import Checker, Refs

MEMBERS = (
    "custom_statuses.jsonl",
    "gold_items.jsonl",
    "qualification_sets.jsonl",
    "qualification_items.jsonl",
    "qualification_results.jsonl",
    "adjudications.jsonl",
    "review_decisions.jsonl",
)
COUNTS_AS = ("approve", "reject", "discard")

Maker = Callable[[tuple], dict[str, Any]]


def export_members(
    kind: str,
    annotations_where: str | None,
    annotators: dict[int, str],
    datasets: dict[int, str],
) -> list[tuple[str, str, Maker]]:
    """(member, SQL, row maker) for a bundle of this kind; the SQL may use :who and :since."""
    everything = kind == "project"
    work = kind == "work"
    members: list[tuple[str, str, Maker]] = []

    def add(name: str, sql: str, make: Maker) -> None:
        members.append((name, sql, make))

    if kind in ("project", "assignment"):
        add(
            "custom_statuses.jsonl",
            "SELECT uuid, name, counts_as, description, created_at FROM custom_status ORDER BY id",
            lambda r: {
                "uuid": r[0],
                "name": r[1],
                "counts_as": r[2],
                "description": r[3],
                "created_at": r[4],
            },
        )
    if everything:
        add(
            "gold_items.jsonl",
            "SELECT g.uuid, d.dataset_id, d.row, g.value, g.created_by, g.created_at"
            " FROM gold_item g JOIN datapoint d ON d.id = g.datapoint_id ORDER BY g.id",
            lambda r: {
                "uuid": r[0],
                "dataset": datasets[r[1]],
                "row": r[2],
                "value": r[3],
                "created_by": annotators.get(r[4]),
                "created_at": r[5],
            },
        )
        add(
            "qualification_sets.jsonl",
            "SELECT uuid, name, pass_score, created_by, created_at FROM qualification_set"
            " ORDER BY id",
            lambda r: {
                "uuid": r[0],
                "name": r[1],
                "pass_score": r[2],
                "created_by": annotators.get(r[3]),
                "created_at": r[4],
            },
        )
        add(
            "qualification_items.jsonl",
            "SELECT s.uuid, d.dataset_id, d.row FROM qualification_item q"
            " JOIN qualification_set s ON s.id = q.set_id"
            " JOIN datapoint d ON d.id = q.datapoint_id ORDER BY q.set_id, q.datapoint_id",
            lambda r: {"set": r[0], "dataset": datasets[r[1]], "row": r[2]},
        )
    if everything or work:
        where = " WHERE r.recorded_by = :who AND r.recorded_at > :since" if work else ""
        add(
            "qualification_results.jsonl",
            "SELECT r.uuid, s.uuid, r.annotator_id, r.score, r.correct, r.total, r.passed,"
            " r.recorded_by, r.recorded_at FROM qualification_result r"
            f" JOIN qualification_set s ON s.id = r.set_id{where} ORDER BY r.id",
            lambda r: {
                "uuid": r[0],
                "set": r[1],
                "annotator": annotators[r[2]],
                "score": r[3],
                "correct": r[4],
                "total": r[5],
                "passed": bool(r[6]),
                "recorded_by": annotators.get(r[7]),
                "recorded_at": r[8],
            },
        )
        where = " WHERE j.decided_by = :who AND j.decided_at > :since" if work else ""
        add(
            "adjudications.jsonl",
            "SELECT j.uuid, d.dataset_id, d.row, j.value, j.decided_by, j.decided_at"
            f" FROM adjudication j JOIN datapoint d ON d.id = j.datapoint_id{where}"
            " ORDER BY j.id",
            lambda r: {
                "uuid": r[0],
                "dataset": datasets[r[1]],
                "row": r[2],
                "value": r[3],
                "decided_by": annotators[r[4]],
                "decided_at": r[5],
            },
        )
    if everything:
        decisions_where = ""
    elif work:
        decisions_where = " WHERE r.reviewer_id = :who AND r.created_at > :since"
    else:
        decisions_where = (
            f" WHERE r.annotation_uuid IN (SELECT a.uuid FROM annotation a"
            f" WHERE {annotations_where})"
        )
    add(
        "review_decisions.jsonl",
        "SELECT r.uuid, r.annotation_uuid, d.dataset_id, d.row, r.reviewer_id, r.decision,"
        " r.reason, r.correction_uuid, r.created_at FROM review_decision r"
        f" JOIN datapoint d ON d.id = r.datapoint_id{decisions_where} ORDER BY r.id",
        lambda r: {
            "uuid": r[0],
            "annotation_uuid": r[1],
            "dataset": datasets[r[2]],
            "row": r[3],
            "reviewer": annotators[r[4]],
            "decision": r[5],
            "reason": r[6],
            "correction_uuid": r[7],
            "created_at": r[8],
        },
    )
    return members


def load(
    conn: sqlite3.Connection,
    reader,
    refs: Refs,
    *,
    strict: bool,
    reporter: Callable[[str], Callable[[int], None]] | None = None,
    advance: Callable[[str], None] | None = None,
) -> tuple[dict[str, int], int]:
    """Add the quality rows of a bundle (open: `strict`, a row about a datapoint the bundle
    lacks is an error; merge: it is skipped). Returns ({member: rows added}, rows skipped)."""
    added: dict[str, int] = {}
    skipped = 0
    file = reader.name

    def rows(name: str):
        return reader.rows(name, reporter(name) if reporter else None)

    def done(name: str, n: int) -> None:
        if n or strict:
            added[name.removesuffix(".jsonl")] = n
        if advance is not None:
            advance(name)

    def datapoint(check: Checker, row: dict[str, Any]) -> int | None:
        nonlocal skipped
        dp_id = refs.datapoint(check, row)
        if dp_id is None:
            if strict:
                raise check.fail(row, "is about a datapoint the bundle does not hold")
            skipped += 1
        return dp_id

    sets = {uid: row_id for row_id, uid in conn.execute("SELECT id, uuid FROM qualification_set")}

    def set_id(check: Checker, row: dict[str, Any]) -> int:
        uid = check.str(row, "set")
        found = sets.get(uid)
        if found is None:
            raise check.fail(row, f"names a qualification set {uid} that neither side knows")
        return found

    name = "custom_statuses.jsonl"
    check = Checker(file, name)
    n = 0
    for row in rows(name):
        cursor = conn.execute(
            "INSERT OR IGNORE INTO custom_status (uuid, name, counts_as, description, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                check.str(row, "uuid"),
                check.str(row, "name"),
                check.one_of(row, "counts_as", COUNTS_AS),
                check.str(row, "description"),
                check.str(row, "created_at"),
            ),
        )
        n += cursor.rowcount > 0
    done(name, n)

    name = "gold_items.jsonl"
    check = Checker(file, name)
    n = 0
    for row in rows(name):
        uid = check.str(row, "uuid")
        value = check.json_text(row, "value", nullable=False)
        created = check.str(row, "created_at")
        by = refs.maybe_annotator(check, row, "created_by")
        dp_id = datapoint(check, row)
        if dp_id is None:
            continue
        local = conn.execute(
            "SELECT id, uuid, created_at FROM gold_item WHERE datapoint_id = ?", (dp_id,)
        ).fetchone()
        if local is None:
            conn.execute(
                "INSERT INTO gold_item (uuid, datapoint_id, value, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (uid, dp_id, value, by, created),
            )
            n += 1
        elif (created, uid) > (local[2], local[1]):
            conn.execute(
                "UPDATE gold_item SET uuid = ?, value = ?, created_by = ?, created_at = ?"
                " WHERE id = ?",
                (uid, value, by, created, local[0]),
            )
            n += 1
    done(name, n)

    name = "qualification_sets.jsonl"
    check = Checker(file, name)
    n = 0
    for row in rows(name):
        uid = check.str(row, "uuid")
        values = (
            uid,
            check.str(row, "name"),
            check.num(row, "pass_score"),
            refs.maybe_annotator(check, row, "created_by"),
            check.str(row, "created_at"),
        )
        if uid in sets:
            continue
        sets[uid] = conn.execute(
            "INSERT INTO qualification_set (uuid, name, pass_score, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            values,
        ).lastrowid
        n += 1
    done(name, n)

    name = "qualification_items.jsonl"
    check = Checker(file, name)
    n = 0
    for row in rows(name):
        owner = set_id(check, row)
        dp_id = datapoint(check, row)
        if dp_id is None:
            continue
        cursor = conn.execute(
            "INSERT OR IGNORE INTO qualification_item (set_id, datapoint_id) VALUES (?, ?)",
            (owner, dp_id),
        )
        n += cursor.rowcount > 0
    done(name, n)

    name = "qualification_results.jsonl"
    check = Checker(file, name)
    n = 0
    for row in rows(name):
        cursor = conn.execute(
            "INSERT OR IGNORE INTO qualification_result (uuid, set_id, annotator_id, score,"
            " correct, total, passed, recorded_by, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                check.str(row, "uuid"),
                set_id(check, row),
                refs.annotator(check, row),
                check.num(row, "score"),
                check.int(row, "correct"),
                check.int(row, "total"),
                check.bool(row, "passed"),
                refs.maybe_annotator(check, row, "recorded_by"),
                check.str(row, "recorded_at"),
            ),
        )
        n += cursor.rowcount > 0
    done(name, n)

    name = "adjudications.jsonl"
    check = Checker(file, name)
    n = 0
    for row in rows(name):
        values = (
            check.str(row, "uuid"),
            check.json_text(row, "value", nullable=False),
            refs.annotator(check, row, "decided_by"),
            check.str(row, "decided_at"),
        )
        dp_id = datapoint(check, row)
        if dp_id is None:
            continue
        cursor = conn.execute(
            "INSERT OR IGNORE INTO adjudication (uuid, value, decided_by, decided_at,"
            " datapoint_id) VALUES (?, ?, ?, ?, ?)",
            (*values, dp_id),
        )
        n += cursor.rowcount > 0
    done(name, n)

    name = "review_decisions.jsonl"
    check = Checker(file, name)
    n = 0
    for row in rows(name):
        values = (
            check.str(row, "uuid"),
            check.str(row, "annotation_uuid"),
            refs.annotator(check, row, "reviewer"),
            check.str(row, "decision"),
            check.str(row, "reason", nullable=True),
            check.str(row, "correction_uuid", nullable=True),
            check.str(row, "created_at"),
        )
        dp_id = datapoint(check, row)
        if dp_id is None:
            continue
        cursor = conn.execute(
            "INSERT OR IGNORE INTO review_decision (uuid, annotation_uuid, reviewer_id, decision,"
            " reason, correction_uuid, created_at, datapoint_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, dp_id),
        )
        n += cursor.rowcount > 0
    done(name, n)
    return added, skipped
