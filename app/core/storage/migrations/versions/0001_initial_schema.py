"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 23:44:17.665756

`upgrade` creates the tables group by group, in dependency order. The full-text index (FTS5,
with its trigger) is SQLite's own: this migration is tied to SQLite there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table of the first release, in dependency order."""
    _create_standalone_tables()
    _create_provenance_tables()
    _create_datapoint_table()
    _create_annotation_tables()
    _create_prediction_table()
    _create_task_table()
    _create_annotation_label_table()
    _create_full_text_search()


def _create_standalone_tables() -> None:
    """Tables that reference no other: annotators, model versions, the project, its inputs."""
    op.create_table(
        "annotator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_table(
        "model_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("label_count", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("task_type", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("app_version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_table(
        "project_input",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("annotated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def _create_provenance_tables() -> None:
    """The audit trail, datasets and label schema versions: each names the annotator behind it."""
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_uuid", sa.String(length=32), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["annotator.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("mapping", sa.Text(), nullable=False),
        sa.Column("label_column", sa.Text(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("duplicate_count", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.String(length=32), nullable=False),
        sa.Column("imported_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["imported_by"],
            ["annotator.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_table(
        "schema_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("guidelines", sa.Text(), nullable=False),
        sa.Column("allow_overlap", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["annotator.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
        sa.UniqueConstraint("version"),
    )


def _create_datapoint_table() -> None:
    """The datapoints of every dataset, with the indexes that page and filter them."""
    op.create_table(
        "datapoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("datapoint", schema=None) as batch_op:
        batch_op.create_index("ix_datapoint_dataset", ["dataset_id", "id"], unique=False)
        batch_op.create_index("ix_datapoint_id", ["id"], unique=False)
        batch_op.create_index(
            "ix_datapoint_flagged", ["id"], unique=False, sqlite_where=sa.text("flagged = 1")
        )
        batch_op.create_index("ix_datapoint_status", ["status", "id"], unique=False)


def _create_annotation_tables() -> None:
    """What annotators say of a datapoint: annotations, comments and flags."""
    op.create_table(
        "annotation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("schema_version_id", sa.Integer(), nullable=False),
        sa.Column("time_spent_ms", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotator.id"],
        ),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["schema_version_id"],
            ["schema_version.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "datapoint_id", "annotator_id", name="uq_annotation_datapoint_annotator"
        ),
        sa.UniqueConstraint("uuid"),
    )
    op.create_table(
        "comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotator.id"],
        ),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_table(
        "flag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("resolved_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotator.id"],
        ),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )


def _create_prediction_table() -> None:
    """The model's predictions (revision 0005 rekeys them by model version)."""
    op.create_table(
        "prediction",
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_version.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("datapoint_id", "model_version_id"),
    )
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.create_index("ix_prediction_score", ["model_version_id", "score"], unique=False)


def _create_task_table() -> None:
    """Tasks: one datapoint for one annotator."""
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotator.id"],
        ),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_annotator", ["annotator_id", "status"], unique=False)


def _create_annotation_label_table() -> None:
    """One row per label of an annotation, to count and filter by label."""
    op.create_table(
        "annotation_label",
        sa.Column("annotation_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("datapoint_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["annotation_id"], ["annotation.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["datapoint_id"], ["datapoint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("annotation_id", "label"),
    )
    with op.batch_alter_table("annotation_label", schema=None) as batch_op:
        batch_op.create_index("ix_annotation_label_datapoint", ["datapoint_id"], unique=False)
        batch_op.create_index("ix_annotation_label_label", ["label", "datapoint_id"], unique=False)


def _create_full_text_search() -> None:
    """The FTS5 index of the annotated input, and the trigger that keeps it honest (SQLite only)."""
    # Full-text search over the annotated input. External content (no second copy of the
    # text); detail='none' keeps the index small and fast to build, and phrase searches are
    # checked against the text itself (app.core.annotation.browse).
    op.execute(
        "CREATE VIRTUAL TABLE datapoint_fts USING fts5("
        "text, content='datapoint', content_rowid='id', detail='none')"
    )
    # The index is built after an import commits, in chunks (app.core.storage.fts): datapoints
    # with an id above `indexed_upto` are not in it yet, and search scans them directly. Deleting a
    # row removes it from the index only if it is there; deleting the newest rows lowers the
    # mark, so that ids reused by the next import are indexed too.
    op.execute(
        "CREATE TABLE datapoint_fts_state ("
        "id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL)"
    )
    op.execute("INSERT INTO datapoint_fts_state (id, indexed_upto) VALUES (1, 0)")
    op.execute(
        "CREATE TRIGGER datapoint_fts_delete AFTER DELETE ON datapoint BEGIN "
        "INSERT INTO datapoint_fts(datapoint_fts, rowid, text) SELECT 'delete', old.id, old.text"
        " WHERE old.id <= (SELECT indexed_upto FROM datapoint_fts_state WHERE id = 1);"
        " UPDATE datapoint_fts_state"
        " SET indexed_upto = (SELECT coalesce(max(id), 0) FROM datapoint)"
        " WHERE id = 1 AND indexed_upto > (SELECT coalesce(max(id), 0) FROM datapoint);"
        " END"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS datapoint_fts_delete")
    op.execute("DROP TABLE IF EXISTS datapoint_fts_state")
    op.execute("DROP TABLE IF EXISTS datapoint_fts")
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("annotation_label", schema=None) as batch_op:
        batch_op.drop_index("ix_annotation_label_label")
        batch_op.drop_index("ix_annotation_label_datapoint")

    op.drop_table("annotation_label")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index("ix_task_annotator")

    op.drop_table("task")
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_score")
    op.drop_table("prediction")
    op.drop_table("flag")
    op.drop_table("comment")
    op.drop_table("annotation")
    with op.batch_alter_table("datapoint", schema=None) as batch_op:
        batch_op.drop_index("ix_datapoint_status")
        batch_op.drop_index("ix_datapoint_id")
        batch_op.drop_index("ix_datapoint_flagged", sqlite_where=sa.text("flagged = 1"))
        batch_op.drop_index("ix_datapoint_dataset")

    op.drop_table("datapoint")
    op.drop_table("schema_version")
    op.drop_table("dataset")
    op.drop_table("audit_event")
    op.drop_table("project_input")
    op.drop_table("project")
    op.drop_table("model_version")
    op.drop_table("annotator")
    # ### end Alembic commands ###
