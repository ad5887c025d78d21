"""Tokens, sentence windows and token features for the CRF span model (app.ml.spans.crf).

Why a module of its own: the CRF's accuracy lives in its features, and the same tokens and
windows serve training, prediction and the tests that prove offsets survive the split.

- Tokens come from spaCy's blank tokenizer for the project language (rules only, no
  weights); whitespace tokens are dropped, and every token keeps its exact Python string
  offsets into the stored text, so emoji, CRLF and spans at a document's edges map back
  exactly.
- Windows are sentences (a split after . ? ! before an upper-case letter or a digit, and at
  line breaks), capped in length; training never cuts through a labelled span.
- Features are the classic hand-made ones of BANNER-style CRFs: the word, its shape, case,
  affixes and character n-grams, its neighbours, and a gazetteer built from the project's
  own labelled mentions (nothing from elsewhere).
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from app.ml.spans.clusters import WordClusters

log = logging.getLogger(__name__)

MAX_WINDOW = 120  # tokens: longer sentences are cut (between spans when training)
SENTENCE_END = frozenset({".", "?", "!"})
GAZETTEER_MAX_TOKENS = 8  # longer labelled mentions are not dictionary entries


class Token(NamedTuple):
    """One non-whitespace token: its text and exact Python string offsets (end exclusive).
    A NamedTuple: every scored document makes one per word, and these are cheap to make."""

    start: int
    end: int
    text: str


@lru_cache(maxsize=8)
def blank_tokenizer(language: str) -> tuple[Any, str]:
    """spaCy's rule-based tokenizer for the language, or English's when spaCy has none that
    works without extra packages; returns (tokenizer, language actually used)."""
    import spacy

    try:
        nlp = spacy.blank(language)
        nlp.make_doc("test")
        return nlp.tokenizer, language
    except Exception:
        log.warning("spaCy has no usable blank tokenizer for %r; using 'en'", language)
        return spacy.blank("en").tokenizer, "en"


def tokenize(tokenizer: Any, text: str) -> list[Token]:
    """The text's non-whitespace tokens with their offsets."""
    from spacy.attrs import IDX, IS_SPACE, LENGTH

    out = []
    doc = tokenizer(text)
    if not len(doc):
        return out
    # one array of every token's offset, length and whitespace flag: several times faster
    # than reading each spaCy Token's attributes
    for start, length, space in doc.to_array([IDX, LENGTH, IS_SPACE]).tolist():
        word = text[start : start + length]
        if space or not word.strip():
            continue
        out.append(Token(start, start + length, word))
    return out


def windows(
    text: str, tokens: Sequence[Token], keep_together: Iterable[tuple[int, int]] = ()
) -> list[tuple[int, int]]:
    """[start, end) token ranges, one per sentence (at most MAX_WINDOW tokens each); no range
    boundary falls inside a character range of keep_together (the labelled spans)."""
    n = len(tokens)
    if not n:
        return []
    starts = [t.start for t in tokens]
    inside = [False] * (n + 1)  # inside[i]: a cut before token i would split a kept span
    for start, end in keep_together:
        first = bisect.bisect_left(starts, start)
        for i in range(first + 1, n):
            if tokens[i].end > end:
                break
            inside[i] = True
    out, begin = [], 0
    for i in range(1, n):
        previous, current = tokens[i - 1], tokens[i]
        sentence = previous.text in SENTENCE_END and (
            current.text[:1].isupper() or current.text[:1].isdigit()
        )
        line_break = "\n" in text[previous.end : current.start]
        too_long = i - begin >= MAX_WINDOW
        if (sentence or line_break or too_long) and not inside[i]:
            out.append((begin, i))
            begin = i
    out.append((begin, n))
    return out


_DIGITS = re.compile(r"\d")


@lru_cache(maxsize=200_000)
def shape(word: str) -> str:
    """Xxxx-dd style shape, runs of the same class longer than 3 cut to 3."""
    chars = []
    for ch in word:
        kind = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        if len(chars) >= 3 and chars[-1] == chars[-2] == chars[-3] == kind:
            continue
        chars.append(kind)
    return "".join(chars)


