"""Labels that look wrong: where the cross-validated model disagrees with the given label.

Confident-learning style (Northcutt et al. 2021): an example is flagged when the out-of-fold
model's top label is not the given one and its probability reaches that label's per-class
threshold (the mean probability the model gives that class on examples labeled with it), so
a model that is shy about a rare class still gets to flag it. Flagged items are ranked by
1 - p(given label): the less the model believes the given label, the more suspicious.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.ml.types import Example, Prediction


def _classification(examples: Sequence[Example], oof: Sequence[Prediction]):
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for example, prediction in zip(examples, oof, strict=True):
        label = str(example.value)
        sums[label] = sums.get(label, 0.0) + prediction.scores.get(label, 0.0)
        counts[label] = counts.get(label, 0) + 1
    threshold = {label: sums[label] / counts[label] for label in sums}
    out: list[tuple[int, float, Any]] = []
    for i, (example, prediction) in enumerate(zip(examples, oof, strict=True)):
        given = str(example.value)
        if not prediction.scores:
            continue
        top = max(prediction.scores, key=prediction.scores.get)
        p_top = prediction.scores[top]
        if top != given and p_top >= threshold.get(top, 0.5):
            out.append((i, 1.0 - prediction.scores.get(given, 0.0), top))
    return out


def _multilabel(examples: Sequence[Example], oof: Sequence[Prediction]):
    out: list[tuple[int, float, Any]] = []
    for i, (example, prediction) in enumerate(zip(examples, oof, strict=True)):
        given = set(example.value or [])
        predicted = set(prediction.value or [])
        if given == predicted:
            continue
        worst = 0.0
        for label in given ^ predicted:
            p = prediction.scores.get(label, 0.5)
            worst = max(worst, p if label in predicted else 1.0 - p)
        out.append((i, worst, sorted(predicted)))
    return out


def _span_key(span: dict) -> tuple[int, int, str]:
    return int(span["start"]), int(span["end"]), str(span["label"])


def _spans(examples: Sequence[Example], oof: Sequence[Prediction]):
    out: list[tuple[int, float, Any]] = []
    for i, (example, prediction) in enumerate(zip(examples, oof, strict=True)):
        given = {_span_key(s) for s in example.value or []}
        spans = list(prediction.value or [])
        scores = prediction.span_scores or [prediction.confidence] * len(spans)
        predicted = {_span_key(s): float(sc) for s, sc in zip(spans, scores, strict=False)}
        extra = [predicted[k] for k in predicted if k not in given]
        missing = [k for k in given if k not in predicted]
        if not extra and not missing:
            continue
        union = len(given | set(predicted)) or 1
        # how much differs, weighted by how sure the model is of the spans it adds
        sureness = max(extra) if extra else float(prediction.confidence)
        score = (len(extra) + len(missing)) / union * (0.5 + 0.5 * sureness)
        out.append((i, score, spans))
    return out


def suspicious(
    task_type: str, examples: Sequence[Example], out_of_fold: Sequence[Prediction]
) -> list[tuple[int, float, Any]]:
    """(index, score in [0, 1], suggested value) of suspicious labels, most suspicious first."""
    if len(examples) != len(out_of_fold):
        raise ValueError("one out-of-fold prediction per example is needed")
    if task_type == "classification":
        found = _classification(examples, out_of_fold)
    elif task_type == "multilabel":
        found = _multilabel(examples, out_of_fold)
    elif task_type == "spans":
        found = _spans(examples, out_of_fold)
    else:
        raise ValueError(f"unknown task type {task_type!r}")
    found.sort(key=lambda item: (-item[1], item[0]))
    return found
