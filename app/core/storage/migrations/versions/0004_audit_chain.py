"""audit trail: hash-chained audit events (prev_hash, hash), backfilled in id order

Revision ID: 0004
Revises: 0003

The hashing is frozen here on purpose (a migration must not change when app code does); it is
the same as app.core.audit.chain.event_hash, and a test checks that the backfill verifies.
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
BATCH = 5000


def _hash(prev: str, fields: tuple) -> str:
    body = json.dumps(list(fields), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev + body).encode("utf-8")).hexdigest()


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_event", sa.Column("hash", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    prev, last_id = GENESIS, 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT e.id, e.uuid, e.at, a.uuid, e.action, e.entity, e.entity_uuid, e.before,"
                " e.after FROM audit_event e LEFT JOIN annotator a ON a.id = e.actor_id"
                " WHERE e.id > :last ORDER BY e.id LIMIT :n"
            ),
            {"last": last_id, "n": BATCH},
        ).all()
        if not rows:
            break
        updates = []
        for row in rows:
            digest = _hash(prev, tuple(row[1:]))
            updates.append({"id": row[0], "prev": prev, "hash": digest})
            prev, last_id = digest, row[0]
        conn.execute(
            sa.text("UPDATE audit_event SET prev_hash = :prev, hash = :hash WHERE id = :id"),
            updates,
        )
    # Two events can never follow the same one: a forked chain is refused by the database.
    op.create_index("ix_audit_event_prev_hash", "audit_event", ["prev_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_audit_event_prev_hash", table_name="audit_event")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
