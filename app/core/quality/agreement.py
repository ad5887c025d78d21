"""Inter-annotator agreement, the statistics: Cohen's and Fleiss' kappa, Krippendorff's alpha,
span F1. Pure functions and additive tallies, no database: app.core.quality.agreement_report
gathers a project's annotations into them.

Teams trust labels only when they can measure them, so these figures are computed from the
annotations themselves, per label and overall, each with the number of items behind it.

Conventions, the same in every function:

- An undefined figure is None, never NaN (JSON cannot carry NaN). A chance-corrected
  coefficient is 0/0 when there is no variation to agree on (every rating is one and the same
  category), and every figure is undefined on empty input.
- Arithmetic is exact (integers and fractions) up to the final division, so perfect agreement
  gives exactly 1.0 and the figures do not depend on the order of the data.
- A project's figures are additive sufficient statistics (`Tally`, `SpanTally`): memory grows
  with the number of annotators and labels, not with the number of annotations.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from typing import Any, Literal

Span = tuple[int, int, str]
SpanLike = Span | Sequence[Any] | Mapping[str, Any]
Pair = tuple[int, int]


# --- sufficient statistics ----------------------------------------------------------------


@dataclass
class Bucket:
    """Items rated by the same number m of annotators: what both alpha and Fleiss need."""

    units: int = 0
    agree: int = 0  # sum over items and categories of n_c (n_c - 1): agreeing ordered pairs
    totals: Counter[Hashable] = field(default_factory=Counter)


@dataclass
class Tally:
    """Additive statistics of nominal ratings: buckets by raters per item, and the confusion
    counts of every annotator pair. Adding two tallies pools their items."""

    buckets: dict[int, Bucket] = field(default_factory=dict)
    pairs: dict[Pair, Counter[tuple[Hashable, Hashable]]] = field(
        default_factory=lambda: defaultdict(Counter)
    )

    def bucket(self, m: int) -> Bucket:
        found = self.buckets.get(m)
        if found is None:
            found = self.buckets[m] = Bucket()
        return found

    def add_counts(self, counts: Mapping[Hashable, int]) -> None:
        m = sum(counts.values())
        bucket = self.bucket(m)
        bucket.units += 1
        bucket.agree += sum(c * (c - 1) for c in counts.values())
        bucket.totals.update(counts)

    def add(self, ratings: Sequence[tuple[int, Hashable]]) -> None:
        """One item's ratings as (annotator rank, category), in rank order."""
        self.add_counts(Counter(value for _rank, value in ratings))
        for (i, x), (j, y) in combinations(ratings, 2):
            self.pairs[(i, j)][(x, y)] += 1

    def merge(self, other: Tally) -> None:
        for m, theirs in other.buckets.items():
            mine = self.bucket(m)
            mine.units += theirs.units
            mine.agree += theirs.agree
            mine.totals.update(theirs.totals)
        for pair, confusion in other.pairs.items():
            self.pairs[pair].update(confusion)

    def alpha(self) -> float | None:
        """Krippendorff's nominal alpha from the coincidence matrix's diagonal and margins:
        alpha = 1 - (n - 1) (n - sum_c o_cc) / (n^2 - sum_c n_c^2)."""
        o_diag = sum(
            (Fraction(b.agree, m - 1) for m, b in self.buckets.items() if m >= 2), Fraction(0)
        )
        n_c: Counter[Hashable] = Counter()
        for m, b in self.buckets.items():
            if m >= 2:
                n_c.update(b.totals)
        n = sum(n_c.values())
        denominator = n * n - sum(c * c for c in n_c.values())
        if n < 2 or denominator == 0:
            return None
        return float(1 - (n - 1) * (n - o_diag) / denominator)

    def modal_raters(self) -> int | None:
        """The most common number of raters per item (ties: the larger, which says more)."""
        used = [m for m, b in self.buckets.items() if m >= 2 and b.units]
        return max(used, key=lambda m: (self.buckets[m].units, m)) if used else None

    def fleiss(self, m: int | None) -> float | None:
        """Fleiss' kappa over the items that have exactly m raters."""
        if m is None or m not in self.buckets:
            return None
        b = self.buckets[m]
        if b.units == 0:
            return None
        p_bar = Fraction(b.agree, b.units * m * (m - 1))
        ratings = b.units * m
        p_e = Fraction(sum(t * t for t in b.totals.values()), ratings * ratings)
        if p_e == 1:
            return None
        return float((p_bar - p_e) / (1 - p_e))


