"""Model versions and their predictions, stored in the project (no ML code here).

This is the domain API; the SQLite-specific bulk paths under it (INSERT OR REPLACE, json_each)
are in app.core.storage.predictions.

A model version keeps its safe serialisation (bytes whose format names how to read them, never
a pickle), the number of labels it learnt from, and its cross-validated metrics. Predictions
of the newest version are written in chunks, each its own transaction, so scoring a million
datapoints never holds the database and can be cancelled; older versions' predictions are
dropped once a newer version has scored everything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, text

from app.core import audit
from app.core.ids import new_uuid, now_iso
from app.core.project.project import Project
from app.core.storage import predictions
from app.core.storage.retry import run_write, write_timeout, write_transaction

QUALITY_BAR_KEY = "model_quality_bar"
MODEL_SAVE_WAITS = 5  # a model save waits this many times a label save's write_timeout()
DEFAULT_QUALITY_BAR = 0.8  # cross-validated macro-F1 a model needs before it suggests labels


@dataclass(frozen=True)
class ModelVersion:
    id: int
    uuid: str
    created_at: str
    label_count: int
    metrics: dict[str, Any]
    format: str

    @property
    def number(self) -> int:
        return self.id

    @property
    def score(self) -> float | None:
        """The headline figure: cross-validated macro-F1 (span F1 for span models)."""
        value = self.metrics.get("macro_f1")
        return None if value is None else float(value)


@dataclass(frozen=True)
class Suggestion:
    """A model's prediction for one datapoint, as the editors show it."""

    value: Any
    confidence: float
    model_version_id: int
    span_scores: list[float] | None = None
    auto_label: bool = False  # an automation run's label (issue 12): confirm or correct it


def _version(row) -> ModelVersion:
    return ModelVersion(
        row.id, row.uuid, row.created_at, row.label_count, json.loads(row.metrics), row.format
    )


def save_version(
    project: Project, fmt: str, artifact: bytes, label_count: int, metrics: dict[str, Any]
) -> ModelVersion:
    """Store a trained model as a new version. It waits out a busy project (a long import
    in another process) several times longer than a label save does: training took long, and
    a model lost to a held lock would have to be trained again."""

    def write(conn: Connection) -> Any:
        uuid = new_uuid()
        new_id = conn.execute(
            text(
                "INSERT INTO model_version (uuid, created_at, label_count, metrics, format,"
                " artifact) VALUES (:uuid, :at, :n, :metrics, :fmt, :artifact)"
            ),
            {
                "uuid": uuid,
                "at": now_iso(),
                "n": label_count,
                "metrics": json.dumps(metrics),
                "fmt": fmt,
                "artifact": artifact,
            },
        ).lastrowid
        audit.record(
            conn,
            None,
            "train",
            "model_version",
            uuid,
            after={"labels": label_count, "macro_f1": metrics.get("macro_f1")},
        )
        return conn.execute(
            text("SELECT * FROM model_version WHERE id = :id"), {"id": new_id}
        ).one()

    return _version(run_write(project.engine, write, timeout=MODEL_SAVE_WAITS * write_timeout()))


def versions(project: Project) -> list[ModelVersion]:
    """Every model version, oldest first (the learning curve)."""
    with project.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, uuid, created_at, label_count, metrics, format FROM model_version"
                " ORDER BY id"
            )
        )
        return [_version(row) for row in rows]


def latest_version(project: Project) -> ModelVersion | None:
    with project.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT id, uuid, created_at, label_count, metrics, format FROM model_version"
                " ORDER BY id DESC LIMIT 1"
            )
        ).first()
    return None if row is None else _version(row)


def get_version(project: Project, version_id: int) -> ModelVersion:
    with project.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT id, uuid, created_at, label_count, metrics, format FROM model_version"
                " WHERE id = :id"
            ),
            {"id": version_id},
        ).one()
    return _version(row)


def artifact(project: Project, version_id: int) -> bytes:
    with project.engine.connect() as conn:
        return conn.execute(
            text("SELECT artifact FROM model_version WHERE id = :id"), {"id": version_id}
        ).scalar_one()


def write_predictions(
    project: Project, version_id: int, rows: Iterable[tuple[int, Any, float, float | None]]
) -> int:
    """Store (datapoint id, value, confidence, priority score) rows in one transaction."""
    encoded = [
        (
            dp_id,
            json.dumps(value, ensure_ascii=False),
            float(confidence),
            None if score is None else float(score),
        )
        for dp_id, value, confidence, score in rows
    ]
    if encoded:
        write_prediction_rows(project, version_id, encoded)
    return len(encoded)


def write_prediction_rows(
    project: Project,
    version_id: int,
    rows: Iterable[tuple[int, str, float, float | None]],
) -> None:
    """(datapoint id, value already as JSON, confidence, priority) rows straight to the
    driver, in one transaction (write_predictions' path)."""
    with write_transaction(project.engine) as conn:
        predictions.write_rows(conn, version_id, rows)


def write_prediction_arrays(
    project: Project,
    version_id: int,
    ids: Sequence[int],
    values: Sequence[str],
    confidence: Any,
    score: Any,
) -> None:
    """One chunk of a pool score in one transaction: ids, values already as JSON, and
    confidences and priorities as arrays (the fast path: storage.predictions.write_arrays)."""
    with write_transaction(project.engine) as conn:
        predictions.write_arrays(conn, version_id, ids, values, confidence, score)


def set_priorities(project: Project, version_id: int, rows: list[tuple[float, int]]) -> None:
    """New queue priorities (score, datapoint id) for some of a version's predictions."""
    with write_transaction(project.engine) as conn:
        predictions.set_scores(conn, version_id, rows)


def drop_older_predictions(project: Project, version_id: int) -> None:
    """Once a version has scored the pool, older versions' predictions are only clutter
    (deleted in short transactions: storage.predictions.drop_older)."""
    predictions.drop_older(project.engine, version_id)


def scored_version(project: Project) -> int | None:
    """The newest version that has predictions (the one queues and editors use)."""
    with project.engine.connect() as conn:
        return conn.execute(text("SELECT max(model_version_id) FROM prediction")).scalar()


def suggestions(project: Project, ids: list[int], version_id: int) -> dict[int, Suggestion]:
    if not ids:
        return {}
    with project.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT datapoint_id, value, confidence FROM prediction"
                " WHERE model_version_id = :v AND datapoint_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"v": version_id, "ids": ids},
        )
        found = {}
        for dp_id, value, confidence in rows:
            decoded = json.loads(value)
            span_scores = None
            if isinstance(decoded, dict) and "value" in decoded:  # spans carry their scores
                span_scores = decoded.get("span_scores")
                decoded = decoded["value"]
            found[dp_id] = Suggestion(decoded, confidence, version_id, span_scores)
        return found
