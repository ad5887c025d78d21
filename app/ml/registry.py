"""Which model serves which task type: train, cross-validate and load through one door.

Why a module of its own: the contract (app.ml.types) sits below the models and must not know
them; this dispatcher sits above them and picks one by task type (training) or by the name of
its safe serialisation format (loading). Callers that do not care which kind of model they get
(the training loop, the CLI, bench/retrain.py) go through here.

Heavy libraries (scikit-learn, spaCy) are imported inside the functions that need them, so
importing app.ml costs nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress
from app.ml.types import Example, Metrics, Model, Prediction


def train(
    task_type: str,
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    allow_overlap: bool = False,
    language: str = "en",
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> Model:
    """Train a model of the right kind for the task type from these examples."""
    if task_type == "spans":
        from app.ml.spans import model as spans

        return spans.train(
            examples,
            labels,
            allow_overlap=allow_overlap,
            language=language,
            seed=seed,
            progress=progress,
            cancel=cancel,
        )
    from app.ml.linear import fit as linear_fit

    return linear_fit.train(
        task_type, examples, labels, seed=seed, progress=progress, cancel=cancel
    )


def load(format: str, data: bytes) -> Model:
    """A model from its safe serialisation (see Model.format)."""
    if format.startswith("tagloop-spacy"):
        from app.ml.spans import model as spans

        return spans.load(data)
    if format.startswith("tagloop-linear"):
        from app.ml.linear import model as linear

        return linear.load(data)
    raise ValueError(f"unknown model format {format!r}")


def cross_validate(
    task_type: str,
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    folds: int = 5,
    allow_overlap: bool = False,
    language: str = "en",
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> tuple[Metrics, list[Prediction]]:
    """Cross-validated metrics and the out-of-fold prediction for every example (in order),
    which also serve to find suspicious labels."""
    if task_type == "spans":
        from app.ml.spans import model as spans

        return spans.cross_validate(
            examples,
            labels,
            folds=folds,
            allow_overlap=allow_overlap,
            language=language,
            seed=seed,
            progress=progress,
            cancel=cancel,
        )
    from app.ml.linear import fit as linear_fit

    return linear_fit.cross_validate(
        task_type, examples, labels, folds=folds, seed=seed, progress=progress, cancel=cancel
    )


def train_validated(
    task_type: str,
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    folds: int = 5,
    allow_overlap: bool = False,
    language: str = "en",
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> tuple[Model, Metrics, list[Prediction]]:
    """A model trained on every example, its cross-validated metrics, and the out-of-fold
    predictions; the linear models share their folds between the two (see app.ml.linear.fit)."""
    if task_type == "spans":  # spaCy has no shared folds: cross-validate, then train
        options = {
            "allow_overlap": allow_overlap,
            "language": language,
            "seed": seed,
            "progress": progress,
            "cancel": cancel,
        }
        metrics, oof = cross_validate(task_type, examples, labels, folds=folds, **options)
        return train(task_type, examples, labels, **options), metrics, oof
    from app.ml.linear import fit as linear_fit

    return linear_fit.train_validated(
        task_type, examples, labels, folds=folds, seed=seed, progress=progress, cancel=cancel
    )
