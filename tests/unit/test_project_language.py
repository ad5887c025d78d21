"""The project language: `tagloop init --language` and token snapping per language (#13.3)."""

from __future__ import annotations

import pytest

from app.cli.main import main
from app.core.annotation import tokens
from app.core.annotation.tokens import (
    Tokens,
    language_note,
    regex_tokenize,
    snapping_tokenizer,
)
from app.core.project.project import open_project

NOTE = "患者は胸痛を訴えた。MRI では異常なし。𠮷田医師が診察。"


def _snap(tokenize, text: str, mention: str) -> str:
    start = text.index(mention)
    a, b = Tokens.of(text, tokenize).snap(start, start + len(mention))
    return text[a:b]


def test_init_language_is_stored_and_said(tmp_path, capsys):
    path = str(tmp_path / "ja.tagloop")
    code = main(["init", path, "--type", "spans", "--labels", "SYMPTOM", "--language", "ja"])
    assert code == 0
    out, err = capsys.readouterr()
    assert "spans, ja" in out
    if language_note("ja"):  # SudachiPy not installed: the user is told, once
        assert "SudachiPy" in err and "characters" in err
    with open_project(tmp_path / "ja.tagloop") as project:
        assert project.language == "ja"


def test_init_takes_any_language_spacy_knows(tmp_path):
    path = str(tmp_path / "yo.tagloop")
    assert main(["init", path, "--type", "spans", "--labels", "A", "--language", "yo"]) == 0
    with open_project(tmp_path / "yo.tagloop") as project:
        assert project.language == "yo"


def test_init_refuses_an_unknown_language(tmp_path, capsys):
    path = str(tmp_path / "x.tagloop")
    assert main(["init", path, "--type", "spans", "--labels", "A", "--language", "klingon"]) != 0
    assert "unknown language 'klingon'" in capsys.readouterr().err
    assert not (tmp_path / "x.tagloop").exists()


@pytest.mark.parametrize("language", ["ja", "zh", "en", "th"])
def test_selecting_a_cjk_word_snaps_to_it_not_to_the_sentence(language):
    tokenize = snapping_tokenizer(language)
    assert _snap(tokenize, NOTE, "胸痛") == "胸痛"
    assert _snap(tokenize, NOTE, "𠮷田") == "𠮷田"  # outside the BMP: Python offsets
    # A partial selection of a Latin word still grows to the word (but zh splits Latin too).
    if language != "zh":
        assert _snap(tokenize, NOTE, "MR") == "MRI"


def test_fallback_tokenizer_splits_unspaced_scripts_only():
    text = "chest pain 胸痛 ผู้ป่วย café"
    pieces = [text[a:b] for a, b in regex_tokenize(text)]
    assert pieces[:4] == ["chest", "pain", "胸", "痛"]
    assert pieces[-1] == "café"


def test_language_note_names_the_missing_package(monkeypatch):
    def missing(language):
        raise ImportError("needs a package")

    monkeypatch.setattr(tokens, "blank_pipeline", missing)
    assert "PyThaiNLP" in language_note("th")
    assert "words between spaces" in language_note("ko")
    assert language_note("de") is None
    assert "as in English" in language_note("qq")


def test_span_model_tokenizes_japanese_by_characters_without_sudachipy():
    from app.ml.spans.model import train
    from app.ml.types import Example

    model = train([Example("胸痛あり。", [])], ["SYMPTOM"], language="ja")
    if language_note("ja"):  # SudachiPy missing: characters, as the editor snaps
        assert model.language == "zh"
    else:
        assert model.language == "ja"
