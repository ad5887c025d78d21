"""The project database schema (SQLAlchemy Core). Changes go through Alembic migrations.

Everything that travels between machines carries a UUID (32 hex characters). A datapoint's
UUID is name-based: uuid5(dataset UUID, row number), so a million rows need no random UUID
column and no unique index to stay globally identifiable (see `app.core.ids`).
"""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

UUID = String(32)

project = Table(
    "project",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("task_type", String(20), nullable=False),
    Column("language", String(16), nullable=False, default="en"),
    Column("created_at", String(32), nullable=False),
    Column("app_version", String(32), nullable=False),
)

# The project's inputs: exactly one is annotated, the others are shown as context.
project_input = Table(
    "project_input",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("annotated", Boolean, nullable=False, default=False),
)

# Label schema and guidelines, versioned: an edit adds a row, annotations keep their version.
schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("version", Integer, nullable=False, unique=True),
    Column("labels", Text, nullable=False),  # JSON list of {name, colour, hotkey, description}
    Column("guidelines", Text, nullable=False, default=""),
    Column("allow_overlap", Boolean, nullable=False, default=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", ForeignKey("annotator.id"), nullable=True),
)

annotator = Table(
    "annotator",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("role", String(16), nullable=False, default="annotator"),
    Column("created_at", String(32), nullable=False),
)

