"""Active learning: which unlabeled item to ask about next.

priority() scores items one by one from their predictions (so a 1M pool can be scored chunk
by chunk with no global state); select_batch() picks a whole batch, where "hybrid" also keeps
the batch diverse: it clusters the most uncertain candidates and takes the most uncertain item
of each cluster, so one batch is not ten near-duplicates of the same borderline text.
"cold_start" needs no model: it clusters (a sample of) the pool and asks for the items nearest
the cluster centres, i.e. diverse, representative texts.
"balanced" is hybrid with a share of random picks in every batch: where the
model's uncertainty is misleading (few labels, skewed data, spans) pure uncertainty sampling
keeps asking about one corner of the data and falls behind random; the random share keeps the
training set representative, so it never does much worse than random and, where
uncertainty helps, keeps most of its gain (bench/al_curves.py, docs in README). It starts from
a random sample, and for classification and multilabel its random share falls from 1 to
EXPLORE_SHARE over the first WARMUP_LABELS labels.
"density" is balanced with information density (Settles & Craven 2008): within each cluster of
candidates it picks the item of highest priority * density ** 0.5, density being the mean
cosine similarity to the nearest items of a pool sample.
"auto" (the default) runs density for multilabel projects and for three or more classes, and
balanced for yes/no questions and spans (for_task). Measured against random (AUC difference,
6 repeats, bench/al_tune.py): density gained over balanced on every set of three or more
classes and on multilabel (dominant type +0.020 against +0.006, mention types +0.007 against
+0.002, NCBI titles +0.016 against +0.009), and on yes/no sets won two and lost two (mention
yes/no +0.002 against +0.011, SMS cut short +0.090 against +0.100). On the issue's four sets
auto is +0.021 ahead of random on average, and +0.007 on the worst (balanced alone +0.0165).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from app.ml.types import Prediction

STRATEGIES = (
    "auto",
    "random",
    "least_confidence",
    "margin",
    "entropy",
    "hybrid",
    "balanced",
    "cold_start",
    "density",
)
# auto (the default): density for multilabel and for three or more classes, balanced for yes/no
# and spans (for_task). Measured, AUC minus random, 6 repeats (bench/al_tune.py): on the
# issue's four sets +0.0212 on average (balanced alone +0.0165, density alone +0.0203), lowest
# +0.0066; density lost to balanced on both yes/no sets of the tuning protocol (mention yes/no
# and SMS cut short) and gained on every set of three or more classes and on multilabel.
DEFAULT_STRATEGY = "auto"
# strategies whose queue front is put in a diverse (clustered, round-robin) order
DIVERSE_STRATEGIES = ("hybrid", "balanced", "density")
# strategies with balanced's random share (density is balanced, density-weighted)
MIXED_STRATEGIES = ("balanced", "density")
# balanced: about this share of every batch is picked at random. 0.2 gained on SMS and NCBI
# sentences but lost on NCBI sentences cut to 12 words, 0.4 lost on the tuning sets, and so did
# a share decaying to 0.15 by 500 labels (6 repeats, bench/al_tune.py has the table)
EXPLORE_SHARE = 0.3
# balanced, classification and multilabel: a model of a few dozen labels is a poor judge of its
# own uncertainty (NCBI sentences: early uncertainty picks fell behind random), so the random
# share starts at 1 and falls linearly to EXPLORE_SHARE at this many labels (50 beat 100 on
# SMS and both NCBI sentence sets, 4 repeats each; 30 and 100 did not beat it at 6 repeats)
WARMUP_LABELS = 50
MIX_DEPTH = 2000  # balanced: how many top ranks of a scored chunk get random picks mixed in
HYBRID_CANDIDATES = 10  # hybrid clusters the batch * this most uncertain items
COLD_START_SAMPLE = 5000  # cold start clusters at most this many pool items
EMBED_DIM = 50
# density: information density (Settles & Craven 2008) on the diverse candidates: each
# cluster's pick maximises priority * density ** DENSITY_BETA, where density is the mean cosine
# similarity to the DENSITY_NEIGHBOURS nearest of DENSITY_SAMPLE random pool items (1, 0.5 and
# 0.3 measured: 0.5 gained over 1 on six of seven sets; 0.3 fell below random on mention
# yes/no; bench/al_tune.py)
DENSITY_BETA = 0.5
DENSITY_NEIGHBOURS = 10
DENSITY_SAMPLE = 1000

Embed = Callable[[Sequence[int]], np.ndarray]


def _entropy(probs: Sequence[float]) -> float:
    total = 0.0
    for p in probs:
        if p > 0:
            total -= p * math.log(p)
    return total


def _binary_entropy(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return -(p * math.log(p) + (1 - p) * math.log(1 - p)) / math.log(2)


def _is_multilabel(prediction: Prediction) -> bool:
    return isinstance(prediction.value, list) and prediction.span_scores is None


def _score(strategy: str, prediction: Prediction) -> float:
    """Uncertainty of one prediction, in [0, 1]; higher = more worth asking."""
    confidence = min(max(float(prediction.confidence), 0.0), 1.0)
    if strategy == "least_confidence":
        return 1.0 - confidence
    scores = list(prediction.scores.values()) if prediction.scores else []
    multilabel = _is_multilabel(prediction)
    if strategy in ("margin", "hybrid", *MIXED_STRATEGIES):
        if prediction.span_scores is not None:
            # a document's confidence is the chance its whole labeling is right, not a yes/no
            # probability: 0.01 is very unsure, so |2p - 1| would rank it as very sure
            return 1.0 - confidence
        if scores and not multilabel and len(scores) >= 2:
            top = sorted(scores, reverse=True)
            return 1.0 - (top[0] - top[1])
        # a yes/no decision (multilabel label, span): its margin is |2p - 1|
        return 1.0 - abs(2 * confidence - 1)
    if strategy == "entropy":
        if scores and not multilabel and len(scores) >= 2:
            total = sum(scores)
            if total <= 0:
                return 1.0
            return _entropy([s / total for s in scores]) / math.log(len(scores))
        if scores and multilabel:
            return sum(_binary_entropy(s) for s in scores) / len(scores)
        return _binary_entropy(confidence)
    raise ValueError(f"unknown strategy {strategy!r}")


def for_task(strategy: str, task_type: str, label_count: int = 0) -> str:
    """The strategy as run for a task type with `label_count` labels in its schema. `auto`
    is density for multilabel and for three or more classes, where density weighting gained
    on every data set measured, and balanced for yes/no questions, where it lost. Density was
    measured on classification and multilabel data only; span documents are long, and the
    spans figure (balanced ahead of random on NCBI) was measured without it, so span projects
    run balanced."""
    if strategy == "auto":
        multi = task_type == "multilabel" or (task_type == "classification" and label_count >= 3)
        strategy = "density" if multi else "balanced"
    if strategy == "density" and task_type == "spans":
        return "balanced"
    return strategy


def explore_share(labeled: int | None, spans: bool = False) -> float:
    """balanced's random share with `labeled` labels so far (None: unknown, the floor).
    Span documents carry many decisions each, so spans start at the floor."""
    if labeled is None or spans or WARMUP_LABELS <= 0:
        return EXPLORE_SHARE
    return max(EXPLORE_SHARE, 1.0 - labeled / WARMUP_LABELS)


def priority(
    strategy: str,
    predictions: Sequence[Prediction],
    rng: random.Random | None = None,
    labeled: int | None = None,
) -> list[float]:
    """Per-item priority (higher = ask sooner). random: a uniform draw; cold_start: no model
    information, so everything ties at 0 (use select_batch for a diverse cold start);
    balanced: the margin's values in an order with random picks mixed in (rng, for a
    reproducible simulation; `labeled`, the labels so far, sets the random share)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    draw = rng or random
    if strategy == "random":
        return [draw.random() for _ in predictions]
    if strategy == "cold_start":
        return [0.0 for _ in predictions]
    scores = [_score(strategy, p) for p in predictions]
    if strategy in MIXED_STRATEGIES:
        mixer = np.random.default_rng(draw.getrandbits(32))
        spans = any(p.span_scores is not None for p in predictions)
        share = explore_share(labeled, spans)
        return explore_mix(np.asarray(scores, float), share, mixer).tolist()
    return scores


