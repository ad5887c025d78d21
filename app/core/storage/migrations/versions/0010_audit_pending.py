"""audit_pending: a bundle merge's audit events, staged before its lock, chained after it

Revision ID: 0010
Revises: 0009

Why: a merge carrying 100,000 audit events held the write lock 2.9 s, nearly all of it
inserting and hashing the events in its last transaction (they are a hash chain whose every
link covers the previous event's hash, so they could only be linked once the head was known
under the lock). Now the merge writes them here first, in short chunks, under its write run
(run_id: unseen, and removed with the run if it never publishes); its last
transaction only publishes the run, and short steps afterwards append them to audit_event in
merge order (seq), each step linking its chunk onto the chain's head under its own short lock
(app.core.audit.pending). A published run's rows left by a kill are appended on the next open.
The actor is kept by UUID: a new annotator of the bundle has no id until the merge publishes.
Existing files hold no pending event.

Frozen like every landed migration: the statements are spelled out here, not imported.
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE audit_pending ("
        " run_id INTEGER NOT NULL REFERENCES write_run (id) ON DELETE CASCADE,"
        " seq INTEGER NOT NULL,"
        " uuid VARCHAR(32) NOT NULL,"
        " at VARCHAR(32) NOT NULL,"
        " actor_uuid VARCHAR(32),"
        " action VARCHAR(32) NOT NULL,"
        " entity VARCHAR(32) NOT NULL,"
        " entity_uuid VARCHAR(32),"
        " before TEXT,"
        " after TEXT,"
        " PRIMARY KEY (run_id, seq))"
    )


def downgrade() -> None:
    # Pending events of a published merge would be lost with the table: refuse instead.
    rows = op.get_bind().exec_driver_sql(
        "SELECT count(*) FROM audit_pending p JOIN write_run w ON w.id = p.run_id WHERE w.state = 0"
    )
    if rows.scalar():
        raise RuntimeError(
            "audit events of a merge are still waiting to join the audit chain: open the"
            " project with this version once to finish them, then downgrade"
        )
    op.execute("DROP TABLE audit_pending")
