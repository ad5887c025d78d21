"""The held-out evidence a threshold is chosen from: for each labelled item, the confidence of
the model's out-of-fold answer and whether that answer was exactly right.

Training (app.ml.loop.train_project) already makes out-of-fold predictions for its metrics and
keeps their confidences and outcomes with the model version (metrics["holdout"], plain JSON,
app.core.quality.automation_status.holdout_record), so choosing a threshold needs no second
cross-validation. A model version stored
before this existed gets them recomputed by cross-validating on the same labels.

"Exactly right" is the whole answer: the one label (classification), the same set of labels
(multilabel: every label's yes/no decision right), the same set of spans, each with the same
start, end and label (spans: nothing missing, nothing extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from app.core.quality.automation_status import HOLDOUT_KEY, holdout_record
from app.ml.types import Example, Prediction

KEY = HOLDOUT_KEY


def record(
    task_type: str, examples: Sequence[Example], out_of_fold: Sequence[Prediction]
) -> dict[str, list]:
    """The JSON kept with a model version: confidences (4 decimals) and 0/1 outcomes."""
    return holdout_record(
        task_type,
        [e.value for e in examples],
        [p.value for p in out_of_fold],
        [p.confidence for p in out_of_fold],
    )


def from_metrics(metrics: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """(confidences, outcomes) stored with a model version, or None for an older version."""
    kept = metrics.get(KEY)
    if not kept:
        return None
    return (
        np.asarray(kept["confidence"], dtype=np.float64),
        np.asarray(kept["correct"], dtype=bool),
    )
