"""Long texts of the span and tabular formats that build their text themselves (CoNLL, Parquet,
Arrow, BioC) go in exactly as before while never being held as one str where they need not be
(issue 14: peak memory). The thresholds are lowered so that a short text takes the long path;
memory itself is measured by bench/import_memory.py, not here."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from app.core.errors import DataError
from app.core.io import feed, longtext
from app.core.io.formats import conll
from app.core.io.formats.base import ReadOptions
from app.core.io.importer import import_dataset
from tests.unit.helpers import import_refused, rows, texts, values

WORDS = [
    f"疾病{i}" if i % 7 == 0 else f"Étude{i}" if i % 5 == 0 else f"gene{i}" for i in range(3000)
]
LONG = " ".join(WORDS)


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch):
    monkeypatch.setattr(feed, "LONG_TEXT", 1_000)
    monkeypatch.setattr(longtext, "LONG_TEXT", 1_000)
    monkeypatch.setattr(longtext, "CHUNK", 10_000)  # several chunks, one cut mid-character
    monkeypatch.setattr(conll, "LONG_TEXT", 1_000)
    monkeypatch.setattr(conll, "COMPACT", 100)  # a sentence goes into bytes many times


@pytest.fixture
def decodes(monkeypatch):
    """The lengths of the LongTexts decoded as strs during the test."""
    real = longtext.LongText.decode
    made: list[int] = []

    def spy(self):
        made.append(self.chars)
        return real(self)

    monkeypatch.setattr(longtext.LongText, "decode", spy)
    return made


def conll_file(tmp_path, tagged: dict[int, str]):
    """A short sentence, then LONG one token a line (the tags at `tagged` indexes), then
    another short one after a -DOCSTART- line."""
    lines = ["A O", "short O", "one O", ""]
    lines += [f"{word}\t{tagged.get(i, 'O')}" for i, word in enumerate(WORDS)]
    lines += ["-DOCSTART- -X- -X- O", "", "Last B-a", "one O", ""]
    path = tmp_path / "long.conll"
    path.write_text("\n".join(lines), "utf-8")
    return path


def offsets(index: int, count: int = 1) -> tuple[int, int]:
    """Character offsets in LONG of `count` words from word `index`."""
    start = len(" ".join(WORDS[:index])) + (1 if index else 0)
    return start, start + len(" ".join(WORDS[index : index + count]))


def test_a_long_conll_sentence_is_imported_exactly_without_a_str(make_project, tmp_path, decodes):
    project = make_project("spans", labels=("a", "b"))
    # spans at the start, across a compaction, at a CJK word, and at the very end
    tagged = {0: "B-a", 1: "I-a", 99: "B-b", 100: "I-b", 101: "I-b", 700: "U-a", 2999: "B-b"}
    import_dataset(project, conll_file(tmp_path, tagged), fmt="conll")
    assert texts(project) == ["A short one", LONG, "Last one"]
    assert decodes == []
    found = values(project)
    assert found[0] == [] and found[2] == [{"start": 0, "end": 4, "label": "a"}]
    expected = [(*offsets(0, 2), "a"), (*offsets(99, 3), "b"), (*offsets(700), "a")]
    expected.append((*offsets(2999), "b"))
    assert [(s["start"], s["end"], s["label"]) for s in found[1]] == expected
    assert [LONG[s:e] for s, e, _ in expected][-1] == WORDS[2999]


def test_a_conll_sentence_over_the_field_limit_is_refused_naming_its_line(make_project, tmp_path):
    project = make_project("spans", labels=("a",))
    path = conll_file(tmp_path, {})
    limit = len(LONG.encode("utf-8")) - 10
    error = import_refused(
        project, path, 5, ["field limit", "--max-field-mb"], fmt="conll", max_field=limit
    )
    assert "sentence" in str(error)


def test_the_conll_reader_gives_a_long_sentence_as_utf8(tmp_path):
    records = list(conll.read(conll_file(tmp_path, {5: "B-a"}), ReadOptions("spans")))
    assert [type(r.text) for r in records] == [str, longtext.LongText, str]
    assert records[1].text.decode() == LONG and len(records[1].text) == len(LONG)
    assert records[1].values[0].value == [
        {"start": offsets(5)[0], "end": offsets(5)[1], "label": "a"}
    ]


def table_rows():
    """A short row, a long text with a long note, then short rows again."""
    texts_ = ["short one", LONG, "after it", "the last"]
    notes = ["n1", "note " + LONG, "n3", "n4"]
    return texts_, notes


def write_table(tmp_path, fmt: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts_, notes = table_rows()
    table = pa.table({"id": [str(i) for i in range(4)], "text": texts_, "note": notes})
    if fmt == "parquet":
        path = tmp_path / "long.parquet"
        pq.write_table(table, path, row_group_size=3)  # the long text mid row group
        return path
    path = tmp_path / "long.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=1):
            writer.write_batch(batch)
    return path


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_a_long_table_cell_is_imported_exactly_without_a_str(
    make_project, tmp_path, decodes, monkeypatch, fmt
):
    from app.core.io.formats import parquet

    monkeypatch.setattr(parquet, "BATCH", 2)  # several batches, read one ahead
    project = make_project(inputs=["text", "note"])
    mapping = {"text": "text", "note": "note"}
    import_dataset(project, write_table(tmp_path, fmt), fmt=fmt, mapping=mapping)
    found, notes = table_rows()
    assert texts(project) == found
    contexts = [json.loads(r[0])["note"] for r in rows(project, "SELECT context FROM datapoint")]
    assert contexts == notes
    assert decodes == []  # the text, and the long note too (app.core.io.longcontext)


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_the_table_readers_give_long_cells_as_utf8_only_when_asked(tmp_path, fmt):
    module = importlib.import_module(f"app.core.io.formats.{fmt}")
    path = write_table(tmp_path, fmt)
    asked = [
        row for _line, row in module.rows(path, ReadOptions("classification", long_bytes=True))
    ]
    assert [type(row["text"]) for row in asked] == [str, longtext.LongText, str, str]
    assert asked[1]["text"].decode() == LONG and asked[1]["note"].decode() == "note " + LONG
    plain = [row for _line, row in module.rows(path, ReadOptions("classification"))]
    assert [row["text"] for row in plain] == table_rows()[0]


def bioc_file(tmp_path, passages: str, annotations: str = "") -> Path:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<collection><source>s</source>'
        "<document><id>short</id><passage><offset>0</offset><text>a short one</text>"
        f"</passage></document><document><id>long</id>{annotations}{passages}</document>"
        "<document><id>last</id><passage><offset>0</offset><text>the last</text></passage>"
        "</document></collection>"
    )
    path = tmp_path / "long.bioc.xml"
    path.write_text(body, "utf-8")
    return path


def passage(offset: int, text: str, inner: str = "") -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    return f"<passage><offset>{offset}</offset><text>{escaped}</text>{inner}</passage>"


def test_a_long_bioc_passage_is_imported_exactly_without_a_str(make_project, tmp_path, decodes):
    project = make_project("spans", labels=("a",))
    text = LONG + " & <done>"  # escaped in the file
    import_dataset(project, bioc_file(tmp_path, passage(0, text)), fmt="bioc")
    assert texts(project) == ["a short one", text, "the last"] and decodes == []


def test_bioc_passages_and_sentences_are_laid_at_their_offsets(make_project, tmp_path):
    project = make_project("spans", labels=("a",))
    sentences = (
        "<passage><offset>90000</offset><text/>"  # an empty text: the sentences are read
        "<sentence><offset>90000</offset><text>first sentence</text></sentence>"
        "<sentence><offset>90020</offset><text>second</text></sentence></passage>"
    )
    title = "疾病 title"
    at = len(title) + 1
    path = bioc_file(tmp_path, passage(0, title) + passage(at, LONG) + sentences)
    import_dataset(project, path, fmt="bioc")
    expected = title + " " + LONG
    expected += " " * (90000 - len(expected)) + "first sentence" + " " * 6 + "second"
    assert texts(project)[1] == expected


def test_annotations_of_a_long_bioc_document_are_checked_and_kept(make_project, tmp_path):
    project = make_project("spans", labels=("a",))
    start, end = offsets(2999)
    annotation = (
        f'<annotation id="x"><infon key="type">a</infon><location offset="{start}" '
        f'length="{end - start}"/><text>{WORDS[2999]}</text></annotation>'
    )
    import_dataset(project, bioc_file(tmp_path, passage(0, LONG, annotation)), fmt="bioc")
    assert texts(project)[1] == LONG
    assert values(project) == [[{"start": start, "end": end, "label": "a"}]]
    wrong = annotation.replace(f"<text>{WORDS[2999]}</text>", "<text>other</text>")
    path = bioc_file(tmp_path, passage(0, LONG, wrong))
    import_refused(make_project("spans", labels=("a",)), path, None, ["document long", "other"])


def test_a_bioc_text_over_the_field_limit_is_refused_naming_its_document(make_project, tmp_path):
    project = make_project("spans", labels=("a",))
    path = bioc_file(tmp_path, passage(0, LONG))
    import_refused(project, path, None, ["document long", "field limit"], max_field=5_000)


def test_a_conll_sentence_of_a_few_huge_tokens_is_refused_as_it_grows(
    make_project, tmp_path, monkeypatch
):
    monkeypatch.setattr(conll, "COMPACT_CHARS", 1_000)
    path = tmp_path / "huge.conll"
    # a line that is no token line comes later: refused for the size before it is read
    lines = ["A O", "", *[f"{'x' * 3_000}{i} O" for i in range(50)], "lonely", ""]
    path.write_text("\n".join(lines), "utf-8")
    reading = conll.read(path, ReadOptions("spans", max_field=10_000))
    assert next(reading).text == "A"
    with pytest.raises(DataError) as error:
        next(reading)
    assert error.value.line == 3 and "field limit" in str(error.value)
