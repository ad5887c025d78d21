"""The model in the loop for one project: learn from its labels, score its unlabeled pool.

Called by the GUI (in the background, after every few labels or on Ctrl+T) and by
`tagloop train`. Training reads the project's finished annotations, cross-validates (for the
metrics and the suspicious-label list), trains on everything, and stores a model version.
Scoring then streams the unlabeled pool through the model in chunks, each written in its own
transaction, so a million items never block the database and a newer run can cancel it.
"""

from __future__ import annotations

import heapq
import io
import json
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import DataError, ProjectError
from app.core.fileio import atomic_writer, refuse_same_file
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project import modelstore
from app.core.project.modelstore import ModelVersion
from app.core.project.project import Project
from app.core.quality.automation_status import HOLDOUT_KEY, holdout_record
from app.core.storage import predictions
from app.ml import registry
from app.ml.policy import MIN_EXAMPLES
from app.ml.types import Example, Model, Prediction

SCORE_CHUNK = 5_000
SCORE_THREADS = 2  # scoring threads; the machines we target have two cores or more
QUEUE_BATCH = 10  # hybrid: the next this-many queue items come from different clusters
DIVERSE_FRONT = 200  # hybrid: how many of the most uncertain items get a diverse order
SUSPICIOUS_KEPT = 500


@dataclass(frozen=True)
class TrainingSet:
    examples: list[Example]
    datapoint_ids: list[int]


def training_set(project: Project) -> TrainingSet:
    """One example per datapoint with a final value (app.core.quality.consensus.final_values): the
    adjudicated value, the gold answer, the consensus or the only annotator's value; where
    annotators disagree and nobody has adjudicated yet, the newest vote."""
    from app.core.quality.consensus import final_values

    decided = list(final_values(project, unresolved="newest"))
    ids = [dp_id for dp_id, _value in decided]
    with project.engine.connect() as conn:
        bodies = predictions.texts_by_id(conn, ids)
    return TrainingSet([Example(bodies[dp_id], value) for dp_id, value in decided], ids)


def trainable(project: Project, training: TrainingSet) -> str | None:
    """Why a model cannot be trained yet, or None when it can."""
    count = len(training.examples)
    if count < MIN_EXAMPLES:
        return f"a model needs at least {MIN_EXAMPLES} labeled items ({count} so far)"
    classes = (
        {example.value for example in training.examples}
        if project.task_type == "classification"
        else {"any"}
    )
    if project.task_type == "classification" and len(classes) < 2:
        return "a model needs examples of at least two labels"
    return None


