"""Annotating: the verbs an editor performs, each one committed transaction, each undoable.

Every edit is a command whose `apply` commits it and returns the command that undoes it
(its inverse), so the GUI's undo stack only ever replays commands. (A bulk label of more than
bulk_runs.RUN_THRESHOLD new labels commits as a write run of short transactions, shown all at
once: app.core.annotation.bulk_runs; its undo too.) An annotation is one
annotator's answer for one datapoint. Its status is `draft` while the annotator is still
working on it (saved on every change, so a crash loses nothing), then `complete`, `skipped`
or `discarded`. A datapoint's own status (unlabeled, labeled, skipped, discarded) is derived
from all annotations on it and stored for fast filtering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Connection, TextClause, bindparam, text

from app.core import audit
from app.core.annotation import bulk, bulk_runs, relabel
from app.core.annotation.states import (
    ANNOTATION_STATUSES,
    AnnotationState,
    Applied,
    Command,
    audit_json,
    audit_value,
    read_states,
    status_changes,
)
from app.core.annotation.values import LabelParser
from app.core.errors import ProjectError
from app.core.ids import new_uuid, now_iso
from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress
from app.core.project import modelstore
from app.core.project.modelstore import Suggestion
from app.core.project.project import Project, current_schema
from app.core.storage import runs
from app.core.storage.retry import run_write
from app.core.storage.sqlite import driver_connection
from app.core.storage.tables import STATUS_NAMES


def _for_ids(sql: str) -> TextClause:
    """The statement with its `:ids` bound as a list (expanded to `IN (...)`)."""
    return text(sql).bindparams(bindparam("ids", expanding=True))


# A datapoint is labeled if anyone completed it, else discarded, else skipped, else unlabeled
# (an unpublished run's annotations do not count yet): app.core.annotation.bulk.DERIVE.
DERIVE_STATUS = _for_ids(bulk.DERIVE.format(ids=":ids"))

DERIVE_FLAGGED = text(
    "UPDATE datapoint SET flagged = EXISTS (SELECT 1 FROM flag f"
    " WHERE f.datapoint_id = datapoint.id AND f.resolved_at IS NULL) WHERE id = :id"
)


def _statuses(conn: Connection, ids: list[int]) -> dict[int, str]:
    rows = conn.execute(
        _for_ids("SELECT id, status FROM datapoint WHERE id IN :ids"),
        {"ids": ids},
    )
    return {dp_id: STATUS_NAMES[status] for dp_id, status in rows}


def validate_value(
    project: Project,
    labels: list[str],
    value: Any,
    status: str,
    text_length: int | None = None,
    allow_overlap: bool = True,
) -> None:
    """Refuse values that do not fit the task type, name labels outside the schema, or (for
    spans) lie outside the text or overlap where the schema forbids it: the same rules as
    import, so that whatever is saved can be exported and imported again."""
    if status not in ANNOTATION_STATUSES:
        raise ProjectError(f"unknown annotation status {status!r}")
    if status in ("skipped", "discarded"):
        if value is not None:
            raise ProjectError(f"a {status} annotation carries no value")
        return
    if value is None:
        if status == "complete":
            raise ProjectError("a complete annotation needs a value")
        return
    kind = project.task_type
    if kind == "classification" and not isinstance(value, str):
        raise ProjectError("a classification is one label")
    if kind == "multilabel" and not (
        isinstance(value, list) and len(set(map(str, value))) == len(value)
    ):
        raise ProjectError("a multilabel answer is a list of distinct labels")
    if kind == "spans":
        _validate_spans(value, text_length, allow_overlap)
    named = LabelParser.labels_of(value, kind)
    if not all(isinstance(label, str) and label for label in named):
        raise ProjectError("every label must be a non-empty string")
    unknown = sorted(set(named) - set(labels))
    if unknown:
        raise ProjectError(f"labels not in the schema: {', '.join(unknown)}")


def _validate_spans(value: Any, text_length: int | None, allow_overlap: bool) -> None:
    if not isinstance(value, list) or not all(
        isinstance(s, dict) and {"start", "end", "label"} <= s.keys() for s in value
    ):
        raise ProjectError("spans are a list of {start, end, label}")
    for span in value:
        start, end = span["start"], span["end"]
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
            raise ProjectError(f"span offsets must be integers: {span!r}")
        if not 0 <= start < end or (text_length is not None and end > text_length):
            raise ProjectError(f"span {start}-{end} lies outside the text")
    if not allow_overlap:
        ordered = sorted(value, key=lambda s: (s["start"], s["end"]))
        for before, after in pairwise(ordered):
            if after["start"] < before["end"]:
                raise ProjectError(
                    f"spans {before['start']}-{before['end']} and {after['start']}-"
                    f"{after['end']} overlap, and the label schema does not allow overlaps"
                )


@dataclass(frozen=True)
class SetAnnotations:
    """Set (or, with None, remove) one annotator's annotations on some datapoints, atomically.

    One command covers one user action: a label on one item, or a bulk label on 500 (or,
    above bulk_runs.RUN_THRESHOLD new labels, on 100,000: a write run, unseen until published).
    """

    annotator_id: int
    changes: tuple[tuple[int, AnnotationState | None], ...]
    description: str = "annotate"

    @property
    def datapoints(self) -> tuple[int, ...]:
        return tuple(dp_id for dp_id, _state in self.changes)

    def apply(
        self, project: Project, progress: Progress = no_progress, cancel: CancelCheck = never_cancel
    ) -> Applied:
        """Commit the change; many new labels (a select-all in the grid) go as a write run of
        short transactions (app.core.annotation.bulk_runs: `progress` and `cancel` apply
        there), all others in one transaction."""
        ids = list(self.datapoints)
        if len(ids) > bulk_runs.RUN_THRESHOLD:
            applied = bulk_runs.label_in_run(project, self, SetAnnotations, progress, cancel)
            if applied is not None:
                return applied
        fresh = bulk.new_uuids(len(ids))  # made before the lock: new annotations' UUIDs
        plan, after = None, ""
        if len(ids) >= relabel.PLAN_FROM:  # many: worked out before the lock
            with project.engine.connect() as conn:
                plan = relabel.plan(driver_connection(conn), self.annotator_id, self.changes)
            after = audit_json(dict(self.changes))

        def write(conn: Connection) -> tuple[dict, dict, dict]:
            # Under the write lock from the first read (BEGIN IMMEDIATE): what is read is
            # what is overwritten, even with another process of the same annotator.
            schema = current_schema(conn)
            raw = driver_connection(conn)
            before_status = bulk.statuses(raw, ids)
            bulk.check_exist(ids, before_status)
            self.validate(project, conn, schema)
            kind, who, now = project.task_type, self.annotator_id, now_iso()
            written = None
            if plan is not None:
                written = relabel.write(raw, plan, kind, schema.id, now, fresh)
            if plan is not None and written is not None:
                # as planned (nothing changed since): set-based, the states before read then
                before = plan.before
                bulk.derive_statuses(raw, [i for i in plan.ids if i not in plan.stays_labelled])
                after_status = bulk.statuses(raw, ids)
                bulk_runs.record(conn, who, self.description, plan.before_json, after)
                return before, before_status, after_status
            before = read_states(conn, who, ids)
            written = bulk.write_states(
                raw, kind, who, self.changes, schema.id, now, fresh
            )  # set-based: one statement per step, not three per item
            bulk.derive_statuses(raw, ids)
            after_status = bulk.statuses(raw, ids)
            audit.record(
                conn,
                who,
                self.description,
                "annotation",
                written[0] if len(ids) == 1 else None,
                before={str(k): audit_value(v) for k, v in before.items()},
                after={str(k): audit_value(v) for k, v in self.changes},
            )
            return before, before_status, after_status

        before, before_status, after_status = run_write(project.engine, write)
        inverse = SetAnnotations(
            self.annotator_id,
            tuple((dp_id, before.get(dp_id)) for dp_id in ids),
            f"undo {self.description}",
        )
        return Applied(inverse, status_changes(before_status, after_status))

    def validate(self, project: Project, conn: Connection, schema: Any) -> None:
        """Refuse a value that does not fit (validate_value), naming the problem."""
        lengths = text_lengths(conn, list(self.datapoints)) if project.task_type == "spans" else {}
        for dp_id, state in bulk.to_validate(self.changes, project.task_type):
            validate_value(
                project,
                schema.label_names,
                state.value,
                state.status,
                lengths.get(dp_id),
                schema.allow_overlap,
            )


def text_lengths(conn: Connection, ids: list[int]) -> dict[int, int]:
    """Text lengths in characters (SQLite's length() counts code points, like len())."""
    rows = conn.execute(
        text(
            "SELECT id, length(text) FROM datapoint WHERE id IN (SELECT value FROM json_each(:ids))"
        ),
        {"ids": bulk.ids_json(ids)},
    )
    return dict(rows.all())


def write_state(
    conn: Connection,
    project: Project,
    annotator_id: int,
    dp_id: int,
    state: AnnotationState | None,
    schema_version_id: int,
) -> str | None:
    """Write one annotation (or remove it, for None); the UUID of what was written."""
    existing = conn.execute(
        text("SELECT id, uuid FROM annotation WHERE datapoint_id = :dp AND annotator_id = :who"),
        {"dp": dp_id, "who": annotator_id},
    ).first()
    if state is None:
        if existing is not None:
            conn.execute(text("DELETE FROM annotation WHERE id = :id"), {"id": existing.id})
        return existing.uuid if existing is not None else None
    now = now_iso()
    value = None if state.value is None else json.dumps(state.value, ensure_ascii=False)
    uuid = existing.uuid if existing is not None else (state.uuid or new_uuid())
    if existing is None:
        annotation_id = conn.execute(
            text(
                "INSERT INTO annotation (uuid, datapoint_id, annotator_id, value, status,"
                " schema_version_id, time_spent_ms, origin, created_at, updated_at)"
                " VALUES (:uuid, :dp, :who, :value, :status, :schema, :spent, :origin,"
                " :now, :now)"
            ),
            {
                "uuid": uuid,
                "dp": dp_id,
                "who": annotator_id,
                "value": value,
                "status": state.status,
                "schema": schema_version_id,
                "spent": state.time_spent_ms,
                "origin": state.origin,
                "now": now,
            },
        ).lastrowid
    else:
        annotation_id = existing.id
        conn.execute(
            text(
                "UPDATE annotation SET value = :value, status = :status, schema_version_id ="
                " :schema, time_spent_ms = :spent, origin = :origin, updated_at = :now,"
                f" {bulk.leave_hidden_run()} WHERE id = :id"
            ),
            {
                "value": value,
                "status": state.status,
                "schema": schema_version_id,
                "spent": state.time_spent_ms,
                "origin": state.origin,
                "now": now,
                "id": annotation_id,
            },
        )
        conn.execute(
            text("DELETE FROM annotation_label WHERE annotation_id = :id"), {"id": annotation_id}
        )
    if state.status == "complete":
        labels = LabelParser.labels_of(state.value, project.task_type)
        if labels:
            conn.execute(
                text(
                    "INSERT OR IGNORE INTO annotation_label (annotation_id, label, datapoint_id)"
                    " VALUES (:id, :label, :dp)"
                ),
                [{"id": annotation_id, "label": label, "dp": dp_id} for label in labels],
            )
    return uuid


@dataclass(frozen=True)
class _Note:
    """What a flag and a comment share: one annotator's note on one datapoint, written as one
    row of its table (`TABLE`, with the note's text in `COLUMN`) that undo deletes again. The
    audit trail calls adding a note by the table's name and taking it back `UNDO_ACTION`."""

    TABLE: ClassVar[str]
    COLUMN: ClassVar[str]
    UNDO_ACTION: ClassVar[str]
    SETS_FLAGGED: ClassVar[bool] = False  # a flag keeps its datapoint's `flagged` up to date

    datapoint_id: int
    annotator_id: int

    if TYPE_CHECKING:  # fields of each note type, after its text (they have defaults)
        uuid: str
        created_at: str

    @property
    def datapoints(self) -> tuple[int, ...]:
        return (self.datapoint_id,)

    def _audited(self) -> dict[str, Any]:
        """The note as its audit events show it (after adding, before taking back)."""
        raise NotImplementedError

    def _add(self, project: Project, value: str, inverse: Command) -> Applied:
        """Write the note's row and its audit event; refused when its datapoint is gone."""

        def write(conn: Connection) -> None:
            if not _statuses(conn, [self.datapoint_id]):
                raise ProjectError(f"datapoint {self.datapoint_id} no longer exists")
            conn.execute(
                text(
                    f"INSERT INTO {self.TABLE} (uuid, datapoint_id, annotator_id, {self.COLUMN},"
                    " created_at) VALUES (:uuid, :dp, :who, :value, :at)"
                ),
                {
                    "uuid": self.uuid,
                    "dp": self.datapoint_id,
                    "who": self.annotator_id,
                    "value": value,
                    "at": self.created_at,
                },
            )
            self._written(conn, self.TABLE, after=self._audited())

        run_write(project.engine, write)
        return Applied(inverse)

    def take_back(self, project: Project) -> Applied:
        """Delete the note's row, with its audit event: what its Remove command does."""

        def write(conn: Connection) -> None:
            conn.execute(text(f"DELETE FROM {self.TABLE} WHERE uuid = :uuid"), {"uuid": self.uuid})
            self._written(conn, self.UNDO_ACTION, before=self._audited())

        run_write(project.engine, write)
        return Applied(self)

    def _written(self, conn: Connection, action: str, **change: Any) -> None:
        """After the note's row changed: re-derive `flagged` where it counts, and audit."""
        if self.SETS_FLAGGED:
            conn.execute(DERIVE_FLAGGED, {"id": self.datapoint_id})
        audit.record(conn, self.annotator_id, action, self.TABLE, self.uuid, **change)


@dataclass(frozen=True)
class AddFlag(_Note):
    """Flag a datapoint for investigation, with a reason."""

    TABLE: ClassVar[str] = "flag"
    COLUMN: ClassVar[str] = "reason"
    UNDO_ACTION: ClassVar[str] = "unflag"
    SETS_FLAGGED: ClassVar[bool] = True

    reason: str
    uuid: str = field(default_factory=new_uuid)
    created_at: str = field(default_factory=now_iso)
    description: str = "flag"

    def _audited(self) -> dict[str, Any]:
        return {"reason": self.reason, "datapoint": self.datapoint_id}

    def apply(self, project: Project) -> Applied:
        if not self.reason.strip():
            raise ProjectError("a flag needs a reason")
        return self._add(project, self.reason.strip(), RemoveFlag(self))


@dataclass(frozen=True)
class RemoveFlag:
    """Take back a flag (the inverse of AddFlag)."""

    flag: AddFlag
    description: str = "remove flag"

    @property
    def datapoints(self) -> tuple[int, ...]:
        return self.flag.datapoints

    def apply(self, project: Project) -> Applied:
        return self.flag.take_back(project)


@dataclass(frozen=True)
class AddComment(_Note):
    """Comment on a datapoint (a note for the team, not a label)."""

    TABLE: ClassVar[str] = "comment"
    COLUMN: ClassVar[str] = "body"
    UNDO_ACTION: ClassVar[str] = "uncomment"

    body: str
    uuid: str = field(default_factory=new_uuid)
    created_at: str = field(default_factory=now_iso)
    description: str = "comment"

    def _audited(self) -> dict[str, Any]:
        return {"body": self.body.strip(), "datapoint": self.datapoint_id}

    def apply(self, project: Project) -> Applied:
        if not self.body.strip():
            raise ProjectError("a comment cannot be empty")
        return self._add(project, self.body.strip(), RemoveComment(self))


@dataclass(frozen=True)
class RemoveComment:
    """Take back a comment (the inverse of AddComment)."""

    comment: AddComment
    description: str = "remove comment"

    @property
    def datapoints(self) -> tuple[int, ...]:
        return self.comment.datapoints

    def apply(self, project: Project) -> Applied:
        return self.comment.take_back(project)


def record_reopen(project: Project, datapoint_id: int, annotator_id: int) -> None:
    """An annotator unlocked a finished item to edit it again: kept in the audit trail."""

    def write(conn: Connection) -> None:
        state = read_states(conn, annotator_id, [datapoint_id]).get(datapoint_id)
        audit.record(
            conn,
            annotator_id,
            "reopen",
            "annotation",
            state.uuid if state else None,
            before=audit_value(state),
        )

    run_write(project.engine, write)


@dataclass(frozen=True)
class Note:
    """A flag or comment as the editor lists it."""

    uuid: str
    author: str
    body: str
    created_at: str


@dataclass(frozen=True)
class Item:
    """A datapoint as an editor shows it, with this annotator's annotation."""

    id: int
    dataset: str
    row: int
    text: str
    context: dict[str, Any]
    status: str
    flagged: bool
    annotation: AnnotationState | None
    flags: tuple[Note, ...] = ()
    comments: tuple[Note, ...] = ()
    others: tuple[tuple[str, Any], ...] = ()  # (annotator name, value): others' complete answers
    suggestion: Suggestion | None = None  # the model's pre-label, once it passes the bar


def load_items(
    project: Project, ids: list[int], annotator_id: int, suggest_version: int | None = None
) -> dict[int, Item]:
    """Datapoints by id with everything an editor shows, in a few indexed queries; with the
    model version's suggestions when one is given."""
    if not ids:
        return {}
    suggested = modelstore.suggestions(project, ids, suggest_version) if suggest_version else {}
    with project.engine.connect() as conn:
        shown = runs.and_visible(runs.annotation_where(conn, "an"))  # no unpublished run's
        rows = conn.execute(
            _for_ids(
                f"SELECT d.id, ds.source_name, d.row, d.text, d.context, {runs.status_expr(conn)},"
                " d.flagged"
                " FROM datapoint d JOIN dataset ds ON ds.id = d.dataset_id WHERE d.id IN :ids"
            ),
            {"ids": ids},
        ).all()
        states = read_states(conn, annotator_id, ids)
        notes: dict[tuple[str, int], list[Note]] = {}
        for kind, sql in (
            (
                "flag",
                "SELECT f.datapoint_id, f.uuid, a.name, f.reason, f.created_at FROM flag f"
                " JOIN annotator a ON a.id = f.annotator_id"
                " WHERE f.resolved_at IS NULL AND f.datapoint_id IN :ids ORDER BY f.id",
            ),
            (
                "comment",
                "SELECT c.datapoint_id, c.uuid, a.name, c.body, c.created_at FROM comment c"
                " JOIN annotator a ON a.id = c.annotator_id"
                " WHERE c.datapoint_id IN :ids ORDER BY c.id",
            ),
        ):
            for dp_id, uuid, author, body, at in conn.execute(_for_ids(sql), {"ids": ids}):
                notes.setdefault((kind, dp_id), []).append(Note(uuid, author, body, at))
        others: dict[int, list[tuple[str, Any]]] = {}
        for dp_id, author, value in conn.execute(
            _for_ids(
                "SELECT an.datapoint_id, a.name, an.value FROM annotation an"
                " JOIN annotator a ON a.id = an.annotator_id WHERE an.status = 'complete'"
                f" AND an.annotator_id != :me AND an.datapoint_id IN :ids{shown} ORDER BY an.id"
            ),
            {"ids": ids, "me": annotator_id},
        ):
            others.setdefault(dp_id, []).append((author, json.loads(value)))
        for dp_id, value in conn.execute(  # auto-labels (issue 12) to confirm or correct
            _for_ids(
                "SELECT datapoint_id, value FROM annotation an WHERE origin = 'model'"
                f" AND status = 'complete' AND datapoint_id IN :ids{shown}"
            ),
            {"ids": ids},
        ):
            suggested[dp_id] = Suggestion(json.loads(value), 1.0, 0, auto_label=True)
    return {
        r[0]: Item(
            id=r[0],
            dataset=r[1],
            row=r[2],
            text=r[3],
            context=json.loads(r[4]) if r[4] else {},
            status=STATUS_NAMES[r[5]],
            flagged=bool(r[6]),
            annotation=states.get(r[0]),
            flags=tuple(notes.get(("flag", r[0]), ())),
            comments=tuple(notes.get(("comment", r[0]), ())),
            others=tuple(others.get(r[0], ())),
            suggestion=suggested.get(r[0]),
        )
        for r in rows
    }


def load_item(
    project: Project, datapoint_id: int, annotator_id: int, suggest_version: int | None = None
) -> Item:
    item = load_items(project, [datapoint_id], annotator_id, suggest_version).get(datapoint_id)
    if item is None:
        raise ProjectError(f"datapoint {datapoint_id} does not exist")
    return item
