"""Turning bundle rows into database rows: type checks, UUID references, annotation labels.

Shared by open (into a new file) and merge (into an existing project). Every row a bundle
brings is checked here before it is written: a wrong type or a reference to something the
bundle and the project both lack is a BundleError naming the member and the row.

SQLite-bound: rows are written on the raw sqlite3 connection of an open or a merge.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from array import array
from collections.abc import Callable
from typing import Any

from app.core import audit
from app.core.annotation.commands import ANNOTATION_STATUSES, validate_value
from app.core.annotation.values import LabelParser
from app.core.bundle.errors import BundleError
from app.core.errors import ProjectError
from app.core.ids import new_uuid, now_iso
from app.core.jobs import CancelCheck, Progress, check_cancel
from app.core.project.annotators import ALL_ROLES
from app.core.project.label_schema import label_name_problem, labels_from_json

# Name-based UUIDs of superseded annotation versions (app.core.bundle.merge).
HISTORY_NAMESPACE = uuid.UUID("6f1d1a52-7d0c-4b8e-9a53-0c2f3e5b9d11")
TASK_STATUSES = ("todo", "done", "cancelled")
# The columns one version of an annotation fills, in the order the annotation and
# annotation_history tables, the merge and the loaders all use them.
VERSION_COLUMNS = (
    "value",
    "status",
    "schema_version_id",
    "time_spent_ms",
    "origin",
    "created_at",
    "updated_at",
)
MAX_LABELS = 10_000  # labels in one schema version
DENSE_ROWS = 1 << 24  # rows below this are indexed in an array, any above in a dict


class Checker:
    """Field checks for one member of one bundle, with messages naming both."""

    def __init__(self, file: str, member: str) -> None:
        self.file = file
        self.member = member
        self.count = 0

    def fail(self, row: dict[str, Any], problem: str) -> BundleError:
        which = row.get("uuid") or (
            f"{row.get('dataset')}/{row.get('row')}" if "row" in row else f"#{self.count}"
        )
        return BundleError(self.file, f"{self.member}, row {which}: {problem}")

    def str(self, row: dict[str, Any], key: str, nullable: bool = False) -> str | None:
        value = row.get(key)
        if value.__class__ is str or (value is None and nullable):
            return value
        raise self.fail(row, f"{key!r} must be a string{' or null' if nullable else ''}")

    def int(self, row: dict[str, Any], key: str, nullable: bool = False) -> int | None:
        value = row.get(key)
        if value.__class__ is int or (value is None and nullable):
            return value
        raise self.fail(row, f"{key!r} must be an integer")

    def num(self, row: dict[str, Any], key: str, nullable: bool = False) -> float | None:
        value = row.get(key)
        if value.__class__ in (int, float) or (value is None and nullable):
            return value
        raise self.fail(row, f"{key!r} must be a number")

    def bool(self, row: dict[str, Any], key: str) -> bool:
        value = row.get(key)
        if value.__class__ is bool:
            return value
        raise self.fail(row, f"{key!r} must be true or false")

    def json_text(self, row: dict[str, Any], key: str, nullable: bool = True) -> str | None:
        """A column that holds JSON text: must parse."""
        value = self.str(row, key, nullable)
        if value is not None:
            try:
                json.loads(value)
            except ValueError:
                raise self.fail(row, f"{key!r} is not valid JSON text") from None
        return value

    def one_of(self, row: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
        value = row.get(key)
        if value in allowed:
            return value
        raise self.fail(row, f"{key!r} must be one of {', '.join(allowed)}, not {value!r}")


def datapoint_fields(
    check: Checker,
    row: dict[str, Any],
    datasets: dict[str, int],
    lacks: str | Callable[[BaseException], str],
    highest_status: int | None = None,
) -> tuple[int, int, str, str | None, int, bool]:
    """(dataset id, row, text, context, status, flagged) of a bundle's datapoint row, its
    fields' types checked: the one check both an open and a merge make. `lacks` is the
    problem said when a field is missing or the dataset unknown (or makes it from the error);
    `highest_status`, when given, bounds the status (a merge derives it instead)."""
    try:
        dataset_id = datasets[row["dataset"]]
        number = row["row"]
        text = row["text"]
        context = row["context"]
        status = row["status"]
        flagged = row["flagged"]
    except (KeyError, TypeError) as exc:
        raise check.fail(row, lacks if isinstance(lacks, str) else lacks(exc)) from None
    if (
        number.__class__ is not int
        or text.__class__ is not str
        or status.__class__ is not int
        or flagged.__class__ is not bool
        or not (context is None or context.__class__ is str)
        or (highest_status is not None and not 0 <= status <= highest_status)
    ):
        raise check.fail(row, "a field has the wrong type")
    return dataset_id, number, text, context, status, flagged


class DatapointIndex:
    """(dataset id, row) -> datapoint id, without a dict entry per datapoint: an array per
    dataset (8 bytes a row), loaded from the database on first use."""

    def __init__(self, conn: sqlite3.Connection, load: bool) -> None:
        self._conn = conn
        self._load = load
        self._dense: dict[int, array] = {}
        self._sparse: dict[int, dict[int, int]] = {}
        self._last_id: int | None = None  # rows come grouped by dataset: cache its arrays
        self._last: tuple[array, dict[int, int]] = (array("q"), {})

    def _arrays(self, dataset_id: int) -> tuple[array, dict[int, int]]:
        dense = self._dense.get(dataset_id)
        if dense is None:
            dense = self._dense[dataset_id] = array("q")
            self._sparse[dataset_id] = {}
            if self._load:
                for row, dp_id in self._conn.execute(
                    "SELECT row, id FROM datapoint WHERE dataset_id = ?", (dataset_id,)
                ):
                    self.add(dataset_id, row, dp_id)
        return dense, self._sparse[dataset_id]

    def get(self, dataset_id: int, row: int) -> int | None:
        if dataset_id != self._last_id:
            self._last = self._arrays(dataset_id)
            self._last_id = dataset_id
        dense, sparse = self._last
        if 0 <= row < len(dense):
            return dense[row] or None
        return sparse.get(row)

    def add(self, dataset_id: int, row: int, dp_id: int) -> None:
        if dataset_id != self._last_id:
            self._last = self._arrays(dataset_id)
            self._last_id = dataset_id
        dense, sparse = self._last
        if 0 <= row < DENSE_ROWS:
            if row >= len(dense):
                _grow(dense, max(row + 1, 2 * len(dense), 1024))
            dense[row] = dp_id
        else:
            sparse[row] = dp_id


def _grow(dense: array, size: int) -> None:
    dense.frombytes(bytes(8 * (size - len(dense))))


class Refs:
    """UUID -> id maps of the target database, grown as the bundle's rows are added."""

    def __init__(self, conn: sqlite3.Connection, load: bool) -> None:
        self.annotators: dict[str, int] = {}
        self.annotator_uuid: dict[int, str] = {}
        self.schemas: dict[str, int] = {}
        self.schema_labels: dict[int, tuple[list[str], bool]] = {}
        self.datasets: dict[str, int] = {}
        self.models: dict[str, int] = {}
        self.points = DatapointIndex(conn, load)
        if load:
            for row_id, uid in conn.execute("SELECT id, uuid FROM annotator"):
                self.annotators[uid] = row_id
                self.annotator_uuid[row_id] = uid
            for row_id, uid, labels, overlap in conn.execute(
                "SELECT id, uuid, labels, allow_overlap FROM schema_version"
            ):
                self.add_schema(uid, row_id, labels, bool(overlap))
            self.datasets = dict(
                (uid, row_id) for row_id, uid in conn.execute("SELECT id, uuid FROM dataset")
            )
            self.models = dict(
                (uid, row_id) for row_id, uid in conn.execute("SELECT id, uuid FROM model_version")
            )

    def add_annotator(self, uid: str, row_id: int) -> None:
        self.annotators[uid] = row_id
        self.annotator_uuid[row_id] = uid

    def add_schema(self, uid: str, row_id: int, labels_json: str, allow_overlap: bool) -> None:
        self.schemas[uid] = row_id
        names = [label.name for label in labels_from_json(labels_json)]
        self.schema_labels[row_id] = (names, allow_overlap)

    def annotator(self, check: Checker, row: dict[str, Any], key: str = "annotator") -> int:
        uid = check.str(row, key)
        found = self.annotators.get(uid)
        if found is None:
            raise check.fail(row, f"names an annotator {uid} that neither side knows")
        return found

    def maybe_annotator(self, check: Checker, row: dict[str, Any], key: str) -> int | None:
        uid = check.str(row, key, nullable=True)
        return None if uid is None else self.annotators.get(uid)

    def schema(self, check: Checker, row: dict[str, Any]) -> int:
        uid = check.str(row, "schema_version")
        found = self.schemas.get(uid)
        if found is None:
            raise check.fail(row, f"names a schema version {uid} that neither side knows")
        return found

    def datapoint(self, check: Checker, row: dict[str, Any]) -> int | None:
        """The datapoint a row is about, or None if the target has no such datapoint."""
        dataset_uuid = check.str(row, "dataset")
        number = check.int(row, "row")
        dataset_id = self.datasets.get(dataset_uuid)
        if dataset_id is None:
            return None
        return self.points.get(dataset_id, number)


