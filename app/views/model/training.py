"""What a running training says about itself: which model, on how many items, which step
(fold, epoch, scoring) and about how long is left. Plain Python (no Qt), fed by the progress
callbacks of the training job, read by the model panel and the status bar, so the two never
disagree and a first training is shown as one rather than as "no model yet".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

NOUNS = {"classification": "classification model", "multilabel": "multilabel model"}
MIN_ELAPSED = 2.0  # seconds of a step before its rate is trusted for an estimate


def model_noun(task_type: str) -> str:
    return NOUNS.get(task_type, "span model")


def items_noun(task_type: str, count: int) -> str:
    if task_type == "spans":
        return f"{count:,} document{'s' if count != 1 else ''}"
    return f"{count:,} labeled item{'s' if count != 1 else ''}"


def duration(seconds: float) -> str:
    """'about 40 s', 'about 3 min'; rounded, because an estimate is not a promise."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


@dataclass
class TrainingState:
    """One training run as the user sees it. update() takes each progress report; a step
    starts whenever the reported total changes or the count goes back (a new fold, the final
    fit, scoring the pool), and the time left is estimated from the current step's rate."""

    task_type: str
    items: int
    first: bool  # no model version exists yet
    started: float = field(default_factory=time.monotonic)
    message: str = "starting"
    done: int = 0
    total: int | None = None
    step_started: float = 0.0
    step_done: int = 0
    cancelling: bool = False
    quick: bool = False  # a quick update after a completed span document, not a full training

    def __post_init__(self) -> None:
        self.step_started = self.started

    def update(self, done: int, total: int | None, message: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        total = total if total and total > 0 else None
        if total != self.total or done < self.done or message.split(" (")[0] != self.stem:
            self.step_started, self.step_done = now, done
        self.done, self.total, self.message = done, total, message

    @property
    def stem(self) -> str:
        return self.message.split(" (")[0]

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.done / self.total) if self.total else None

    def seconds_left(self, now: float | None = None) -> float | None:
        """The current step's time left at its rate so far; None until it can be told."""
        now = time.monotonic() if now is None else now
        elapsed = now - self.step_started
        progressed = self.done - self.step_done
        if not self.total or progressed <= 0 or elapsed < MIN_ELAPSED:
            return None
        return (self.total - self.done) * elapsed / progressed

    def headline(self) -> str:
        """'Training the first span model on 102 documents'."""
        which = "the first " if self.first else "a new "
        on = items_noun(self.task_type, self.items)
        if self.quick:
            return f"Quick update of the {model_noun(self.task_type)} on {on}"
        return f"Training {which}{model_noun(self.task_type)} on {on}"

    def step(self, now: float | None = None) -> str:
        """'Fold 2 of 5 · 40% · about 30 s left in this step'."""
        if self.cancelling:
            return "Cancelling…"
        parts = [self.message[:1].upper() + self.message[1:]]
        if self.fraction is not None:
            parts.append(f"{self.fraction:.0%}")
        left = self.seconds_left(now)
        if left is not None:
            parts.append(f"{duration(left)} left in this step")
        return " · ".join(parts)

    def status_line(self, now: float | None = None) -> str:
        """The status bar's one line."""
        headline = self.headline()
        return f"Model: {headline[0].lower()}{headline[1:]} · {self.step(now)}"
