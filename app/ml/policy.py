"""When the model in the loop trains, and when its suggestions are shown: policy, not widgets.

Why a module of its own: these rules decide what the app does on its own (start a training run
after so many new labels, hide suggestions from a model below the user's quality bar). They
are plain functions, so they are tested without Qt and read the same from the GUI and the CLI.
"""

from __future__ import annotations

from app.core import settings
from app.core.project import modelstore

MIN_EXAMPLES = 10  # labeled datapoints before a first model is worth training


def retrain_every(labels: int) -> int:
    """New labels between automatic runs: 10 while small, a tenth of the labels later."""
    return max(10, min(1000, labels // 10))


def quality_bar() -> float:
    """The cross-validated macro-F1 a model needs before its suggestions are shown (the
    user's preference, or modelstore.DEFAULT_QUALITY_BAR)."""
    return float(settings.preference(modelstore.QUALITY_BAR_KEY, modelstore.DEFAULT_QUALITY_BAR))


SHOW_EARLY_KEY = "model_show_early"  # the "show suggestions early" switch (a preference)


def show_early() -> bool:
    """Whether the user asked to see suggestions of a model still below the quality bar
    (marked as early, low-confidence suggestions)."""
    return bool(settings.preference(SHOW_EARLY_KEY, False))


def set_show_early(on: bool) -> None:
    settings.set_preference(SHOW_EARLY_KEY, bool(on))
