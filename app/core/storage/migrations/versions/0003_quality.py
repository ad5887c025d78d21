"""quality workflows: adjudication, review decisions, custom statuses, gold, qualification

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UUID = sa.String(length=32)
AT = sa.String(length=32)


def upgrade() -> None:
    """Create the quality tables, group by group."""
    _create_adjudication_and_review_tables()
    _create_custom_status_table()
    _create_gold_table()
    _create_qualification_tables()


def _create_adjudication_and_review_tables() -> None:
    """Adjudicated values and reviewers' decisions on annotations, with their lookup indexes."""
    op.create_table(
        "adjudication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", UUID, nullable=False),
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=False),
        sa.Column("decided_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["decided_by"], ["annotator.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_index("ix_adjudication_datapoint", "adjudication", ["datapoint_id"])
    op.create_table(
        "review_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", UUID, nullable=False),
        sa.Column("annotation_uuid", UUID, nullable=False),
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("correction_uuid", UUID, nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["annotator.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_index(
        "ix_review_decision_annotation", "review_decision", ["annotation_uuid", "created_at"]
    )
    op.create_index("ix_review_decision_datapoint", "review_decision", ["datapoint_id"])


def _create_custom_status_table() -> None:
    """The project's own review statuses, each counting as a built-in review decision."""
    op.create_table(
        "custom_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", UUID, nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("counts_as", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )


def _create_gold_table() -> None:
    """Gold items: datapoints with a known answer."""
    op.create_table(
        "gold_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", UUID, nullable=False),
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["annotator.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
        sa.UniqueConstraint("datapoint_id"),
    )


def _create_qualification_tables() -> None:
    """Qualification sets, their items, and each annotator's recorded result."""
    op.create_table(
        "qualification_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", UUID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("pass_score", sa.Float(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["annotator.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_table(
        "qualification_item",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["qualification_set.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("set_id", "datapoint_id"),
    )
    op.create_table(
        "qualification_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", UUID, nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["qualification_set.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["annotator_id"], ["annotator.id"]),
        sa.ForeignKeyConstraint(["recorded_by"], ["annotator.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_index(
        "ix_qualification_result_annotator", "qualification_result", ["annotator_id", "set_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_qualification_result_annotator", table_name="qualification_result")
    op.drop_table("qualification_result")
    op.drop_table("qualification_item")
    op.drop_table("qualification_set")
    op.drop_table("gold_item")
    op.drop_table("custom_status")
    op.drop_index("ix_review_decision_datapoint", table_name="review_decision")
    op.drop_index("ix_review_decision_annotation", table_name="review_decision")
    op.drop_table("review_decision")
    op.drop_index("ix_adjudication_datapoint", table_name="adjudication")
    op.drop_table("adjudication")