def train_project(
    project: Project, progress: Progress = no_progress, cancel: CancelCheck = never_cancel
) -> ModelVersion:
    """Cross-validate, train and store a new model version from the project's labels."""
    training = training_set(project)
    reason = trainable(project, training)
    if reason:
        raise ProjectError(reason)
    schema = project.schema
    labels = schema.label_names
    options = registry.FitOptions(
        folds=max(2, min(5, len(training.examples) // 5)),
        allow_overlap=schema.allow_overlap,
        language=project.language,
        progress=progress,
        cancel=cancel,
    )
    if project.task_type == "spans" and not schema.allow_overlap:
        options["unlabeled"] = unlabeled_texts(project)  # the CRF's word clusters
    model, metrics, out_of_fold = registry.train_validated(
        project.task_type, training.examples, labels, **options
    )
    check_cancel(cancel)
    metrics = dict(metrics)
    metrics["suspicious"] = _suspicious(project.task_type, training, out_of_fold)
    metrics[HOLDOUT_KEY] = holdout_record(  # for automation's threshold (issue 12)
        project.task_type,
        [e.value for e in training.examples],
        [p.value for p in out_of_fold],
        [p.confidence for p in out_of_fold],
    )
    return modelstore.save_version(
        project, model.format, model.to_bytes(), len(training.examples), metrics
    )


def _suspicious(
    task_type: str, training: TrainingSet, out_of_fold: list[Prediction]
) -> list[list[Any]]:
    """[datapoint id, score, the model's answer] for the labels that look most wrong."""
    from app.ml import suspicious

    ranked = suspicious.suspicious(task_type, training.examples, out_of_fold)
    return [
        [training.datapoint_ids[index], round(float(score), 4), value]
        for index, score, value in ranked[:SUSPICIOUS_KEPT]
    ]


# --- the quick update after a completed span document -------------------------------------

QUICK_MIN_DOCS = 3  # completed documents before a quick update is worth it
QUICK_UNTIL_DOCS = 100  # from here on the regular retrains come often enough (each quick
# update is a model version of its own: a few hundred kB kept in the project)
QUICK_POOL_MAX = 5_000  # a bigger pool would take too long to rescore after every document


CLUSTER_TEXTS = 20_000  # unlabelled texts read for the span model's word clusters, at most


def unlabeled_texts(project: Project) -> list[str]:
    """Texts of the unlabelled pool (about the first CLUSTER_TEXTS): the span model learns word
    clusters from them, which helps most while labels are few (app.ml.spans.clusters)."""
    with project.engine.connect() as conn:
        pool = predictions.unlabeled_pool(conn)
        if not pool.count or pool.low is None or pool.high is None:
            return []
        width = (pool.high - pool.low + 1) * CLUSTER_TEXTS // pool.count
        rows = predictions.read_unlabeled(conn, pool.low, min(pool.high, pool.low + width))
    return [text for _id, text in rows[:CLUSTER_TEXTS]]


def quick_update_wanted(project: Project, labeled: int) -> bool:
    """Whether a completed document should start a quick update: span projects whose spans do
    not overlap (the CRF), while labels are few and the pool is small enough to rescore."""
    if project.task_type != "spans" or project.schema.allow_overlap:
        return False
    if not QUICK_MIN_DOCS <= labeled < QUICK_UNTIL_DOCS:
        return False
    with project.engine.connect() as conn:
        return predictions.unlabeled_pool(conn).count <= QUICK_POOL_MAX


def quick_update(
    project: Project, progress: Progress = no_progress, cancel: CancelCheck = never_cancel
) -> ModelVersion:
    """A cheap model from every label right now, so suggestions follow the user's first
    documents within seconds: the CRF on few iterations, no cross-validation. It inherits
    the figures (and suspicious labels) of the last full version, and says it is quick; the
    full retrain that follows in the background replaces it."""
    from app.ml.spans import crf

    training = training_set(project)
    if not any(example.value for example in training.examples):
        raise ProjectError("a quick update needs at least one labelled span")
    model = crf.train(
        training.examples,
        project.schema.label_names,
        language=project.language,
        iterations=crf.DEFAULT_SETTINGS.quick_iterations,
        unlabeled=unlabeled_texts(project),
        progress=progress,
        cancel=cancel,
    )
    check_cancel(cancel)
    last = _last_full_version(project)
    metrics: dict[str, Any] = dict(last.metrics) if last else {"macro_f1": None, "ece": None}
    metrics.update({"n": len(training.examples), "quick": True, "figures_of": last and last.id})
    version = modelstore.save_version(
        project, model.format, model.to_bytes(), len(training.examples), metrics
    )
    score_pool(project, version, progress=progress, cancel=cancel)
    return version


def outdated(project: Project, version: ModelVersion | None) -> bool:
    """A span model saved before the CRF became the default (spaCy's ner): it still loads and
    suggests, and the app retrains it once at start-up."""
    return (
        version is not None
        and project.task_type == "spans"
        and not project.schema.allow_overlap
        and version.format.startswith("tagloop-spacy")
    )


def _last_full_version(project: Project) -> ModelVersion | None:
    for version in reversed(modelstore.versions(project)):
        if not version.metrics.get("quick"):
            return version
    return None


def quick_update_file(
    path: str, progress: Progress = no_progress, cancel: CancelCheck = never_cancel
) -> int:
    """quick_update for a worker process (see train_and_score_file)."""
    from app.core.storage import db

    project = Project(Path(path), db.make_engine(db.url_for(Path(path))))
    try:
        return quick_update(project, progress, cancel).id
    finally:
        project.close()


def load_model(project: Project, version: ModelVersion) -> Model:
    return registry.load(version.format, modelstore.artifact(project, version.id))


def _pool_ranges(project: Project) -> list[tuple[int, int]]:
    """The unlabeled pool cut into id ranges of about SCORE_CHUNK unlabeled datapoints each
    (where labels cluster, some hold fewer), so each scoring thread can read its own chunk.
    Equal widths need only the pool's count and bounds: one pass over the status index,
    where numbering the ids took 0.4 s per million."""
    with project.engine.connect() as conn:
        pool = predictions.unlabeled_pool(conn)
    if not pool.count:
        return []
    pieces = -(-pool.count // SCORE_CHUNK)
    width = -(-(pool.high - pool.low + 1) // pieces)
    return [(start, start + width - 1) for start in range(pool.low, pool.high + 1, width)]


def _read_chunk(project: Project, low: int, high: int) -> list[tuple[int, str]]:
    """One id range of the pool, on its own connection (one per scoring thread)."""
    with project.engine.connect() as conn:
        return predictions.read_unlabeled(conn, low, high)


def score_pool(
    project: Project,
    version: ModelVersion,
    strategy: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> int:
    """Predict every unlabeled datapoint and store the predictions with an active-learning
    priority, chunk by chunk (each chunk its own transaction); returns how many were scored.
    For the hybrid strategy the most uncertain items are then put in a diverse order."""
    from app.ml import active

    strategy = active.for_task(
        strategy or active.DEFAULT_STRATEGY, project.task_type, len(project.schema.label_names)
    )
    model = load_model(project, version)
    with project.engine.connect() as conn:
        total = predictions.unlabeled_pool(conn).count
    done = 0
    front: list[tuple[float, int, str]] = []  # the most uncertain items seen so far (a heap)
    sample = active.PoolSample(seed=version.id or 0)  # the density strategy's pool sample
    progress(0, total, "Scoring unlabeled items")

    def score(number: int, low: int, high: int):
        """Read and score one chunk (SQLite and NumPy release the GIL: two run at once)."""
        chunk = _read_chunk(project, low, high)
        texts = [body for _id, body in chunk]
        if hasattr(model, "pool_rows"):
            values, confidence, probs = model.pool_rows(texts)
            priorities = active.priority_array(
                strategy, project.task_type, probs, confidence, number, version.label_count
            )
            return chunk, values, confidence, priorities
        predicted = model.predict(texts)
        values = [json.dumps(_stored_value(p), ensure_ascii=False) for p in predicted]
        confidences = np.array([p.confidence for p in predicted], np.float64)
        ranked = active.priority(strategy, predicted, None, version.label_count)
        return chunk, values, confidences, np.array(ranked)

    pending: deque = deque()
    pool = ThreadPoolExecutor(SCORE_THREADS, thread_name_prefix="tagloop-score")
    diversifying = None
    try:
        ranges = enumerate(_pool_ranges(project))
        while True:
            while len(pending) < SCORE_THREADS + 1:
                item = next(ranges, None)
                if item is None:
                    break
                number, (low, high) = item
                pending.append(pool.submit(score, number, low, high))
            if not pending:
                break
            check_cancel(cancel)
            chunk, values, confidence, priorities = pending.popleft().result()
            ids = [dp_id for dp_id, _body in chunk]
            modelstore.write_prediction_arrays(
                project, version.id, ids, values, confidence, priorities
            )
            if strategy in active.DIVERSE_STRATEGIES:
                _keep_front(front, priorities, chunk)
            if strategy == "density":
                sample.add([body for _id, body in chunk])
            done += len(chunk)
            progress(done, total, "Scoring unlabeled items")
        check_cancel(cancel)
        if front:  # clustered (sklearn imports included) while SQLite drops the old version
            diversifying = pool.submit(_diverse_priorities, front, strategy, sample.texts)
        modelstore.drop_older_predictions(project, version.id)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    if diversifying is not None:
        check_cancel(cancel)
        modelstore.set_priorities(project, version.id, diversifying.result())
    return done


def _keep_front(
    front: list[tuple[float, int, str]], priorities: np.ndarray, chunk: list[tuple[int, str]]
) -> None:
    """Keep the DIVERSE_FRONT most uncertain items seen so far (a heap), looking only at a
    chunk's items that could enter it."""
    floor = front[0][0] if len(front) >= DIVERSE_FRONT else -np.inf
    for index in np.flatnonzero(priorities > floor).tolist():
        row = (float(priorities[index]), chunk[index][0], chunk[index][1])
        if len(front) < DIVERSE_FRONT:
            heapq.heappush(front, row)
        elif row[0] > front[0][0]:
            heapq.heapreplace(front, row)


def _diverse_priorities(
    front: list[tuple[float, int, str]], strategy: str = "hybrid", sample: Sequence[str] = ()
) -> list[tuple[float, int]]:
    """New priorities for the most uncertain items, so each run of QUEUE_BATCH is diverse:
    above every other item (2 down to 1), in the hybrid's round-robin order (density: each
    cluster's items by priority * density against the pool sample)."""
    from app.ml import active

    front = sorted(front, key=lambda row: (-row[0], row[1]))
    values = [p for p, _id, _t in front] if strategy == "density" else None
    order = active.diverse_order(
        [dp_id for _p, dp_id, _t in front],
        [body for _p, _id, body in front],
        QUEUE_BATCH,
        values=values,
        reference=sample,
    )
    step = 1.0 / len(order)
    return [(2.0 - rank * step, dp_id) for rank, dp_id in enumerate(order)]


def _stored_value(prediction: Prediction) -> Any:
    if prediction.span_scores is not None:
        return {"value": prediction.value, "span_scores": prediction.span_scores}
    return prediction.value


def train_and_score(
    project: Project, progress: Progress = no_progress, cancel: CancelCheck = never_cancel
) -> ModelVersion:
    """What the app runs in the background: a new model version, then a fresh pool score."""
    version = train_project(project, progress, cancel)
    score_pool(project, version, progress=progress, cancel=cancel)
    return version


def train_and_score_file(
    path: str, progress: Progress = no_progress, cancel: CancelCheck = never_cancel
) -> int:
    """train_and_score for a worker process, which opens the project file itself; returns
    the new model version's id (picklable, unlike the version)."""
    from app.core.storage import db

    project = Project(Path(path), db.make_engine(db.url_for(Path(path))))
    try:
        return train_and_score(project, progress, cancel).id
    finally:
        project.close()


def predict_file(
    project: Project,
    source: Path,
    out: Path,
    column: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    fmt: str | None = None,
) -> int:
    """Label a new file with the current model: JSON Lines of text, label and confidence.
    `fmt` (csv, tsv, json, jsonl, txt) is the file's format; None: from its suffix."""
    from app.core.io import readers
    from app.core.io.importer import preview

    version = modelstore.latest_version(project)
    if version is None:
        raise ProjectError("this project has no model yet: train one first (tagloop train)")
    model = load_model(project, version)
    source_path = Path(source)
    refuse_same_file(Path(out), source_path)
    fmt = readers.detect_format(source_path, fmt)
    columns = preview(source_path, fmt).columns
    if not columns:  # red team, session 6: an IndexError on a file of blank lines
        raise DataError(str(source), None, "the file holds no records: nothing to predict")
    name = column or _text_column(columns, project.annotated_input)
    if name not in columns:
        raise ProjectError(f"{source}: no column {name!r} (it has {', '.join(columns)})")
    written = 0
    batch: list[str] = []

    def flush(handle) -> None:
        nonlocal written
        for body, prediction in zip(batch, model.predict(batch), strict=True):
            record = {
                "text": body,
                "label": prediction.value,
                "confidence": round(prediction.confidence, 4),
                "model_version": version.uuid,
            }
            if prediction.scores:
                record["scores"] = {k: round(v, 4) for k, v in prediction.scores.items()}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
        batch.clear()
        check_cancel(cancel)
        progress(written, None, "Predicting")

    with source_path.open("rb") as raw, atomic_writer(Path(out), encoding="utf-8") as handle:
        opened = readers.open_source(source_path, io.BufferedReader(raw, 1 << 20), fmt)
        get_text = opened.getter(name)
        for line, record in opened.records:
            value = get_text(record, line)
            batch.append("" if value is None else str(value))
            if len(batch) >= SCORE_CHUNK:
                flush(handle)
        if batch:
            flush(handle)
    return written


def _text_column(columns: list[str], preferred: str) -> str:
    for name in (preferred, "text"):
        if name in columns:
            return name
    return columns[0]