def check_schema_labels(check: Checker, row: dict[str, Any]) -> str:
    """A schema version's labels column: JSON text the schema module can read."""
    labels = check.str(row, "labels")
    try:
        specs = labels_from_json(labels)
    except (ValueError, TypeError, KeyError, ProjectError, RecursionError) as exc:
        raise check.fail(row, f"'labels' cannot be read ({exc!r:.200})") from None
    if len(specs) > MAX_LABELS:
        raise check.fail(row, f"'labels' lists more than {MAX_LABELS:,} labels")
    seen: set[str] = set()
    for spec in specs:
        if not all(isinstance(v, str) for v in vars(spec).values()) or not spec.name.strip():
            raise check.fail(row, "'labels' holds a label without a name, or a field not text")
        if spec.name in seen:
            raise check.fail(row, f"'labels' names the label {spec.name!r} twice")
        problem = label_name_problem(spec.name)  # red team: a tab or a line break in a
        if problem is not None:  # label corrupts the CoNLL, PubTator and BRAT exports
            raise check.fail(row, f"'labels' names the label {spec.name[:40]!r}, which {problem}")
        seen.add(spec.name)
    return labels


def annotation_labels(
    project_task_type: str,
    refs: Refs,
    check: Checker,
    row: dict[str, Any],
    value: str | None,
    status: str,
    schema_id: int,
) -> list[str]:
    """Check an annotation value against its schema version (the rules an edit obeys, see
    app.core.annotation.commands.validate_value) and return the labels its index rows carry."""
    if status not in ANNOTATION_STATUSES:
        raise check.fail(row, f"unknown annotation status {status!r}")
    try:
        decoded = None if value is None else json.loads(value)
    except ValueError:
        raise check.fail(row, "'value' is not valid JSON text") from None
    names, overlap = refs.schema_labels[schema_id]
    try:
        validate_value(_TaskType(project_task_type), names, decoded, status, None, overlap)  # type: ignore[arg-type]
    except ProjectError as exc:
        raise check.fail(row, str(exc)) from None
    if status != "complete":
        return []
    return LabelParser.labels_of(decoded, project_task_type)


