"""Long texts of PubTator and BRAT go in exactly as before, their mentions checked, while the
text is never one str (issue 14: peak memory; a str of ASCII text with one CJK character is
twice its UTF-8). The thresholds are lowered so that a short text takes the long path; memory
itself is measured by bench/import_memory.py, not here."""

from __future__ import annotations

import codecs
import random

import pytest

from app.core.io import feed, longslice, longtext
from app.core.io.formats import brat, pubtator
from app.core.io.formats.base import ReadOptions
from app.core.io.importer import import_dataset
from app.core.io.longslice import Slices
from app.core.io.longtext import LongText
from tests.unit.helpers import import_refused, texts, values

WORDS = [
    f"疾病{i}" if i % 7 == 0 else f"Étude{i}" if i % 5 == 0 else f"gene{i}" for i in range(900)
]
LONG = " ".join(WORDS) + " 𝔘𝔫𝔦"  # 1- to 4-byte characters


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch):
    monkeypatch.setattr(feed, "LONG_TEXT", 1_000)
    monkeypatch.setattr(longtext, "LONG_TEXT", 1_000)
    monkeypatch.setattr(longtext, "CHUNK", 1_000)
    monkeypatch.setattr(longslice, "SCAN", 97)  # checkpoints cut characters in two


@pytest.fixture
def decodes(monkeypatch):
    """The lengths of the LongTexts decoded as strs during the test."""
    real = LongText.decode
    made: list[int] = []

    def spy(self):
        made.append(self.chars)
        return real(self)

    monkeypatch.setattr(LongText, "decode", spy)
    return made


def at(word: int) -> tuple[int, int]:
    """Character offsets of WORDS[word] in LONG."""
    start = len(" ".join(WORDS[:word])) + (1 if word else 0)
    return start, start + len(WORDS[word])


def test_slices_cut_a_long_text_as_a_str_would():
    data = bytearray(LONG.encode())
    text = longtext.text_of(data)
    assert text.__class__ is LongText
    slices = Slices(text)
    assert len(slices) == len(LONG)
    rng = random.Random(5)
    for _ in range(300):
        start = rng.randrange(len(LONG))
        end = min(len(LONG), start + rng.randrange(1, 200))
        assert slices[start:end] == LONG[start:end]
    assert slices[len(LONG) - 3 : len(LONG)] == "𝔘𝔫𝔦"
    assert slices[5:5] == "" and slices[0:1] == LONG[0]


def pubtator_file(tmp_path, mentions: str = "") -> object:
    title, abstract = "Short title.", LONG
    body = f"1|t|{title}\n1|a|{abstract}\n{mentions}\n2|t|Next.\n2|a|One.\n\n"
    path = tmp_path / "long.pubtator"
    path.write_bytes(body.encode())
    return path


def test_a_long_pubtator_document_is_imported_exactly_without_a_str(
    make_project, tmp_path, decodes
):
    project = make_project("spans", labels=("Disease", "Gene"))
    import_dataset(project, pubtator_file(tmp_path), fmt="pubtator")
    assert texts(project) == [f"Short title. {LONG}", "Next. One."]
    assert decodes == []


def test_mentions_of_a_long_pubtator_document_are_checked_and_kept(make_project, tmp_path, decodes):
    project = make_project("spans", labels=("Disease", "Gene"))
    shift = len("Short title. ")
    wanted = [(0, 5, "Gene")]  # in the title
    for word in (0, 7, 449, 899):  # at the start, a CJK word, the middle, the end
        start, end = at(word)
        wanted.append((start + shift, end + shift, "Disease" if word % 7 == 0 else "Gene"))
    text = f"Short title. {LONG}"
    lines = "".join(f"1\t{s}\t{e}\t{text[s:e]}\t{label}\n" for s, e, label in wanted)
    import_dataset(project, pubtator_file(tmp_path, lines), fmt="pubtator")
    assert decodes == []
    assert texts(project)[0] == text
    found = [(s["start"], s["end"], s["label"]) for s in values(project)[0]]
    assert found == sorted(wanted)


