"""What every Tagloop model offers, whatever the task type: the contract between app.ml and
the rest of the app (the training loop, the editors' suggestions, the CLI, al-bench).

Models are trained from scratch on the user's own labels, on the CPU, offline. They travel
and are stored as bytes in a *safe* format: JSON, NumPy arrays loaded with
allow_pickle=False, or spaCy's own msgpack serialisation. Never pickle: a project file may
come from someone else, and unpickling runs code.

Heavy libraries (scikit-learn, spaCy) are imported inside the functions that need them, so
importing app.ml costs nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress

TASK_TYPES = ("classification", "multilabel", "spans")


@dataclass(frozen=True)
class Example:
    """One labeled text. value: classification "label"; multilabel ["a", "b"] ([] = none of
    these); spans [{"start", "end", "label"}] with Python string offsets, end exclusive."""

    text: str
    value: Any


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one text, in the same shape as Example.value.

    confidence: in [0, 1], how sure the model is of the whole answer (classification: the
    top class's calibrated probability; multilabel: the least sure label decision; spans: the
    least sure predicted span, or 1 - the strongest unpredicted candidate's score when nothing
    is predicted). scores: per-label probabilities (classification, multilabel); for spans,
    span_scores holds one score per predicted span, in the order of value.
    """

    value: Any
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    span_scores: list[float] | None = None


# Metrics are plain JSON-able dicts, stored with each model version:
# {"n": 120, "folds": 5, "accuracy": 0.93 | None, "macro_f1": 0.91,
#  "per_label": {"spam": {"precision": .9, "recall": .8, "f1": .85, "support": 40}, ...},
#  "ece": 0.04 | None, "confusion": {"labels": [...], "matrix": [[...], ...]} | None}
# For spans, precision/recall/f1 are exact-match span figures and macro_f1 averages labels.
Metrics = dict[str, Any]


class Model(Protocol):
    task_type: str
    labels: tuple[str, ...]
    format: str  # names the safe serialisation, e.g. "tagloop-linear-1"

    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...

    def to_bytes(self) -> bytes: ...


Trainer = Callable[..., Model]


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
    predictions; the linear models share their folds between the two (see linear_fit.py)."""
    if task_type == "spans":
        metrics, oof = cross_validate(
            task_type,
            examples,
            labels,
            folds=folds,
            allow_overlap=allow_overlap,
            language=language,
            seed=seed,
            progress=progress,
            cancel=cancel,
        )
        model = train(
            task_type,
            examples,
            labels,
            allow_overlap=allow_overlap,
            language=language,
            seed=seed,
            progress=progress,
            cancel=cancel,
        )
        return model, metrics, oof
    from app.ml.linear import fit as linear_fit

    return linear_fit.train_validated(
        task_type, examples, labels, folds=folds, seed=seed, progress=progress, cancel=cancel
    )
