"""The bulk-write transaction on the raw driver (app.core.storage.sqlite.bulk_write)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, event

from app.core.errors import Cancelled, ProjectError
from app.core.storage.sqlite import bulk_write


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
    yield engine
    engine.dispose()


def _names(engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT name FROM item ORDER BY id")]


def _refused(exc: sqlite3.OperationalError) -> Exception:
    return ProjectError(f"refused ({exc})")


def test_the_block_commits_and_pragmas_come_back(engine):
    with engine.connect() as sa_conn:
        with bulk_write(sa_conn, lambda: False, _refused, pragmas={"foreign_keys": "OFF"}) as conn:
            assert conn.in_transaction
            assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 0
            conn.executemany("INSERT INTO item (name) VALUES (?)", [("a",), ("b",)])
        assert sa_conn.connection.driver_connection.execute("PRAGMA foreign_keys").fetchone()[0]
    assert _names(engine) == ["a", "b"]


def test_an_error_rolls_everything_back(engine):
    with (
        engine.connect() as sa_conn,
        pytest.raises(RuntimeError),
        bulk_write(sa_conn, lambda: False, _refused) as conn,
    ):
        conn.execute("INSERT INTO item (name) VALUES ('a')")
        raise RuntimeError("boom")
    assert _names(engine) == []


def test_a_database_refusal_is_raised_as_the_callers_error(engine):
    with (
        engine.connect() as sa_conn,
        pytest.raises(ProjectError, match="refused"),
        bulk_write(sa_conn, lambda: False, _refused) as conn,
    ):
        conn.execute("INSERT INTO item (name) VALUES ('a')")
        conn.execute("INSERT INTO no_such_table VALUES (1)")
    assert _names(engine) == []


def test_a_cancel_interrupts_the_running_statement_and_writes_nothing(engine):
    cancelled = {"now": False}
    with (
        engine.connect() as sa_conn,
        pytest.raises(Cancelled),
        bulk_write(sa_conn, lambda: cancelled["now"], _refused, cancel_every=100) as conn,
    ):
        conn.execute("INSERT INTO item (name) VALUES ('a')")
        cancelled["now"] = True
        # A long statement: the progress handler stops it midway.
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000)"
            " INSERT INTO item (name) SELECT 'x' FROM n"
        )
    assert _names(engine) == []


def test_the_write_lock_is_taken_at_the_start(engine):
    with engine.connect() as sa_conn, bulk_write(sa_conn, lambda: False, _refused):
        other = sqlite3.connect(engine.url.database, timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
