"""Which model serves which task type: train, cross-validate and load through one door.

Why a module of its own: the contract (app.ml.types) sits below the models and must not know
them; this dispatcher sits above them and picks one by task type (training) or by the name of
its safe serialisation format (loading). Callers that do not care which kind of model they get
(the training loop, the CLI, bench/retrain.py) go through here.

Heavy libraries (scikit-learn, spaCy) are imported inside the functions that need them, so
importing app.ml costs nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypedDict, Unpack

from app.core.jobs import CancelCheck, Progress
from app.ml.types import Example, Metrics, Model, Prediction


class FitOptions(TypedDict, total=False):
    """The keywords that train, cross_validate and train_validated take, whatever the kind of
    model; a keyword left out takes the model's own default (folds 5, allow_overlap False,
    language "en", seed 0, no progress, never cancel); train takes no folds. Declared once
    here, so that the three doors cannot drift apart."""

    folds: int
    allow_overlap: bool  # spans only: spancat (overlapping spans) instead of ner
    language: str  # spans only: the tokenizer's language
    unlabeled: Sequence[str]  # spans only (the CRF): the project's other texts, word clusters
    seed: int
    progress: Progress
    cancel: CancelCheck


_SPANS_ONLY = ("allow_overlap", "language", "unlabeled")


def _fitter(
    verb: str, task_type: str, options: FitOptions
) -> Callable[[Sequence[Example], Sequence[str]], Any]:
    """The model module's `verb` (train, cross_validate or train_validated) for this task type,
    bound to its options: the CRF for spans (spaCy's spancat where spans may overlap), the
    linear models (which take the task type first and have no use for the span options) for
    the rest."""
    if task_type == "spans" and options.get("allow_overlap"):
        from app.ml.spans import model as spans

        spancat = {key: value for key, value in options.items() if key != "unlabeled"}
        return lambda examples, labels: getattr(spans, verb)(examples, labels, **spancat)
    if task_type == "spans":  # the CRF: spans that may not overlap
        from app.ml.spans import crf

        crf_options = {key: value for key, value in options.items() if key != "allow_overlap"}
        return lambda examples, labels: getattr(crf, verb)(examples, labels, **crf_options)
    from app.ml.linear import fit as linear_fit

    kept = {key: value for key, value in options.items() if key not in _SPANS_ONLY}
    return lambda examples, labels: getattr(linear_fit, verb)(task_type, examples, labels, **kept)


def train(
    task_type: str,
    examples: Sequence[Example],
    labels: Sequence[str],
    **options: Unpack[FitOptions],
) -> Model:
    """Train a model of the right kind for the task type from these examples."""
    return _fitter("train", task_type, options)(examples, labels)


def load(format: str, data: bytes) -> Model:
    """A model from its safe serialisation (see Model.format)."""
    if format.startswith("tagloop-crf"):
        from app.ml.spans import crf

        return crf.load(data)
    if format.startswith("tagloop-spacy"):  # spancat, and the ner models of earlier versions
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
    **options: Unpack[FitOptions],
) -> tuple[Metrics, list[Prediction]]:
    """Cross-validated metrics and the out-of-fold prediction for every example (in order),
    which also serve to find suspicious labels."""
    return _fitter("cross_validate", task_type, options)(examples, labels)


def train_validated(
    task_type: str,
    examples: Sequence[Example],
    labels: Sequence[str],
    **options: Unpack[FitOptions],
) -> tuple[Model, Metrics, list[Prediction]]:
    """A model trained on every example, its cross-validated metrics, and the out-of-fold
    predictions; the linear models share their folds between the two (see app.ml.linear.fit)."""
    if task_type == "spans" and options.get("allow_overlap"):
        # spaCy has no shared folds: cross-validate, then train
        metrics, oof = cross_validate(task_type, examples, labels, **options)
        options.pop("folds", None)
        return train(task_type, examples, labels, **options), metrics, oof
    return _fitter("train_validated", task_type, options)(examples, labels)
