"""Active-learning strategies: valid batches, sensible priorities, diverse hybrid batches."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from app.ml import active
from app.ml.linear import fit as linear_fit
from app.ml.types import Prediction

LABELS = ["ham", "spam"]


@pytest.fixture(scope="module")
def model(sms200):
    return linear_fit.train("classification", sms200[:120], LABELS, seed=0)


def test_default_is_a_strategy():
    assert active.DEFAULT_STRATEGY in active.STRATEGIES
    assert {"random", "least_confidence", "margin", "entropy", "hybrid", "cold_start"} <= set(
        active.STRATEGIES
    )


@pytest.mark.parametrize("strategy", active.STRATEGIES)
def test_select_batch_valid(strategy, model, sms200):
    pool = [e.text for e in sms200[120:]]
    for m in (model, None):
        chosen = active.select_batch(strategy, m, pool, 10, random.Random(1), "classification")
        assert len(chosen) == 10
        assert len(set(chosen)) == 10
        assert all(isinstance(i, int) and 0 <= i < len(pool) for i in chosen)
    # a batch larger than the pool takes the whole pool, once
    small = pool[:7]
    chosen = active.select_batch(strategy, model, small, 10, random.Random(2), "classification")
    assert sorted(chosen) == list(range(7))
    assert active.select_batch(strategy, model, [], 5, random.Random(3), "classification") == []


def test_unknown_strategy():
    with pytest.raises(ValueError):
        active.priority("most_fun", [])
    with pytest.raises(ValueError):
        active.select_batch("most_fun", None, ["a"], 1, random.Random(0), "classification")


def _cls(p_spam: float) -> Prediction:
    value = "spam" if p_spam >= 0.5 else "ham"
    return Prediction(value, max(p_spam, 1 - p_spam), {"ham": 1 - p_spam, "spam": p_spam})


@pytest.mark.parametrize("strategy", ["least_confidence", "margin", "entropy", "hybrid"])
def test_priority_uncertain_before_certain(strategy):
    sure_ham, unsure, sure_spam, fairly = _cls(0.02), _cls(0.52), _cls(0.99), _cls(0.8)
    scores = active.priority(strategy, [sure_ham, unsure, sure_spam, fairly])
    assert scores[1] > scores[3] > scores[0]
    assert scores[1] > scores[2]
    three = Prediction("a", 0.4, {"a": 0.4, "b": 0.35, "c": 0.25})
    clear = Prediction("a", 0.9, {"a": 0.9, "b": 0.05, "c": 0.05})
    high, low = active.priority(strategy, [three, clear])
    assert high > low
    # multilabel and spans: generic on confidence / scores
    ml_unsure = Prediction(["a"], 0.55, {"a": 0.6, "b": 0.45})
    ml_sure = Prediction(["a"], 0.97, {"a": 0.99, "b": 0.03})
    high, low = active.priority(strategy, [ml_unsure, ml_sure])
    assert high > low
    sp_unsure = Prediction([{"start": 0, "end": 3, "label": "X"}], 0.51, {}, [0.51])
    sp_sure = Prediction([], 0.98, {}, [])
    high, low = active.priority(strategy, [sp_unsure, sp_sure])
    assert high > low


def test_priority_is_per_item():
    predictions = [_cls(p) for p in (0.1, 0.5, 0.7, 0.95)]
    whole = active.priority("margin", predictions)
    parts = active.priority("margin", predictions[:2]) + active.priority("margin", predictions[2:])
    assert whole == parts


def test_hybrid_batch_avoids_near_duplicates(model):
    # 40 near-copies of one borderline message, plus varied messages: margin takes copies,
    # hybrid spreads its batch over clusters
    base = "Call me about the free tickets for tonight, reply yes"
    copies = [f"{base} {i}" for i in range(40)]
    varied = [
        "ok see you later",
        "WINNER claim your prize now txt WIN to 80086",
        "are you coming to dinner",
        "URGENT your mobile won 2000 call 09061",
        "sorry I'll call later",
        "free entry to the cup final text FA",
        "lol that is so funny",
        "your account has been selected for a reward",
        "I'm at the station now",
        "txt STOP to end offers from 87121",
        "how was the exam",
        "limited offer, reply now for a free ringtone",
    ] * 3
    pool = copies + varied
    rng = random.Random(0)
    margin = active.select_batch("margin", model, pool, 10, rng, "classification")
    hybrid = active.select_batch("hybrid", model, pool, 10, random.Random(0), "classification")
    dup_margin = sum(i < 40 for i in margin)
    dup_hybrid = sum(i < 40 for i in hybrid)
    assert dup_hybrid < dup_margin or dup_hybrid <= 3


def test_cold_start_is_diverse():
    pool = ["buy cheap pills now"] * 30 + [f"meeting at {h} pm" for h in range(30)]
    pool += ["the weather is lovely today", "football results tonight", "new phone who dis"]
    chosen = active.select_batch("cold_start", None, pool, 6, random.Random(0), "classification")
    texts = [pool[i] for i in chosen]
    assert texts.count("buy cheap pills now") <= 2  # not six copies of the commonest text


def test_select_from_scores_breaks_ties_randomly():
    scores = [1.0] * 20
    a = active.select_from_scores("margin", scores, list(range(20)), 5, random.Random(1), None)
    b = active.select_from_scores("margin", scores, list(range(20)), 5, random.Random(2), None)
    assert a != b
    assert active.select_from_scores(
        "margin", [0.1, 0.9, 0.5], [10, 11, 12], 2, random.Random(0), None
    ) == [11, 12]


@pytest.mark.parametrize("strategy", ["least_confidence", "margin", "entropy", "hybrid"])
@pytest.mark.parametrize("task_type", ["classification", "multilabel"])
def test_vectorised_priorities_equal_the_per_item_ones(strategy, task_type, sms200):
    """The pool-scoring fast path must rank exactly like priority() on Prediction objects."""
    labels = ["ham", "spam"] if task_type == "classification" else ["a", "b", "c"]
    if task_type == "classification":
        examples = sms200[:120]
    else:
        rng = random.Random(4)
        examples = [
            type(e)(e.text, [x for x in labels if rng.random() < 0.4]) for e in sms200[:120]
        ]
    model = linear_fit.train(task_type, examples, labels, seed=0)
    texts = [e.text for e in sms200[120:]]
    values, confidence, probs = model.pool_rows(texts)
    predictions = model.predict(texts)
    assert [json.loads(v) for v in values] == [p.value for p in predictions]
    assert confidence.tolist() == pytest.approx([p.confidence for p in predictions])
    fast = active.priority_array(strategy, task_type, probs, confidence)
    assert fast.tolist() == pytest.approx(active.priority(strategy, predictions), abs=1e-9)


def test_diverse_order_spreads_near_duplicates(sms200):
    """Ten copies each of three texts, most uncertain first: the first three of the order
    come from three different groups, not three copies of the same text."""
    texts = [e.text for e in sms200[:3]]
    candidates = list(range(30))
    pool = [texts[i // 10] for i in candidates]  # 0-9 copies of text 0, then text 1, text 2
    order = active.diverse_order(candidates, pool, batch=3, seed=0)
    assert sorted(order) == candidates
    assert {pool[i] for i in order[:3]} == set(texts)
    assert order[0] == 0  # the most uncertain item still leads


# -- auto, the default: density for three or more classes and multilabel, else balanced -----


def test_the_default_chooses_by_task_and_labels():
    assert active.DEFAULT_STRATEGY == "auto"
    assert active.for_task("auto", "classification", 2) == "balanced"  # yes/no
    assert active.for_task("auto", "classification", 6) == "density"
    assert active.for_task("auto", "multilabel", 2) == "density"
    assert active.for_task("auto", "spans", 4) == "balanced"
    assert {"balanced", "density"} <= set(active.MIXED_STRATEGIES) & set(active.DIVERSE_STRATEGIES)


def test_the_default_picks_as_the_strategy_it_stands_for(model, sms200):
    pool = [e.text for e in sms200[120:]]
    picks = {
        name: active.select_batch(name, model, pool, 10, random.Random(3), "classification")
        for name in ("balanced", "density")
    }
    assert picks["balanced"] != picks["density"]  # so the test below can tell them apart
    for labels, meant in ((2, "balanced"), (3, "density")):
        auto = active.select_batch(
            "auto", model, pool, 10, random.Random(3), "classification", labels
        )
        same = active.select_batch(meant, model, pool, 10, random.Random(3), "classification")
        assert auto == same


def test_explore_mix_keeps_the_values_and_puts_a_random_share_on_top():
    rng = np.random.default_rng(0)
    scores = rng.random(3000)
    mixed = active.explore_mix(scores, 0.3, np.random.default_rng(1))
    assert sorted(mixed.tolist()) == sorted(scores.tolist())  # the same values, reordered
    top = np.argsort(-mixed)[:300]
    uncertain = set(np.argsort(-scores)[:300].tolist())
    outsiders = sum(int(i) not in uncertain for i in top)
    assert 45 <= outsiders <= 135  # about 30% of the top are random picks (expected 90 x 0.9)
    again = active.explore_mix(scores, 0.3, np.random.default_rng(1))
    assert again.tolist() == mixed.tolist()  # reproducible from its seed
    assert active.explore_mix(scores, 0.0, rng).tolist() == scores.tolist()
    assert active.explore_mix(np.array([]), 0.3, rng).size == 0


def test_balanced_without_random_share_is_hybrid(monkeypatch, model, sms200):
    pool = [e.text for e in sms200[120:]]
    monkeypatch.setattr(active, "EXPLORE_SHARE", 0.0)
    balanced = active.select_batch("balanced", model, pool, 10, random.Random(3), "classification")
    hybrid = active.select_batch("hybrid", model, pool, 10, random.Random(3), "classification")
    assert balanced == hybrid


def test_balanced_batches_reach_beyond_the_most_uncertain():
    """Over many batches, balanced picks items well outside the uncertain front, which
    margin never does: that share keeps the labeled set representative."""
    predictions = [_cls(p) for p in np.linspace(0.0, 0.5, 1000)]  # the last: most uncertain
    front = set(range(900, 1000))
    outside = {"margin": 0, "balanced": 0}
    for seed in range(10):
        for name in outside:
            rng = random.Random(seed)
            scores = active.priority(name, predictions, rng)
            chosen = active.select_from_scores(name, scores, range(1000), 10, rng, None)
            outside[name] += sum(i not in front for i in chosen)
    assert outside["margin"] == 0
    assert 10 <= outside["balanced"] <= 50  # about 30 of 100 picks (a few random ones land inside)


def test_balanced_pool_scoring_is_a_mixed_margin(sms200, model):
    texts = [e.text for e in sms200[120:]]
    _values, confidence, probs = model.pool_rows(texts)
    margin = active.priority_array("margin", "classification", probs, confidence)
    balanced = active.priority_array("balanced", "classification", probs, confidence, seed=4)
    assert sorted(balanced.tolist()) == pytest.approx(sorted(margin.tolist()))
    assert balanced.tolist() != pytest.approx(margin.tolist())


def test_the_random_share_falls_from_one_to_the_floor_as_labels_grow():
    assert active.explore_share(0) == 1.0
    assert active.explore_share(active.WARMUP_LABELS // 2) == pytest.approx(0.5)
    assert active.explore_share(10 * active.WARMUP_LABELS) == active.EXPLORE_SHARE
    assert active.explore_share(None) == active.EXPLORE_SHARE  # unknown: the floor
    assert active.explore_share(0, spans=True) == active.EXPLORE_SHARE


def test_balanced_without_a_model_starts_from_a_random_sample(sms200):
    pool = [e.text for e in sms200]
    a = active.select_batch("balanced", None, pool, 10, random.Random(5), "classification")
    b = active.select_batch("random", None, pool, 10, random.Random(5), "classification")
    assert a == b


# -- density: balanced with information density ---------------------------------------------


def test_density_is_a_mixed_diverse_strategy():
    assert "density" in active.STRATEGIES
    assert "density" in active.DIVERSE_STRATEGIES
    assert "density" in active.MIXED_STRATEGIES


def test_density_ranks_typical_rows_above_outliers():
    rng = np.random.default_rng(0)
    centre = np.ones(8) / np.sqrt(8)
    crowd = centre + 0.05 * rng.standard_normal((50, 8))
    crowd /= np.linalg.norm(crowd, axis=1, keepdims=True)
    outlier = np.zeros((1, 8))
    outlier[0, 0] = 1.0
    rows = np.vstack([crowd[:1], outlier])
    dense, lonely = active.density(rows, crowd[1:], k=5)
    assert 0.9 < dense <= 1.0
    assert lonely < 0.5
    assert active.density(rows, crowd[:0]).tolist() == [1.0, 1.0]  # no reference: neutral


def _embed_from(vectors):
    return lambda rows: vectors[np.asarray(list(rows))]


def test_density_picks_differ_from_pure_uncertainty_and_are_reproducible():
    """Two crowded groups, each with two outliers at its edge that are a bit more uncertain:
    hybrid takes an outlier from each group, density a typical member of each."""
    rng = np.random.default_rng(1)
    eye = np.eye(6)
    rows = [np.tile(eye[0], (300, 1)), np.tile(eye[1], (300, 1))]
    rows += [eye[[0, 0, 1, 1]] + 0.6 * eye[[2, 3, 4, 5]]]  # outliers 600-603
    vectors = np.vstack(rows) + 0.01 * rng.standard_normal((604, 6))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = [0.5] * 600 + [0.52] * 4
    candidates = list(range(604))
    embed = _embed_from(vectors)
    hybrid = active.select_from_scores("hybrid", scores, candidates, 2, random.Random(2), embed)
    dense = active.select_from_scores("density", scores, candidates, 2, random.Random(2), embed)
    again = active.select_from_scores("density", scores, candidates, 2, random.Random(2), embed)
    assert dense == again
    assert all(i >= 600 for i in hybrid)
    assert all(i < 600 for i in dense)
    assert {i // 300 for i in dense} == {0, 1}  # still one per group


def test_a_softer_density_weight_lets_a_clearly_more_uncertain_outlier_through(monkeypatch):
    """density ** DENSITY_BETA: with beta 1 a typical item beats an outlier that is clearly more
    uncertain (0.56 against 0.50); with beta 0.5 the outlier's uncertainty wins, as it would in
    balanced, while a slightly more uncertain outlier (0.52) still loses to a typical item."""
    rng = np.random.default_rng(1)
    eye = np.eye(6)
    rows = [np.tile(eye[0], (300, 1)), np.tile(eye[1], (300, 1))]
    rows += [eye[[0, 0, 1, 1]] + 0.6 * eye[[2, 3, 4, 5]]]  # outliers 600-603
    vectors = np.vstack(rows) + 0.01 * rng.standard_normal((604, 6))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    embed, candidates = _embed_from(vectors), list(range(604))

    def picks(beta: float, outlier_score: float) -> list[int]:
        monkeypatch.setattr(active, "DENSITY_BETA", beta)
        scores = [0.5] * 600 + [outlier_score] * 4
        chosen = active.select_from_scores(
            "density", scores, candidates, 2, random.Random(2), embed
        )
        assert chosen == active.select_from_scores(
            "density", scores, candidates, 2, random.Random(2), embed
        )  # reproducible from the seed
        return chosen

    assert all(i < 600 for i in picks(1.0, 0.56))
    assert all(i >= 600 for i in picks(0.5, 0.56))
    assert all(i < 600 for i in picks(0.5, 0.52))
    hybrid = active.select_from_scores(
        "hybrid", [0.5] * 600 + [0.52] * 4, candidates, 2, random.Random(2), embed
    )
    assert all(i >= 600 for i in hybrid)  # where density should differ from uncertainty, it does


def test_density_diverse_order_puts_dense_items_first_within_a_cluster(sms200):
    crowd = "win a free prize now"
    texts = ["zebra quartz"] + [f"{crowd} {w}" for w in ("a", "b", "c", "d", "e", "f")]
    values = [0.6] + [0.5] * 6  # the lone text is a bit more uncertain: it comes first
    candidates = list(range(100, 107))
    plain = active.diverse_order(candidates, texts, batch=2, seed=0)
    assert sorted(plain) == candidates and plain[0] == 100
    dense = active.diverse_order(candidates, texts, batch=2, seed=0, values=values)
    assert sorted(dense) == candidates
    assert dense[0] != 100  # the crowded group leads, not the outlier
    assert 100 in dense[:2]  # still diverse: the outlier's cluster comes next
    reference = [e.text for e in sms200[:50]]
    with_pool = active.diverse_order(
        candidates, texts, batch=2, seed=0, values=values, reference=reference
    )
    assert sorted(with_pool) == candidates


def test_pool_sample_is_bounded_uniform_and_reproducible():
    sample = active.PoolSample(size=100, seed=3)
    for start in range(0, 10_000, 1000):  # chunk by chunk, like pool scoring
        sample.add([str(i) for i in range(start, start + 1000)])
    assert len(sample.texts) == 100 and sample.seen == 10_000
    numbers = [int(t) for t in sample.texts]
    assert 3000 < sum(numbers) / len(numbers) < 7000  # spread over the whole stream
    other = active.PoolSample(size=100, seed=3)
    other.add([str(i) for i in range(10_000)])
    assert other.texts == sample.texts
    small = active.PoolSample(size=100)
    small.add(["a", "b"])
    assert small.texts == ["a", "b"]


def test_density_pool_scoring_is_balanced_and_starts_random(sms200, model):
    texts = [e.text for e in sms200[120:]]
    _values, confidence, probs = model.pool_rows(texts)
    a = active.priority_array("density", "classification", probs, confidence, seed=4)
    b = active.priority_array("balanced", "classification", probs, confidence, seed=4)
    assert a.tolist() == b.tolist()
    pool = [e.text for e in sms200]
    first = active.select_batch("density", None, pool, 10, random.Random(5), "classification")
    assert first == active.select_batch(
        "random", None, pool, 10, random.Random(5), "classification"
    )


def test_span_projects_run_density_as_balanced():
    assert active.for_task("density", "spans") == "balanced"
    assert active.for_task("density", "classification") == "density"
    assert active.for_task("density", "multilabel") == "density"
    assert active.for_task("hybrid", "spans") == "hybrid"