def test_a_wrong_mention_of_a_long_pubtator_document_is_refused(make_project, tmp_path):
    project = make_project("spans", labels=("Disease", "Gene"))
    start, end = at(7)
    shift = len("Short title. ")
    line = f"1\t{start + shift}\t{end + shift}\tgene8\tDisease\n"
    error = import_refused(project, pubtator_file(tmp_path, line), 3, ["gene8", "疾病7"])
    assert error.line == 3
    beyond = f"1\t{shift}\t{len(LONG) + shift + 1}\tx\tGene\n"
    import_refused(project, pubtator_file(tmp_path, beyond), 3, ["outside the text"])


def test_a_long_pubtator_abstract_that_is_not_utf8_names_its_line(make_project, tmp_path):
    project = make_project("spans", labels=("Gene",))
    path = tmp_path / "bad.pubtator"
    path.write_bytes(b"1|t|T.\n1|a|" + LONG.encode() + b"\xff tail\n\n")
    import_refused(project, path, 2, ["not UTF-8"])


def test_the_pubtator_reader_gives_long_texts_as_utf8_only_when_asked(tmp_path):
    path = pubtator_file(tmp_path)
    plain = [r.text for r in pubtator.read(path, ReadOptions("spans"))]
    kept = [r.text for r in pubtator.read(path, ReadOptions("spans", long_bytes=True))]
    assert plain == [f"Short title. {LONG}", "Next. One."]
    assert kept[0].__class__ is LongText and kept[0].decode() == plain[0]
    assert kept[1] == plain[1]


def brat_folder(tmp_path, ann: str | None, data: bytes | None = None):
    folder = tmp_path / "brat"
    folder.mkdir(exist_ok=True)
    (folder / "a.txt").write_bytes(data if data is not None else LONG.encode())
    if ann is not None:
        (folder / "a.ann").write_text(ann, encoding="utf-8")
    (folder / "b.txt").write_text("short one", encoding="utf-8")
    return folder


@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8])
def test_a_long_brat_text_is_imported_exactly_without_a_str(make_project, tmp_path, decodes, bom):
    project = make_project("spans", labels=("Disease", "Gene"))
    spans = [(*at(0), "Gene"), (*at(7), "Disease"), (*at(899), "Gene")]
    ann = "".join(f"T{i}\t{label} {s} {e}\t{LONG[s:e]}\n" for i, (s, e, label) in enumerate(spans))
    import_dataset(project, brat_folder(tmp_path, ann, bom + LONG.encode()), fmt="brat")
    assert decodes == []
    assert texts(project) == [LONG, "short one"]
    assert [(s["start"], s["end"], s["label"]) for s in values(project)[0]] == spans


def test_a_wrong_mention_of_a_long_brat_text_is_refused(make_project, tmp_path):
    project = make_project("spans", labels=("Disease",))
    start, end = at(7)
    folder = brat_folder(tmp_path, f"T1\tDisease {start} {end}\tgene7\n")
    error = import_refused(project, folder, None, ["a.ann", "gene7", "疾病7"], fmt="brat")
    assert error.line == 1


def test_a_long_brat_text_that_is_not_utf8_names_its_line(make_project, tmp_path):
    project = make_project("spans", labels=("Disease",))
    data = LONG.encode() + b"\nsecond line \xff\n"
    folder = brat_folder(tmp_path, None, data)
    error = import_refused(project, folder, 2, ["a.txt", "not utf-8"], fmt="brat")
    assert error.file.endswith("a.txt")


def test_the_brat_reader_gives_long_texts_as_utf8_only_when_asked(tmp_path):
    folder = brat_folder(tmp_path, None)
    plain = [r.text for r in brat.read(folder, ReadOptions("spans"))]
    kept = [r.text for r in brat.read(folder, ReadOptions("spans", long_bytes=True))]
    assert plain == [LONG, "short one"]
    assert kept[0].__class__ is LongText and kept[0].decode() == LONG
    assert kept[1] == "short one"
