"""Engines for project files: SQLite in WAL mode with foreign keys on, migrated by Alembic.

Opening a project checks the schema revision with one query; Alembic itself is imported
only when a file needs upgrading, which keeps start-up fast.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import QueuePool

from app.core.errors import ProjectError

# The newest migration; a test checks it against Alembic's script directory.
SCHEMA_HEAD = "0005"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


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


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema (also creates a new one)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def ensure_schema(engine: Engine, path: Path) -> None:
    """Upgrade an older project file in place; refuse one made by a newer Tagloop."""
    revision = current_revision(engine)
    if revision == SCHEMA_HEAD:
        return
    if revision is None:
        raise ProjectError(f"{path}: not a Tagloop project (no schema revision found)")
    if revision.isdigit() and int(revision) > int(SCHEMA_HEAD):
        raise ProjectError(
            f"{path}: made by a newer Tagloop (schema {revision}, this version knows "
            f"{SCHEMA_HEAD}); update Tagloop to open it"
        )
    upgrade(engine)