def confusion_kappa(confusion: Mapping[tuple[Hashable, Hashable], int]) -> float | None:
    """Cohen's kappa from joint counts: (n agree - sum_k r_k c_k) / (n^2 - sum_k r_k c_k)."""
    n = sum(confusion.values())
    rows: Counter[Hashable] = Counter()
    cols: Counter[Hashable] = Counter()
    agree = 0
    for (x, y), count in confusion.items():
        rows[x] += count
        cols[y] += count
        if x == y:
            agree += count
    chance = sum(r * cols[k] for k, r in rows.items())
    denominator = n * n - chance
    if n == 0 or denominator == 0:
        return None
    return (n * agree - chance) / denominator


# --- pure functions -----------------------------------------------------------------------


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two annotators' nominal labels on the same items, position by position.

    None when undefined: no items, or both annotators used one and the same category only
    (chance agreement is then 1; scikit-learn returns NaN there)."""
    if len(a) != len(b):
        raise ValueError(f"the two annotators rated different numbers of items: {len(a)}, {len(b)}")
    return confusion_kappa(Counter(zip(a, b, strict=True)))


def _item_counts(item: Mapping[Hashable, int] | Sequence[Hashable]) -> Counter[Hashable]:
    if isinstance(item, Mapping):
        counts: Counter[Hashable] = Counter()
        for category, count in item.items():
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"a rating count must be a non-negative integer: {count!r}")
            if count:
                counts[category] = count
        return counts
    if isinstance(item, str):
        raise TypeError("an item's ratings are a mapping of counts or a list of labels, not a str")
    return Counter(label for label in item if label is not None)


def fleiss_kappa(
    ratings: Sequence[Mapping[Hashable, int]] | Sequence[Sequence[Hashable]],
    *,
    unequal: Literal["raise", "modal"] = "raise",
) -> float | None:
    """Fleiss' kappa for many raters: each item is {category: count} or its list of labels
    (None in a list is a missing rating).

    Fleiss' kappa assumes the same number of raters n on every item. Items with no ratings are
    dropped; if n still varies, `unequal="raise"` (the default) raises ValueError, and
    `unequal="modal"` keeps only the items with the most common n (ties: the larger n), which
    is what `project_agreement` does. Krippendorff's alpha needs no such restriction.
    None when undefined (no items, or every rating is the same category)."""
    if unequal not in ("raise", "modal"):
        raise ValueError(f"unequal must be 'raise' or 'modal', not {unequal!r}")
    tally = Tally()
    for item in ratings:
        counts = _item_counts(item)
        if counts:
            tally.add_counts(counts)
    sizes = sorted(m for m, b in tally.buckets.items() if b.units)
    if not sizes:
        return None
    if len(sizes) > 1 and unequal == "raise":
        raise ValueError(
            "Fleiss' kappa needs the same number of raters on every item; found "
            f"{', '.join(map(str, sizes))} (pass unequal='modal' to keep the most common)"
        )
    m = tally.modal_raters()
    if m is None:
        raise ValueError("Fleiss' kappa needs at least 2 raters per item")
    return tally.fleiss(m)


def krippendorff_alpha_nominal(units: Mapping[Hashable, Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data with missing values (Krippendorff 2011,
    "Computing Krippendorff's Alpha-Reliability"): {unit: the values it was given}, None
    entries being missing. Units with fewer than two values are not pairable and are ignored.
    None when undefined (no pairable values, or all of them the same)."""
    tally = Tally()
    for values in units.values():
        counts = Counter(v for v in values if v is not None)
        if sum(counts.values()) >= 2:
            tally.add_counts(counts)
    return tally.alpha()


def _as_span(span: SpanLike) -> Span:
    if isinstance(span, Mapping):
        return int(span["start"]), int(span["end"]), str(span["label"])
    start, end, label = span
    return int(start), int(end), str(label)


