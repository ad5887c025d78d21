"""One document, one reading of an abbreviation: spans the CRF missed because it tags each
sentence on its own.

Why: abbreviations carry most of a span model's misses in biomedical and legal text ("von
Hippel-Lindau disease (VHL)" found, "VHL" three sentences later missed). After tagging, an
abbreviation that the document defines after a predicted span ("long form (ABBR)"), or that
is itself predicted somewhere in the document, is also a candidate wherever else it occurs;
the caller decides each occurrence's label from the CRF's own marginals there.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.ml.spans.features import Token

Found = tuple[int, int, str, float]  # first token, last token, label, score


def is_abbreviation(word: str) -> bool:
    """A short token with at least two capitals and more capitals than lower-case letters."""
    upper = sum(ch.isupper() for ch in word)
    lower = sum(ch.islower() for ch in word)
    return 2 <= len(word) <= 12 and upper >= 2 and upper > lower


def candidates(tokens: Sequence[Token], found: Sequence[Found]) -> list[tuple[int, int, float]]:
    """(first token, last token, score of the span it echoes) of unpredicted occurrences of
    the document's predicted abbreviations (single tokens), in token order."""
    words = [t.text for t in tokens]
    covered = [False] * len(tokens)
    for first, last, _label, _score in found:
        for i in range(first, last + 1):
            covered[i] = True
    echoes: dict[str, float] = {}
    for first, last, _label, score in found:
        if first == last and is_abbreviation(words[first]):
            echoes[words[first]] = max(echoes.get(words[first], 0.0), score)
        # "long form (ABBR)": the abbreviation the document defines for a predicted span
        after = last + 1
        if (
            after + 2 < len(words)
            and words[after] == "("
            and words[after + 2] == ")"
            and is_abbreviation(words[after + 1])
            and words[after + 1][0].lower() == words[first][0].lower()
        ):
            echoes[words[after + 1]] = max(echoes.get(words[after + 1], 0.0), score)
    return [
        (i, i, echoes[word]) for i, word in enumerate(words) if word in echoes and not covered[i]
    ]
