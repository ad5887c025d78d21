"""bundles: annotation history, project file metadata, merge provenance

Revision ID: 0002
Revises: 0001
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    # Every project file is its own replica: bundles say which replica they came from.
    op.execute(
        sa.text("INSERT INTO project_meta (key, value) VALUES ('replica', :value)").bindparams(
            value=uuid.uuid4().hex
        )
    )
    op.create_table(
        "annotation_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("annotation_uuid", sa.String(length=32), nullable=False),
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("schema_version_id", sa.Integer(), nullable=False),
        sa.Column("time_spent_ms", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["annotator_id"], ["annotator.id"]),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["schema_version_id"], ["schema_version.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_index(
        "ix_annotation_history_datapoint",
        "annotation_history",
        ["datapoint_id", "annotator_id"],
        unique=False,
    )
    # A nullable column: SQLite adds it without rewriting the table.
    op.add_column("annotation", sa.Column("synced_from", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("annotation", schema=None) as batch_op:
        batch_op.drop_column("synced_from")
    op.drop_index("ix_annotation_history_datapoint", table_name="annotation_history")
    op.drop_table("annotation_history")
    op.drop_table("project_meta")
