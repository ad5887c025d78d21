"""write_run, task.run_id, annotation.run_id: long writes of tasks and annotations in chunks

Revision ID: 0008
Revises: 0007

Why: an assignment of a million datapoints, an automation run and an adjudication round each
wrote their tasks and annotations in one transaction that held the project's write lock for
20-90 s. They now commit in short chunks under a run in state 1 (loading): every read of tasks
and annotations leaves out the rows of an unpublished run (app.core.storage.runs), and the
run's last short transaction flips it to 0 (published). `loader` names the writing process,
as dataset.loader does, so that opening the project removes the rows of a run whose process
is gone. Existing rows belong to no run (NULL): they are published.

Frozen like every landed migration: the statements are spelled out here, not imported.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE write_run ("
        " id INTEGER NOT NULL PRIMARY KEY,"
        " kind VARCHAR(16) NOT NULL,"
        " state INTEGER NOT NULL DEFAULT 1,"
        " loader TEXT,"
        " created_at VARCHAR(32) NOT NULL)"
    )
    op.execute("ALTER TABLE task ADD COLUMN run_id INTEGER")
    op.execute("ALTER TABLE annotation ADD COLUMN run_id INTEGER")
    op.execute("CREATE INDEX ix_task_run ON task (run_id) WHERE run_id IS NOT NULL")
    op.execute("CREATE INDEX ix_annotation_run ON annotation (run_id) WHERE run_id IS NOT NULL")


def downgrade() -> None:
    # Rows of an unfinished run would become visible: remove them first.
    op.execute(
        "DELETE FROM annotation_label WHERE annotation_id IN (SELECT id FROM annotation"
        " WHERE run_id IN (SELECT id FROM write_run WHERE state <> 0))"
    )
    op.execute("DELETE FROM annotation WHERE run_id IN (SELECT id FROM write_run WHERE state <> 0)")
    op.execute("DELETE FROM task WHERE run_id IN (SELECT id FROM write_run WHERE state <> 0)")
    op.execute("DROP INDEX ix_annotation_run")
    op.execute("DROP INDEX ix_task_run")
    op.execute("ALTER TABLE annotation DROP COLUMN run_id")
    op.execute("ALTER TABLE task DROP COLUMN run_id")
    op.execute("DROP TABLE write_run")
