"""Token boundaries for span snapping, from spaCy's blank tokenizer for the project language.

spaCy is imported lazily (it costs about half a second), so the span editor can ask for a
tokenizer in the background and snap with a simple regular expression until it arrives.
Offsets are Python string indices, like span offsets.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

_FALLBACK = re.compile(r"\w+|[^\w\s]", re.UNICODE)

Tokenize = Callable[[str], list[tuple[int, int]]]


def regex_tokenize(text: str) -> list[tuple[int, int]]:
    """Words and single punctuation marks: close to spaCy's blank tokenizer, instant."""
    return [match.span() for match in _FALLBACK.finditer(text)]


@cache
def spacy_tokenizer(language: str = "en") -> Tokenize:
    """spaCy's rule-based tokenizer for a language (no model, no download); English if unknown."""
    import spacy

    try:
        nlp = spacy.blank(language)
    except (ImportError, KeyError, ValueError):
        nlp = spacy.blank("en")

    def tokenize(text: str) -> list[tuple[int, int]]:
        return [
            (token.idx, token.idx + len(token.text))
            for token in nlp.make_doc(text)
            if not token.is_space
        ]

    return tokenize


@dataclass(frozen=True)
class Tokens:
    """Sorted token starts and ends of one text, for snapping selections in O(log n)."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, text: str, tokenize: Tokenize = regex_tokenize) -> Tokens:
        spans = tokenize(text)
        return cls(tuple(s for s, _ in spans), tuple(e for _, e in spans))

    def snap(self, start: int, end: int) -> tuple[int, int]:
        """Grow a selection to whole tokens; a selection of only whitespace is returned as is."""
        if start > end:
            start, end = end, start
        if not self.starts or start == end:
            return start, end
        # The first token that ends after `start`, and the last one that starts before `end`.
        first = bisect_right(self.ends, start)
        last = bisect_left(self.starts, end) - 1
        if first > last:
            return start, end
        # Partial tokens grow to whole ones; whitespace at either edge is trimmed.
        return self.starts[first], self.ends[last]
