"""Bundle members, table-driven: how the rows of a member are selected on export and written on
open (a new file: `strict`, every reference must resolve) and on merge (into the project: rows
already there are left alone, rows about datapoints it lacks are skipped).

A member whose rows are each one INSERT is a `RowMember`: its table, its columns and how a
bundle row gives their checked values; one `Loader.insert_rows` writes any of them, for open
and merge alike. Members with merge rules of their own (annotations, tasks, flags, gold items,
qualification sets) keep their own code, in app.core.bundle.open and .merge and below.

The quality tables travel since bundle format 2: adjudications, review decisions, custom
statuses, gold items, qualification sets, their items and results (schema 0003).

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

SQLite-bound: rows are written on the raw sqlite3 connection of an open or a merge, with
INSERT OR IGNORE.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from app.core.bundle.rows import VERSION_COLUMNS, Checker, Refs
from app.core.storage import runs

COUNTS_AS = ("approve", "reject", "discard")

Maker = Callable[[tuple], dict[str, Any]]
# A field of a bundle row, from one selected column: its key, or (key, how the value converts).
Field = str | tuple[str, Callable[[Any], Any]]
ExportMember = tuple[str, str, Maker]  # (member, SQL, row maker)


def row_maker(*fields: Field) -> Maker:
    """The row maker of a member whose i-th selected column gives its i-th field, converted
    (an id to a UUID, an integer to a bool) where the field says how."""
    keys = tuple(field if isinstance(field, str) else field[0] for field in fields)
    converted = tuple(field for field in fields if not isinstance(field, str))

    def make(r: tuple) -> dict[str, Any]:
        row = dict(zip(keys, r, strict=True))
        for key, convert in converted:
            row[key] = convert(row[key])
        return row

    return make


@dataclass(frozen=True)
class Uuids:
    """The UUIDs behind the integer ids an exported row refers to, as row-maker fields."""

    annotators: dict[int, str]
    datasets: dict[int, str]
    schemas: dict[int, str]

    def annotator(self, key: str = "annotator") -> Field:
        """An annotator the row must name."""
        return (key, self.annotators.__getitem__)

    def maybe_annotator(self, key: str) -> Field:
        """An annotator the row may name (None if gone)."""
        return (key, self.annotators.get)

    def schema(self) -> Field:
        """The label schema version the row was made under."""
        return ("schema_version", self.schemas.__getitem__)

    def about(self) -> tuple[Field, Field]:
        """The datapoint a row is about, from `d.dataset_id, d.row`: its dataset's UUID and row."""
        return (("dataset", self.datasets.__getitem__), "row")


def export_members(kind: str, annotations_where: str | None, uuids: Uuids) -> list[ExportMember]:
    """(member, SQL, row maker) for a bundle of this kind; the SQL may use :who and :since."""
    members = _setup_members(kind, uuids)
    members.extend(_decision_members(kind, annotations_where, uuids))
    return members


def _setup_members(kind: str, uuids: Uuids) -> list[ExportMember]:
    """What an owner sets up: custom statuses, gold items, qualification sets and items."""
    members: list[ExportMember] = []
    if kind in ("project", "assignment"):
        members.append(
            (
                "custom_statuses.jsonl",
                "SELECT uuid, name, counts_as, description, created_at FROM custom_status"
                " ORDER BY id",
                row_maker("uuid", "name", "counts_as", "description", "created_at"),
            )
        )
    if kind == "project":
        members.append(
            (
                "gold_items.jsonl",
                "SELECT g.uuid, d.dataset_id, d.row, g.value, g.created_by, g.created_at"
                " FROM gold_item g JOIN datapoint d ON d.id = g.datapoint_id ORDER BY g.id",
                row_maker(
                    "uuid",
                    *uuids.about(),
                    "value",
                    uuids.maybe_annotator("created_by"),
                    "created_at",
                ),
            )
        )
        members.append(
            (
                "qualification_sets.jsonl",
                "SELECT uuid, name, pass_score, created_by, created_at FROM qualification_set"
                " ORDER BY id",
                row_maker(
                    "uuid", "name", "pass_score", uuids.maybe_annotator("created_by"), "created_at"
                ),
            )
        )
        members.append(
            (
                "qualification_items.jsonl",
                "SELECT s.uuid, d.dataset_id, d.row FROM qualification_item q"
                " JOIN qualification_set s ON s.id = q.set_id"
                " JOIN datapoint d ON d.id = q.datapoint_id ORDER BY q.set_id, q.datapoint_id",
                row_maker("set", *uuids.about()),
            )
        )
    return members