dataset = Table(
    "dataset",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("source_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("format", String(8), nullable=False),
    Column("mapping", Text, nullable=False),  # JSON {column: input}
    Column("label_column", Text, nullable=True),
    Column("row_count", Integer, nullable=False, default=0),
    Column("duplicate_count", Integer, nullable=False, default=0),
    Column("imported_at", String(32), nullable=False),
    Column("imported_by", ForeignKey("annotator.id"), nullable=True),
    # 0 ready, 1 loading: an import's rows stay unseen until it publishes them
    # (app.core.storage.visibility); `loader` names the importing process (host-pid-start).
    Column("state", Integer, nullable=False, server_default=text("0")),
    Column("loader", Text, nullable=True),
)

# status: 0 unlabeled, 1 labeled, 2 skipped, 3 discarded (derived from annotations, kept for
# fast filtering). `row` is the record's position in its file, from 1.
datapoint = Table(
    "datapoint",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", ForeignKey("dataset.id", ondelete="CASCADE"), nullable=False),
    Column("row", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("context", Text, nullable=True),  # JSON {input: value} for the context inputs
    Column("status", Integer, nullable=False, default=0),
    Column("flagged", Boolean, nullable=False, default=False),
    Index("ix_datapoint_dataset", "dataset_id", "id"),
    Index("ix_datapoint_status", "status", "id"),
    Index("ix_datapoint_flagged", "id", sqlite_where=text("flagged = 1")),
    # A narrow index of ids alone: deep OFFSETs in id order skip index entries, not text pages.
    Index("ix_datapoint_id", "id"),
)

annotation = Table(
    "annotation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("datapoint_id", ForeignKey("datapoint.id", ondelete="CASCADE"), nullable=False),
    Column("annotator_id", ForeignKey("annotator.id"), nullable=False),
    Column("value", Text, nullable=True),  # JSON: a label, a list of labels, or spans
    Column("status", String(16), nullable=False),  # complete, skipped, discarded
    Column("schema_version_id", ForeignKey("schema_version.id"), nullable=False),
    Column("time_spent_ms", Integer, nullable=False, default=0),
    Column("origin", String(16), nullable=False, default="human"),  # human, imported, suggestion
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    # "REPLICA@UPDATED_AT" when this version arrived by a bundle merge (app.core.bundle.merge):
    # a later version from the same replica then follows it rather than conflicting with it.
    Column("synced_from", Text, nullable=True),
    UniqueConstraint("datapoint_id", "annotator_id", name="uq_annotation_datapoint_annotator"),
    # the write run (app.core.storage.runs) that wrote it, unseen until the run is published;
    # NULL for a row written in one short transaction
    Column("run_id", Integer, nullable=True),
    Index("ix_annotation_run", "run_id", sqlite_where=text("run_id IS NOT NULL")),
)

# Superseded versions of annotations, kept when a bundle merge replaces one with a newer
# version (or brings an older one), so that no version is ever lost silently. The UUID is
# name-based on the version's content, so merging the same version twice keeps one row.
annotation_history = Table(
    "annotation_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("annotation_uuid", UUID, nullable=False),
    Column("datapoint_id", ForeignKey("datapoint.id", ondelete="CASCADE"), nullable=False),
    Column("annotator_id", ForeignKey("annotator.id"), nullable=False),
    Column("value", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("schema_version_id", ForeignKey("schema_version.id"), nullable=False),
    Column("time_spent_ms", Integer, nullable=False, default=0),
    Column("origin", String(16), nullable=False, default="human"),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("reason", String(16), nullable=False),  # conflict, superseded
    Index("ix_annotation_history_datapoint", "datapoint_id", "annotator_id"),
)

# One row per label an annotation carries: makes "filter by label" an index lookup.
annotation_label = Table(
    "annotation_label",
    metadata,
    Column("annotation_id", ForeignKey("annotation.id", ondelete="CASCADE"), primary_key=True),
    Column("label", Text, primary_key=True),
    Column("datapoint_id", ForeignKey("datapoint.id", ondelete="CASCADE"), nullable=False),
    Index("ix_annotation_label_label", "label", "datapoint_id"),
    Index("ix_annotation_label_datapoint", "datapoint_id"),
)

task = Table(
    "task",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("datapoint_id", ForeignKey("datapoint.id", ondelete="CASCADE"), nullable=False),
    Column("annotator_id", ForeignKey("annotator.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # label, review, adjudicate, gold, qualification
    Column("status", String(16), nullable=False, default="todo"),
    Column("created_at", String(32), nullable=False),
    Index("ix_task_annotator", "annotator_id", "status"),
    Column("run_id", Integer, nullable=True),  # as annotation.run_id
    Index("ix_task_run", "run_id", sqlite_where=text("run_id IS NOT NULL")),
    # a reassignment's run (app.core.storage.runs) that closes this task when it publishes:
    # a mark of a published run counts as cancelled until the close settle writes it
    Column("close_run_id", Integer, nullable=True),
    Index(
        "ix_task_close_run", "close_run_id", "status", sqlite_where=text("close_run_id IS NOT NULL")
    ),
)

# A long write of tasks or annotations (an assignment, an automation run...) committed in
# short chunks: state 1 (loading) until its last transaction publishes it (0); `loader`
# names the writing process, as dataset.loader does (app.core.storage.runs).
write_run = Table(
    "write_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("state", Integer, nullable=False, server_default=text("1")),
    Column("loader", Text, nullable=True),
    Column("created_at", String(32), nullable=False),
)

comment = Table(
    "comment",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("datapoint_id", ForeignKey("datapoint.id", ondelete="CASCADE"), nullable=False),
    Column("annotator_id", ForeignKey("annotator.id"), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

flag = Table(
    "flag",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("datapoint_id", ForeignKey("datapoint.id", ondelete="CASCADE"), nullable=False),
    Column("annotator_id", ForeignKey("annotator.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("resolved_at", String(32), nullable=True),
)

model_version = Table(
    "model_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("label_count", Integer, nullable=False),
    Column("metrics", Text, nullable=False, default="{}"),  # JSON
    Column("format", String(32), nullable=False),  # a safe serialisation, never pickle
    Column("artifact", LargeBinary, nullable=True),
)

prediction = Table(
    "prediction",
    metadata,
    # keyed by version first: a rescore appends a version, dropping the old one is a range
    # (migration 0005). datapoint_id is not a foreign key: predictions are a derived cache,
    # and removing a dataset deletes its predictions itself (app.core.io.datasets).
    Column(
        "model_version_id",
        ForeignKey("model_version.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("datapoint_id", Integer, primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("confidence", Float, nullable=False),
    Column("score", Float, nullable=True),  # active-learning priority
    sqlite_with_rowid=False,
)

audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("at", String(32), nullable=False),
    Column("actor_id", ForeignKey("annotator.id"), nullable=True),
    Column("action", String(32), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_uuid", UUID, nullable=True),
    Column("before", Text, nullable=True),  # JSON
    Column("after", Text, nullable=True),  # JSON
    # A hash chain per project file (schema 0004; see app.core.audit.chain):
    # hash = sha256(prev_hash + canonical JSON of the event), prev_hash = the previous event's hash
    # (by id). Unique, so two writers can never fork the chain.
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=True),
    Index("ix_audit_event_prev_hash", "prev_hash", unique=True),
)

# A bundle merge's audit events, written before its last transaction under a write run of its
# own and appended to audit_event (linked onto the chain) in short steps once the run is
# published (schema 0010; app.core.audit.pending). seq is the merge order; the actor is a
# UUID, as a new annotator of the bundle has no id before the publish.
audit_pending = Table(
    "audit_pending",
    metadata,
    Column(
        "run_id", ForeignKey("write_run.id", ondelete="CASCADE"), primary_key=True, nullable=False
    ),
    Column("seq", Integer, primary_key=True, nullable=False),
    Column("uuid", UUID, nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor_uuid", UUID, nullable=True),
    Column("action", String(32), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_uuid", UUID, nullable=True),
    Column("before", Text, nullable=True),  # JSON
    Column("after", Text, nullable=True),  # JSON
)

# -- Quality workflows (schema 0003; see app.core.quality.consensus, review, gold) ---------
# Every row here is insert-only or settles by a rule that does not depend on merge order, so
# bundles merge idempotently: the newest row by (time, uuid) wins where one value is needed.

# An adjudicator's final value for a datapoint. Kept apart from annotations, so the decision is
# never confused with the adjudicator's own labeling; re-adjudicating adds a row (the newest
# by (decided_at, uuid) is the final value, the others are the history).
adjudication = Table(
    "adjudication",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("datapoint_id", ForeignKey("datapoint.id", ondelete="CASCADE"), nullable=False),
    Column("value", Text, nullable=False),  # JSON, as an annotation value
    Column("decided_by", ForeignKey("annotator.id"), nullable=False),
    Column("decided_at", String(32), nullable=False),
    Index("ix_adjudication_datapoint", "datapoint_id"),
)

# A reviewer's decision on one annotation (by its UUID, which stays the same across versions):
# approve, reject (with a reason), discard, or a custom status. A correction is the reviewer's
# own annotation (origin 'review') on the same datapoint, linked here by its UUID. The newest
# decision by (created_at, uuid) is the annotation's current review state.
review_decision = Table(
    "review_decision",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("annotation_uuid", UUID, nullable=False),
    Column("datapoint_id", ForeignKey("datapoint.id", ondelete="CASCADE"), nullable=False),
    Column("reviewer_id", ForeignKey("annotator.id"), nullable=False),
    Column("decision", String(32), nullable=False),
    Column("reason", Text, nullable=True),
    Column("correction_uuid", UUID, nullable=True),
    Column("created_at", String(32), nullable=False),
    Index("ix_review_decision_annotation", "annotation_uuid", "created_at"),
    Index("ix_review_decision_datapoint", "datapoint_id"),
)

# Review statuses a project defines beyond approve/reject/discard; each counts as one of them
# for the derived task status (a custom status counting as 'reject' is an open issue).
custom_status = Table(
    "custom_status",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("name", String(32), nullable=False),
    Column("counts_as", String(16), nullable=False),  # approve, reject, discard
    Column("description", Text, nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
)

# Gold (honeypot) items: datapoints whose correct answer is known. Never in assignment bundles.
gold_item = Table(
    "gold_item",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column(
        "datapoint_id",
        ForeignKey("datapoint.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("value", Text, nullable=False),  # JSON
    Column("created_by", ForeignKey("annotator.id"), nullable=True),
    Column("created_at", String(32), nullable=False),
)

# A qualification set: gold items a new annotator must score at least pass_score on.
qualification_set = Table(
    "qualification_set",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("pass_score", Float, nullable=False),
    Column("created_by", ForeignKey("annotator.id"), nullable=True),
    Column("created_at", String(32), nullable=False),
)

qualification_item = Table(
    "qualification_item",
    metadata,
    Column("set_id", ForeignKey("qualification_set.id", ondelete="CASCADE"), primary_key=True),
    Column("datapoint_id", ForeignKey("datapoint.id", ondelete="CASCADE"), primary_key=True),
)

# A recorded qualification score; the newest by (recorded_at, uuid) is the annotator's result.
qualification_result = Table(
    "qualification_result",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID, nullable=False, unique=True),
    Column("set_id", ForeignKey("qualification_set.id", ondelete="CASCADE"), nullable=False),
    Column("annotator_id", ForeignKey("annotator.id"), nullable=False),
    Column("score", Float, nullable=False),
    Column("correct", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("recorded_by", ForeignKey("annotator.id"), nullable=True),
    Column("recorded_at", String(32), nullable=False),
    Index("ix_qualification_result_annotator", "annotator_id", "set_id"),
)

# Facts about this project *file* (not the project): its replica id, what bundle it was opened
# from, the annotator an assignment bundle was made for, the watermark work is counted from.
# Never travels in a bundle.
project_meta = Table(
    "project_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


class DatapointStatus(IntEnum):
    """`datapoint.status`, derived from its annotations; stored as the small integer."""

    UNLABELED = 0
    LABELED = 1
    SKIPPED = 2
    DISCARDED = 3


# The status names users see (filters, exports, reports), indexed by the stored code.
STATUS_NAMES = tuple(status.name.lower() for status in DatapointStatus)
STATUS_CODES = {name: code for code, name in enumerate(STATUS_NAMES)}
