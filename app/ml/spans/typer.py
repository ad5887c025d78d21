"""A second opinion on each span's type, after the CRF has found its boundaries.

Why: most of the CRF's typed errors on biomedical text are mentions found with the right
boundaries and the wrong type (one disease or a class of them; a disease named as the modifier
of a gene), decided by cues a token-level CRF sees badly: the whole mention string and how the
project has labelled it before, its head word, the words around the whole span, and how the
rest of the document reads the same words. A logistic regression on those span-level features
is trained on the gold spans of the training documents (features from the text and from other
documents' labels only: a document never sees its own labels through the gazetteer), then its
type probabilities are combined with the CRF's own (from its marginals) for every predicted
span. Schemas with one type have nothing to decide and get no typer.

Stored without pickles: the hashed feature columns that carry weight, the weights and the
intercepts as NumPy arrays (allow_pickle=False), and the gazetteer counts as JSON.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from app.ml.spans.features import is_plural, short_shape

HASH_BITS = 20  # hashed feature space; only the columns seen in training are stored
C_VALUE = 1.0  # logistic regression's inverse L2 strength
CRF_WEIGHT = 0.5  # log-linear mix of the CRF's and the typer's type probabilities
MIN_SPANS = 20  # fewer training spans: no typer (the CRF's types are kept)

Span = tuple[int, int, str]  # first token, last token, label


def gold_spans(tags: Sequence[str]) -> list[Span]:
    """(first, last, label) of each span of a BILOU (or BIO) tag sequence."""
    out: list[Span] = []
    i, n = 0, len(tags)
    while i < n:
        tag = tags[i]
        if tag == "O":
            i += 1
            continue
        label, j = tag[2:], i + 1
        if tag[:2] in ("B-", "I-"):
            while j < n and tags[j] in ("I-" + label, "L-" + label):
                j += 1
                if tags[j - 1][:2] == "L-":
                    break
        out.append((i, j - 1, label))
        i = j
    return out


class Lexicon:
    """How the project labelled each mention string and each head word: label counts, so a
    span's features can say "labelled DiseaseClass 3 times, SpecificDisease once"."""

    def __init__(self, strings: dict[str, Counter] | None = None, heads=None) -> None:
        self.strings: dict[str, Counter] = strings or {}
        self.heads: dict[str, Counter] = heads or {}

    def add(self, words: Sequence[str], spans: Sequence[Span], sign: int = 1) -> None:
        for first, last, label in spans:
            lowers = [w.lower() for w in words[first : last + 1]]
            for table, key in ((self.strings, " ".join(lowers)), (self.heads, lowers[-1])):
                counts = table.setdefault(key, Counter())
                counts[label] += sign

    def features(self, string: str, head: str, out: dict[str, float]) -> None:
        for name, table, key in (("gz", self.strings, string), ("gzh", self.heads, head)):
            counts = table.get(key)
            total = sum(counts.values()) if counts else 0
            if not total:
                out[name + "=none"] = 1.0
                continue
            for label, count in counts.items():
                if count > 0:
                    out[f"{name}={label}"] = count / total
            out[f"{name}_n={min(total, 5)}"] = 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "strings": {k: dict(v) for k, v in self.strings.items() if sum(v.values())},
            "heads": {k: dict(v) for k, v in self.heads.items() if sum(v.values())},
        }

    @classmethod
    def from_json(cls, raw: Any) -> Lexicon:
        if not isinstance(raw, dict) or set(raw) != {"strings", "heads"}:
            raise ValueError("bad span typer lexicon")
        tables = []
        for part in (raw["strings"], raw["heads"]):
            if not isinstance(part, dict) or not all(
                isinstance(k, str)
                and isinstance(v, dict)
                and all(isinstance(lab, str) and isinstance(c, int) for lab, c in v.items())
                for k, v in part.items()
            ):
                raise ValueError("bad span typer lexicon")
            tables.append({k: Counter(v) for k, v in part.items()})
        return cls(*tables)