@lru_cache(maxsize=200_000)
def short_shape(word: str) -> str:
    """The shape with every run collapsed to one character (Xx-d)."""
    out: list[str] = []
    for ch in shape(word):
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=200_000)
def word_features(word: str) -> tuple[str, ...]:
    """What a token says on its own (cached: words repeat a lot)."""
    lower = word.lower()
    feats = [
        "w=" + lower,
        "sh=" + shape(word),
        "ss=" + short_shape(word),
        "stem=" + _stem(lower),
    ]
    for k in (2, 3, 4):
        if len(lower) > k:
            feats.append(f"p{k}={lower[:k]}")
            feats.append(f"s{k}={lower[-k:]}")
    if len(lower) > 3:
        padded = f"<{lower}>"
        feats.extend("g=" + padded[i : i + 3] for i in range(len(padded) - 2))
    if word.isupper() and len(word) > 1:
        feats.append("upper")
    if word[:1].isupper():
        feats.append("title")
    if any(ch.isdigit() for ch in word):
        feats.append("digit")
    if "-" in word:
        feats.append("hyphen")
    if is_plural(word):
        feats.append("plural")
    if not any(ch.isalnum() for ch in word):
        feats.append("punct")
    feats.append(f"len={min(len(word), 8)}")
    return tuple(feats)


def is_plural(word: str) -> bool:
    """An -s plural by its spelling ("tumors", "SCAs"; not "illness", "status", "AIDS"): a
    head noun's number is a cue to a mention's type (a class of diseases, or one)."""
    return (
        len(word) > 3
        and word.endswith("s")
        and word[-2].lower() not in "suiy"
        and word.isalpha()
        and not word.isupper()
    )


def _stem(lower: str) -> str:
    """A crude suffix strip (plural, -ies, -ic/-ism) so inflected forms share a feature."""
    for suffix, keep in (("ies", "y"), ("es", ""), ("s", ""), ("al", ""), ("ic", "")):
        if lower.endswith(suffix) and len(lower) - len(suffix) >= 4:
            return lower[: -len(suffix)] + keep
    return lower


@lru_cache(maxsize=200_000)
def context_words(lower: str) -> str:
    """A neighbour's identity as used in context features: digits folded together."""
    return _DIGITS.sub("0", lower)


def sequence_features(
    words: Sequence[str],
    gazetteer_tags: Sequence[str],
    clusters: WordClusters | None = None,
    extra: Sequence[Sequence[str]] | None = None,
) -> list[list[str]]:
    """Feature strings for every token of one window (crfsuite's item sequence); clusters:
    word clusters learnt from the project's texts (app.ml.spans.clusters), if any; extra:
    more features per token (document_cues, from outside the window). Written for speed
    (every fit and every scored document runs it on every token): a neighbour's strings are
    made once per position, not once per token that looks at it."""
    n = len(words)
    lowers = [context_words(w.lower()) for w in words]
    shapes = [short_shape(w) for w in words]
    left1 = [
        ("w[-1]=" + lw, "ss[-1]=" + sh, "s3[-1]=" + lw[-3:])
        for lw, sh in zip(lowers, shapes, strict=True)
    ]
    right1 = [
        ("w[1]=" + lw, "ss[1]=" + sh, "s3[1]=" + lw[-3:])
        for lw, sh in zip(lowers, shapes, strict=True)
    ]
    if clusters:
        own = [clusters.features(w) for w in words]
        finest = [clusters.finest(w) for w in words]
        coarse = [clusters.coarse(w) for w in words]
    out = []
    for i, word in enumerate(words):
        feats = list(word_features(word))
        append = feats.append
        append("w[-2]=" + lowers[i - 2] if i >= 2 else "w[-2]=<edge>")
        feats.extend(left1[i - 1] if i >= 1 else ("w[-1]=<edge>",))
        feats.extend(right1[i + 1] if i + 1 < n else ("w[1]=<edge>",))
        append("w[2]=" + lowers[i + 2] if i + 2 < n else "w[2]=<edge>")
        if i > 0:
            append(f"w[-1:0]={lowers[i - 1]}|{lowers[i]}")
        if i + 1 < n:
            append(f"w[0:1]={lowers[i]}|{lowers[i + 1]}")
        if clusters:
            feats.extend(own[i])
            for d in (-2, -1, 1, 2):
                j = i + d
                if 0 <= j < n:
                    if finest[j]:
                        append(f"c[{d}]={finest[j]}")
                    if (d == -1 or d == 1) and coarse[j]:
                        append(f"cc[{d}]={coarse[j]}")
        feats.extend(_type_cues(words, lowers, i, gazetteer_tags))
        if extra:
            feats.extend(extra[i])
        tag = gazetteer_tags[i]
        if tag:
            append("gaz=" + tag)
            append(f"gaz={tag}|ss={shapes[i]}")
        if i >= 1 and gazetteer_tags[i - 1]:
            append("gaz[-1]=" + gazetteer_tags[i - 1])
        if i + 1 < n and gazetteer_tags[i + 1]:
            append("gaz[1]=" + gazetteer_tags[i + 1])
        out.append(feats)
    return out


