"""Engines for project files: SQLite in WAL mode with foreign keys on, migrated by Alembic.

Opening a project checks the schema revision with one query; Alembic itself is imported
only when a file needs upgrading, which keeps start-up fast.

Upgrading an older file (`ensure_schema`) first copies it beside itself as
NAME.tagloop.bak-REV (REV: the schema revision it had), then runs every pending migration in
one transaction: a failure or a cancel leaves the file exactly as it was. It reports progress
and takes a cancel check, so the window runs it as a background job.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import QueuePool

from app.core.errors import Cancelled, ProjectError
from app.core.fileio import new_part_path
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.storage.sqlite import CANCEL_EVERY, driver_connection

# The newest migration; a test checks it against Alembic's script directory.
SCHEMA_HEAD = "0010"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BACKUP_PAGES = 4096  # pages copied per step of a backup, between progress reports


@dataclass(frozen=True)
class SchemaUpgrade:
    """What opening an older file did: its schema before and after, and where its copy is."""

    from_revision: str
    to_revision: str
    backup: Path

    def summary(self) -> str:
        return (
            f"upgraded from schema {self.from_revision} to {self.to_revision}; "
            f"the file as it was is kept at {self.backup}"
        )


def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process kills in WAL mode
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MB page cache per connection
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for a project URL; SQLite files get WAL, foreign keys and thread-safe pooling."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            poolclass=QueuePool,
            pool_size=4,
            max_overflow=4,
        )
        event.listen(engine, "connect", _on_connect)
        return engine
    return create_engine(url)


def url_for(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:
            return None


def file_revision(path: Path) -> str | None:
    """The schema revision of a project file, read without opening an engine (None if the file
    is not a readable project: opening it then says why)."""
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except (sqlite3.Error, ValueError):
        return None
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    except (sqlite3.Error, TypeError):
        return None
    finally:
        conn.close()


def is_older(revision: str | None) -> bool:
    """True for the revision of a file that opening would upgrade."""
    return revision is not None and revision.isdigit() and int(revision) < int(SCHEMA_HEAD)


def pending_revisions(revision: str | None) -> list[str]:
    """The migrations that would run on a file at `revision` (None: a new file), oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    steps = [rev.revision for rev in script.iterate_revisions("heads", revision or "base")]
    return [rev for rev in reversed(steps) if rev != revision]


def _alembic_config(conn: Connection, on_version_apply=()):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    config.attributes["on_version_apply"] = on_version_apply
    return config


@contextmanager
def _migration_transaction(engine: Engine, cancel: CancelCheck) -> Iterator[Connection]:
    """One transaction for every step: on SQLite it holds the write lock from the start, and
    SQLite's DDL is transactional, so a failure or a cancel (checked between steps and inside
    long statements) rolls the whole upgrade back."""
    with engine.begin() as conn:
        if engine.dialect.name != "sqlite":
            yield conn
            return
        raw = driver_connection(conn)
        raw.execute("BEGIN IMMEDIATE")
        raw.set_progress_handler(lambda: 1 if cancel() else 0, CANCEL_EVERY)
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise Cancelled() from None
            raise
        finally:
            raw.set_progress_handler(None, 0)


def upgrade(
    engine: Engine,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    name: str = "project",
) -> None:
    """Bring the database to the newest schema (also creates a new one), all or nothing."""
    from alembic import command

    steps = pending_revisions(current_revision(engine))
    if not steps:
        return
    done = 0

    def applied(*, step, **_kwargs) -> None:
        nonlocal done
        done += 1
        check_cancel(cancel)
        progress(done, len(steps), f"Upgrading {name}: schema {step.up_revision_id} done")

    progress(0, len(steps), f"Upgrading {name} to schema {SCHEMA_HEAD}")
    with _migration_transaction(engine, cancel) as conn:
        command.upgrade(_alembic_config(conn, (applied,)), "head")


def backup_path(path: Path, revision: str) -> Path:
    """Where the copy of a file at `revision` is kept before it is upgraded: beside it."""
    path = Path(path)
    return path.with_name(f"{path.name}.bak-{revision}")


def backup(
    engine: Engine,
    path: Path,
    revision: str,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> Path:
    """Copy the database (with what its WAL holds) to backup_path(path, revision), atomically:
    a consistent snapshot by SQLite's online backup, written under a temporary name, synced,
    then renamed. Raises ProjectError, leaving nothing behind, if it cannot be written."""
    target = backup_path(path, revision)
    part = new_part_path(target)  # names its process: a killed backup's is swept (fileio)
    message = f"Backing up {Path(path).name} to {target.name}"

    def step(_status: int, remaining: int, total: int) -> None:
        progress(total - remaining, total, message)
        check_cancel(cancel)

    try:
        part.unlink(missing_ok=True)
        with engine.connect() as sa_conn:
            copy = sqlite3.connect(part)
            try:
                driver_connection(sa_conn).backup(copy, pages=BACKUP_PAGES, progress=step)
            finally:
                copy.close()
        with part.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(part, target)
    except (OSError, sqlite3.Error) as exc:
        part.unlink(missing_ok=True)
        raise ProjectError(
            f"{path}: cannot keep a copy before upgrading it from schema {revision} "
            f"({exc}); the file is unchanged"
        ) from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return target


def ensure_schema(
    engine: Engine,
    path: Path,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> SchemaUpgrade | None:
    """Upgrade an older project file in place, after copying it (see backup); refuse one made
    by a newer Tagloop. Returns what was done, or None when the file was up to date."""
    revision = current_revision(engine)
    if revision == SCHEMA_HEAD:
        return None
    if revision is None:
        raise ProjectError(f"{path}: not a Tagloop project (no schema revision found)")
    if revision.isdigit() and int(revision) > int(SCHEMA_HEAD):
        raise ProjectError(
            f"{path}: made by a newer Tagloop (schema {revision}, this version knows "
            f"{SCHEMA_HEAD}); update Tagloop to open it"
        )
    if not is_older(revision):
        raise ProjectError(f"{path}: unknown schema revision {revision!r}")
    copy = backup(engine, path, revision, progress, cancel)
    try:
        upgrade(engine, progress, cancel, Path(path).name)
    except (Cancelled, ProjectError):
        raise
    except Exception as exc:
        raise ProjectError(
            f"{path}: the upgrade from schema {revision} failed ({exc}); the file is "
            f"unchanged, and a copy of it is at {copy}"
        ) from exc
    return SchemaUpgrade(revision, SCHEMA_HEAD, copy)
