"""Two-pass stacking (Krishnan & Manning 2006): what a first CRF pass found in the rest of a
document, as features of the CRF that tags it.

Why: each sentence is tagged on its own, so a mention typed or bounded one way in one
sentence may be read another way three sentences later. A first pass over the whole document
says how its other sentences read the same words: the labels the same token takes elsewhere
(token majority), the labels the same mention string takes elsewhere (entity majority), and
where a string the first pass found as a mention occurs again. The second pass learns how far
to trust these; it is trained on first-pass output of models that never saw the document
(the cross-validation folds), as it will meet at prediction time.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from typing import Any

from app.ml.spans.features import Token

Found = tuple[int, int, str]  # first token, last token, label (token indices)
MAX_MATCH = 8  # first-pass mentions longer than this many tokens are not matched elsewhere


def cues(words: Sequence[str], found: Sequence[Found]) -> list[list[str]]:
    """Per token of a document, the features the first pass's spans (found) give it."""
    n = len(words)
    out: list[list[str]] = [[] for _ in range(n)]
    lowers = [w.lower() for w in words]
    own = [""] * n
    token_labels: dict[str, Counter] = {}
    strings: dict[tuple[str, ...], Counter] = {}
    for first, last, label in found:
        for i in range(first, last + 1):
            own[i] = label
            token_labels.setdefault(lowers[i], Counter())[label] += 1
        if last - first < MAX_MATCH:
            strings.setdefault(tuple(lowers[first : last + 1]), Counter())[label] += 1
    for i in range(n):
        counts = token_labels.get(lowers[i])
        if counts:
            label, _ = counts.most_common(1)[0]
            out[i].append("s1tok=" + label)
            if own[i] and own[i] != label:
                out[i].append("s1tok_differs")
    if not strings:
        return out
    firsts = {key[0] for key in strings}
    longest = max(len(key) for key in strings)
    i = 0
    while i < n:
        if lowers[i] not in firsts:
            i += 1
            continue
        for length in range(min(longest, n - i), 0, -1):
            counts = strings.get(tuple(lowers[i : i + length]))
            if counts is None:
                continue
            label, _ = counts.most_common(1)[0]
            out[i].append("s1ent=B-" + label)
            for j in range(i + 1, i + length):
                out[j].append("s1ent=I-" + label)
            if i + length < n:
                out[i + length].append("s1ent_after")
            i += length
            break
        else:
            i += 1
    return out


def token_spans(tokens: Sequence[Token], value: Sequence[dict[str, Any]]) -> list[Found]:
    """A prediction's spans (character offsets on token edges) as token indices."""
    starts = [t.start for t in tokens]
    ends = [t.end for t in tokens]
    out = []
    for span in value:
        first = bisect.bisect_left(starts, span["start"])
        last = bisect.bisect_left(ends, span["end"])
        if first <= last < len(tokens):
            out.append((first, last, str(span["label"])))
    return out
