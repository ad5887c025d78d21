"""What every Tagloop model offers, whatever the task type: the contract between app.ml and
the rest of the app (the training loop, the editors' suggestions, the CLI, al-bench).

This module is the bottom of app.ml: the models (app.ml.linear, app.ml.spans), the metrics
and the strategies import it, and it imports none of them. Which model serves which task type
is app.ml.registry's business.

Models are trained from scratch on the user's own labels, on the CPU, offline. They travel
and are stored as bytes in a *safe* format: JSON, NumPy arrays loaded with
allow_pickle=False, or spaCy's own msgpack serialisation. Never pickle: a project file may
come from someone else, and unpickling runs code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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
    calibrated chance that the whole answer is right, every span and no other span, from the
    CRF's probability of the whole tag sequence (spancat: the least sure predicted span, or
    1 - the strongest unpredicted candidate's score when nothing is predicted)).
    scores: per-label probabilities (classification, multilabel); for spans, span_scores holds
    one score per predicted span (the chance it is exactly right), in the order of value.
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
    """A trained model of any kind: it predicts and serialises itself safely."""

    task_type: str
    labels: tuple[str, ...]
    format: str  # names the safe serialisation, e.g. "tagloop-linear-1"

    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...

    def to_bytes(self) -> bytes: ...