def _max_matching(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """The largest one-to-one matching of overlapping intervals (augmenting paths), so that
    one long span cannot count for several short ones and the count is order-independent."""
    if not a or not b:
        return 0
    order = sorted(range(len(b)), key=lambda k: b[k])
    edges = [
        [k for k in order if b[k][0] < end and start < b[k][1]] for start, end in a
    ]  # start_b < end_a and start_a < end_b: at least one character in common
    owner: dict[int, int] = {}  # b index -> a index
    for root in range(len(a)):
        if not edges[root]:
            continue
        parent: dict[int, int | None] = {}  # b index -> the b index whose owner reached it
        frontier = [(root, None)]
        found: int | None = None
        while frontier and found is None:
            following: list[tuple[int, int | None]] = []
            for i, via in frontier:
                for k in edges[i]:
                    if k in parent:
                        continue
                    parent[k] = via
                    if k not in owner:
                        found = k
                        break
                    following.append((owner[k], k))
                if found is not None:
                    break
            frontier = following
        # flip the path: each b on it takes the a that reached it
        k = found
        while k is not None:
            via = parent[k]
            owner[k] = root if via is None else owner[via]
            k = via
    return len(owner)


def _match_counts(a: Sequence[Span], b: Sequence[Span]) -> dict[str, tuple[int, int, int, int]]:
    """Per label: (exact matches, overlap matches, spans of a, spans of b)."""
    by_label: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
    for start, end, label in a:
        by_label.setdefault(label, ([], []))[0].append((start, end))
    for start, end, label in b:
        by_label.setdefault(label, ([], []))[1].append((start, end))
    out = {}
    for label, (mine, theirs) in by_label.items():
        if not mine or not theirs:
            out[label] = (0, 0, len(mine), len(theirs))
            continue
        mine_set, theirs_set = set(mine), set(theirs)
        if len(mine_set) == len(mine) and len(theirs_set) == len(theirs):
            exact = len(mine_set & theirs_set)
        else:  # duplicate spans: match them as multisets
            exact = sum((Counter(mine) & Counter(theirs)).values())
        out[label] = (exact, _max_matching(mine, theirs), len(mine), len(theirs))
    return out


def _f1(matched: int, spans_a: int, spans_b: int) -> dict[str, float | int | None]:
    return {
        "precision": matched / spans_b if spans_b else None,
        "recall": matched / spans_a if spans_a else None,
        "f1": 2 * matched / (spans_a + spans_b) if spans_a + spans_b else None,
        "matched": matched,
        "spans_a": spans_a,
        "spans_b": spans_b,
    }


def span_f1(
    spans_a: Iterable[SpanLike],
    spans_b: Iterable[SpanLike],
    match: Literal["exact", "overlap"] = "exact",
) -> dict[str, float | int | None]:
    """Precision, recall and F1 of b's spans against a's, spans being (start, end, label) or
    {"start", "end", "label"}. "exact": same offsets and label; "overlap": same label and at
    least one character in common. Matching is one-to-one (a maximum matching).

    F1 = 2 matched / (spans_a + spans_b) is symmetric; precision and recall take a as the
    reference and swap when a and b do. A figure whose denominator is 0 is None."""
    if match not in ("exact", "overlap"):
        raise ValueError(f"match must be 'exact' or 'overlap', not {match!r}")
    counts = _match_counts([_as_span(s) for s in spans_a], [_as_span(s) for s in spans_b])
    column = 0 if match == "exact" else 1
    return _f1(*(sum(c[k] for c in counts.values()) for k in (column, 2, 3)))


# --- a project's figures, from tallies ---------------------------------------------------

_MATCHES: tuple[Literal["exact", "overlap"], ...] = ("exact", "overlap")


def fill_binary(tally: Tally, items_by_m: Counter[int], shared: Counter[Pair]) -> Tally:
    """Complete a per-label tally that saw only the items where someone used the label: every
    other item is an agreed "not this label" by all its annotators."""
    for m, n_items in items_by_m.items():
        bucket = tally.bucket(m)
        untouched = n_items - bucket.units
        bucket.units += untouched
        bucket.agree += untouched * m * (m - 1)
        bucket.totals[False] += untouched * m
    for pair, n_items in shared.items():
        confusion = tally.pairs[pair]
        confusion[(False, False)] += n_items - sum(confusion.values())
    return tally


def tally_figures(
    tally: Tally, items: int, names: Sequence[str], pooled: int = 1
) -> dict[str, Any]:
    """The figures of one tally; `pooled` labels' units stand for each item in a pooled tally."""
    m = tally.modal_raters()
    return {
        "krippendorff_alpha": tally.alpha(),
        "fleiss_kappa": tally.fleiss(m),
        "fleiss_items": tally.buckets[m].units // pooled if m is not None else 0,
        "pairwise_cohen_kappa": [
            {
                "a": names[i],
                "b": names[j],
                "kappa": confusion_kappa(confusion),
                "items": sum(confusion.values()) // pooled,
            }
            for (i, j), confusion in sorted(tally.pairs.items())
        ],
        "items": items,
    }


def spans_of(value: Any) -> list[Span]:
    return [_as_span(s) for s in value]


def labels_of(value: Any, task_type: str) -> frozenset[str]:
    if task_type == "classification":
        return frozenset((value,))
    if task_type == "multilabel":
        return frozenset(value)
    return frozenset(s["label"] for s in value)


def _jaccard(x: frozenset[str], y: frozenset[str]) -> float:
    return len(x & y) / len(x | y) if x | y else 1.0


@dataclass
class SpanTally:
    """Span matches per match mode, label and annotator pair, for pairwise F1."""

    # mode -> label -> pair -> [matched, spans of a, spans of b, items with the label]
    counts: dict[str, dict[str, dict[Pair, list[int]]]] = field(
        default_factory=lambda: {
            mode: defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0])) for mode in _MATCHES
        }
    )
    label_items: Counter[str] = field(default_factory=Counter)  # items where someone used it
    span_items: int = 0  # items where someone marked any span
    pair_items: Counter[Pair] = field(default_factory=Counter)  # items with spans, per pair

    def add(self, ranked: Sequence[tuple[int, list[Span]]]) -> float:
        """Add one item; its agreement: the mean over pairs of overlap F1 (1 with no spans)."""
        labels = {label for _rank, spans in ranked for _s, _e, label in spans}
        self.label_items.update(labels)
        self.span_items += bool(labels)
        scores = []
        for (i, a), (j, b) in combinations(ranked, 2):
            if a or b:
                self.pair_items[(i, j)] += 1
            matched_overlap = spans_total = 0
            for label, (exact, overlap, na, nb) in _match_counts(a, b).items():
                for mode, matched in (("exact", exact), ("overlap", overlap)):
                    acc = self.counts[mode][label][(i, j)]
                    acc[0] += matched
                    acc[1] += na
                    acc[2] += nb
                    acc[3] += 1
                matched_overlap += overlap
                spans_total += na + nb
            scores.append(2 * matched_overlap / spans_total if spans_total else 1.0)
        return sum(scores) / len(scores)

    def report(self, names: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for mode in _MATCHES:
            per_label = {}
            pair_totals: dict[Pair, list[int]] = defaultdict(lambda: [0, 0, 0])
            for label in labels:
                pairwise = []
                for (i, j), (matched, na, nb, items) in sorted(
                    self.counts[mode].get(label, {}).items()
                ):
                    pairwise.append(
                        {"a": names[i], "b": names[j], **_f1(matched, na, nb), "items": items}
                    )
                    totals = pair_totals[(i, j)]
                    totals[0] += matched
                    totals[1] += na
                    totals[2] += nb
                per_label[label] = _aggregate(pairwise, self.label_items[label])
            overall = [
                {"a": names[i], "b": names[j], **_f1(*totals), "items": self.pair_items[(i, j)]}
                for (i, j), totals in sorted(pair_totals.items())
            ]
            out[mode] = {**_aggregate(overall, self.span_items), "per_label": per_label}
        return out


def _aggregate(pairwise: list[dict[str, Any]], items: int) -> dict[str, Any]:
    """F1 pooled over annotator pairs (micro): 2 matched / all spans compared."""
    matched = sum(p["matched"] for p in pairwise)
    spans = sum(p["spans_a"] + p["spans_b"] for p in pairwise)
    return {
        "f1": 2 * matched / spans if spans else None,
        "matched": matched,
        "spans": spans,
        "items": items,
        "pairwise": pairwise,
    }


def item_agreement(task_type: str, values: Sequence[Any], sets: Sequence[frozenset[str]]) -> float:
    """How much one item's annotators agree, in [0, 1], to rank the worst items: the share of
    agreeing pairs (classification) or the mean pairwise Jaccard of label sets (multilabel)."""
    m = len(values)
    if task_type == "classification":
        counts = Counter(values)
        return sum(c * (c - 1) for c in counts.values()) / (m * (m - 1))
    pairs = list(combinations(sets, 2))
    return sum(_jaccard(x, y) for x, y in pairs) / len(pairs)
