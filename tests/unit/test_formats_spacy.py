"""spaCy DocBin: reader and writer, through spaCy's own DocBin and `spacy convert` (#13)."""

from __future__ import annotations

import subprocess
import sys
import zlib

import pytest
import spacy
from spacy.tokens import DocBin, Span

from app.core.errors import DataError
from app.core.io.formats import spacy as spacy_format
from app.core.io.formats.base import ReadOptions
from tests.unit.format_samples import (
    LABELS,
    TEXTS,
    context,
    gold_spans,
    never,
    no_progress,
    record,
)


def _write(tmp_path, records, **kwargs):
    out = tmp_path / "train.spacy"
    report = spacy_format.write(iter(records), out, context(**kwargs), no_progress, never)
    return out, report


def test_spans_round_trip_through_spacys_docbin(tmp_path):
    records = [record(i, t, s) for i, (t, s) in enumerate(zip(TEXTS, gold_spans(), strict=True))]
    records.append(record(9, "not labelled yet", None))
    out, report = _write(tmp_path, records, values="final", language="xx")
    assert report.written == 4
    assert any("1 record(s) without" in w for w in report.warnings)
    # The multi-language tokenizer keeps a run of CJK as one token: 胸痛 cannot be placed.
    assert any("record 2 of notes.jsonl" in w and "'胸痛'" in w for w in report.warnings)
    assert spacy_format.detect(out, out.read_bytes()[:16]) > 0.9
    docs = list(DocBin().from_bytes(out.read_bytes()).get_docs(spacy.blank("xx").vocab))
    assert [d.text for d in docs] == TEXTS
    first = docs[0]
    assert [(e.text, e.label_) for e in first.ents] == [("chest pain", "SYMPTOM")]
    assert [(s.text, s.label_) for s in first.spans["sc"]] == [("chest pain", "SYMPTOM")]
    assert list(docs[2].ents) == []  # 胸痛 left out of the training doc...
    back = list(spacy_format.read(out, ReadOptions("spans")))
    # ...but each annotator's own spans travel in user_data, exact, and come back as theirs.
    assert [[(v.annotator, list(v.value)) for v in r.values] for r in back] == [
        [("ana", spans)] for spans in gold_spans()
    ]
    chinese, _ = _write(tmp_path, records[2:3], values="final", language="zh")
    docs = DocBin().from_bytes(chinese.read_bytes()).get_docs(spacy.blank("zh").vocab)
    assert [e.text for e in next(docs).ents] == ["胸痛"]  # zh splits characters: it aligns


def test_every_annotator_travels_in_user_data(tmp_path):
    text = TEXTS[0]
    mine = gold_spans()[0]
    rec = record(1, text, mine)
    rec["annotations"].append(
        {"annotator": "bo", "value": [], "status": "complete", "origin": "human"}
    )
    rec["label"] = mine  # as the final value
    out, _ = _write(tmp_path, [rec], language="en")
    (back,) = spacy_format.read(out, ReadOptions("spans"))
    assert {(v.annotator, str(v.value)) for v in back.values} == {("ana", str(mine)), ("bo", "[]")}


def test_a_span_off_token_boundaries_is_reported_not_written(tmp_path):
    text = "Patient has chestpain today."
    rec = record(3, text, [{"start": 12, "end": 17, "label": "SYMPTOM"}])
    out, report = _write(tmp_path, [rec], values="final")
    assert any("record 3 of notes.jsonl" in w and "'chest'" in w for w in report.warnings)
    (doc,) = DocBin().from_bytes(out.read_bytes()).get_docs(spacy.blank("en").vocab)
    assert list(doc.ents) == [] and doc.has_annotation("ENT_IOB")