def explore_mix(scores: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """The same priority values, handed out in a new order: each of the top MIX_DEPTH ranks
    goes with probability `share` to a random item and otherwise to the most uncertain item
    left (below that depth, nobody looks: uncertainty order). The values' distribution is
    unchanged, so chunks scored separately still merge fairly, and any top-k of the queue
    holds about `share` random items."""
    scores = np.asarray(scores, float)
    n = len(scores)
    if n == 0 or share <= 0:
        return scores
    by_uncertainty = np.lexsort((rng.random(n), -scores))
    by_chance = rng.permutation(n)
    chance = rng.random(min(n, MIX_DEPTH)) < share
    used = np.zeros(n, bool)
    ranking: list[int] = []
    next_sure = next_chance = 0
    for pick_at_random in chance.tolist():
        if pick_at_random:
            while used[by_chance[next_chance]]:
                next_chance += 1
            item = int(by_chance[next_chance])
        else:
            while used[by_uncertainty[next_sure]]:
                next_sure += 1
            item = int(by_uncertainty[next_sure])
        used[item] = True
        ranking.append(item)
    rest = by_uncertainty[~used[by_uncertainty]]
    order = np.concatenate([np.asarray(ranking, np.int64), rest])
    out = np.empty(n)
    out[order] = np.sort(scores)[::-1]
    return out


def priority_array(
    strategy: str,
    task_type: str,
    probs: np.ndarray,
    confidence: np.ndarray,
    seed: int = 0,
    labeled: int | None = None,
) -> np.ndarray:
    """priority() for a whole chunk at once, from a probability matrix (n, labels) and the
    confidences: the same numbers, vectorised, for scoring a large pool."""
    n = len(confidence)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if strategy == "random":
        return np.random.default_rng(seed).random(n)
    if strategy == "cold_start":
        return np.zeros(n)
    confidence = np.clip(np.asarray(confidence, float), 0.0, 1.0)
    if strategy == "least_confidence":
        return 1.0 - confidence
    multiple = task_type == "classification" and probs.shape[1] >= 2
    if strategy in ("margin", "hybrid", *MIXED_STRATEGIES):
        if multiple:
            top2 = -np.partition(-probs, 1, axis=1)[:, :2]
            margins = 1.0 - (top2[:, 0] - top2[:, 1])
        else:
            margins = 1.0 - np.abs(2 * confidence - 1)
        if strategy in MIXED_STRATEGIES:
            share = explore_share(labeled, task_type == "spans")
            return explore_mix(margins, share, np.random.default_rng(seed))
        return margins
    # entropy
    if multiple:
        total = probs.sum(axis=1, keepdims=True)
        p = np.divide(probs, total, out=np.zeros_like(probs), where=total > 0)
        logs = np.log(p, out=np.zeros_like(p), where=p > 0)
        out = -(p * logs).sum(axis=1) / math.log(probs.shape[1])
        return np.where(total[:, 0] > 0, out, 1.0)
    if task_type == "multilabel" and probs.shape[1]:
        return _binary_entropy_array(probs).mean(axis=1)
    return _binary_entropy_array(confidence)


def _binary_entropy_array(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p)) / math.log(2)


