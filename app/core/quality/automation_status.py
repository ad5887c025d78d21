"""Worker in the loop, the reading side: what automation promised, what the audit found, and
the drift guard that stops automation when the two part.

The audit's evidence is every auto-label (origin "model") a person has looked at since
automation was last resumed:

- a review decision on it (the audit sample's review tasks, or any review): approve counts as
  right; reject, discard or a correction as wrong (custom statuses count as what they map to);
- else a person's own complete annotation of the item (e.g. confirmed or corrected in the
  editor): right if it is the same answer, wrong if not.

The audited precision is right / looked-at, with a two-sided Clopper–Pearson interval at the
run's confidence level. The drift guard fires when the interval's upper bound falls below the
promised precision P (of the newest run): then the model is, with that confidence, worse than
promised. The alert is latched in project_meta when a run is attempted, so automation stays
stopped until a person resumes it (app.core.quality.automation.resume), even if later reviews
lift the bound again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, text

from app.core.errors import ProjectError
from app.core.project.project import Project, get_meta, set_meta
from app.core.quality.consensus import current_reviews
from app.core.storage import runs as run_rows
from app.core.storage.sqlite import driver_connection

META_ALERT = "automation_alert"  # JSON: why automation stopped (latched)
META_RESUMED = "automation_resumed_at"  # the audit counts auto-labels made after this


class AutomationStopped(ProjectError):
    """The drift guard stopped automation for this project until a person resumes it."""


@dataclass(frozen=True)
class AutomationStatus:
    """Promised against audited, side by side (dashboard, `tagloop report --json`)."""

    runs: int
    promised_precision: float | None
    confidence: float | None
    auto_labels: int
    routed: int
    coverage: float | None
    audited: int
    audited_right: int
    audited_precision: float | None
    audited_interval: tuple[float, float] | None
    alert: str | None  # why automation is stopped, or None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["audited_interval"] = (
            None if self.audited_interval is None else [round(x, 4) for x in self.audited_interval]
        )
        return out


def same_answer(task_type: str, first: Any, second: Any) -> bool:
    """Two annotation values are the same answer (multilabel: same set; spans: same spans)."""
    if task_type == "classification":
        return first == second
    if task_type == "multilabel":
        return set(first or []) == set(second or [])
    return _spans(first) == _spans(second)


def _spans(value: Any) -> set[tuple[int, int, str]]:
    return {(int(s["start"]), int(s["end"]), str(s["label"])) for s in value or []}


HOLDOUT_KEY = "holdout"  # in a model version's metrics (app.ml.loop.train_project)


def holdout_record(
    task_type: str, truths: Sequence[Any], answers: Sequence[Any], confidences: Sequence[float]
) -> dict[str, list]:
    """What a model version keeps of its out-of-fold predictions for choosing a threshold
    (app.ml.automate.holdout): each one's confidence (4 decimals) and whether it was exactly
    right (1) or not (0). Plain JSON, kept in the version's metrics."""
    return {
        "confidence": [round(float(c), 4) for c in confidences],
        "correct": [
            int(same_answer(task_type, answer, truth))
            for truth, answer in zip(truths, answers, strict=True)
        ],
    }


