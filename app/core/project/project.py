"""A project: one database file holding its task type, inputs, label schema and data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select

from app import __version__
from app.core import audit, settings
from app.core.audit import pending
from app.core.errors import Cancelled, ProjectError
from app.core.fileio import display_name, sweep_stale_parts
from app.core.ids import new_uuid, now_iso
from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress
from app.core.project.annotators import ensure_annotator
from app.core.project.label_schema import (
    TASK_TYPES,
    LabelSpec,
    SchemaVersion,
    complete_labels,
    labels_from_json,
    labels_to_json,
)
from app.core.storage import db, runs, staging
from app.core.storage import tables as t
from app.core.storage.retry import run_write, write_transaction

PROJECT_SUFFIX = ".tagloop"
# Keys of an exported record besides the inputs, so no input may take these names.
RESERVED_INPUT_NAMES = ("id", "dataset", "row", "status", "flagged", "label", "annotations")


@dataclass(frozen=True)
class InputSpec:
    name: str
    annotated: bool


class Project:
    """An open project file. Thread-safe: each operation checks out its own connection."""

    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = Path(path)
        self.engine = engine
        # What open_project did to an older file's schema (None: nothing to do).
        self.schema_upgrade: db.SchemaUpgrade | None = None
        # unfinished imports and write runs removed on open
        self.swept: list[staging.SweptImport | runs.SweptRun] = []
        with engine.connect() as conn:
            row = conn.execute(select(t.project)).one()
            self.uuid: str = row.uuid
            self.name: str = row.name
            self.task_type: str = row.task_type
            self.language: str = row.language
            self.inputs: tuple[InputSpec, ...] = tuple(
                InputSpec(r.name, bool(r.annotated))
                for r in conn.execute(select(t.project_input).order_by(t.project_input.c.position))
            )

    def __repr__(self) -> str:
        return f"<Project {self.name!r} {self.task_type} at {self.path}>"

    @property
    def annotated_input(self) -> str:
        return next(spec.name for spec in self.inputs if spec.annotated)

    @property
    def context_inputs(self) -> list[str]:
        return [spec.name for spec in self.inputs if not spec.annotated]

    @property
    def schema(self) -> SchemaVersion:
        """The current (newest) label schema version."""
        with self.engine.connect() as conn:
            return current_schema(conn)

    def schema_versions(self) -> list[SchemaVersion]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.schema_version).order_by(t.schema_version.c.version))
            return [_schema_from_row(row) for row in rows]

    @cached_property
    def local_annotator_id(self) -> int:
        """Who works in this file: the annotator an assignment bundle was made for, when the
        file was opened from one (so their work is theirs on any machine), else this install's
        annotator row, registered in the project on first use."""
        with write_transaction(self.engine) as conn:
            assignee = get_meta(conn, META_ASSIGNEE)
            if assignee:
                found = conn.execute(
                    select(t.annotator.c.id).where(t.annotator.c.uuid == assignee)
                ).scalar()
                if found is not None:
                    return found
            identity = settings.local_identity()
            return ensure_annotator(conn, identity.uuid, identity.name, "annotator")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# Keys of project_meta: facts about this file, never carried by a bundle.
META_REPLICA = "replica"  # this file's replica UUID (made by the migration, or on open)
META_OPENED_FROM = "opened_from"  # the kind of bundle this file was opened from
META_ASSIGNEE = "assignee"  # the annotator UUID an assignment bundle was made for
META_BASE = "base"  # when that bundle was made: work since then is new work
# This machine's clock when it opened that bundle: air-gapped machines' clocks drift, and work
# done here is returned if it is newer than either, so a clock behind the bundle maker's loses
# nothing (app.core.bundle.export.export_work_bundle).
META_OPENED_AT = "opened_at"
META_SOURCE_SHA256 = "source_sha256"  # that bundle file's SHA-256


def get_meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(t.project_meta.c.value).where(t.project_meta.c.key == key)).scalar()


def set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(delete(t.project_meta).where(t.project_meta.c.key == key))
    conn.execute(insert(t.project_meta).values(key=key, value=value))


def _schema_from_row(row) -> SchemaVersion:
    return SchemaVersion(
        id=row.id,
        uuid=row.uuid,
        version=row.version,
        labels=labels_from_json(row.labels),
        guidelines=row.guidelines,
        allow_overlap=bool(row.allow_overlap),
        created_at=row.created_at,
    )


def current_schema(conn: Connection) -> SchemaVersion:
    row = conn.execute(
        select(t.schema_version).order_by(t.schema_version.c.version.desc()).limit(1)
    ).one()
    return _schema_from_row(row)


def create_project(
    path: Path,
    task_type: str,
    labels: list[LabelSpec],
    inputs: list[str] | None = None,
    annotated_input: str | None = None,
    guidelines: str = "",
    name: str | None = None,
    allow_overlap: bool = False,
    language: str = "en",
) -> Project:
    """Create a new project file. Refuses to overwrite an existing file."""
    path = Path(path)
    if path.suffix != PROJECT_SUFFIX:
        path = path.with_name(path.name + PROJECT_SUFFIX)
    if task_type not in TASK_TYPES:
        raise ProjectError(
            f"unknown task type {task_type!r}; choose one of {', '.join(TASK_TYPES)}"
        )
    inputs = [name.strip() for name in (inputs or ["text"]) if name.strip()]
    if not inputs or len(set(inputs)) != len(inputs):
        raise ProjectError("inputs must be one or more distinct names")
    reserved = sorted(set(inputs) & set(RESERVED_INPUT_NAMES))
    if reserved:
        raise ProjectError(f"input names {', '.join(reserved)} are reserved; choose others")
    annotated_input = annotated_input or inputs[0]
    if annotated_input not in inputs:
        raise ProjectError(f"the annotated input {annotated_input!r} is not one of the inputs")
    labels = complete_labels(labels)
    if path.exists():
        raise ProjectError(f"{path} already exists; choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)

    engine = db.make_engine(db.url_for(path))
    try:
        db.upgrade(engine)
        identity = settings.local_identity()
        with engine.begin() as conn:
            owner = ensure_annotator(conn, identity.uuid, identity.name, "owner")
            project_uuid = new_uuid()
            conn.execute(
                insert(t.project).values(
                    uuid=project_uuid,
                    name=display_name(name or path.stem),  # a non-UTF-8 path: red team
                    task_type=task_type,
                    language=language,
                    created_at=now_iso(),
                    app_version=__version__,
                )
            )
            conn.execute(
                insert(t.project_input),
                [
                    {"name": item, "position": i, "annotated": item == annotated_input}
                    for i, item in enumerate(inputs)
                ],
            )
            first = _insert_schema(conn, 1, labels, guidelines, allow_overlap, owner)
            audit.record(
                conn,
                owner,
                "create",
                "schema",
                first.uuid,
                after={
                    "version": first.version,
                    "labels": first.label_names,
                    "guidelines": first.guidelines,
                    "allow_overlap": first.allow_overlap,
                },
            )
            audit.record(
                conn,
                owner,
                "create",
                "project",
                project_uuid,
                after={
                    "task_type": task_type,
                    "inputs": inputs,
                    "labels": [x.name for x in labels],
                },
            )
    except BaseException:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        raise
    settings.add_recent_project(path)
    return Project(path, engine)


def _insert_schema(
    conn: Connection,
    version: int,
    labels: list[LabelSpec],
    guidelines: str,
    allow_overlap: bool,
    actor_id: int | None,
) -> SchemaVersion:
    values = {
        "uuid": new_uuid(),
        "version": version,
        "labels": labels_to_json(labels),
        "guidelines": guidelines,
        "allow_overlap": allow_overlap,
        "created_at": now_iso(),
        "created_by": actor_id,
    }
    new_id = conn.execute(insert(t.schema_version).values(**values)).inserted_primary_key[0]
    return SchemaVersion(
        new_id,
        values["uuid"],
        version,
        tuple(labels),
        guidelines,
        allow_overlap,
        values["created_at"],
    )


def upgrade_needed(path: Path) -> bool:
    """True when opening the file will upgrade its schema (a copy of the file, then the
    migrations): long enough on a big file that the window runs open_project as a job."""
    return db.is_older(db.file_revision(Path(path)))


def open_project(
    path: Path,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    *,
    sweep: bool = True,
) -> Project:
    """Open an existing project file, upgrading an older schema in place.

    An older file is first copied beside itself (NAME.tagloop.bak-REV, REV its schema
    revision), then upgraded in one transaction; `project.schema_upgrade` says so. Cancelling
    the upgrade (Cancelled) or a failure leaves the file as it was.

    With `sweep` (the default), the rows of imports whose process was killed before it
    published them are removed (app.core.storage.staging), and `project.swept` lists them;
    the window passes sweep=False and calls sweep_abandoned_imports in a background job.
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise ProjectError(f"{path}: is a folder, not a project file")
        if path.exists():
            raise ProjectError(f"{path}: is not a regular file (a device, a FIFO or a socket)")
        raise ProjectError(f"{path}: no such project file")
    with path.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise ProjectError(f"{path}: not a Tagloop project (not an SQLite database)")
    engine = db.make_engine(db.url_for(path))
    try:
        upgraded = db.ensure_schema(engine, path, progress, cancel)
        project = Project(path, engine)
    except (ProjectError, Cancelled):
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        cause = getattr(exc, "orig", None) or exc  # the driver's words, not SQLAlchemy's links
        hint = ""
        if "malformed" in str(cause):  # red team, session 6: a file cut short or damaged
            hint = "; the file is damaged or cut short: open a copy of it (a backup)"
        raise ProjectError(
            f"{path}: cannot be opened as a Tagloop project ({cause}){hint}"
        ) from exc
    project.schema_upgrade = upgraded
    settings.add_recent_project(path)
    sweep_stale_parts(path.parent)  # temporary files of writers killed outright (fileio)
    if sweep:
        try:
            sweep_abandoned_imports(project)
        except BaseException:
            project.close()
            raise
    return project