def _type_cues(
    words: Sequence[str], lowers: Sequence[str], i: int, gazetteer_tags: Sequence[str]
) -> list[str]:
    """Cues to a mention's type rather than its extent: whether a lower-case word follows
    (a name used as a modifier, "X gene", "X patients"), and, inside parentheses, the
    gazetteer tag of the words they follow (an abbreviation takes its long form's type)."""
    out = []
    n = len(words)
    if i + 1 < n:
        after = words[i + 1]
        if after.isalpha() and after.islower():
            out.append("next=lower")
            out.append(f"next=lower|ss={short_shape(words[i])}")
        elif after in ("(", ",", ".", ";", ":", ")"):
            out.append("next=" + after)
    if 0 < i + 1 < n and words[i - 1] == "(" and words[i + 1] == ")":
        out.append("inparen")
        if i >= 2 and gazetteer_tags[i - 2]:
            out.append("paren_of=" + gazetteer_tags[i - 2][2:])
        elif i >= 2:
            out.append("paren_after=" + lowers[i - 2][-3:])
    return out


def document_cues(words: Sequence[str], tags: Sequence[str]) -> list[list[str]]:
    """Per token of a whole document, what the rest of the document says about it: whether it
    is an abbreviation the document defines ("long form (ABBR)"), the long form's type in the
    project's gazetteer and its last word. Why: each window is tagged on its own, so "DM"
    three sentences after "myotonic dystrophy (DM)" otherwise looks like any other capitals.
    tags: the document's gazetteer tags (its windows' Gazetteer.tags, end to end)."""
    n = len(words)
    defined: dict[str, list[str]] = {}
    for i in range(2, n - 1):
        if words[i - 1] != "(" or words[i + 1] != ")" or words[i] in defined:
            continue
        word = words[i]
        if not (2 <= len(word) <= 12 and sum(ch.isupper() for ch in word) >= 2):
            continue
        before = words[i - 2]
        cues = ["abbr=defined", "abbr_head=" + context_words(before.lower())]
        if tags[i - 2]:
            cues.append("abbr_type=" + tags[i - 2][2:])
        defined[word] = cues
    return [defined.get(word, []) for word in words]


class Gazetteer:
    """Labelled mentions of the project, as lower-cased token tuples, matched longest first.

    Why: with few labels the CRF has seen a disease name once or twice; a feature that says
    "this is a mention somebody labelled before" lets it generalise the boundary and label
    across contexts. Built from the project's own labels only."""

    def __init__(self, entries: dict[tuple[str, ...], str] | None = None) -> None:
        self.entries: dict[tuple[str, ...], str] = dict(entries or {})
        self.longest = max((len(key) for key in self.entries), default=0)
        self.firsts = frozenset(key[0] for key in self.entries)  # most tokens start none

    @classmethod
    def from_mentions(cls, mentions: Iterable[tuple[tuple[str, ...], str]]) -> Gazetteer:
        """Each mention's most frequent label wins; very short or long mentions are left out."""
        counts: dict[tuple[str, ...], dict[str, int]] = {}
        for words, label in mentions:
            key = tuple(w.lower() for w in words)
            if not key or len(key) > GAZETTEER_MAX_TOKENS or len("".join(key)) < 3:
                continue
            counts.setdefault(key, {})
            counts[key][label] = counts[key].get(label, 0) + 1
        return cls({key: max(c, key=lambda lab: (c[lab], lab)) for key, c in counts.items()})

    def tags(self, words: Sequence[str]) -> list[str]:
        """B-label / I-label for tokens that a longest dictionary match covers, else ''."""
        n = len(words)
        out = [""] * n
        if not self.entries:
            return out
        lowers = [w.lower() for w in words]
        i = 0
        while i < n:
            if lowers[i] not in self.firsts:
                i += 1
                continue
            for length in range(min(self.longest, n - i), 0, -1):
                label = self.entries.get(tuple(lowers[i : i + length]))
                if label is not None:
                    out[i] = "B-" + label
                    for j in range(i + 1, i + length):
                        out[j] = "I-" + label
                    i += length
                    break
            else:
                i += 1
        return out

    def to_json(self) -> list[list[Any]]:
        return [[list(key), label] for key, label in sorted(self.entries.items())]

    @classmethod
    def from_json(cls, raw: Any) -> Gazetteer:
        """From to_json() output; ValueError on anything else."""
        if not isinstance(raw, list):
            raise ValueError("span model gazetteer is not a list")
        entries = {}
        for row in raw:
            if (
                not isinstance(row, list)
                or len(row) != 2
                or not isinstance(row[0], list)
                or not all(isinstance(w, str) for w in row[0])
                or not isinstance(row[1], str)
            ):
                raise ValueError("bad span model gazetteer entry")
            entries[tuple(row[0])] = row[1]
        return cls(entries)
