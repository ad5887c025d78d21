"""The held-out evidence a threshold is chosen from: for each labelled item, the confidence of
the model's out-of-fold answer and whether that answer was exactly right.

Training (app.ml.loop.train_project) already makes out-of-fold predictions for its metrics;
`record` keeps their confidences and outcomes with the model version (metrics["holdout"],
plain JSON), so choosing a threshold needs no second cross-validation. A model version stored
before this existed gets them recomputed by cross-validating on the same labels.

"Exactly right" is the whole answer: the one label (classification), the same set of labels
(multilabel: every label's yes/no decision right), the same set of spans, each with the same
start, end and label (spans: nothing missing, nothing extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from app.core.quality.automation_status import same_answer
from app.ml.types import Example, Prediction

KEY = "holdout"


def record(
    task_type: str, examples: Sequence[Example], out_of_fold: Sequence[Prediction]
) -> dict[str, list]:
    """The JSON kept with a model version: confidences (4 decimals) and 0/1 outcomes."""
    return {
        "confidence": [round(float(p.confidence), 4) for p in out_of_fold],
        "correct": [
            int(same_answer(task_type, p.value, e.value))
            for e, p in zip(examples, out_of_fold, strict=True)
        ],
    }


def from_metrics(metrics: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """(confidences, outcomes) stored with a model version, or None for an older version."""
    kept = metrics.get(KEY)
    if not kept:
        return None
    return (
        np.asarray(kept["confidence"], dtype=np.float64),
        np.asarray(kept["correct"], dtype=bool),
    )