def diverse_order(
    candidates: Sequence[int],
    texts: Sequence[str],
    batch: int,
    seed: int = 0,
    values: Sequence[float] | None = None,
    reference: Sequence[str] = (),
) -> list[int]:
    """The hybrid strategy as a queue order: candidates (most uncertain first) clustered in
    the feature space, then taken round-robin across clusters, each cluster's most uncertain
    member first, so the next `batch` items in the queue are never near-duplicates.
    With `values` (the density strategy) each cluster's members go in the order of value *
    density, density measured against the `reference` texts (a pool sample; default: the
    candidates themselves)."""
    from app.ml import features

    candidates = list(candidates)
    if len(candidates) <= batch or batch <= 1:
        return candidates
    texts, reference = list(texts), list(reference) if values is not None else []
    vectors = embedding(features.transform(texts + reference), seed)
    vectors, others = vectors[: len(texts)], vectors[len(texts) :]
    ranking = list(range(len(candidates)))
    if values is not None:
        weight = (
            np.asarray(values, float)
            * density(vectors, others if len(others) else vectors) ** DENSITY_BETA
        )
        ranking = np.argsort(-weight, kind="stable").tolist()
    labels, _ = _clusters(vectors, batch, seed)
    members: dict[int, list[int]] = {}
    for position in ranking:  # best first: the most uncertain (density: value * density)
        members.setdefault(int(labels[position]), []).append(position)
    groups = sorted(members.values(), key=lambda group: ranking.index(group[0]))
    order: list[int] = []
    for depth in range(max(len(group) for group in groups)):
        order.extend(candidates[group[depth]] for group in groups if depth < len(group))
    return order


