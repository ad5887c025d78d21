"""predictions keyed by (model version, datapoint), WITHOUT ROWID, no score index

Revision ID: 0005
Revises: 0004

Why: a rescore writes a whole new version of predictions and then drops the old one. With
the key (datapoint, version) every new row went between two old ones, in two b-trees (the
table and its key index), and the queue-order index took each score at a random place; a
million rows cost 3.7 s of SQLite work on top of scoring. Keyed by version first, a new
version is appended at the end of one b-tree and the old one is a range at its front.
The score index is dropped: the queue sorts its join in one pass and never used it.

The link to the datapoint is no longer a foreign key: a cascade from datapoint needs an
index on datapoint_id, which is the interleaved b-tree this removes. Predictions are a
derived cache; removing a dataset deletes its predictions explicitly
(app.core.io.datasets.remove_dataset). The link to the model version stays a foreign key.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = "model_version_id, datapoint_id, value, confidence, score"


def upgrade() -> None:
    op.execute(
        "CREATE TABLE prediction_new ("
        " model_version_id INTEGER NOT NULL"
        " REFERENCES model_version (id) ON DELETE CASCADE,"
        " datapoint_id INTEGER NOT NULL,"
        " value TEXT NOT NULL,"
        " confidence FLOAT NOT NULL,"
        " score FLOAT,"
        " PRIMARY KEY (model_version_id, datapoint_id)"
        ") WITHOUT ROWID"
    )
    op.execute(
        f"INSERT INTO prediction_new ({COLUMNS}) SELECT {COLUMNS} FROM prediction"
        " ORDER BY model_version_id, datapoint_id"
    )
    op.execute("DROP TABLE prediction")
    op.execute("ALTER TABLE prediction_new RENAME TO prediction")


def downgrade() -> None:
    op.execute(
        "CREATE TABLE prediction_old ("
        " datapoint_id INTEGER NOT NULL REFERENCES datapoint (id) ON DELETE CASCADE,"
        " model_version_id INTEGER NOT NULL REFERENCES model_version (id) ON DELETE CASCADE,"
        " value TEXT NOT NULL,"
        " confidence FLOAT NOT NULL,"
        " score FLOAT,"
        " PRIMARY KEY (datapoint_id, model_version_id)"
        ")"
    )
    op.execute(
        f"INSERT INTO prediction_old ({COLUMNS}) SELECT {COLUMNS} FROM prediction"
        " WHERE datapoint_id IN (SELECT id FROM datapoint)"
    )
    op.execute("DROP TABLE prediction")
    op.execute("ALTER TABLE prediction_old RENAME TO prediction")
    op.execute("CREATE INDEX ix_prediction_score ON prediction (model_version_id, score)")