def _decision_members(kind: str, annotations_where: str | None, uuids: Uuids) -> list[ExportMember]:
    """What people decide: qualification results, adjudications and review decisions."""
    work = kind == "work"
    members: list[ExportMember] = []
    if kind == "project" or work:
        where = " WHERE r.recorded_by = :who AND r.recorded_at >= :since" if work else ""
        members.append(
            (
                "qualification_results.jsonl",
                "SELECT r.uuid, s.uuid, r.annotator_id, r.score, r.correct, r.total, r.passed,"
                " r.recorded_by, r.recorded_at FROM qualification_result r"
                f" JOIN qualification_set s ON s.id = r.set_id{where} ORDER BY r.id",
                row_maker(
                    "uuid",
                    "set",
                    uuids.annotator(),
                    "score",
                    "correct",
                    "total",
                    ("passed", bool),
                    uuids.maybe_annotator("recorded_by"),
                    "recorded_at",
                ),
            )
        )
        where = " WHERE j.decided_by = :who AND j.decided_at >= :since" if work else ""
        members.append(
            (
                "adjudications.jsonl",
                "SELECT j.uuid, d.dataset_id, d.row, j.value, j.decided_by, j.decided_at"
                f" FROM adjudication j JOIN datapoint d ON d.id = j.datapoint_id{where}"
                " ORDER BY j.id",
                row_maker(
                    "uuid", *uuids.about(), "value", uuids.annotator("decided_by"), "decided_at"
                ),
            )
        )
    if kind == "project":
        decisions_where = ""
    elif work:
        decisions_where = " WHERE r.reviewer_id = :who AND r.created_at >= :since"
    else:
        decisions_where = (
            f" WHERE r.annotation_uuid IN (SELECT a.uuid FROM annotation a"
            f" WHERE ({annotations_where}) AND {runs.annotation_visible('a')})"
        )
    members.append(
        (
            "review_decisions.jsonl",
            "SELECT r.uuid, r.annotation_uuid, d.dataset_id, d.row, r.reviewer_id, r.decision,"
            " r.reason, r.correction_uuid, r.created_at FROM review_decision r"
            f" JOIN datapoint d ON d.id = r.datapoint_id{decisions_where} ORDER BY r.id",
            row_maker(
                "uuid",
                "annotation_uuid",
                *uuids.about(),
                uuids.annotator("reviewer"),
                "decision",
                "reason",
                "correction_uuid",
                "created_at",
            ),
        )
    )
    return members


Reporter = Callable[[str], Callable[[int], None]]


@dataclass(frozen=True)
class RowMember:
    """A member whose every row is one INSERT into one table.

    `values(check, loader, row)` gives the checked values of `columns`, in their order; for a
    member `about_datapoint`, the datapoint's id follows as `datapoint_id`. `open_verb` is the
    INSERT an open uses (a merge always ignores a row it already has).
    """

    name: str
    table: str
    columns: tuple[str, ...]
    values: Callable[[Checker, Loader, dict[str, Any]], tuple]
    about_datapoint: bool = True
    open_verb: str = "INSERT"

    @property
    def key(self) -> str:
        """The member's name in counts and reports."""
        return self.name.removesuffix(".jsonl")


