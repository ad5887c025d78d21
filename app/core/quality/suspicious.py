"""Suspicious labels: the labels the newest model doubts most, and the ones a person kept.

The model's training run stores a ranked list of labeled datapoints whose label its
cross-validated predictions doubt (`metrics["suspicious"]` of the model version, made by
app.ml.suspicious). A person then keeps each label, changes it or flags the datapoint. Keeping
a label is recorded as an audit event (action `keep_label`) rather than in a table of its own,
so the decision travels with the audit trail and is never asked about again.

These are the core verbs behind the suspicious-labels window, usable from plain Python and the
command line: `suspicious_labels` (what to ask about), `keep_label` and `kept_labels`. They
speak SQLAlchemy Core only: nothing here is tied to SQLite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import select

from app.core import audit
from app.core.errors import TagloopError
from app.core.project import modelstore
from app.core.project.project import Project
from app.core.storage import tables as t
from app.core.storage.retry import write_transaction

KEPT_ACTION = "keep_label"  # the audit action that records a kept label


class SuspiciousLabel(NamedTuple):
    """One labeled datapoint the model doubts: its id, how much the model doubts the label
    (1 - p(given label)), the model's answer, the label given (the newest complete
    annotation's value) and the datapoint's text."""

    datapoint_id: int
    doubt: float
    model_value: Any
    given: Any
    text: str


@dataclass(frozen=True)
class SuspiciousList:
    """The suspicious labels of the newest model version, most doubted first; `version_id`
    is None when no model has been trained yet."""

    version_id: int | None
    labels: list[SuspiciousLabel]


@dataclass(frozen=True)
class KeptLabel:
    """A label a person confirmed against the model's doubt (what `keep_label` recorded)."""

    datapoint_id: int
    annotator_id: int | None

    def summary(self) -> str:
        """One line for the command line."""
        return f"kept the label of datapoint {self.datapoint_id}"


def keep_label(project: Project, datapoint_id: int, annotator_id: int | None) -> KeptLabel:
    """Record that `annotator_id` keeps the label of `datapoint_id` although the model doubts
    it: one committed transaction writing one chained audit event (action `keep_label`,
    entity "datapoint", after {"datapoint": id}). The datapoint then leaves the list."""
    with write_transaction(project.engine) as conn:
        found = conn.execute(
            select(t.datapoint.c.id).where(t.datapoint.c.id == datapoint_id)
        ).first()
        if found is None:
            raise TagloopError(f"No datapoint {datapoint_id} in this project.")
        audit.record(
            conn, annotator_id, KEPT_ACTION, "datapoint", None, after={"datapoint": datapoint_id}
        )
    return KeptLabel(datapoint_id, annotator_id)


def kept_labels(project: Project) -> set[int]:
    """The datapoint ids whose label someone kept (read back from the audit events)."""
    query = select(t.audit_event.c.after).where(t.audit_event.c.action == KEPT_ACTION)
    with project.engine.connect() as conn:
        return {json.loads(after)["datapoint"] for (after,) in conn.execute(query)}


def given_labels(project: Project, ids: list[int]) -> dict[int, tuple[Any, str]]:
    """Datapoint id: (the newest complete annotation's value, the datapoint's text), for the
    given ids that still have a complete annotation (labels may be gone since training)."""
    if not ids:
        return {}
    dp, ann = t.datapoint, t.annotation
    query = (
        select(dp.c.id, dp.c.text, ann.c.value)
        .join(ann, (ann.c.datapoint_id == dp.c.id) & (ann.c.status == "complete"))
        .where(dp.c.id.in_(ids))
        .order_by(ann.c.updated_at)
    )
    with project.engine.connect() as conn:
        return {dp_id: (json.loads(value), body) for dp_id, body, value in conn.execute(query)}


def suspicious_labels(project: Project) -> SuspiciousList:
    """The newest model version's suspicious labels, in its ranking, without the kept ones and
    those no longer labeled."""
    version = modelstore.latest_version(project)
    listed = version.metrics.get("suspicious", []) if version else []
    kept = kept_labels(project)
    details = given_labels(project, [int(dp) for dp, _s, _v in listed if int(dp) not in kept])
    labels = [
        SuspiciousLabel(int(dp), float(score), value, *details[int(dp)])
        for dp, score, value in listed
        if int(dp) in details
    ]
    return SuspiciousList(None if version is None else version.id, labels)
