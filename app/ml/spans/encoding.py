"""Documents as the CRF sees them: tokens, sentence windows and BILOU tags (app.ml.spans.crf).

Why a module of its own: training, cross-validation folds and the gazetteer all read the same
encoded documents, made once per retrain; offsets stay the tokens' exact string offsets.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.ml.spans import clusters as C
from app.ml.spans import features as F
from app.ml.types import Example


@dataclass
class Document:
    """One labelled document: its tokens, windows and a BILOU tag per token."""

    tokens: list[F.Token]
    windows: list[tuple[int, int]]
    tags: list[str]  # BILOU tag per token ("O" when unlabelled)
    skipped: int = 0  # spans that could not be placed


def clean_spans(spans: Any, labels: set[str], skipped: list[int]) -> list[tuple[int, int, str]]:
    """Valid spans of known labels; overlapping ones keep the longest (tags hold no overlap)."""
    found = []
    for span in spans or []:
        try:
            start, end, label = int(span["start"]), int(span["end"]), str(span["label"])
        except (KeyError, TypeError, ValueError):
            skipped[0] += 1
            continue
        if label in labels and start < end:
            found.append((start, end, label))
    kept: list[tuple[int, int, str]] = []
    for start, end, label in sorted(found, key=lambda s: (s[0] - s[1], s[0])):
        if all(end <= s or start >= e for s, e, _ in kept):
            kept.append((start, end, label))
        else:
            skipped[0] += 1
    return sorted(kept)


def encode(tokenizer: Any, example: Example, labels: set[str], skipped: list[int]) -> Document:
    """Tokens, training windows and BILOU tags of one labelled text (a span takes every token
    it touches: the offsets expand to whole tokens)."""
    text = example.text
    tokens = F.tokenize(tokenizer, text)
    tags = ["O"] * len(tokens)
    spans = clean_spans(example.value, labels, skipped)
    placed = []
    ends = [t.end for t in tokens]
    for start, end, label in spans:
        inside = []
        for i in range(bisect.bisect_right(ends, start), len(tokens)):
            if tokens[i].start >= end:
                break
            inside.append(i)
        if not inside or any(tags[i] != "O" for i in inside):
            skipped[0] += 1
            continue
        for i, tag in zip(inside, span_tags(len(inside), label), strict=True):
            tags[i] = tag
        placed.append((tokens[inside[0]].start, tokens[inside[-1]].end))
    return Document(tokens, F.windows(text, tokens, placed), tags, skipped[0])


def span_tags(length: int, label: str) -> list[str]:
    """BILOU tags of a span of this many tokens: U- alone, else B- I-... L-. Why not BIO: the
    CRF then learns what ends a mention (and what a one-word mention looks like) apart from
    what continues one; measured in bench/span_model.py."""
    if length == 1:
        return ["U-" + label]
    return ["B-" + label] + ["I-" + label] * (length - 2) + ["L-" + label]


def mentions(docs: Sequence[Document]) -> list[tuple[tuple[str, ...], str]]:
    out = []
    for doc in docs:
        words: list[str] = []
        label = ""
        for token, tag in zip(doc.tokens, doc.tags, strict=True):
            if tag[:2] in ("I-", "L-") and words:
                words.append(token.text)
                continue
            if words:
                out.append((tuple(words), label))
                words = []
            if tag[:2] in ("B-", "U-"):
                words, label = [token.text], tag[2:]
        if words:
            out.append((tuple(words), label))
    return out


def window_items(
    doc: Document, gazetteer: F.Gazetteer, clusters: C.WordClusters
) -> list[tuple[list[list[str]], list[str]]]:
    out = []
    words = [t.text for t in doc.tokens]
    tags = [gazetteer.tags(words[start:end]) for start, end in doc.windows]
    cues = F.document_cues(words, [tag for window in tags for tag in window])
    for (start, end), window_tags in zip(doc.windows, tags, strict=True):
        here = words[start:end]
        features = F.sequence_features(here, window_tags, clusters, cues[start:end])
        out.append((features, doc.tags[start:end]))
    return out