class Loader:
    """Writes a bundle's members into the target database, for open (`strict`) or merge.

    On open, a row about a datapoint the bundle lacks is an error; on merge it is skipped and
    counted in `skipped`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        reader,
        refs: Refs,
        *,
        strict: bool,
        reporter: Reporter | None = None,
        advance: Callable[[str], None] | None = None,
        into: str = "",
    ) -> None:
        self.conn = conn
        self.into = into  # a merge stages the rows: "temp.stage_" before each table name
        self.reader = reader
        self.refs = refs
        self.strict = strict
        self.skipped = 0
        self._reporter = reporter
        self._advance = advance
        self.sets: dict[str, int] = {}  # qualification set UUID -> id, filled by load_quality

    def rows(self, name: str) -> Iterator[dict[str, Any]]:
        return self.reader.rows(name, self._reporter(name) if self._reporter else None)

    def advance(self, name: str) -> None:
        if self._advance is not None:
            self._advance(name)

    def datapoint(self, check: Checker, row: dict[str, Any]) -> int | None:
        """The datapoint a row is about; None (and counted as skipped) if a merge lacks it."""
        dp_id = self.refs.datapoint(check, row)
        if dp_id is None:
            if self.strict:
                raise check.fail(row, "is about a datapoint the bundle does not hold")
            self.skipped += 1
        return dp_id

    def set_id(self, check: Checker, row: dict[str, Any]) -> int:
        uid = check.str(row, "set")
        found = self.sets.get(uid)
        if found is None:
            raise check.fail(row, f"names a qualification set {uid} that neither side knows")
        return found

    def insert_rows(self, member: RowMember) -> int:
        """Write every row of a member; how many were added."""
        check = Checker(self.reader.name, member.name)
        columns = (*member.columns, "datapoint_id") if member.about_datapoint else member.columns
        verb = member.open_verb if self.strict else "INSERT OR IGNORE"
        sql = (
            f"{verb} INTO {self.into}{member.table} ({', '.join(columns)})"
            f" VALUES ({', '.join('?' * len(columns))})"
        )
        n = 0
        for row in self.rows(member.name):
            values = member.values(check, self, row)
            if member.about_datapoint:
                dp_id = self.datapoint(check, row)
                if dp_id is None:
                    continue
                values = (*values, dp_id)
            n += self.conn.execute(sql, values).rowcount > 0
        self.advance(member.name)
        return n


# -- members of every bundle kind ---------------------------------------------------------

HISTORY = RowMember(
    "annotation_history.jsonl",
    "annotation_history",
    ("uuid", "annotation_uuid", "annotator_id", *VERSION_COLUMNS, "reason"),
    lambda check, loader, row: (
        check.str(row, "uuid"),
        check.str(row, "annotation_uuid"),
        loader.refs.annotator(check, row),
        check.json_text(row, "value"),
        check.str(row, "status"),
        loader.refs.schema(check, row),
        check.int(row, "time_spent_ms"),
        check.str(row, "origin"),
        check.str(row, "created_at"),
        check.str(row, "updated_at"),
        check.str(row, "reason"),
    ),
)
COMMENTS = RowMember(
    "comments.jsonl",
    "comment",
    ("uuid", "annotator_id", "body", "created_at"),
    lambda check, loader, row: (
        check.str(row, "uuid"),
        loader.refs.annotator(check, row),
        check.str(row, "body"),
        check.str(row, "created_at"),
    ),
)
AUDIT_EVENTS = RowMember(
    "audit_events.jsonl",
    "audit_event",
    ("uuid", "at", "actor_id", "action", "entity", "entity_uuid", "before", "after"),
    lambda check, loader, row: (
        check.str(row, "uuid"),
        check.str(row, "at"),
        loader.refs.maybe_annotator(check, row, "actor"),
        check.str(row, "action"),
        check.str(row, "entity"),
        check.str(row, "entity_uuid", nullable=True),
        check.str(row, "before", nullable=True),
        check.str(row, "after", nullable=True),
    ),
    about_datapoint=False,
)

# -- the quality members (format 2) -------------------------------------------------------

CUSTOM_STATUSES = RowMember(
    "custom_statuses.jsonl",
    "custom_status",
    ("uuid", "name", "counts_as", "description", "created_at"),
    lambda check, loader, row: (
        check.str(row, "uuid"),
        check.str(row, "name"),
        check.one_of(row, "counts_as", COUNTS_AS),
        check.str(row, "description"),
        check.str(row, "created_at"),
    ),
    about_datapoint=False,
    open_verb="INSERT OR IGNORE",
)
QUALIFICATION_ITEMS = RowMember(
    "qualification_items.jsonl",
    "qualification_item",
    ("set_id",),
    lambda check, loader, row: (loader.set_id(check, row),),
    open_verb="INSERT OR IGNORE",
)
QUALIFICATION_RESULTS = RowMember(
    "qualification_results.jsonl",
    "qualification_result",
    (
        "uuid",
        "set_id",
        "annotator_id",
        "score",
        "correct",
        "total",
        "passed",
        "recorded_by",
        "recorded_at",
    ),
    lambda check, loader, row: (
        check.str(row, "uuid"),
        loader.set_id(check, row),
        loader.refs.annotator(check, row),
        check.num(row, "score"),
        check.int(row, "correct"),
        check.int(row, "total"),
        check.bool(row, "passed"),
        loader.refs.maybe_annotator(check, row, "recorded_by"),
        check.str(row, "recorded_at"),
    ),
    about_datapoint=False,
    open_verb="INSERT OR IGNORE",
)
ADJUDICATIONS = RowMember(
    "adjudications.jsonl",
    "adjudication",
    ("uuid", "value", "decided_by", "decided_at"),
    lambda check, loader, row: (
        check.str(row, "uuid"),
        check.json_text(row, "value", nullable=False),
        loader.refs.annotator(check, row, "decided_by"),
        check.str(row, "decided_at"),
    ),
    open_verb="INSERT OR IGNORE",
)
REVIEW_DECISIONS = RowMember(
    "review_decisions.jsonl",
    "review_decision",
    (
        "uuid",
        "annotation_uuid",
        "reviewer_id",
        "decision",
        "reason",
        "correction_uuid",
        "created_at",
    ),
    lambda check, loader, row: (
        check.str(row, "uuid"),
        check.str(row, "annotation_uuid"),
        loader.refs.annotator(check, row, "reviewer"),
        check.str(row, "decision"),
        check.str(row, "reason", nullable=True),
        check.str(row, "correction_uuid", nullable=True),
        check.str(row, "created_at"),
    ),
    open_verb="INSERT OR IGNORE",
)


def load_quality(loader: Loader) -> dict[str, int]:
    """Add the quality rows of a bundle; {member: rows added} (every member on open, those
    that added rows on merge)."""
    loader.sets = {
        uid: row_id for row_id, uid in loader.conn.execute("SELECT id, uuid FROM qualification_set")
    }
    added: dict[str, int] = {}

    def done(key: str, n: int) -> None:
        if n or loader.strict:
            added[key] = n

    done(CUSTOM_STATUSES.key, loader.insert_rows(CUSTOM_STATUSES))
    done("gold_items", _gold_items(loader))
    done("qualification_sets", _qualification_sets(loader))
    for member in (QUALIFICATION_ITEMS, QUALIFICATION_RESULTS, ADJUDICATIONS, REVIEW_DECISIONS):
        done(member.key, loader.insert_rows(member))
    return added


def _gold_items(loader: Loader) -> int:
    """One gold item per datapoint: the newest by (created_at, uuid) is kept."""
    conn = loader.conn
    name = "gold_items.jsonl"
    check = Checker(loader.reader.name, name)
    n = 0
    for row in loader.rows(name):
        uid = check.str(row, "uuid")
        value = check.json_text(row, "value", nullable=False)
        created = check.str(row, "created_at")
        by = loader.refs.maybe_annotator(check, row, "created_by")
        dp_id = loader.datapoint(check, row)
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
    loader.advance(name)
    return n


def _qualification_sets(loader: Loader) -> int:
    """Sets the target lacks (by UUID); their ids join `loader.sets` for the members after."""
    name = "qualification_sets.jsonl"
    check = Checker(loader.reader.name, name)
    n = 0
    for row in loader.rows(name):
        uid = check.str(row, "uuid")
        values = (
            uid,
            check.str(row, "name"),
            check.num(row, "pass_score"),
            loader.refs.maybe_annotator(check, row, "created_by"),
            check.str(row, "created_at"),
        )
        if uid in loader.sets:
            continue
        loader.sets[uid] = loader.conn.execute(
            "INSERT INTO qualification_set (uuid, name, pass_score, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            values,
        ).lastrowid
        n += 1
    loader.advance(name)
    return n