def test_cats_for_classification_and_multilabel(tmp_path):
    records = [record(1, "fever and cough", "DISEASE"), record(2, "all fine", "SYMPTOM")]
    out, _ = _write(tmp_path, records, task_type="classification", values="final")
    docs = list(DocBin().from_bytes(out.read_bytes()).get_docs(spacy.blank("en").vocab))
    assert docs[0].cats == {"DISEASE": 1.0, "SYMPTOM": 0.0}
    back = list(spacy_format.read(out, ReadOptions("classification")))
    assert [r.values[0].value for r in back] == ["DISEASE", "SYMPTOM"]
    multi = [record(1, "x", ["DISEASE", "SYMPTOM"]), record(2, "y", [])]
    out, _ = _write(tmp_path, multi, task_type="multilabel", values="final")
    back = list(spacy_format.read(out, ReadOptions("multilabel")))
    assert [r.values[0].value for r in back] == [list(LABELS), []]  # [] is answered: none


def test_reader_respects_spans_key_and_missing_annotation(tmp_path):
    nlp = spacy.blank("en")
    untouched = nlp.make_doc("no annotation at all")
    grouped = nlp.make_doc("aspirin for headache")
    grouped.spans["drugs"] = [Span(grouped, 0, 1, "DRUG")]
    path = tmp_path / "peer.spacy"
    path.write_bytes(DocBin(docs=[untouched, grouped]).to_bytes())
    plain = list(spacy_format.read(path, ReadOptions("spans")))
    assert [r.values for r in plain] == [(), ()]  # neither says it was NER-annotated
    keyed = list(spacy_format.read(path, ReadOptions("spans", spans_key="drugs")))
    assert keyed[0].values == ()
    assert keyed[1].values[0].value == [{"start": 0, "end": 7, "label": "DRUG"}]


def test_spacy_convert_output_reads_with_exact_entities(tmp_path):
    iob = tmp_path / "ner.iob"
    iob.write_text("Aspirin|B-DRUG helps|O with|O migraine|B-DISEASE attacks|I-DISEASE .|O\n")
    subprocess.run(
        [sys.executable, "-m", "spacy", "convert", str(iob), str(tmp_path), "--converter", "iob"],
        check=True,
        capture_output=True,
    )
    (record_,) = spacy_format.read(tmp_path / "ner.spacy", ReadOptions("spans"))  # not the empty
    spans = record_.values[0].value
    assert [record_.text[s["start"] : s["end"]] for s in spans] == ["Aspirin", "migraine attacks"]


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"not zlib at all", "not zlib data"),
        (zlib.compress(b"\xc1\xc1 not msgpack"), "not a spaCy DocBin"),
        (zlib.compress(b"\x81\xa5attrs\x01"), "not a spaCy DocBin"),
    ],
)
def test_corrupt_docbin_is_a_clear_error(tmp_path, data, problem):
    path = tmp_path / "bad.spacy"
    path.write_bytes(data)
    with pytest.raises(DataError) as error:
        list(spacy_format.read(path, ReadOptions("spans")))
    assert problem in str(error.value) and error.value.file == str(path)


def test_zip_bomb_docbin_is_refused_before_spacy_inflates_it(tmp_path, monkeypatch):
    monkeypatch.setattr(spacy_format, "MAX_DECOMPRESSED", 10_000_000)
    path = tmp_path / "bomb.spacy"
    path.write_bytes(zlib.compress(b"\0" * 20_000_000, 9))
    with pytest.raises(DataError, match="zip bomb"):
        list(spacy_format.read(path, ReadOptions("spans")))


def test_overlapping_spans_go_to_the_span_group_only(tmp_path):
    text = "left lung cancer"
    spans = [
        {"start": 0, "end": 9, "label": "DISEASE"},
        {"start": 5, "end": 16, "label": "SYMPTOM"},
    ]
    out, report = _write(tmp_path, [record(1, text, spans)], values="final")
    assert any("overlapping spans" in w for w in report.warnings)
    (doc,) = DocBin().from_bytes(out.read_bytes()).get_docs(spacy.blank("en").vocab)
    assert [s.text for s in doc.spans["sc"]] == ["left lung", "lung cancer"]
    assert not doc.has_annotation("ENT_IOB")  # missing, not "no entities": ner learns nothing
    (back,) = spacy_format.read(out, ReadOptions("spans", spans_key="sc"))
    assert {(v.annotator, len(v.value)) for v in back.values} == {("ana", 2)}