def span_features(
    words: Sequence[str],
    lowers: Sequence[str],
    span: tuple[int, int],
    lexicon: Lexicon,
    others: Sequence[Span],
) -> dict[str, float]:
    """Features of one span (first..last tokens) of a document's words; others: the
    document's other spans with their (gold when training, CRF's when predicting) types."""
    first, last = span
    n = len(words)
    inside = lowers[first : last + 1]
    string, head = " ".join(inside), inside[-1]
    out: dict[str, float] = {"bias": 1.0, "str=" + string: 1.0, "head=" + head: 1.0}
    for w in inside:
        out["w=" + w] = 1.0
    if last > first:
        out["first=" + inside[0]] = 1.0
    for k in (3, 4):
        out[f"hs{k}=" + head[-k:]] = 1.0
    before = lowers[first - 1] if first > 0 else "<s>"
    after = lowers[last + 1] if last + 1 < n else "</s>"
    out["prev=" + before] = 1.0
    out["prev2=" + (lowers[first - 2] if first > 1 else "<s>")] = 1.0
    out["next=" + after] = 1.0
    out["next2=" + (lowers[last + 2] if last + 2 < n else "</s>")] = 1.0
    out[f"prev|head={before}|{head}"] = 1.0
    out[f"head|next={head}|{after}"] = 1.0
    out["len=" + str(min(last - first + 1, 6))] = 1.0
    out["shape=" + " ".join(short_shape(w) for w in words[first : last + 1])[:30]] = 1.0
    if is_plural(words[last]):
        out["plural"] = 1.0
    if words[last].isupper() and len(words[last]) > 1:
        out["upper_head"] = 1.0
    if last + 1 < n and words[last + 1].isalpha() and words[last + 1].islower():
        out["next_lower"] = 1.0
    if 0 < first and last + 1 < n and words[first - 1] == "(" and words[last + 1] == ")":
        out["in_paren"] = 1.0
    if any(ch in string for ch in " and or , /".split(" ") if ch):
        out["coord"] = 1.0
    lexicon.features(string, head, out)
    for o_first, o_last, label in others:
        if (o_first, o_last) == (first, last):
            continue
        o_inside = lowers[o_first : o_last + 1]
        if " ".join(o_inside) == string:
            out["doc_str=" + label] = 1.0
        elif o_inside[-1] == head:
            out["doc_head=" + label] = 1.0
    return out


def _hasher():
    from sklearn.feature_extraction import FeatureHasher

    return FeatureHasher(n_features=2**HASH_BITS, alternate_sign=False)


