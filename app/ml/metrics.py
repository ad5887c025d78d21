"""Evaluation figures for classification and multilabel, in the Metrics shape of
app.ml.types.

Plain NumPy (no sklearn.metrics) so that empty and one-class inputs give None or 0.0 rather
than warnings or exceptions: a user with three labels still gets a sensible report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from app.ml.types import Metrics, Prediction

ECE_BINS = 10


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float | None:
    """Expected calibration error: |accuracy - confidence| per equal-width bin, weighted."""
    confidence = np.asarray(confidence, float)
    correct = np.asarray(correct, float)
    if len(confidence) == 0:
        return None
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / len(confidence))


def classification(gold: Sequence[str], predicted: Sequence[Prediction], labels: Sequence[str]):
    """accuracy, macro-F1 over labels with support or predictions, ECE, confusion matrix."""
    labels = list(labels)
    n = len(gold)
    out: Metrics = {"n": n, "folds": None}
    if not predicted or n == 0:
        out.update(accuracy=None, macro_f1=None, per_label={}, ece=None, confusion=None)
        return out
    pred = [p.value for p in predicted]
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), int)
    for g, p in zip(gold, pred, strict=True):
        if g in index and p in index:
            matrix[index[g], index[p]] += 1
    per_label: dict[str, Any] = {}
    f1s = []
    for i, label in enumerate(labels):
        tp = float(matrix[i, i])
        fp = float(matrix[:, i].sum() - tp)
        fn = float(matrix[i, :].sum() - tp)
        precision, recall, f1 = _prf(tp, fp, fn)
        support = int(matrix[i, :].sum())
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        if support or matrix[:, i].sum():
            f1s.append(f1)
    correct = np.array([g == p for g, p in zip(gold, pred, strict=True)])
    out.update(
        accuracy=float(correct.mean()),
        macro_f1=float(np.mean(f1s)) if f1s else None,
        per_label=per_label,
        ece=ece(np.array([p.confidence for p in predicted]), correct),
        confusion={"labels": labels, "matrix": matrix.tolist()},
    )
    return out


def multilabel(
    gold: Sequence[Sequence[str]], predicted: Sequence[Prediction], labels: Sequence[str]
):
    """Subset accuracy, macro-F1 over labels with support or predictions, per-label figures,
    and ECE over every (text, label) probability; no confusion matrix."""
    labels = list(labels)
    n = len(gold)
    out: Metrics = {"n": n, "folds": None, "confusion": None}
    if not predicted or n == 0:
        out.update(accuracy=None, macro_f1=None, per_label={}, ece=None)
        return out
    g = np.array([[label in set(v or []) for label in labels] for v in gold], bool).reshape(
        n, len(labels)
    )
    p = np.array([[label in set(x.value or []) for label in labels] for x in predicted], bool)
    p = p.reshape(n, len(labels))
    per_label: dict[str, Any] = {}
    f1s = []
    for j, label in enumerate(labels):
        tp = float(np.sum(g[:, j] & p[:, j]))
        fp = float(np.sum(~g[:, j] & p[:, j]))
        fn = float(np.sum(g[:, j] & ~p[:, j]))
        precision, recall, f1 = _prf(tp, fp, fn)
        support = int(g[:, j].sum())
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        if support or p[:, j].any():
            f1s.append(f1)
    probs = np.array([[x.scores.get(label, 0.0) for label in labels] for x in predicted], float)
    probs = probs.reshape(n, len(labels))
    conf = np.where(p, probs, 1 - probs).ravel()
    out.update(
        accuracy=float(np.all(g == p, axis=1).mean()),
        macro_f1=float(np.mean(f1s)) if f1s else None,
        per_label=per_label,
        ece=ece(conf, (g == p).ravel()) if conf.size else None,
    )
    return out


def compute(
    task_type: str, gold: Sequence[Any], predicted: Sequence[Prediction], labels: Sequence[str]
) -> Metrics:
    """Metrics for classification or multilabel (spans are span_metrics' job)."""
    if task_type == "classification":
        return classification([str(v) for v in gold], predicted, labels)
    if task_type == "multilabel":
        return multilabel(gold, predicted, labels)
    raise ValueError(f"no metrics here for {task_type!r}")
