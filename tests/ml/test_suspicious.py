"""Suspicious labels: deliberately flipped labels must come out on top."""

from __future__ import annotations

import random

import pytest

from app.ml.linear import fit as linear_fit
from app.ml.suspicious import suspicious
from app.ml.types import Example, Prediction


def test_flipped_sms_labels_rank_on_top(sms1500):
    rng = random.Random(42)
    flipped = set(rng.sample(range(len(sms1500)), len(sms1500) // 20))  # 5%: 75 items
    other = {"ham": "spam", "spam": "ham"}
    noisy = [Example(e.text, other[e.value]) if i in flipped else e for i, e in enumerate(sms1500)]
    _, oof = linear_fit.cross_validate("classification", noisy, ["ham", "spam"], folds=5, seed=0)
    found = suspicious("classification", noisy, oof)
    assert found == sorted(found, key=lambda item: (-item[1], item[0]))
    top = [index for index, _, _ in found[: 2 * len(flipped)]]
    hits = len(flipped & set(top))
    assert hits >= 0.6 * len(flipped), f"only {hits} of {len(flipped)} flips in the top"
    # suggestions give the original label back
    for index, score, suggestion in found[:20]:
        assert 0.0 <= score <= 1.0
        if index in flipped:
            assert suggestion == sms1500[index].value


def test_multilabel_disagreement():
    examples = [Example("t0", ["a"]), Example("t1", ["a", "b"]), Example("t2", [])]
    oof = [
        Prediction(["a"], 0.9, {"a": 0.95, "b": 0.1}),
        Prediction(["a"], 0.6, {"a": 0.9, "b": 0.4}),  # b given, model unsure: mild
        Prediction(["b"], 0.9, {"a": 0.02, "b": 0.97}),  # b missing, model sure: strong
    ]
    found = suspicious("multilabel", examples, oof)
    assert [index for index, _, _ in found] == [2, 1]
    assert found[0][2] == ["b"]


def test_spans_missing_and_extra():
    span = {"start": 0, "end": 6, "label": "Disease"}
    other = {"start": 10, "end": 15, "label": "Disease"}
    examples = [
        Example("cancer of x", [span]),
        Example("cancer of lungs", [span]),
        Example("cancer of lungs", []),
    ]
    oof = [
        Prediction([span], 0.9, {}, [0.9]),
        Prediction([span, other], 0.6, {}, [0.9, 0.6]),
        Prediction([span], 0.95, {}, [0.95]),
    ]
    found = suspicious("spans", examples, oof)
    assert [index for index, _, _ in found] == [2, 1]
    assert found[0][2] == [span]


def test_lengths_must_match():
    with pytest.raises(ValueError):
        suspicious("classification", [Example("a", "x")], [])
