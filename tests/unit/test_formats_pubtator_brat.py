"""PubTator and BRAT: readers and writers, exact offsets on unicode-heavy text (issue #13)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.errors import DataError
from app.core.io.formats import brat, pubtator
from app.core.io.formats.base import ReadOptions
from tests.unit.format_samples import TEXTS, context, gold_spans, never, no_progress, record

NCBI = Path(__file__).resolve().parents[2] / "resources" / "demo" / "ncbi_disease_test.pubtator"


def _records(spans=None):
    spans = spans or gold_spans()
    return [
        record(i, t, s, pmid=str(1000 + i))
        for i, (t, s) in enumerate(zip(TEXTS, spans, strict=True))
    ]


def test_pubtator_reads_the_ncbi_corpus_with_exact_offsets():
    records = list(pubtator.read(NCBI, ReadOptions("spans")))
    assert len(records) == 100
    first = records[0]
    assert first.context == {"pmid": "9949209"}
    spans = first.values[0].value
    assert first.text[spans[0]["start"] : spans[0]["end"]] == "copper toxicosis"
    multilabel = next(pubtator.read(NCBI, ReadOptions("multilabel")))
    assert multilabel.values[0].value == sorted({s["label"] for s in spans})


def test_pubtator_round_trip_keeps_texts_and_offsets(tmp_path):
    out = tmp_path / "notes.pubtator"
    texts = [t.replace("\r\n", "  ").replace("\r", " ") for t in TEXTS]  # one line each
    spans = gold_spans()
    report = pubtator.write(iter(_records()), out, context(), no_progress, never)
    assert report.written == 4
    assert "line breaks" in report.warnings[0]
    assert pubtator.detect(out, out.read_bytes()[:512]) > 0.9
    back = list(pubtator.read(out, ReadOptions("spans")))
    assert [r.text for r in back] == texts
    assert [list(r.values[0].value) for r in back] == spans
    assert back[0].context == {"pmid": "1000"}


def test_pubtator_document_without_annotations_stays_unlabelled(tmp_path):
    path = tmp_path / "a.pubtator"
    path.write_text("1|t|Title\n1|a|Abstract here.\n\n2|t|T2\n2|a|Cold.\n2\t3\t7\tCold\tD\n")
    first, second = pubtator.read(path, ReadOptions("spans"))
    assert first.values == ()
    assert second.values[0].value == [{"start": 3, "end": 7, "label": "D"}]


@pytest.mark.parametrize(
    "body, problem",
    [
        ("1|t|Title\n1|a|Abstract.\n1\t0\t5\tTitlX\tD\n", "'TitlX' but the text there is 'Title'"),
        ("1|t|Title\n1|a|Abstract.\n1\t0\t99\tTitle\tD\n", "outside the text"),
        ("1|t|Title\n1|a|Abstract.\n1\tx\t5\tTitle\tD\n", "not whole numbers"),
        ("1\t0\t5\tTitle\tD\n", "before the document's title"),
        ("1|t|Title\n2|a|Abstract.\n", "follows the title of 1"),
    ],
)
def test_pubtator_bad_lines_name_file_and_line(tmp_path, body, problem):
    path = tmp_path / "bad.pubtator"
    path.write_text(body)
    with pytest.raises(DataError) as error:
        list(pubtator.read(path, ReadOptions("spans")))
    assert problem in str(error.value)
    assert error.value.file == str(path) and error.value.line


def test_pubtator_refuses_a_classification_project(tmp_path):
    path = tmp_path / "a.pubtator"
    path.write_text("1|t|Title\n1|a|Cold.\n1\t6\t10\tCold\tD\n")
    with pytest.raises(DataError, match="spans or multilabel project"):
        list(pubtator.read(path, ReadOptions("classification")))


def test_brat_round_trip_is_byte_exact(tmp_path):
    out = tmp_path / "brat"
    report = brat.write(iter(_records()), out, context(), no_progress, never)
    assert report.written == 4 and not report.warnings
    assert (out / "annotation.conf").read_text().startswith("[entities]\nDISEASE\nSYMPTOM\n")
    assert brat.detect(out, b"") > 0.5
    back = list(brat.read(out, ReadOptions("spans")))
    assert [r.text for r in back] == TEXTS  # CRLF and lone CR kept
    assert [list(r.values[0].value) for r in back] == gold_spans()
    mode = os.stat(out).st_mode & 0o777
    assert mode == 0o777 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_brat_rewrites_a_folder_atomically(tmp_path):
    out = tmp_path / "brat"
    brat.write(iter(_records()), out, context(), no_progress, never)

    def records():
        yield _records()[0]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        brat.write(records(), out, context(), no_progress, never)
    assert len(list(out.glob("*.txt"))) == 4  # the old export is intact
    assert [p.name for p in tmp_path.iterdir()] == ["brat"]  # no temporary folder left


def test_brat_discontinuous_span_is_reported_with_file_and_line(tmp_path):
    (tmp_path / "a.txt").write_text("chest and back pain")
    (tmp_path / "a.ann").write_text("T1\tSYMPTOM 0 5\tchest\nT2\tSYMPTOM 0 5;15 19\tchest pain\n")
    with pytest.raises(DataError) as error:
        list(brat.read(tmp_path, ReadOptions("spans")))
    assert error.value.file.endswith("a.ann") and error.value.line == 2
    assert "discontinuous" in str(error.value)


def test_brat_leaves_out_relations_and_keeps_unannotated_texts_unlabelled(tmp_path):
    (tmp_path / "a.txt").write_text("Aspirin causes ulcers")
    (tmp_path / "a.ann").write_text(
        "T1\tDrug 0 7\tAspirin\nT2\tDisease 15 21\tulcers\n"
        "R1\tCauses Arg1:T1 Arg2:T2\n#1\tAnnotatorNotes T1\tnote\nA1\tNegated T2\n"
    )
    (tmp_path / "b.txt").write_text("Nothing here")
    (tmp_path / "b.ann").write_text("")
    a, b = brat.read(tmp_path, ReadOptions("spans"))
    assert [s["label"] for s in a.values[0].value] == ["Drug", "Disease"]
    assert b.values == () and b.context == {"document": "b"}


def test_brat_mention_mismatch_names_both_strings(tmp_path):
    (tmp_path / "a.txt").write_text("😷 chest pain now")
    (tmp_path / "a.ann").write_text("T1\tSYMPTOM 3 13\tchest pain\n")  # UTF-16 offsets
    with pytest.raises(DataError, match="'chest pain' but the text there is 'hest pain '"):
        list(brat.read(tmp_path, ReadOptions("spans")))


def test_field_cap_refuses_huge_texts_and_lines(tmp_path):
    (tmp_path / "a.txt").write_text("x" * 100)
    with pytest.raises(DataError, match="over the 50-byte field limit"):
        list(brat.read(tmp_path, ReadOptions("spans", max_field=50)))
    path = tmp_path / "a.pubtator"
    path.write_text("1|t|" + "y" * 100 + "\n1|a|z\n")
    with pytest.raises(DataError, match="50-byte limit") as error:
        list(pubtator.read(path, ReadOptions("spans", max_field=50)))
    assert error.value.line == 1
