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
from typing import Any

# Scripts written without spaces between words: each character is a token of its own, so that
# selecting 胸痛 in a Japanese note snaps to 胸痛 and not to the whole sentence.
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b"  # CJK radicals, 々〆〇
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs (BMP)
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK ideographs outside the BMP (𠮷, 𩸽)
)
_FALLBACK = re.compile(f"[{_UNSPACED}]|[^\\W{_UNSPACED}]+|[^\\w\\s]", re.UNICODE)

Tokenize = Callable[[str], list[tuple[int, int]]]

# The project languages offered in the wizard and by `tagloop init --language`: (code, name).
# spaCy tokenizes all of them with no extra package, except those in NEEDS_PACKAGE.
LANGUAGES: tuple[tuple[str, str], ...] = (
    ("en", "English"),
    ("ar", "Arabic"),
    ("bn", "Bengali"),
    ("bg", "Bulgarian"),
    ("ca", "Catalan"),
    ("zh", "Chinese"),
    ("hr", "Croatian"),
    ("cs", "Czech"),
    ("da", "Danish"),
    ("nl", "Dutch"),
    ("et", "Estonian"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("de", "German"),
    ("el", "Greek"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hu", "Hungarian"),
    ("id", "Indonesian"),
    ("ga", "Irish"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("lv", "Latvian"),
    ("lt", "Lithuanian"),
    ("nb", "Norwegian Bokmål"),
    ("fa", "Persian"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("sr", "Serbian"),
    ("sk", "Slovak"),
    ("sl", "Slovenian"),
    ("es", "Spanish"),
    ("sv", "Swedish"),
    ("tl", "Tagalog"),
    ("ta", "Tamil"),
    ("th", "Thai"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("vi", "Vietnamese"),
    ("xx", "Other / several languages"),
)
LANGUAGE_CODES = frozenset(code for code, _ in LANGUAGES)
# spaCy's tokenizer for these needs a package Tagloop does not install; without it, snapping
# falls back to one token per character (ja, th) or to words between spaces (ko).
NEEDS_PACKAGE = {
    "ja": "SudachiPy and SudachiDict-core",
    "ko": "mecab-ko (natto-py)",
    "th": "PyThaiNLP",
}
_SPACY_CONFIG: dict[str, dict[str, Any]] = {
    "vi": {"nlp": {"tokenizer": {"use_pyvi": False}}},  # syllables between spaces, no pyvi
}


def is_language(code: str) -> bool:
    """Whether `code` is a language spaCy has rules for: one of LANGUAGES, or any other of
    spaCy's (Afrikaans, Basque, Yoruba...), looked up without loading a pipeline."""
    if code in LANGUAGE_CODES:
        return True
    if not code.isascii() or not code.replace("_", "").isalpha() or len(code) > 8:
        return False
    from importlib.util import find_spec

    try:
        return find_spec(f"spacy.lang.{code}") is not None
    except (ImportError, ValueError):
        return False


def unspaced_fallback(language: str) -> str:
    """The blank pipeline to use where `language`'s own cannot load: 'zh' (one token per
    character, no package) for the unspaced scripts of Japanese and Thai, else 'en'."""
    return "zh" if language in ("ja", "th") else "en"


def regex_tokenize(text: str) -> list[tuple[int, int]]:
    """Words, single punctuation marks, and single characters of scripts written without
    spaces (Chinese, Japanese, Thai...): close to spaCy's blank tokenizer, instant."""
    return [match.span() for match in _FALLBACK.finditer(text)]


def language_note(language: str) -> str | None:
    """What a user should know about snapping in `language`, or None when spaCy's own
    tokenizer does it: a missing package (then the fallback), or an unknown code."""
    if language in NEEDS_PACKAGE:
        try:
            blank_pipeline(language)
        except ImportError:
            how = "characters" if language != "ko" else "words between spaces"
            return (
                f"spaCy's {language!r} tokenizer needs {NEEDS_PACKAGE[language]}, which is not"
                f" installed: selections snap to {how} instead"
            )
        return None
    if not is_language(language):
        return f"spaCy has no tokenizer for {language!r}: selections snap as in English"
    return None


def blank_pipeline(language: str) -> Any:
    """spacy.blank(language) (no model, no download); ImportError when spaCy needs a package
    that is not installed, or has no such language."""
    import spacy

    try:
        return spacy.blank(language, config=_SPACY_CONFIG.get(language, {}))
    except (KeyError, ValueError) as exc:
        raise ImportError(str(exc)) from exc


@cache
def spacy_tokenizer(language: str = "en") -> Tokenize:
    """spaCy's rule-based tokenizer for a language; English for a code spaCy does not know;
    regex_tokenize (characters of unspaced scripts, words between spaces) where spaCy needs a
    package that is not installed (see language_note)."""
    try:
        nlp = blank_pipeline(language)
    except ImportError:
        if language in NEEDS_PACKAGE:
            return regex_tokenize
        nlp = blank_pipeline("en")

    def tokenize(text: str) -> list[tuple[int, int]]:
        return [
            (token.idx, token.idx + len(token.text))
            for token in nlp.make_doc(text)
            if not token.is_space
        ]

    return tokenize


@cache
def snapping_tokenizer(language: str = "en") -> Tokenize:
    """The tokens a span selection snaps to: spaCy's (spacy_tokenizer), with any token made
    of a run of an unspaced script split into characters, so that selecting 胸痛 inside
    a longer run snaps to 胸痛 whatever the project language."""
    spacy_tokens = spacy_tokenizer(language)
    if spacy_tokens is regex_tokenize:
        return regex_tokenize

    def tokenize(text: str) -> list[tuple[int, int]]:
        return _split_unspaced(text, spacy_tokens(text))

    return tokenize


def _split_unspaced(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A token spaCy made of a run of unspaced script (a Chinese phrase in an English note)
    split into characters, as regex_tokenize does; other tokens are kept as they are."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if end - start > 1 and _UNSPACED_CHAR.search(text, start, end):
            out.extend((start + s, start + e) for s, e in regex_tokenize(text[start:end]))
        else:
            out.append((start, end))
    return out


_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")


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