class _TaskType:
    """The one attribute validate_value reads from a Project."""

    def __init__(self, task_type: str) -> None:
        self.task_type = task_type


def version_uuid(row: dict[str, Any], annotation_uuid: str, schema_uuid: str) -> str:
    """The name-based UUID of one version of an annotation (its content, not where it is)."""
    content = [
        annotation_uuid,
        row.get("value"),
        row.get("status"),
        schema_uuid,
        row.get("time_spent_ms"),
        row.get("origin"),
        row.get("created_at"),
        row.get("updated_at"),
    ]
    return uuid.uuid5(HISTORY_NAMESPACE, json.dumps(content, ensure_ascii=False)).hex


def check_role(check: Checker, row: dict[str, Any]) -> str:
    return check.one_of(row, "role", ALL_ROLES)


def insert_annotator(
    conn: sqlite3.Connection,
    check: Checker,
    row: dict[str, Any],
    refs,
    *,
    table: str = "annotator",
    row_id: int | None = None,
) -> int:
    """Write one annotators.jsonl row (checked) and register it in `refs`; its new id (a
    merge stages it, with the id it will have, into another `table`)."""
    uid = check.str(row, "uuid")
    name = check.str(row, "name")
    problem = label_name_problem(name)  # red team, session 6: the rule of a local name
    if problem is not None:
        raise check.fail(row, f"the annotator name {name[:40]!r} {problem}")
    cursor = conn.execute(
        f"INSERT INTO {table} (id, uuid, name, role, created_at) VALUES (?, ?, ?, ?, ?)",
        (row_id, uid, name, check_role(check, row), check.str(row, "created_at")),
    )
    new_id = cursor.lastrowid if row_id is None else row_id
    refs.add_annotator(uid, new_id)
    return new_id


