"""Calibrated span confidences, and span-level expected calibration error (ECE).

Why a module of its own: active learning, suggestions and automation read a span's score as
"the chance this span is exactly right" and a document's confidence as "the chance the whole
answer is right". A CRF's raw marginals are only roughly that, so an isotonic map fitted on
out-of-fold predictions (never on the training documents themselves) turns them into
probabilities. The map is a few JSON numbers: it travels inside the model's meta.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from app.ml import metrics
from app.ml.types import Example, Prediction

MIN_POINTS = 20  # fewer out-of-fold points than this: no map, raw scores are kept


class Isotonic:
    """A monotone piecewise-linear map from raw score to probability (identity when empty)."""

    def __init__(self, xs: Sequence[float] = (), ys: Sequence[float] = ()) -> None:
        if len(xs) != len(ys):
            raise ValueError("calibration points do not pair up")
        self.xs = [float(x) for x in xs]
        self.ys = [float(y) for y in ys]

    @classmethod
    def fit(cls, scores: Sequence[float], correct: Sequence[bool]) -> Isotonic:
        """Isotonic regression of correctness on score (identity below MIN_POINTS)."""
        if len(scores) < MIN_POINTS or len(set(correct)) < 2:
            return cls()
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        model.fit(np.asarray(scores, float), np.asarray(correct, float))
        return cls(model.X_thresholds_.tolist(), model.y_thresholds_.tolist())

    def __call__(self, score: float) -> float:
        if not self.xs:
            return float(min(1.0, max(0.0, score)))
        return float(np.interp(score, self.xs, self.ys))

    def to_json(self) -> list[list[float]]:
        return [self.xs, self.ys]

    @classmethod
    def from_json(cls, raw: Any) -> Isotonic:
        """From to_json() output; ValueError on anything else."""
        ok = (
            isinstance(raw, list)
            and len(raw) == 2
            and all(isinstance(part, list) for part in raw)
            and all(isinstance(v, int | float) and 0 <= v <= 1 for part in raw for v in part)
        )
        if not ok or raw[0] != sorted(raw[0]):
            raise ValueError("bad span model calibration")
        return cls(raw[0], raw[1])


def _key(span: dict[str, Any]) -> tuple[int, int, str]:
    return int(span["start"]), int(span["end"]), str(span["label"])


def span_points(
    examples: Sequence[Example], predictions: Sequence[Prediction]
) -> tuple[list[float], list[bool]]:
    """Every predicted span's score, and whether a gold span matches it exactly."""
    scores, correct = [], []
    for example, prediction in zip(examples, predictions, strict=True):
        gold = {_key(span) for span in example.value or []}
        for span, score in zip(prediction.value, prediction.span_scores or [], strict=True):
            scores.append(float(score))
            correct.append(_key(span) in gold)
    return scores, correct


def document_points(
    examples: Sequence[Example], predictions: Sequence[Prediction]
) -> tuple[list[float], list[bool]]:
    """Every document's confidence, and whether its predicted spans equal the gold ones."""
    scores, correct = [], []
    for example, prediction in zip(examples, predictions, strict=True):
        gold = {_key(span) for span in example.value or []}
        scores.append(float(prediction.confidence))
        correct.append({_key(span) for span in prediction.value} == gold)
    return scores, correct


def ece(scores: Sequence[float], correct: Sequence[bool]) -> float | None:
    """Expected calibration error (app.ml.metrics.ece) of span or document scores, which
    are clipped to [0, 1] first (None without any point)."""
    return metrics.ece(np.clip(np.asarray(scores, float), 0.0, 1.0), np.asarray(correct, float))


class Calibration:
    """The two maps a span model applies: one for span scores, one for a document's
    confidence (the chance that its whole answer is right)."""

    def __init__(self, span: Isotonic | None = None, document: Isotonic | None = None) -> None:
        self.span = span or Isotonic()
        self.document = document or Isotonic()

    @classmethod
    def fit(cls, examples: Sequence[Example], predictions: Sequence[Prediction]) -> Calibration:
        return cls(
            Isotonic.fit(*span_points(examples, predictions)),
            Isotonic.fit(*document_points(examples, predictions)),
        )

    def apply(self, prediction: Prediction) -> Prediction:
        scores = [self.span(score) for score in prediction.span_scores or []]
        return Prediction(
            value=prediction.value,
            confidence=self.document(prediction.confidence),
            scores=prediction.scores,
            span_scores=scores,
        )

    def to_json(self) -> dict[str, Any]:
        return {"span": self.span.to_json(), "document": self.document.to_json()}

    @classmethod
    def from_json(cls, raw: Any) -> Calibration:
        if not isinstance(raw, dict) or set(raw) != {"span", "document"}:
            raise ValueError("bad span model calibration")
        return cls(Isotonic.from_json(raw["span"]), Isotonic.from_json(raw["document"]))


def cross_fitted(
    examples: Sequence[Example], predictions: Sequence[Prediction], folds: Sequence[int]
) -> list[Prediction]:
    """Out-of-fold predictions calibrated by maps fitted on the other folds' predictions, so
    the ECE reported for them is not measured on the points that fitted the map."""
    out: list[Prediction | None] = [None] * len(examples)
    for fold in sorted(set(folds)):
        rest = [i for i, f in enumerate(folds) if f != fold]
        calibration = Calibration.fit([examples[i] for i in rest], [predictions[i] for i in rest])
        for i, f in enumerate(folds):
            if f == fold:
                out[i] = calibration.apply(predictions[i])
    return [p for p in out if p is not None]


def calibration_metrics(
    examples: Sequence[Example], predictions: Sequence[Prediction]
) -> dict[str, float | None]:
    """Span-level ECE (the issue's figure) and document-level ECE of these predictions."""
    return {
        "ece": ece(*span_points(examples, predictions)),
        "document_ece": ece(*document_points(examples, predictions)),
    }