def sweep_abandoned_imports(project: Project) -> list[staging.SweptImport | runs.SweptRun]:
    """Remove the unfinished imports and write runs (app.core.storage.runs) of processes that
    are gone (never visible, so no audit event), in short transactions; they are also kept in
    `project.swept`."""
    swept: list[staging.SweptImport | runs.SweptRun] = [*staging.sweep_abandoned(project.engine)]
    pending.settle_pending(project.engine)  # audit events of a killed merge (before its run goes)
    swept += runs.sweep_abandoned(project.engine)
    runs.settle_pending(project.engine)  # statuses of a published run whose settle was stopped
    runs.unsettle_pending(project.engine)  # statuses of a bulk label's undo that was stopped
    project.swept = [*project.swept, *swept]
    return swept


def update_schema(
    project: Project,
    labels: list[LabelSpec] | None = None,
    guidelines: str | None = None,
    allow_overlap: bool | None = None,
    actor_id: int | None = None,
    conn: Connection | None = None,
) -> SchemaVersion:
    """Make a new schema version from the current one with the given changes."""

    def apply(c: Connection) -> SchemaVersion:
        current = current_schema(c)
        new_labels = complete_labels(list(labels if labels is not None else current.labels))
        version = _insert_schema(
            c,
            current.version + 1,
            new_labels,
            current.guidelines if guidelines is None else guidelines,
            current.allow_overlap if allow_overlap is None else allow_overlap,
            actor_id,
        )
        audit.record(
            c,
            actor_id,
            "update",
            "schema",
            version.uuid,
            before={
                "version": current.version,
                "labels": current.label_names,
                "guidelines": current.guidelines,
                "allow_overlap": current.allow_overlap,
            },
            after={
                "version": version.version,
                "labels": version.label_names,
                "guidelines": version.guidelines,
                "allow_overlap": version.allow_overlap,
            },
        )
        return version

    if conn is not None:
        return apply(conn)
    actor_id = actor_id if actor_id is not None else project.local_annotator_id
    return run_write(project.engine, apply)