def insert_dataset(conn: sqlite3.Connection, check: Checker, row: dict[str, Any], refs) -> int:
    """Write one datasets.jsonl row (checked) and register it in `refs`; its new id."""
    uid = check.str(row, "uuid")
    cursor = conn.execute(
        "INSERT INTO dataset (uuid, source_name, sha256, format, mapping, label_column,"
        " row_count, duplicate_count, imported_at, imported_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            uid,
            check.str(row, "source_name"),
            check.str(row, "sha256"),
            check.str(row, "format"),
            check.json_text(row, "mapping", nullable=False),
            check.str(row, "label_column", nullable=True),
            check.int(row, "row_count"),
            check.int(row, "duplicate_count"),
            check.str(row, "imported_at"),
            refs.maybe_annotator(check, row, "imported_by"),
        ),
    )
    refs.datasets[uid] = cursor.lastrowid
    return cursor.lastrowid


def record_audit(
    conn: sqlite3.Connection, actor: int | None, action: str, entity_uuid: str, after: Any
) -> None:
    """An audit event about the project, written on the raw connection of the running
    transaction and linked into the hash chain with every event written before it in the
    transaction: on open, the bundle's events (in their order) and this one make the new file's
    chain; on merge, the merged events join this file's chain."""
    conn.execute(
        "INSERT INTO audit_event (uuid, at, actor_id, action, entity, entity_uuid, before, after)"
        " VALUES (?, ?, ?, ?, 'project', ?, NULL, ?)",
        (new_uuid(), now_iso(), actor, action, entity_uuid, json.dumps(after, ensure_ascii=False)),
    )
    audit.link_pending(conn)


class MemberProgress:
    """Progress through a bundle's members by bytes read: `reporter(member)` is what
    BundleReader.rows calls as it reads (it also checks for a cancel), `advance(member)` counts
    a member as done."""

    def __init__(
        self, reader, progress: Progress, cancel: CancelCheck, label: Callable[[str], str]
    ) -> None:
        self.reader = reader
        self.progress = progress
        self.cancel = cancel
        self.label = label
        self.done = 0
        self.total: int = reader.total_bytes

    def reporter(self, member: str) -> Callable[[int], None]:
        def report(position: int) -> None:
            check_cancel(self.cancel)
            self.progress(self.done + position, self.total, self.label(member))

        return report

    def advance(self, member: str) -> None:
        if self.reader.has(member):
            self.done += self.reader.manifest["members"][member]["size"]


def insert_schema_version(
    conn: sqlite3.Connection,
    check: Checker,
    row: dict[str, Any],
    refs: Refs,
    version: int,
    *,
    table: str = "schema_version",
    row_id: int | None = None,
) -> int:
    """Write one schema_versions.jsonl row (checked) as label schema `version`; its new id
    (a merge stages it, with the id it will have, into another `table`)."""
    cursor = conn.execute(
        f"INSERT INTO {table} (id, uuid, version, labels, guidelines, allow_overlap,"
        " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row_id,
            check.str(row, "uuid"),
            version,
            check_schema_labels(check, row),
            check.str(row, "guidelines"),
            check.bool(row, "allow_overlap"),
            check.str(row, "created_at"),
            refs.maybe_annotator(check, row, "created_by"),
        ),
    )
    return cursor.lastrowid if row_id is None else row_id


def insert_model_version(
    conn: sqlite3.Connection,
    check: Checker,
    row: dict[str, Any],
    uid: str,
    artifact: bytes,
    *,
    table: str = "model_version",
    row_id: int | None = None,
) -> int:
    """Add a bundle's model version (its UUID and artifact from model_row); its new id (a
    merge stages it, with the id it will have, into another `table`)."""
    cursor = conn.execute(
        f"INSERT INTO {table} (id, uuid, created_at, label_count, metrics, format, artifact)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            row_id,
            uid,
            check.str(row, "created_at"),
            check.int(row, "label_count"),
            check.json_text(row, "metrics", nullable=False),
            row["format"],
            artifact,
        ),
    )
    return cursor.lastrowid if row_id is None else row_id
