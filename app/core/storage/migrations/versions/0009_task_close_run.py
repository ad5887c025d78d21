"""task.close_run_id: a reassignment closes the moved tasks when its run publishes

Revision ID: 0009
Revises: 0008

Why: reassigning 500,000 open tasks wrote the target's new tasks as a write run in short
chunks, but closed the moved tasks in its last transaction (one UPDATE that held the write
lock 6.4 s), because they must turn closed at the moment the new ones appear. Now the run
marks them in short chunks (close_run_id = the run: a mark of an unpublished run means
nothing), every task read counts a task marked by a published run as closed, and short steps
after publishing write status 'cancelled' and clear the mark (app.core.storage.runs). Existing
rows carry no mark (NULL). The partial index finds the marks without touching other tasks.

Frozen like every landed migration: the statements are spelled out here, not imported.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE task ADD COLUMN close_run_id INTEGER")
    # with the status: the run's last transaction counts its marked tasks still open from
    # the index alone
    op.execute(
        "CREATE INDEX ix_task_close_run ON task (close_run_id, status)"
        " WHERE close_run_id IS NOT NULL"
    )


def downgrade() -> None:
    # A mark of a published run is a close not written yet: write it; others mean nothing.
    op.execute(
        "UPDATE task SET status = 'cancelled' WHERE close_run_id IN"
        " (SELECT id FROM write_run WHERE state = 0)"
    )
    op.execute("DROP INDEX ix_task_close_run")
    op.execute("ALTER TABLE task DROP COLUMN close_run_id")
