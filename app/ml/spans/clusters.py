"""Word clusters learnt from the project's own texts, labelled or not (features of the CRF).

Why: with 100 labelled documents the CRF has seen few of the words that name a mention; a
word it never saw labelled still shares a cluster with words that occur in the same contexts
("carcinoma", "adenoma", "sarcoma"), and that cluster is a feature it has learnt to trust.
Every text a project holds is unlabelled evidence of this kind, and it costs no labels.

How (cheap, no pretrained weights, nothing downloaded): a word-by-context count matrix (the
frequent words just left and right of each word), positive PMI, TruncatedSVD to a few dozen
dimensions, then k-means at several granularities, coarse to fine. Each level gives the CRF
one feature, like the prefixes of a Brown-cluster bit string. Words are lower-cased with
digits folded to 0; rare words (seen fewer than min_count times) get no cluster.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

LEVELS = (16, 64, 256)  # k-means granularities, coarse to fine (tuned on an NCBI dev split)
DIMENSIONS = 50  # SVD dimensions of the context vectors
CONTEXTS = 1_000  # the most frequent words serve as contexts (left and right apart)
MIN_COUNT = 2  # words seen less often get no cluster
MAX_WORDS = 30_000  # the most frequent words of a large project are clustered, not all
CACHE_WORDS = 200_000  # words whose feature strings a WordClusters remembers
MAX_TOKENS = 3_000_000  # a very large project is sampled in order up to this many tokens

_DIGITS = re.compile(r"\d")


_WORDS = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """A text's words for clustering: runs of letters and digits, and single other marks.
    Why not spaCy's tokenizer: this is several times faster on a large pool, and its words
    are the CRF's tokens except inside contractions and a few symbols, which then get no
    cluster (a cluster is a feature, never a requirement)."""
    return _WORDS.findall(text)


def normalise(word: str) -> str:
    """The form clusters are keyed by: lower case, digits folded to 0."""
    return _DIGITS.sub("0", word.lower())


class WordClusters:
    """word -> one cluster id per level; features() gives the CRF's strings for a word."""

    def __init__(self, levels: Sequence[int] = (), table: dict[str, list[int]] | None = None):
        self.levels = tuple(int(k) for k in levels)
        self.table: dict[str, list[int]] = dict(table or {})
        self._cache: dict[str, tuple[tuple[str, ...], str, str]] = {}

    def __bool__(self) -> bool:
        return bool(self.table)

    def features(self, word: str) -> list[str]:
        return list(self._strings(word)[0])

    def finest(self, word: str) -> str:
        """The finest cluster id as a string ('' for a word without cluster): neighbours'."""
        return self._strings(word)[1]

    def coarse(self, word: str) -> str:
        """The middle level's cluster id ('' for none): a neighbour's cruder word class."""
        return self._strings(word)[2]

    def _strings(self, word: str) -> tuple[tuple[str, ...], str, str]:
        """A word's cluster feature strings, finest and middle id, remembered per word: the
        CRF asks for them several times per token, on every fit and prediction."""
        found = self._cache.get(word)
        if found is None:
            ids = self.table.get(normalise(word))
            if ids is None:
                found = ((), "", "")
            else:
                names = tuple(f"c{k}={cid}" for k, cid in zip(self.levels, ids, strict=True))
                found = (names, str(ids[-1]), str(ids[len(ids) // 2]))
            if len(self._cache) < CACHE_WORDS:
                self._cache[word] = found
        return found

    def to_json(self) -> dict[str, Any]:
        words = sorted(self.table)
        return {
            "levels": list(self.levels),
            "words": words,
            "ids": [self.table[w] for w in words],
        }

    @classmethod
    def from_json(cls, raw: Any) -> WordClusters:
        """From to_json() output (or None: no clusters); ValueError on anything else."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict) or set(raw) != {"levels", "words", "ids"}:
            raise ValueError("span model clusters are not an object of levels, words, ids")
        levels, words, ids = raw["levels"], raw["words"], raw["ids"]
        if not isinstance(levels, list) or not all(
            isinstance(k, int) and not isinstance(k, bool) and 0 < k <= 100_000 for k in levels
        ):
            raise ValueError("bad span model cluster levels")
        if (
            not isinstance(words, list)
            or not isinstance(ids, list)
            or len(words) != len(ids)
            or not all(isinstance(w, str) for w in words)
        ):
            raise ValueError("bad span model cluster words")
        for row in ids:
            if (
                not isinstance(row, list)
                or len(row) != len(levels)
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in row)
            ):
                raise ValueError("bad span model cluster ids")
        return cls(levels, dict(zip(words, ids, strict=True)))


def learn(
    texts: Iterable[str],
    tokenize: Callable[[str], list[str]],
    *,
    levels: Sequence[int] = LEVELS,
    dimensions: int = DIMENSIONS,
    seed: int = 0,
) -> WordClusters:
    """Clusters of the words of these texts (tokenize: a text's token strings)."""
    import numpy as np
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    sentences: list[list[str]] = []
    total = 0
    for text in texts:
        if not isinstance(text, str) or total >= MAX_TOKENS:
            continue
        words = [normalise(w) for w in tokenize(text)]
        sentences.append(words)
        total += len(words)
    counts = Counter(w for words in sentences for w in words)
    vocab = [w for w, c in counts.most_common(MAX_WORDS) if c >= MIN_COUNT]
    levels = [k for k in levels if k * 4 <= len(vocab)]  # a small project: coarse levels only
    if not levels:
        return WordClusters()
    index = {w: i for i, w in enumerate(vocab)}
    contexts = {w: i for i, (w, _) in enumerate(counts.most_common(CONTEXTS))}
    n_ctx = len(contexts)
    rows, cols = [], []
    for words in sentences:
        ids = [index.get(w, -1) for w in words]
        ctx = [contexts.get(w, -1) for w in words]
        for i, row in enumerate(ids):
            if row < 0:
                continue
            if i > 0 and ctx[i - 1] >= 0:
                rows.append(row)
                cols.append(ctx[i - 1])
            if i + 1 < len(words) and ctx[i + 1] >= 0:
                rows.append(row)
                cols.append(n_ctx + ctx[i + 1])
    data = np.ones(len(rows), dtype=np.float64)
    matrix = sparse.coo_matrix((data, (rows, cols)), shape=(len(vocab), 2 * n_ctx)).tocsr()
    matrix.sum_duplicates()
    matrix = _ppmi(matrix)
    dimensions = max(2, min(dimensions, len(vocab) // 4, matrix.shape[1] - 1))
    svd = TruncatedSVD(n_components=dimensions, n_iter=3, random_state=seed)
    vectors = normalize(svd.fit_transform(matrix))
    assignments = _nested_kmeans(vectors, sorted(levels, reverse=True), seed)
    assignments = [assignments[k] for k in levels]
    table = {w: [int(a[i]) for a in assignments] for i, w in enumerate(vocab)}
    return WordClusters(levels, table)


def _nested_kmeans(vectors: Any, levels: Sequence[int], seed: int) -> dict[int, Any]:
    """k-means for the finest level only; each coarser level clusters the finer level's
    centroids, so the levels nest like the prefixes of a Brown bit string and the cost is
    about one k-means (k-means++ seeding: a random start splits groups of near-identical
    words, such as names that only ever occur in the same context)."""
    from sklearn.cluster import KMeans, kmeans_plusplus

    out: dict[int, Any] = {}
    points, mapping = vectors, None
    for k in levels:
        # one candidate per centre: a third of the CPU of sklearn's default seeding
        start, _ = kmeans_plusplus(points, k, random_state=seed, n_local_trials=1)
        fitted = KMeans(n_clusters=k, init=start, n_init=1, max_iter=30, random_state=seed)
        labels = fitted.fit_predict(points)
        mapping = labels if mapping is None else labels[mapping]
        out[k] = mapping
        points = fitted.cluster_centers_
    return out


def _ppmi(matrix: Any) -> Any:
    """Positive pointwise mutual information of a sparse count matrix (context counts
    smoothed by the power 0.75, as word2vec does, so rare contexts don't dominate)."""
    import numpy as np

    total = matrix.sum()
    row_sums = np.asarray(matrix.sum(axis=1)).ravel()
    col_sums = np.asarray(matrix.sum(axis=0)).ravel() ** 0.75
    col_sums = col_sums / col_sums.sum() * total
    coo = matrix.tocoo()
    values = np.log(coo.data * total / (row_sums[coo.row] * col_sums[coo.col]))
    values[values < 0] = 0
    out = matrix.copy().tocoo()
    out.data = values
    out = out.tocsr()
    out.eliminate_zeros()
    return out