class PoolSample:
    """A uniform random sample of the texts streamed past it (reservoir sampling), so the
    density strategy can measure density against the whole pool while it is scored chunk by
    chunk, at no extra read."""

    def __init__(self, size: int = DENSITY_SAMPLE, seed: int = 0) -> None:
        self.size = size
        self.seen = 0
        self.texts: list[str] = []
        self._rng = random.Random(seed)

    def add(self, texts: Sequence[str]) -> None:
        for text in texts:
            self.seen += 1
            if len(self.texts) < self.size:
                self.texts.append(text)
            else:
                slot = self._rng.randrange(self.seen)
                if slot < self.size:
                    self.texts[slot] = text


def embedding(x: Any, seed: int) -> np.ndarray:
    """Dense, normalised low-dimensional rows for clustering (TruncatedSVD of the features);
    al-bench embeds its pool once with it."""
    from sklearn.decomposition import TruncatedSVD

    x = x.tocsr()
    x = x[:, np.unique(x.indices)]  # only the hashed columns in use: the SVD is 20x faster
    n = x.shape[0]
    dims = min(EMBED_DIM, n - 1, x.shape[1] - 1)
    if dims < 1:
        return np.zeros((n, 1))
    dense = TruncatedSVD(n_components=dims, random_state=seed).fit_transform(x)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return dense / norms


def density(vectors: np.ndarray, reference: np.ndarray, k: int = 0) -> np.ndarray:
    """Information density of each (normalised) row: its mean cosine similarity to its k
    nearest reference rows (default DENSITY_NEIGHBOURS), in [0, 1]. A text like many others
    teaches the model about many others; an outlier only about itself."""
    k = min(k or DENSITY_NEIGHBOURS, len(reference))
    if k <= 0 or not len(vectors):
        return np.ones(len(vectors))
    sims = np.asarray(vectors, float) @ np.asarray(reference, float).T
    nearest = -np.partition(-sims, k - 1, axis=1)[:, :k]
    return np.clip(nearest.mean(axis=1), 0.0, 1.0)


