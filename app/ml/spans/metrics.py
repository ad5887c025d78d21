"""Exact-match span evaluation: a predicted span counts only if its start, end and label all
equal a gold span's. Partial overlaps score nothing, which is what a reviewer experiences:
a half-right span still has to be corrected by hand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

Span = dict[str, Any]


def _keys(spans: Iterable[Span]) -> Counter[tuple[int, int, str]]:
    return Counter((int(s["start"]), int(s["end"]), str(s["label"])) for s in spans)


def span_metrics(
    gold: Sequence[Sequence[Span]],
    predicted: Sequence[Sequence[Span]],
    labels: Sequence[str] = (),
    *,
    folds: int | None = None,
) -> dict[str, Any]:
    """Per-label and micro precision/recall/F1 in the Metrics shape of app.ml.types.

    macro_f1 averages the labels that are present (in the gold or the predictions), so a
    schema label nobody has used yet does not drag the figure down to zero."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold documents but {len(predicted)} predictions")
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    for gold_spans, pred_spans in zip(gold, predicted, strict=True):
        g, p = _keys(gold_spans), _keys(pred_spans)
        for key, count in g.items():
            n_gold[key[2]] += count
        for key, count in p.items():
            n_pred[key[2]] += count
        for key, count in (g & p).items():
            tp[key[2]] += count
    all_labels = list(dict.fromkeys([*labels, *sorted(n_gold), *sorted(n_pred)]))
    per_label: dict[str, dict[str, float | int]] = {}
    for label in all_labels:
        per_label[label] = _prf(tp[label], n_pred[label], n_gold[label])
    present = [lab for lab in all_labels if n_gold[lab] or n_pred[lab]]
    macro = sum(float(per_label[lab]["f1"]) for lab in present) / len(present) if present else 0.0
    micro = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return {
        "n": len(gold),
        "folds": folds,
        "accuracy": None,
        "macro_f1": macro,
        "micro": micro,
        "per_label": per_label,
        "ece": None,
        "confusion": None,
    }


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float | int]:
    """Precision, recall, F1 and support; 0 (not NaN) where a denominator is empty."""
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": n_gold}