class SpanTyper:
    """Type probabilities of spans from span-level features (see the module docstring)."""

    def __init__(
        self,
        labels: Sequence[str],
        columns: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        lexicon: Lexicon,
        crf_weight: float = CRF_WEIGHT,
    ) -> None:
        self.labels = tuple(labels)
        self.columns = np.asarray(columns, dtype=np.int64)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.lexicon = lexicon
        self.crf_weight = float(crf_weight)
        self._index = {int(c): i for i, c in enumerate(self.columns)}

    @classmethod
    def fit(
        cls,
        documents: Sequence[tuple[Sequence[str], Sequence[Span]]],
        labels: Sequence[str],
        c: float = C_VALUE,
    ) -> SpanTyper | None:
        """A typer from (words, gold spans) per training document; None when there is
        nothing to learn (one label, too few spans, or a single label in use)."""
        labels = list(labels)
        lexicon = Lexicon()
        for words, spans in documents:
            lexicon.add(words, spans)
        rows, ys = [], []
        for words, spans in documents:
            lexicon.add(words, spans, -1)  # the document's own labels leave the lexicon
            lowers = [w.lower() for w in words]
            for first, last, label in spans:
                if label in labels:
                    rows.append(span_features(words, lowers, (first, last), lexicon, spans))
                    ys.append(labels.index(label))
            lexicon.add(words, spans)
        if len(labels) < 2 or len(rows) < MIN_SPANS or len(set(ys)) < 2:
            return None
        from sklearn.linear_model import LogisticRegression

        x = _hasher().transform(rows).tocsc()
        used = np.flatnonzero(np.diff(x.indptr))
        model = LogisticRegression(C=c, max_iter=300)
        model.fit(x[:, used], np.asarray(ys))
        coef = np.zeros((len(labels), len(used)))
        intercept = np.full(len(labels), -30.0)  # a label never seen in training
        for row, klass in enumerate(model.classes_):
            source = row if len(model.classes_) > 2 else None
            if source is None:  # binary: sklearn keeps one row for the second class
                sign = 1.0 if row == 1 else -1.0
                coef[klass] = sign * model.coef_[0] / 2
                intercept[klass] = sign * model.intercept_[0] / 2
            else:
                coef[klass] = model.coef_[row]
                intercept[klass] = model.intercept_[row]
        return cls(labels, used, coef, intercept, lexicon)

    def proba(
        self, words: Sequence[str], spans: Sequence[tuple[int, int]], others: Sequence[Span]
    ) -> np.ndarray:
        """Type probabilities (rows: spans, columns: self.labels)."""
        if not spans:
            return np.zeros((0, len(self.labels)))
        lowers = [w.lower() for w in words]
        rows = [span_features(words, lowers, span, self.lexicon, others) for span in spans]
        x = _hasher().transform(rows).tocoo()
        dense = np.zeros((len(spans), len(self.columns)))
        for r, c, v in zip(x.row, x.col, x.data, strict=True):
            i = self._index.get(int(c))
            if i is not None:
                dense[r, i] += v
        scores = dense @ self.coef.T + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        return p / p.sum(axis=1, keepdims=True)

    def combine(self, crf: np.ndarray, own: np.ndarray) -> np.ndarray:
        """The CRF's and the typer's type probabilities mixed log-linearly."""
        a = self.crf_weight
        logp = a * np.log(np.clip(crf, 1e-6, 1)) + (1 - a) * np.log(np.clip(own, 1e-6, 1))
        logp -= logp.max(axis=1, keepdims=True)
        p = np.exp(logp)
        return p / p.sum(axis=1, keepdims=True)

    def to_bytes(self) -> bytes:
        """An npz of plain arrays (read with allow_pickle=False) plus the lexicon's JSON."""
        buffer = io.BytesIO()
        lexicon = json.dumps(self.lexicon.to_json(), sort_keys=True).encode("utf-8")
        np.savez_compressed(
            buffer,
            columns=self.columns,
            coef=self.coef,
            intercept=self.intercept,
            crf_weight=np.asarray([self.crf_weight]),
            labels=_json_array(list(self.labels)),
            lexicon=np.frombuffer(lexicon, dtype=np.uint8),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SpanTyper:
        """From to_bytes() output; ValueError on anything else."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                columns, coef = arrays["columns"], arrays["coef"]
                intercept, weight = arrays["intercept"], arrays["crf_weight"]
                labels = json.loads(arrays["labels"].tobytes())
                lexicon = Lexicon.from_json(json.loads(arrays["lexicon"].tobytes()))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
            raise ValueError(f"span typer does not load: {error}") from error
        ok = (
            isinstance(labels, list)
            and all(isinstance(lab, str) for lab in labels)
            and coef.shape == (len(labels), len(columns))
            and intercept.shape == (len(labels),)
            and weight.shape == (1,)
            and np.isfinite(coef).all()
        )
        if not ok:
            raise ValueError("span typer arrays do not fit together")
        return cls(labels, columns, coef, intercept, lexicon, float(weight[0]))


def _json_array(value: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(value).encode("utf-8"), dtype=np.uint8)


def crf_view(
    tagger: Any, span: tuple[int, int], n: int, labels: Sequence[str], known: frozenset[str]
) -> tuple[float, np.ndarray]:
    """What the CRF (its tagger set to the span's window) says of tokens first..last: the
    chance that they are one mention of any type (the least, along the span, of the
    marginals of its BILOU positions summed over types, and of the next token not going on),
    and its type probabilities (each type's marginal mass, averaged along the span)."""
    first, last = span
    length = last - first + 1
    positions = ["U-"] if length == 1 else ["B-"] + ["I-"] * (length - 2) + ["L-"]
    mass = np.zeros(len(labels))
    boundary = 1.0
    for k, position in zip(range(first, last + 1), positions, strict=True):
        here = 0.0
        for col, label in enumerate(labels):
            for prefix in ("B-", "I-", "L-", "U-"):
                tag = prefix + label
                if tag in known:
                    p = tagger.marginal(tag, k)
                    mass[col] += p
                    if prefix == position:
                        here += p
        boundary = min(boundary, here)
    if last + 1 < n:  # the window goes on: the chance the next token does not continue it
        going_on = sum(
            tagger.marginal(prefix + label, last + 1)
            for label in labels
            for prefix in ("I-", "L-")
            if prefix + label in known
        )
        boundary = min(boundary, 1.0 - going_on)
    total = mass.sum()
    types = mass / total if total > 0 else np.full(len(labels), 1.0 / len(labels))
    return float(max(0.0, min(1.0, boundary))), types


def retype(
    typer: SpanTyper,
    words: Sequence[str],
    found: Sequence[tuple[int, int, str, float]],
    views: Sequence[tuple[float, np.ndarray, bool]],
) -> list[tuple[int, int, str, float]]:
    """The CRF's spans with the combined type: each span's type is the most likely under the
    CRF's and the typer's probabilities mixed, and its raw score the CRF's chance of the
    boundaries times that type's probability (an echo of an abbreviation keeps its score).
    views: crf_view() of each span, and whether it is an echo."""
    if not found:
        return []
    spans = [(first, last) for first, last, _label, _score in found]
    others = [(first, last, label) for first, last, label, _score in found]
    own = typer.proba(words, spans, others)
    crf = np.vstack([types for _boundary, types, _echo in views])
    mixed = typer.combine(crf, own)
    out = []
    for row, (first, last, _label, score) in enumerate(found):
        best = int(mixed[row].argmax())
        boundary, _types, echo = views[row]
        new_score = score if echo else boundary * float(mixed[row, best])
        out.append((first, last, typer.labels[best], new_score))
    return out