def _clusters(vectors: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import KMeans

    distinct = len(np.unique(vectors.round(6), axis=0))  # repeated texts make one point
    k = max(1, min(k, distinct))
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(vectors)
    return km.labels_, km.cluster_centers_


def cold_start_indices(
    candidates: Sequence[int], batch: int, rng: random.Random, embed: Embed
) -> list[int]:
    """The item nearest each centre of `batch` clusters of (a sample of) the candidates."""
    candidates = list(candidates)
    if len(candidates) <= batch:
        return candidates
    if len(candidates) > COLD_START_SAMPLE:
        candidates = rng.sample(candidates, COLD_START_SAMPLE)
    vectors = embed(candidates)
    labels, centres = _clusters(vectors, batch, rng.randrange(1 << 30))
    chosen: list[int] = []
    for c in range(len(centres)):
        members = np.flatnonzero(labels == c)
        if len(members):
            d = np.linalg.norm(vectors[members] - centres[c], axis=1)
            chosen.append(candidates[int(members[np.argmin(d)])])
    return _fill(chosen, candidates, batch, rng)


def _fill(chosen: list[int], candidates: Sequence[int], batch: int, rng: random.Random):
    """Top up with random candidates when clustering gave fewer than batch items."""
    seen = set(chosen)
    rest = [i for i in candidates if i not in seen]
    rng.shuffle(rest)
    return chosen + rest[: batch - len(chosen)]


def select_from_scores(
    strategy: str,
    scores: Sequence[float],
    candidates: Sequence[int],
    batch: int,
    rng: random.Random,
    embed: Embed | None,
) -> list[int]:
    """A batch of candidate indices from per-candidate priorities (scores[i] for
    candidates[i]). Ties are broken at random so equal scores do not follow file order."""
    candidates = list(candidates)
    batch = min(batch, len(candidates))
    if batch <= 0:
        return []
    if strategy == "random":
        return rng.sample(candidates, batch)
    if strategy == "cold_start":
        if embed is None:
            return rng.sample(candidates, batch)
        return cold_start_indices(candidates, batch, rng, embed)
    jitter = np.array([rng.random() for _ in candidates]) * 1e-9
    order = np.lexsort((jitter, -np.asarray(scores, float)))
    if strategy not in DIVERSE_STRATEGIES or embed is None or batch == 1:
        return [candidates[int(i)] for i in order[:batch]]
    top = order[: min(len(order), batch * HYBRID_CANDIDATES)]
    pool = [candidates[int(i)] for i in top]
    if len(pool) <= batch:
        return pool
    if strategy == "density":
        reference = rng.sample(candidates, min(DENSITY_SAMPLE, len(candidates)))
        vectors = embed(pool + reference)  # one embedding: pool and reference comparable
        vectors, weight = vectors[: len(pool)], density(vectors[: len(pool)], vectors[len(pool) :])
        weight = np.asarray(scores, float)[top] * weight**DENSITY_BETA
    else:
        vectors, weight = embed(pool), -np.arange(len(pool), dtype=float)
    labels, _ = _clusters(vectors, batch, rng.randrange(1 << 30))
    chosen: list[int] = []
    for c in range(batch):
        members = np.flatnonzero(labels == c)
        if len(members):  # hybrid: the lowest position, i.e. the most uncertain member
            chosen.append(pool[int(members[np.argmax(weight[members])])])
    seen = set(chosen)
    chosen += [i for i in pool if i not in seen][: batch - len(chosen)]
    return chosen


def select_batch(
    strategy: str,
    model: Any | None,
    pool_texts: Sequence[str],
    batch: int,
    rng: random.Random,
    task_type: str,
    label_count: int = 0,
) -> list[int]:
    """Indices into pool_texts of the next `batch` items to label (distinct). Without a model
    random and balanced take a random sample (cluster centres made a worse first model than
    chance on NCBI sentences), every other strategy falls back to cold_start."""
    from app.ml import features

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    strategy = for_task(strategy, task_type, label_count)
    indices = list(range(len(pool_texts)))

    def embed(chosen: Sequence[int]) -> np.ndarray:
        x = features.transform([pool_texts[i] for i in chosen])
        return embedding(x, rng.randrange(1 << 30))

    if strategy == "random" or (strategy in MIXED_STRATEGIES and model is None):
        return select_from_scores("random", [], indices, batch, rng, None)
    if model is None or strategy == "cold_start":
        return select_from_scores("cold_start", [], indices, batch, rng, embed)
    scores = priority(strategy, model.predict(pool_texts), rng)
    return select_from_scores(strategy, scores, indices, batch, rng, embed)
