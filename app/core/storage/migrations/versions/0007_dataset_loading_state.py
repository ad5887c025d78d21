"""dataset.state and dataset.loader: an import commits in chunks, unseen until it is published

Revision ID: 0007
Revises: 0006

Why: an import used to be one transaction that held the project's write lock for as long as
it ran (25 s for 500k rows), which made every other writer wait. It now commits its rows in
short chunks under a dataset in state 1 (loading), which every read that enumerates or counts
datapoints leaves out (app.core.storage.visibility), and flips it to 0 (ready) in its last
short transaction. `loader` names the process that is loading it (host, pid, process start,
as in the temporary files' names of app.core.fileio), so that opening the project can remove
the rows of an import whose process is gone. Every existing dataset is ready.

Frozen like every landed migration: the statements are spelled out here, not imported.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE dataset ADD COLUMN state INTEGER NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE dataset ADD COLUMN loader TEXT")


def downgrade() -> None:
    # Rows of an unfinished import would become visible: remove them first.
    op.execute("DELETE FROM dataset WHERE state <> 0")
    op.execute("ALTER TABLE dataset DROP COLUMN loader")
    op.execute("ALTER TABLE dataset DROP COLUMN state")
