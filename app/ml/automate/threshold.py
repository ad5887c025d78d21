"""Choosing the confidence threshold above which the model labels by itself, with a guarantee.

Pure statistics (NumPy and SciPy, no database), so it is tested on synthetic scores where the
right answer is known.

The method is Learn-then-Test with fixed-sequence testing (Angelopoulos et al., 2021) and an
exact binomial test per threshold:

- the evidence is one pair per held-out (out-of-fold) item of the current model version: the
  model's confidence in its whole answer, and whether that answer was exactly right;
- the candidate thresholds and their order are fixed by the confidences alone (never by the
  right/wrong outcomes): the confidence of the n-th most confident item, n in steps of about
  1/200 of the held-out items, tested from the most confident down. The sequence starts at the
  candidate whose lower bound would be highest if the confidences were exactly calibrated (so
  that a few unlucky wrong answers among the very first items cannot end it at once), and
  never below n_min, the fewest items that could pass at all (all of them right);
- the null hypothesis at a threshold is "the precision of the items at or above it is below
  P"; it is rejected when the one-sided Clopper–Pearson lower bound of the observed precision,
  at level 1 - confidence, is at least P. The first test that fails ends the sequence;
- the threshold chosen is the last one rejected: the lowest, so the most items are covered.

Testing in a fixed order and stopping at the first failure controls the family-wise error at
alpha without splitting it (no Bonferroni): with probability at least `confidence` the chosen
threshold's precision on data like the held-out data is at least P.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import beta

MIN_TARGET = 0.80
MAX_TARGET = 0.999
CURVE_STEPS = 200  # about this many candidate thresholds (and curve points)


@dataclass(frozen=True)
class CurvePoint:
    """One candidate threshold: the items at or above it, their precision and its lower bound."""

    threshold: float
    covered: int
    coverage: float
    precision: float
    lower: float


@dataclass(frozen=True)
class ThresholdChoice:
    """What the scan decided. threshold None: nothing may be auto-labelled (see reason)."""

    target: float
    confidence: float
    held_out: int
    threshold: float | None
    covered: int
    precision: float | None  # observed held-out precision at the threshold
    lower: float | None  # its Clopper–Pearson lower bound
    curve: list[CurvePoint] = field(default_factory=list)
    reason: str = ""
    more_labels: int | None = None  # an estimate of the held-out labels that would help

    @property
    def coverage(self) -> float:
        """The expected share of new items the model labels by itself."""
        return self.covered / self.held_out if self.held_out else 0.0

    @property
    def wrong_per_1000(self) -> float:
        """Expected wrong labels per 1,000 items automated (at most 1000 * (1 - P), promised)."""
        if self.precision is None:
            return 0.0
        return 1000 * self.coverage * (1 - self.precision)


def check_target(target: float, confidence: float) -> None:
    """Refuse a target precision or a confidence level outside what the method supports."""
    if not MIN_TARGET <= target <= MAX_TARGET:
        raise ValueError(f"the target precision must be between {MIN_TARGET} and {MAX_TARGET}")
    if not 0.5 <= confidence < 1.0:
        raise ValueError("the confidence level must be at least 0.5 and below 1")


def lower_bound(correct: int, n: int, alpha: float) -> float:
    """One-sided Clopper–Pearson lower bound of a proportion, at level 1 - alpha."""
    if n == 0 or correct == 0:
        return 0.0
    return float(beta.ppf(alpha, correct, n - correct + 1))


def upper_bound(correct: int, n: int, alpha: float) -> float:
    """One-sided Clopper–Pearson upper bound of a proportion, at level 1 - alpha."""
    if n == 0 or correct == n:
        return 1.0
    return float(beta.ppf(1 - alpha, correct + 1, n - correct))


def interval(correct: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided Clopper–Pearson interval at this confidence level."""
    alpha = (1 - confidence) / 2
    return lower_bound(correct, n, alpha), upper_bound(correct, n, alpha)


def fewest_items(target: float, alpha: float) -> int:
    """The fewest items whose lower bound can reach the target (all of them right)."""
    return max(1, math.ceil(math.log(alpha) / math.log(target)))


