"""An automation run: check the request, choose the threshold, score, split, write.

`prepare` is everything a user sees before deciding (the dialog's live curve, the CLI's
summary): the model version, the dataset, the threshold choice and its curve. `automate` then
scores the dataset's unlabelled items with that model version (reusing the pool's stored
predictions when the version already scored them), splits them at the threshold, and hands
the decided run to app.core.quality.automation.write_run: all or nothing, in short
transactions (a write run).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from app.core.errors import ProjectError
from app.core.io.datasets import DatasetInfo, list_datasets
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project import modelstore
from app.core.project.modelstore import ModelVersion
from app.core.project.project import Project
from app.core.quality import automation, automation_status
from app.core.storage import runs
from app.core.storage.sqlite import driver_connection
from app.ml.automate import holdout
from app.ml.automate.threshold import ThresholdChoice, check_target, choose_threshold


@dataclass(frozen=True)
class Plan:
    """What a run would do, before it does it."""

    version: ModelVersion
    dataset: DatasetInfo
    pool: int  # unlabelled items of the dataset
    choice: ThresholdChoice
    stale: str | None  # a warning when people labelled after the model was trained

    def describe(self) -> str:
        c = self.choice
        head = (
            f"Model version {self.version.id} on {self.dataset.source_name} "
            f"({self.pool:,} unlabelled items), target precision {c.target:g} "
            f"with {c.confidence:.0%} confidence"
        )
        if c.threshold is None:
            return f"{head}: nothing would be auto-labelled, {c.reason}"
        return (
            f"{head}: threshold {c.threshold:.4f}, expected coverage {c.coverage:.1%}, "
            f"about {c.wrong_per_1000:.1f} wrong labels per 1,000 items "
            f"(held-out precision {c.precision:.1%}, at least {c.lower:.1%})"
        )


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    report: automation.RunReport | None  # None: nothing written (no threshold qualified)


def find_dataset(project: Project, ref: str | int) -> DatasetInfo:
    """A dataset by id or by its file name."""
    datasets = list_datasets(project)
    key = str(ref)
    for info in datasets:
        if key.isdigit() and info.id == int(key):
            return info
    named = [info for info in datasets if info.source_name == key]
    if len(named) == 1:
        return named[0]
    known = ", ".join(f"{d.id}: {d.source_name}" for d in datasets) or "none"
    if named:
        raise ProjectError(f"more than one dataset is named {key!r}; use its id ({known})")
    raise ProjectError(f"no dataset {key!r} in this project (datasets: {known})")


def unlabelled_count(project: Project, dataset_id: int) -> int:
    with project.engine.connect() as conn:
        state = runs.status_expr(conn, "d")
        return conn.execute(
            text(f"SELECT count(*) FROM datapoint d WHERE d.dataset_id = :d AND {state} = 0"),
            {"d": dataset_id},
        ).scalar_one()


def staleness(project: Project, version: ModelVersion) -> str | None:
    """A warning when a person labelled something after this model version was trained."""
    with project.engine.connect() as conn:
        newest = conn.execute(
            text(
                "SELECT max(updated_at) FROM annotation a WHERE origin != 'model'"
                " AND status = 'complete'" + runs.and_visible(runs.annotation_where(conn))
            )
        ).scalar()
    # A version is stamped when it is stored, after training read its labels: a label of the
    # same millisecond came after that read (timestamps have millisecond resolution).
    if newest and newest >= version.created_at:
        return (
            f"model version {version.id} is older than the newest labels ({newest}): "
            "retrain first (tagloop train) so the threshold reflects them"
        )
    return None


def held_out(project: Project, version: ModelVersion) -> tuple[np.ndarray, np.ndarray]:
    """The version's out-of-fold (confidence, right) pairs; recomputed for older versions."""
    kept = holdout.from_metrics(version.metrics)
    if kept is not None:
        return kept
    from app.ml import registry
    from app.ml.loop import training_set

    training = training_set(project)
    schema = project.schema
    _metrics, oof = registry.cross_validate(
        project.task_type,
        training.examples,
        schema.label_names,
        folds=max(2, min(5, len(training.examples) // 5)),
        allow_overlap=schema.allow_overlap,
        language=project.language,
    )
    again = holdout.record(project.task_type, training.examples, oof)
    return np.asarray(again["confidence"], float), np.asarray(again["correct"], bool)


def prepare(
    project: Project,
    dataset: str | int,
    target: float,
    confidence: float = 0.95,
    evidence: tuple[np.ndarray, np.ndarray] | None = None,
) -> Plan:
    """Check the request and choose the threshold; writes nothing. Refuses (ProjectError) a
    target or confidence out of range, an unknown or fully labelled dataset, no model."""
    try:
        check_target(target, confidence)
    except ValueError as exc:
        raise ProjectError(str(exc)) from None
    info = find_dataset(project, dataset)
    version = modelstore.latest_version(project)
    if version is None:
        raise ProjectError("this project has no model yet: train one first (tagloop train)")
    pool = unlabelled_count(project, info.id)
    if pool == 0:
        raise ProjectError(
            f"dataset {info.source_name!r} has no unlabelled items: it is already labelled"
        )
    scores, right = evidence if evidence is not None else held_out(project, version)
    choice = choose_threshold(scores, right, target, confidence)
    return Plan(version, info, pool, choice, staleness(project, version))


def automate(
    project: Project,
    dataset: str | int,
    target: float,
    confidence: float = 0.95,
    audit_rate: float = automation.DEFAULT_AUDIT_RATE,
    *,
    actor_id: int | None = None,
    options: dict[str, Any] | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> Outcome:
    """Plan, then (if a threshold qualifies) score and write the run. `options` are
    RunPlan's routing fields (annotators, reviewers, overlap_fraction, per_item, seed).
    Raises AutomationStopped while the drift guard holds automation."""
    try:
        check_target(target, confidence)
    except ValueError as exc:
        raise ProjectError(str(exc)) from None
    automation.audit_size(0, audit_rate)
    alert = automation_status.latch_alert(project)
    if alert:
        raise automation_status.AutomationStopped(alert)
    plan = prepare(project, dataset, target, confidence)
    if plan.choice.threshold is None:
        return Outcome(plan, None)
    _ensure_scored(project, plan, progress, cancel)
    check_cancel(cancel)
    progress(0, plan.pool, "Splitting at the threshold")
    auto, routed = _split(project, plan)
    run = automation.RunPlan(
        model_version_id=plan.version.id,
        model_version_uuid=plan.version.uuid,
        dataset_id=plan.dataset.id,
        dataset_name=plan.dataset.source_name,
        target=target,
        confidence=confidence,
        threshold=plan.choice.threshold,
        expected_precision=plan.choice.precision,
        expected_coverage=plan.choice.coverage,
        auto=auto,
        routed=routed,
        audit_rate=audit_rate,
        extra={"lower_bound": plan.choice.lower, "held_out": plan.choice.held_out},
        **(options or {}),
    )
    progress(0, None, f"Writing {len(auto):,} auto-labels")
    report = automation.write_run(project, run, actor_id, cancel, progress)
    progress(plan.pool, plan.pool, report.summary())
    return Outcome(plan, report)


def _ensure_scored(project: Project, plan: Plan, progress: Progress, cancel: CancelCheck) -> None:
    """Score the pool with the plan's model version unless it already scored this dataset."""
    with project.engine.connect() as conn:
        state = runs.status_expr(conn, "d")
        missing = conn.execute(
            text(
                f"SELECT count(*) FROM datapoint d WHERE d.dataset_id = :d AND {state} = 0"
                " AND NOT EXISTS (SELECT 1 FROM prediction p WHERE p.datapoint_id = d.id"
                " AND p.model_version_id = :v)"
            ),
            {"d": plan.dataset.id, "v": plan.version.id},
        ).scalar_one()
    if missing:
        from app.ml.loop import score_pool

        score_pool(project, plan.version, progress=progress, cancel=cancel)


def _split(project: Project, plan: Plan) -> tuple[list[tuple[int, str, float]], list[int]]:
    """(auto: id, value JSON, confidence) at or above the threshold, and the routed ids,
    highest active-learning priority first (SQLite sorts them)."""
    params = (plan.version.id, plan.dataset.id, plan.choice.threshold)
    with project.engine.connect() as conn:
        raw = driver_connection(conn)
        base = (
            " FROM datapoint d JOIN prediction p ON p.datapoint_id = d.id"
            f" AND p.model_version_id = ? WHERE d.dataset_id = ? AND {runs.status_expr(raw)} = 0"
            # gold items' answers are known: never auto-labelled, never routed as label work
            " AND d.id NOT IN (SELECT datapoint_id FROM gold_item)"
        )
        auto = raw.execute(
            f"SELECT d.id, p.value, p.confidence{base} AND p.confidence >= ? ORDER BY d.id", params
        ).fetchall()
        routed = [
            row[0]
            for row in raw.execute(
                f"SELECT d.id{base} AND p.confidence < ? ORDER BY p.score DESC, d.id", params
            )
        ]
    if auto and auto[0][1].startswith("{"):  # spans carry their scores beside the value
        auto = [(dp_id, _plain_value(value), conf) for dp_id, value, conf in auto]
    return auto, routed


def _plain_value(stored: str) -> str:
    """A prediction's value as an annotation value (spans carry their scores beside it)."""
    if stored.startswith("{"):
        import json

        return json.dumps(json.loads(stored)["value"], ensure_ascii=False)
    return stored


def import_and_automate(
    project: Project,
    path: Path,
    target: float,
    confidence: float = 0.95,
    audit_rate: float = automation.DEFAULT_AUDIT_RATE,
    **kwargs: Any,
) -> Outcome:
    """`--input FILE`: import the file as a new dataset, then automate it. The import is its
    own transaction: a run refused after it leaves the dataset imported, unlabelled."""
    from app.core.io.importer import import_dataset

    try:
        check_target(target, confidence)
    except ValueError as exc:
        raise ProjectError(str(exc)) from None
    automation.audit_size(0, audit_rate)
    if modelstore.latest_version(project) is None:
        raise ProjectError("this project has no model yet: train one first (tagloop train)")
    progress = kwargs.get("progress", no_progress)
    cancel = kwargs.get("cancel", never_cancel)
    imported = import_dataset(project, Path(path), progress=progress, cancel=cancel)
    return automate(project, imported.dataset_id, target, confidence, audit_rate, **kwargs)


def automate_file(
    path: str,
    dataset: str | int | None,
    target: float,
    confidence: float,
    audit_rate: float,
    actor_id: int | None,
    new_file: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> Outcome:
    """`automate` (or, with `new_file`, `import_and_automate`) for a worker process, which
    opens the project file itself (app.workers.process): the window's GIL stays free."""
    from app.core.storage import db

    project = Project(Path(path), db.make_engine(db.url_for(Path(path))))
    common: dict[str, Any] = {"actor_id": actor_id, "progress": progress, "cancel": cancel}
    try:
        if new_file is not None:
            return import_and_automate(
                project, Path(new_file), target, confidence, audit_rate, **common
            )
        assert dataset is not None
        return automate(project, dataset, target, confidence, audit_rate, **common)
    finally:
        project.close()
