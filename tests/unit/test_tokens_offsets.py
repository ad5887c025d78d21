"""Span snapping to token boundaries, and Python index <-> Qt (UTF-16) position mapping."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.annotation import tokens
from app.core.annotation.tokens import Tokens, regex_tokenize, spacy_tokenizer

ROOT = Path(__file__).resolve().parents[2]


def _load_offsets():
    """app/views/editor/offsets.py on its own: its package __init__ imports Qt, it does not."""
    path = ROOT / "app" / "views" / "editor" / "offsets.py"
    spec = importlib.util.spec_from_file_location("_tagloop_offsets_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TextOffsets = _load_offsets().TextOffsets

TEXT = "New York is big, isn't it?"


@pytest.fixture(scope="module")
def spacy_en():
    return spacy_tokenizer("en")


def _tokenizers(spacy_en):
    return {"regex": regex_tokenize, "spacy": spacy_en}


# --- tokenizers ---------------------------------------------------------------------------


def test_regex_tokenizer_words_and_punctuation():
    text = "Hi, Ada!\r\n  x_1 café"
    assert [text[s:e] for s, e in regex_tokenize(text)] == ["Hi", ",", "Ada", "!", "x_1", "café"]
    assert regex_tokenize("") == []
    assert regex_tokenize(" \t\r\n ") == []


def test_spacy_tokenizer_skips_whitespace_tokens(spacy_en):
    text = "Hello,\r\n world  don't\n\nstop"
    spans = spacy_en(text)
    got = [text[s:e] for s, e in spans]
    assert got == ["Hello", ",", "world", "do", "n't", "stop"]
    assert all(text[s:e].strip() == text[s:e] and e > s for s, e in spans)
    assert spans == sorted(spans)


def test_spacy_tokenizer_unknown_language_falls_back_to_english(spacy_en):
    fallback = spacy_tokenizer("zz-not-a-language")
    text = "Don't stop, Mr. Smith."
    assert fallback(text) == spacy_en(text)


def test_spacy_tokenizer_is_cached(spacy_en):
    assert spacy_tokenizer("en") is spacy_en


def test_tokens_module_does_not_import_spacy_eagerly():
    # importing app.core.annotation.tokens must not pull in spaCy (it is imported lazily)
    code = "import sys, app.core.annotation.tokens; print('spacy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "False"


def test_offsets_module_is_qt_free():
    code = (
        "import sys, importlib.util as u;"
        "s = u.spec_from_file_location('o', 'app/views/editor/offsets.py');"
        "s.loader.exec_module(u.module_from_spec(s));"
        "print(any(m.startswith(('PySide6', 'shiboken6')) for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "False"


# --- snapping -----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["regex", "spacy"])
@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ((1, 2), "New"),  # inside one word
        ((2, 6), "New York"),  # from inside one word into another
        ((0, 3), "New"),  # exact
        ((3, 8), "York"),  # leading space trimmed
        ((4, 9), "York"),  # trailing space trimmed
        ((3, 9), "York"),  # both
        ((2, 5), "New York"),
        ((13, 15), "big"),
        ((14, 16), "big,"),  # punctuation is a token of its own
        ((15, 16), ","),
        ((0, len(TEXT)), TEXT),
    ],
)
def test_snap_grows_partial_words_and_trims_whitespace(spacy_en, which, selection, expected):
    snapped = Tokens.of(TEXT, _tokenizers(spacy_en)[which]).snap(*selection)
    assert TEXT[slice(*snapped)] == expected


@pytest.mark.parametrize("which", ["regex", "spacy"])
def test_snap_reversed_arguments(spacy_en, which):
    toks = Tokens.of(TEXT, _tokenizers(spacy_en)[which])
    assert toks.snap(6, 2) == toks.snap(2, 6) == (0, 8)


def test_snap_contractions_differ_by_tokenizer(spacy_en):
    start = TEXT.index("isn't")
    regex = Tokens.of(TEXT).snap(start + 1, start + 2)
    spacy = Tokens.of(TEXT, spacy_en).snap(start + 1, start + 2)
    assert TEXT[slice(*regex)] == "isn"
    assert TEXT[slice(*spacy)] == "is"


@pytest.mark.parametrize("which", ["regex", "spacy"])
def test_whitespace_only_selection_is_returned_as_is(spacy_en, which):
    text = "one   two\r\n\tthree"
    toks = Tokens.of(text, _tokenizers(spacy_en)[which])
    assert toks.snap(4, 5) == (4, 5)
    assert toks.snap(3, 6) == (3, 6)
    assert toks.snap(9, 12) == (9, 12)
    assert toks.snap(12, 9) == (9, 12)  # still put in order
    assert toks.snap(5, 5) == (5, 5)  # empty selection
    assert toks.snap(1, 1) == (1, 1)  # empty selection inside a word is not grown


def test_snap_without_tokens():
    toks = Tokens.of("   \n ")
    assert toks.starts == toks.ends == ()
    assert toks.snap(0, 3) == (0, 3)
    assert toks.snap(3, 1) == (1, 3)


def test_snap_across_crlf_with_spacy(spacy_en):
    text = "alpha\r\nbeta"
    toks = Tokens.of(text, spacy_en)
    assert toks.snap(3, 9) == (0, 11)
    assert toks.snap(5, 7) == (5, 7)  # just the line break
    assert toks.snap(4, 7) == (0, 5)


@given(st.text(max_size=40), st.integers(0, 45), st.integers(0, 45))
def test_snap_properties(text, a, b):
    a, b = min(a, len(text)), min(b, len(text))
    start, end = sorted((a, b))
    toks = Tokens.of(text)
    s, e = toks.snap(a, b)
    assert 0 <= s <= e <= len(text)
    spans = list(zip(toks.starts, toks.ends, strict=True))
    if (s, e) != (start, end):
        # a snapped selection begins at a token start and ends at a token end,
        # and covers every token the selection touched
        assert s in toks.starts
        assert e in toks.ends
        touched = [(ts, te) for ts, te in spans if ts < end and te > start]
        assert touched
        assert s == touched[0][0]
        assert e == touched[-1][1]
    else:
        # left alone: empty, or no token overlaps, or already exactly on token edges
        touched = [(ts, te) for ts, te in spans if ts < end and te > start]
        assert start == end or not touched or (s in toks.starts and e in toks.ends)


def test_tokens_of_uses_the_given_tokenizer():
    toks = Tokens.of("abc def", lambda text: [(0, 7)])
    assert (toks.starts, toks.ends) == ((0,), (7,))
    assert toks.snap(1, 2) == (0, 7)
    assert tokens.Tokens.of("abc def").snap(1, 2) == (0, 3)


# --- Python index <-> Qt position ---------------------------------------------------------


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _check_offsets(text: str) -> None:
    offsets = TextOffsets(text)
    assert len(offsets.display) == len(text)
    assert "\r" not in offsets.display
    assert offsets.qt_length == _utf16_len(text)
    for i in range(len(text) + 1):
        qt = offsets.to_qt(i)
        assert qt == _utf16_len(text[:i])
        assert offsets.to_py(qt) == i
    for i, ch in enumerate(text):
        if ord(ch) > 0xFFFF:  # the middle of a surrogate pair rounds down to the character
            assert offsets.to_py(offsets.to_qt(i) + 1) == i


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain ascii",
        "a😀b",
        "😀",
        "😀😀😀",
        "x😀",
        "😀x",
        "e\u0301t\u00e9",  # combining accent, and a precomposed one
        "line one\r\nline two\r\n",
        "old mac\rlines\r",
        "\r\n\r\r\n\n",
        "tab\tseparated\tvalues",
        "مرحبا بالعالم",  # Arabic, right to left
        "שלום עולם",  # Hebrew
        "漢字とかな、한국어",  # CJK
        "mixed 😀 עולם 漢字\r\n👩\u200d👩\u200d👧 family 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "\U0010ffff\U00010000\uffff\u0000",
    ],
)
def test_offsets_on_awkward_texts(text):
    _check_offsets(text)


def test_display_keeps_every_index_in_place():
    offsets = TextOffsets("a\r\nb\rc\nd")
    assert offsets.display == "a \nb\nc\nd"
    assert offsets.text == "a\r\nb\rc\nd"


def test_specific_positions_around_emoji():
    offsets = TextOffsets("a😀b😀")
    assert [offsets.to_qt(i) for i in range(5)] == [0, 1, 3, 4, 6]
    assert [offsets.to_py(p) for p in range(7)] == [0, 1, 1, 2, 3, 3, 4]
    assert offsets.qt_length == 6


@given(st.text())
def test_offsets_property(text):
    _check_offsets(text)


@given(st.lists(st.sampled_from(["a", "😀", "\r\n", "\r", "\u0301", "ש", "漢", " "]), max_size=30))
def test_offsets_property_on_tricky_pieces(pieces):
    _check_offsets("".join(pieces))
