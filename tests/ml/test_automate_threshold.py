"""Choosing the automation threshold (app.ml.automate.threshold) on synthetic scores where the
right answer is known: the guarantee holds, the coverage is near the oracle's, and when no
threshold can be shown to reach the target nothing qualifies and the reason says why."""

from __future__ import annotations

import numpy as np
import pytest

from app.ml.automate.holdout import record
from app.ml.automate.threshold import (
    check_target,
    choose_threshold,
    fewest_items,
    interval,
    lower_bound,
)
from app.ml.types import Example, Prediction


def calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Confidences uniform on [0.5, 1], each right with exactly that probability: the true
    precision above a threshold t is (1 + t) / 2, so the oracle threshold for P is 2P - 1."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.5, 1.0, n)
    return scores, rng.random(n) < scores


def test_clopper_pearson_matches_known_values():
    # all n right: the one-sided lower bound is alpha ** (1 / n)
    assert lower_bound(59, 59, 0.05) == pytest.approx(0.05 ** (1 / 59))
    assert fewest_items(0.95, 0.05) == 59  # 0.95 ** 58 > 0.05 >= 0.95 ** 59
    low, high = interval(50, 100, 0.95)
    assert low == pytest.approx(0.3983, abs=1e-4) and high == pytest.approx(0.6017, abs=1e-4)
    assert lower_bound(0, 10, 0.05) == 0.0 and interval(10, 10, 0.95)[1] == 1.0


@pytest.mark.parametrize("target", [0.8, 0.9, 0.95])
def test_threshold_is_safe_and_near_the_oracle(target):
    scores, right = calibrated(20_000, seed=1)
    choice = choose_threshold(scores, right, target, 0.95)
    oracle = 2 * target - 1
    assert choice.threshold is not None
    assert choice.threshold >= oracle - 0.01  # never much looser than the true threshold
    true_precision = (1 + choice.threshold) / 2
    assert true_precision >= target - 0.005
    oracle_coverage = (1 - oracle) / 0.5
    assert choice.coverage >= 0.7 * oracle_coverage
    assert choice.lower >= target
    assert choice.wrong_per_1000 == pytest.approx(1000 * choice.coverage * (1 - choice.precision))


def test_the_guarantee_holds_across_many_draws():
    """With 95% confidence the chosen threshold's true precision is at least P: over 200
    independent calibration sets, failures stay well under 5%."""
    target, failures, chosen = 0.9, 0, 0
    for seed in range(200):
        scores, right = calibrated(1_000, seed)
        choice = choose_threshold(scores, right, target, 0.95)
        if choice.threshold is not None:
            chosen += 1
            failures += (1 + choice.threshold) / 2 < target
    assert chosen > 150
    assert failures <= 10


def test_no_threshold_when_the_model_is_never_good_enough():
    rng = np.random.default_rng(3)
    scores = rng.uniform(0.5, 1.0, 5_000)
    right = rng.random(5_000) < 0.7  # 70% right whatever the confidence
    choice = choose_threshold(scores, right, 0.95)
    assert choice.threshold is None and choice.covered == 0 and choice.coverage == 0.0
    assert "below the target" in choice.reason
    assert choice.curve  # the curve is still there to show


def test_no_threshold_with_too_few_labels_says_how_many_would_help():
    scores = np.full(20, 0.99)
    choice = choose_threshold(scores, np.ones(20, bool), 0.95)
    assert choice.threshold is None
    assert choice.more_labels == 59 - 20 and "at least 59" in choice.reason
    right = np.ones(80, bool)
    right[7] = False  # 79 of 80 right: 98.75%, but its lower bound is under 0.95
    choice = choose_threshold(np.full(80, 0.99), right, 0.95)
    assert choice.threshold is None and "more labels would likely help" in choice.reason
    assert 10 < choice.more_labels < 200


def test_perfect_model_covers_everything():
    scores = np.linspace(0.6, 1.0, 1_000)
    choice = choose_threshold(scores, np.ones(1_000, bool), 0.95)
    assert choice.covered == 1_000 and choice.threshold == pytest.approx(0.6)


def test_targets_out_of_range_are_refused():
    for target, level in ((0.79, 0.95), (0.9995, 0.95), (0.9, 1.0), (0.9, 0.3)):
        with pytest.raises(ValueError):
            check_target(target, level)


def test_holdout_outcomes_judge_the_whole_answer():
    examples = [
        Example("a", ["x", "y"]),
        Example("b", ["x"]),
        Example("c", [{"start": 0, "end": 1, "label": "D"}]),
    ]
    kept = record(
        "multilabel",
        examples[:2],
        [Prediction(["y", "x"], 0.9), Prediction(["x", "y"], 0.8)],
    )
    assert kept == {"confidence": [0.9, 0.8], "correct": [1, 0]}
    spans = record(
        "spans",
        examples[2:],
        [
            Prediction(
                [{"start": 0, "end": 1, "label": "D"}, {"start": 2, "end": 3, "label": "D"}], 0.7
            )
        ],
    )
    assert spans["correct"] == [0]  # an extra span makes the answer wrong
