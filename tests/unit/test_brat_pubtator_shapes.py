"""BRAT labels with any whitespace, BRAT links out of the folder, and PubTator detection by
its real shape (issue #14, red team session 6)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.core.errors import DataError
from app.core.io.formats import brat, pubtator, registry
from app.core.io.formats.base import ReadOptions, WriteContext
from tests.unit.format_samples import never, no_progress, record

NCBI = Path(__file__).resolve().parents[2] / "resources" / "demo" / "ncbi_disease_test.pubtator"


# --- BRAT writer: every whitespace character of a label becomes '_' -------------------------


@pytest.mark.parametrize("space", ["\u00a0", "\t", "\u3000", "\u2028", "\x1c", "\u200a"])
def test_brat_writes_every_whitespace_of_a_label_as_an_underscore(tmp_path, space):
    label = f"heart{space}attack"
    text = "a heart attack"
    spans = [{"start": 2, "end": 14, "label": label}]
    out = tmp_path / "out"
    context = WriteContext("spans", (label,), "text")
    report = brat.write(iter([record(1, text, spans)]), out, context, no_progress, never)
    assert "written with '_'" in " ".join(report.warnings)
    conf = (out / "annotation.conf").read_text(encoding="utf-8")
    assert conf.startswith("[entities]\nheart_attack\n")
    (back,) = brat.read(out, ReadOptions("spans"))
    assert back.values[0].value == [{"start": 2, "end": 14, "label": "heart_attack"}]


def test_brat_keeps_a_label_without_whitespace_and_warns_of_nothing(tmp_path):
    out = tmp_path / "out"
    context = WriteContext("spans", ("heart-attack",), "text")
    spans = [{"start": 0, "end": 5, "label": "heart-attack"}]
    report = brat.write(iter([record(1, "heart", spans)]), out, context, no_progress, never)
    assert report.warnings == []
    (ann,) = out.glob("*.ann")
    assert "\theart-attack 0 5\t" in ann.read_text(encoding="utf-8")


# --- BRAT reader: a link leading out of the folder is refused --------------------------------


def _corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Alice met Bob\n", encoding="utf-8")
    (folder / "a.ann").write_text("T1\tD 0 5\tAlice\n", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("the secret key\n", encoding="utf-8")
    return folder


def test_brat_refuses_an_ann_that_links_out_of_the_folder(tmp_path):
    folder = _corpus(tmp_path)
    (tmp_path / "outside.ann").write_text("T1\tD 0 3\tthe\n", encoding="utf-8")
    (folder / "b.txt").write_text("the text\n", encoding="utf-8")
    os.symlink(tmp_path / "outside.ann", folder / "b.ann")
    with pytest.raises(DataError, match=r"b\.ann: a link to a file outside the folder"):
        list(brat.read(folder, ReadOptions("spans")))


def test_brat_refuses_a_text_beside_a_chosen_ann_that_links_out(tmp_path):
    folder = _corpus(tmp_path)
    os.symlink(tmp_path / "secret.txt", folder / "b.txt")
    (folder / "b.ann").write_text("T1\tD 0 3\tthe\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"b\.txt: a link to a file outside the folder"):
        list(brat.read(folder / "b.ann", ReadOptions("spans")))


def test_brat_reads_links_inside_the_folder_and_a_linked_folder(tmp_path):
    folder = _corpus(tmp_path)
    (folder / "store").mkdir()
    (folder / "store" / "kept.txt").write_text("Bob left\n", encoding="utf-8")
    os.symlink(Path("store") / "kept.txt", folder / "b.txt")  # relative, inside
    linked = tmp_path / "linked"
    os.symlink(folder, linked)  # the folder itself reached through a link
    records = list(brat.read(linked, ReadOptions("spans")))
    assert [r.text for r in records] == ["Alice met Bob\n", "Bob left\n"]


def test_brat_a_link_loop_is_a_data_error(tmp_path):
    folder = _corpus(tmp_path)
    os.symlink(folder / "b.txt", folder / "b.txt")
    with pytest.raises(DataError, match=r"b\.txt"):
        list(brat.read(folder, ReadOptions("spans")))


# --- PubTator detection: PubTator's shape, not any "|t|" ------------------------------------

PUBTATOR_SHAPES = {
    "title and abstract": b"123|t|A title.\n123|a|An abstract.\n",
    "title and annotation": b"123|t|Cold days\n123\t0\t4\tCold\tD\n",
    "title alone, then a title": b"1|t|First\n\n2|t|Second\n2|a|x\n",
    "bom, crlf, blank lines first": b"\xef\xbb\xbf\r\n\r\nD-1|t|Title\r\nD-1|a|Abstract\r\n",
}
NOT_PUBTATOR = {
    "json line": b'{"id":1,"text":"cmd|t|x","label":[]}\n',
    "sentence": b"see x|t|y\nsecond\n",
    "abstract pipe": b"see x|a|y\nsecond\n",
    "quoted id": b'"1"|t|x\n"1"|a|y\n',
    "bracketed id": b"[1]|t|x\n[1]|a|y\n",
    "title not first": b"hello\n1|t|x\n1|a|y\n",
    "title then prose": b"1|t|x\nsome prose\n",
    "abstract of another id": b"1|t|x\n2|a|y\n",
}


@pytest.mark.parametrize("head", PUBTATOR_SHAPES.values(), ids=PUBTATOR_SHAPES)
def test_pubtator_detects_its_shape(tmp_path, head):
    path = tmp_path / "notes.txt"
    path.write_bytes(head)
    assert pubtator.detect(path, head) >= registry.STRONG
    with pytest.raises(DataError, match="looks like pubtator"):  # a .txt name does not hide it
        registry.resolve(path)


@pytest.mark.parametrize("head", NOT_PUBTATOR.values(), ids=NOT_PUBTATOR)
def test_pubtator_is_not_claimed_for_other_shapes(tmp_path, head):
    path = tmp_path / "notes.txt"
    path.write_bytes(head)
    assert pubtator.detect(path, head) < registry.STRONG
    assert registry.resolve(path) == "txt"


def test_pubtator_a_lone_title_line_is_weak_unless_it_runs_past_the_head(tmp_path):
    path = tmp_path / "one"
    path.write_bytes(b"1|t|just a title\n")
    assert registry.GENERIC <= pubtator.detect(path, path.read_bytes()) < registry.STRONG
    path.write_bytes(b"1|t|" + b"long " * 20_000 + b"\n1|a|x\n")
    assert pubtator.detect(path, path.read_bytes()[: registry.HEAD_BYTES]) >= registry.STRONG


def test_pubtator_still_detects_the_ncbi_corpus():
    assert pubtator.detect(NCBI, registry.read_head(NCBI)) >= registry.STRONG


def test_an_explicit_format_is_kept_unless_the_content_is_clearly_another(tmp_path):
    jsonl = tmp_path / "export.jsonl"
    rows = [{"id": 1, "text": "cmd|t|x", "label": []}, {"id": 2, "text": "y|a|z", "label": []}]
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert registry.resolve(jsonl, "doccano") == "doccano"
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_bytes(NCBI.read_bytes())
    with pytest.raises(DataError, match="looks like pubtator"):
        registry.resolve(renamed, "doccano")


def test_pubtator_writer_ids_are_ones_the_detector_accepts(tmp_path):
    out = tmp_path / "out"
    context = WriteContext("spans", ("D",), "text")
    records = [record(1, "Cold. Days", [], pmid='{"x"}'), record(2, "Warm", [], pmid="77")]
    pubtator.write(iter(records), out, context, no_progress, never)
    assert out.read_text(encoding="utf-8").startswith("1|t|Cold.\n1|a|Days\n\n77|t|Warm\n")
    assert registry.resolve(out) == "pubtator"