def clopper_pearson(right: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided exact interval of a proportion at this confidence level."""
    from scipy.stats import beta  # SciPy loads only when an audit is summed up

    alpha = (1 - confidence) / 2
    low = 0.0 if right == 0 else float(beta.ppf(alpha, right, n - right + 1))
    high = 1.0 if right == n else float(beta.ppf(1 - alpha, right + 1, n - right))
    return low, high


def runs_since_resume(conn: Connection) -> list[dict[str, Any]]:
    """The automation runs' audit facts (oldest first) since automation was last resumed."""
    since = get_meta(conn, META_RESUMED) or ""
    runs = []
    for uid, after in conn.execute(
        text("SELECT entity_uuid, after FROM audit_event WHERE action = 'automate' ORDER BY id")
    ):
        facts = json.loads(after or "{}")
        if facts.get("labelled_at", "") > since:
            runs.append({"run": uid, **facts})
    return runs


def audit_evidence(conn: Connection, task_type: str, since: str) -> tuple[int, int]:
    """(right, looked at) over the auto-labels made after `since` (see the module doc)."""
    raw = driver_connection(conn)
    reviews = current_reviews(raw)
    verdicts: dict[int, bool] = {}
    reviewed = _auto_labels_by_uuid(raw, since, list(reviews))
    reviewed_items = set(reviewed.values())
    for uid, dp_id in reviewed.items():
        decision, correction, _at, _uuid = reviews[uid]
        verdicts[dp_id] = decision == "approve" and correction is None
    for dp_id, auto, human in raw.execute(
        "SELECT a.datapoint_id, a.value, h.value FROM annotation h"
        " JOIN annotation a ON a.datapoint_id = h.datapoint_id AND a.origin = 'model'"
        " WHERE h.origin NOT IN ('model', 'review') AND h.status = 'complete'"
        f" AND a.created_at > ? AND {run_rows.annotation_visible('h')}"
        f" AND {run_rows.annotation_visible('a')}",
        (since,),
    ):
        if dp_id in reviewed_items:
            continue  # a review decision is the audit's word on it
        agrees = same_answer(task_type, json.loads(auto), json.loads(human))
        verdicts[dp_id] = verdicts.get(dp_id, True) and agrees
    return sum(verdicts.values()), len(verdicts)


def _auto_labels_by_uuid(raw: sqlite3.Connection, since: str, uuids: list[str]) -> dict[str, int]:
    """{annotation uuid: datapoint id} of the auto-labels among these uuids made after since."""
    found: dict[str, int] = {}
    for start in range(0, len(uuids), 500):
        chunk = uuids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for uid, dp_id in raw.execute(
            f"SELECT uuid, datapoint_id FROM annotation WHERE origin = 'model'"
            f" AND created_at > ? AND uuid IN ({marks})"
            f" AND {run_rows.annotation_visible('annotation')}",
            (since, *chunk),
        ):
            found[uid] = dp_id
    return found


def _status(conn: Connection, task_type: str) -> AutomationStatus:
    runs = runs_since_resume(conn)
    latched = get_meta(conn, META_ALERT)
    if not runs:
        alert = json.loads(latched)["reason"] if latched else None
        return AutomationStatus(0, None, None, 0, 0, None, 0, 0, None, None, alert)
    newest = runs[-1]
    promised, level = float(newest["target"]), float(newest["confidence"])
    auto = sum(int(r.get("auto_labelled", 0)) for r in runs)
    routed = sum(int(r.get("routed", 0)) for r in runs)
    since = get_meta(conn, META_RESUMED) or ""
    right, looked = audit_evidence(conn, task_type, since)
    precision = interval = None
    alert = json.loads(latched)["reason"] if latched else None
    if looked:
        precision = right / looked
        interval = clopper_pearson(right, looked, level)
        if alert is None and interval[1] < promised:
            alert = (
                f"drift: the audited precision is {precision:.1%} ({right} of {looked} right; "
                f"at most {interval[1]:.1%} with {level:.0%} confidence), below the promised "
                f"{promised:g}. Automation is stopped until a person resumes it"
            )
    coverage = auto / (auto + routed) if auto + routed else None
    return AutomationStatus(
        len(runs),
        promised,
        level,
        auto,
        routed,
        coverage,
        looked,
        right,
        precision,
        interval,
        alert,
    )


def automation_status(project: Project) -> AutomationStatus:
    """Promised precision, audited precision with its interval, coverage, and any alert."""
    with project.engine.connect() as conn:
        return _status(conn, project.task_type)


def stopped_reason(conn: Connection) -> str | None:
    """Why automation may not run now, or None (inside the run's own transaction, so the
    check and the run see the same audit; `latch_alert` records a fresh alert first)."""
    task_type = conn.execute(text("SELECT task_type FROM project")).scalar_one()
    return _status(conn, task_type).alert


def latch_alert(project: Project) -> str | None:
    """Record a drift alert (if there is one) so it holds until a person resumes; returns it."""
    from app.core.storage.retry import write_transaction

    with write_transaction(project.engine) as conn:
        reason = stopped_reason(conn)
        if reason and not get_meta(conn, META_ALERT):
            from app.core import audit

            set_meta(conn, META_ALERT, json.dumps({"reason": reason}))
            audit.record(conn, None, "alert", "automation", None, after={"reason": reason})
    return reason
