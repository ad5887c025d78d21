"""repair files made by the first releases: search-index state, its delete trigger, the id index

Revision ID: 0006
Revises: 0005

Migration 0001 was edited in place after its first release (before the rule that a landed
migration is frozen: tests/unit/test_migrations_frozen.py). A file made by the first
command-line version is stamped 0001 but lacks what was added to it later:

- the index `ix_datapoint_id` (added with the id-only browse pages);
- the table `datapoint_fts_state`, which marks how far the search index is built (added when
  the index began to be built after an import commits), and the delete trigger that reads it:
  such a file has the first trigger, which deletes every removed row from the index.

Such a file upgrades to 0005 with its data intact, but import then fails ("no such table:
datapoint_fts_state") and search raises. This migration adds what is missing, and does nothing
to a file that has it (every file made since). The first releases indexed every row in the
import's own transaction; rather than trust that index, it is emptied and marked unbuilt:
app.core.storage.fts.index_pending builds it again in chunks (the window does so when the
project opens, an import does so after it commits), and search scans unindexed rows meanwhile.

Frozen like every landed migration: the statements are spelled out here, not imported.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The same text as in 0001 today, so a repaired file has the schema of a new one.
DELETE_TRIGGER = (
    "CREATE TRIGGER datapoint_fts_delete AFTER DELETE ON datapoint BEGIN "
    "INSERT INTO datapoint_fts(datapoint_fts, rowid, text) SELECT 'delete', old.id, old.text"
    " WHERE old.id <= (SELECT indexed_upto FROM datapoint_fts_state WHERE id = 1);"
    " UPDATE datapoint_fts_state"
    " SET indexed_upto = (SELECT coalesce(max(id), 0) FROM datapoint)"
    " WHERE id = 1 AND indexed_upto > (SELECT coalesce(max(id), 0) FROM datapoint);"
    " END"
)


def _objects(conn: sa.Connection) -> dict[str, str]:
    """name: CREATE statement of every table, index and trigger in the file."""
    rows = conn.exec_driver_sql("SELECT name, coalesce(sql, '') FROM sqlite_master").all()
    return {name: sql for name, sql in rows}


def upgrade() -> None:
    conn = op.get_bind()
    found = _objects(conn)
    if "ix_datapoint_id" not in found:
        op.create_index("ix_datapoint_id", "datapoint", ["id"], unique=False)
    if "datapoint_fts_state" not in found:
        op.execute(
            "CREATE TABLE datapoint_fts_state ("
            "id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL)"
        )
        # Nothing is marked indexed: empty the index so that it is built again from the rows.
        op.execute("INSERT INTO datapoint_fts(datapoint_fts) VALUES ('delete-all')")
        op.execute("INSERT INTO datapoint_fts_state (id, indexed_upto) VALUES (1, 0)")
    if "datapoint_fts_state" not in found.get("datapoint_fts_delete", ""):
        op.execute("DROP TRIGGER IF EXISTS datapoint_fts_delete")
        op.execute(DELETE_TRIGGER)


def downgrade() -> None:
    """Nothing: the repaired objects are those of 0001 as it stands, which downgrading keeps."""