def choose_threshold(
    confidences: np.ndarray | list[float],
    correct: np.ndarray | list[bool],
    target: float,
    confidence: float = 0.95,
) -> ThresholdChoice:
    """The lowest confidence threshold whose precision is at least `target` with probability
    `confidence` (the module doc's method), and the precision–coverage curve behind it."""
    check_target(target, confidence)
    scores = np.asarray(confidences, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    if scores.shape != right.shape:
        raise ValueError("one right/wrong outcome per confidence")
    alpha = 1.0 - confidence
    n_total = len(scores)
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(right[order])
    start = fewest_items(target, alpha)
    curve = _curve(ranked, hits, n_total, alpha, start)
    first = _first_test(curve, np.cumsum(ranked), alpha, start)
    chosen: CurvePoint | None = None
    for point in curve[first:] if first is not None else []:
        if point.lower < target:
            break
        chosen = point
    if chosen is not None:
        return ThresholdChoice(
            target,
            confidence,
            n_total,
            chosen.threshold,
            chosen.covered,
            chosen.precision,
            chosen.lower,
            curve,
        )
    reason, more = _why_none(curve, n_total, target, alpha, start)
    return ThresholdChoice(target, confidence, n_total, None, 0, None, None, curve, reason, more)


def _lower_bounds(right: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """lower_bound for many (right, n) pairs at once (one SciPy call, not one per point)."""
    right, n = np.asarray(right, float), np.asarray(n, float)
    safe = np.maximum(right, 1)
    bounds = beta.ppf(alpha, safe, np.maximum(n - right + 1, 1))
    return np.where((right == 0) | (n == 0), 0.0, bounds)


def _first_test(
    curve: list[CurvePoint], cumulative: np.ndarray, alpha: float, start: int
) -> int | None:
    """Where the fixed sequence starts: among candidates covering at least `start` items, the
    one whose lower bound would be highest were the confidences calibrated (the expected
    number right among the top n is the sum of their confidences). Outcomes play no part."""
    indexes = [index for index, point in enumerate(curve) if point.covered >= start]
    if not indexes:
        return None
    sizes = np.array([curve[index].covered for index in indexes])
    expected = np.round(cumulative[sizes - 1])
    return indexes[int(np.argmax(_lower_bounds(expected, sizes, alpha)))]


def _curve(
    ranked: np.ndarray, hits: np.ndarray, n_total: int, alpha: float, start: int
) -> list[CurvePoint]:
    """Candidate thresholds every ~1/CURVE_STEPS of the items (ties kept together), and the
    one covering the fewest items that could pass."""
    if n_total == 0:
        return []
    step = max(1, n_total // CURVE_STEPS)
    sizes = np.array(sorted(set(range(step, n_total + 1, step)) | {n_total, min(start, n_total)}))
    thresholds = ranked[sizes - 1]
    covered = np.unique(np.searchsorted(-ranked, -thresholds, side="right"))  # ties included
    good = hits[covered - 1]
    bounds = _lower_bounds(good, covered, alpha)
    return [
        CurvePoint(float(ranked[c - 1]), int(c), c / n_total, g / c, float(b))
        for c, g, b in zip(covered.tolist(), good.tolist(), bounds.tolist(), strict=True)
    ]


def _why_none(
    curve: list[CurvePoint],
    n_total: int,
    target: float,
    alpha: float,
    start: int,
) -> tuple[str, int | None]:
    """Why no threshold qualifies, and about how many more held-out labels would let one."""
    if n_total < start:
        need = start - n_total
        return (
            f"only {n_total} held-out labels: at least {start} are needed to show a precision "
            f"of {target:g} with this confidence",
            need,
        )
    hopeful = [p for p in curve if p.covered >= start and p.precision >= target]
    if not hopeful:  # not even the fewest most confident items that could pass
        best = next(p for p in curve if p.covered >= start)
        return (
            f"even the model's most confident answers are right only {best.precision:.1%} of "
            f"the time (held out), below the target {target:g}: label more data and retrain, "
            "or choose a lower target",
            None,
        )
    best = max(hopeful, key=lambda p: (p.lower, p.covered))
    # At the best observed precision, how many items would its lower bound need?
    size = best.covered + 1
    while size < 1_000_000 and lower_bound(round(best.precision * size), size, alpha) < target:
        size = math.ceil(size * 1.1)
    more = max(1, math.ceil((size - best.covered) / max(best.coverage, 1e-9)))
    return (
        f"no threshold can be shown to reach {target:g} yet: the best is "
        f"{best.precision:.1%} right on {best.covered} held-out items, too few to be sure; "
        f"about {more:,} more labels would likely help",
        more,
    )
