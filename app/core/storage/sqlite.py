"""What ties Tagloop to SQLite, in one place: the driver connection under SQLAlchemy.

Code that needs SQLite's own API (bulk paths on the raw driver, progress handlers) gets the
connection here, so that a move to another database finds every such place through this module.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import Connection


def driver_connection(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLAlchemy connection (inside its transaction)."""
    return conn.connection.driver_connection  # type: ignore[return-value]
