"""Every writer of the registry round-trips through Tagloop's own reader with unicode-heavy
texts and exact offsets; exports respect the umask; a lone CR survives CSV; the CLI lists
and uses the registry's formats."""

from __future__ import annotations

import csv
import json
import os
import stat

import pytest

from app.cli.main import main
from app.core.errors import DataError
from app.core.io.export import export_file, iter_records
from app.core.io.formats import registry
from app.core.io.importer import import_dataset
from tests.unit.helpers import rows, texts

# ZWJ family with skin tones, combining marks, CRLF, a lone CR, CJK outside the BMP, RTL
HARD = [
    "👩🏽‍⚕️ nurse saw 👨🏿‍👩🏻‍👧 family",
    "cafe\u0301 and n\u0303 then fever",
    "line one\r\nline two pain",
    "BP 120/80\rHR 72",
    "𠮷野家 cough 𪚲",
    "مريض يعاني من حمى fever",
]


def spans_for(text: str) -> list[dict]:
    """A span over the last word of each text (a token in every tokenizer)."""
    word = text.split()[-1]
    start = text.rindex(word)
    return [{"start": start, "end": start + len(word), "label": "W"}]


@pytest.fixture
def spans_project(make_project, tmp_path):
    project = make_project("spans", labels=("W",))
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(
            json.dumps({"text": text, "spans": spans_for(text)}, ensure_ascii=False) + "\n"
            for text in HARD
        ),
        encoding="utf-8",
    )
    import_dataset(project, source, label_column="spans", annotator="ann")
    return project


def values_by_text(project) -> dict[str, list]:
    return {
        text: json.loads(value)
        for text, value in rows(
            project,
            "SELECT d.text, a.value FROM annotation a JOIN datapoint d ON d.id = a.datapoint_id",
        )
    }


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [("labelstudio", ".json"), ("prodigy", ".jsonl"), ("doccano", ".jsonl"), ("jsonl", ".jsonl")],
)
def test_span_formats_round_trip_exactly(spans_project, make_project, tmp_path, fmt, suffix):
    out = tmp_path / f"out{suffix}"
    report = export_file(spans_project, out, fmt)
    assert report.written == len(HARD)
    again = make_project("spans", labels=("W",))
    if fmt == "jsonl":
        import_dataset(again, out, label_column="label")
    else:
        import_dataset(again, out, fmt=fmt)
    assert texts(again) == HARD
    assert values_by_text(again) == {text: spans_for(text) for text in HARD}


def test_labelstudio_keeps_every_annotator(make_project, tmp_path):
    project = make_project("multilabel", labels=("a", "b"))
    for who, label in (("ann", "a"), ("bob", "b")):
        source = tmp_path / f"{who}.jsonl"
        source.write_text(json.dumps({"text": "shared", "label": [label]}) + "\n")
        import_dataset(project, source, label_column="label", annotator=who, duplicates="skip")
    out = tmp_path / "ls.json"
    export_file(project, out, "labelstudio")
    (task,) = json.loads(out.read_text())
    assert [a["tagloop_annotator"] for a in task["annotations"]] == ["ann", "bob"]
    again = make_project("multilabel", labels=("a", "b"))
    import_dataset(again, out)
    found = rows(
        again,
        "SELECT n.name, a.value FROM annotation a JOIN annotator n ON n.id = a.annotator_id"
        " ORDER BY n.name",
    )
    assert [(name, json.loads(value)) for name, value in found] == [("ann", ["a"]), ("bob", ["b"])]


def test_conll_round_trip_rebuilds_single_spaces(spans_project, make_project, tmp_path):
    out = tmp_path / "out.conll"
    report = export_file(spans_project, out, "conll")
    assert report.written == len(HARD)
    again = make_project("spans", labels=("W",))
    import_dataset(again, out)
    found = values_by_text(again)
    assert len(found) == len(HARD)
    for text, spans in found.items():  # texts rebuilt from tokens; the span still on its word
        (span,) = spans
        assert text[span["start"] : span["end"]] == text.split(" ")[-1]
    assert "𠮷野家 cough 𪚲" in found


def test_exports_respect_the_umask(spans_project, tmp_path):
    old = os.umask(0o022)
    try:
        for fmt, name in (("csv", "a.csv"), ("labelstudio", "a.json"), ("conll", "a.conll")):
            export_file(spans_project, tmp_path / name, fmt)
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, fmt
    finally:
        os.umask(old)


def test_lone_cr_in_csv_export_reads_back_exactly(make_project, tmp_path):
    project = make_project(labels=("ham", "spam"))
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"text": "BP 120/80\rHR 72", "label": "ham"}) + "\n"
        + json.dumps({"text": "plain", "label": "spam"}) + "\n"
    )  # fmt: skip
    import_dataset(project, source, label_column="label")
    out = tmp_path / "out.csv"
    export_file(project, out, "csv", raw=True)
    with out.open(encoding="utf-8", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert [row["text"] for row in read] == ["BP 120/80\rHR 72", "plain"]
    again = make_project(labels=("ham", "spam"))
    import_dataset(again, out, label_column="label")
    assert texts(again) == ["BP 120/80\rHR 72", "plain"]


def test_cp1252_with_encoding(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "excel.csv"
    path.write_bytes("text\r\ncafé – naïve\r\n".encode("cp1252"))
    import_dataset(project, path, encoding="cp1252")
    assert texts(project) == ["café – naïve"]


def test_registry_lists_and_detects(tmp_path):
    names = [fmt.name for fmt in registry.available()]
    for name in (
        "csv",
        "tsv",
        "json",
        "jsonl",
        "txt",
        "labelstudio",
        "prodigy",
        "doccano",
        "conll",
    ):
        assert name in names
    assert set(registry.NAMES) >= set(names)
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"text": "a", "answer": "accept", "_input_hash": 1}) + "\n")
    assert registry.resolve(path) == "prodigy"
    with pytest.raises(DataError, match="looks like prodigy"):
        registry.resolve(path, tabular=True)  # --label-column on Prodigy: answers ignored
    plain = tmp_path / "y.jsonl"
    plain.write_text(json.dumps({"text": "a", "label": "x"}) + "\n")
    assert registry.resolve(plain) == "jsonl"


def test_pubtator_renamed_txt_is_refused(make_project, tmp_path):
    pytest.importorskip("app.core.io.formats.pubtator")
    from tests.unit.helpers import import_refused

    path = tmp_path / "notes.txt"
    path.write_text(
        "123|t|Chest pain\n123|a|Fever and cough.\n123\t0\t10\tChest pain\tDisease\tD1\n\n"
    )
    import_refused(make_project(), path, None, ["looks like pubtator"])


def test_cli_import_and_export_through_the_registry(tmp_path, capsys):
    project = str(tmp_path / "p.tagloop")
    assert main(["init", project, "--type", "spans", "--labels", "W"]) == 0
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"text": HARD[0], "spans": spans_for(HARD[0]), "answer": "accept"}) + "\n",
        encoding="utf-8",
    )
    assert main(["import", project, str(source), "--format", "prodigy"]) == 0
    out = tmp_path / "out.json"
    assert main(["export", project, str(out), "--format", "labelstudio"]) == 0
    assert '<Labels name="label" toName="text"><Label value="W"/>' in capsys.readouterr().out
    (task,) = json.loads(out.read_text(encoding="utf-8"))
    (result,) = task["annotations"][0]["result"]
    assert result["value"]["text"] == "family"
    assert main(["import", project, str(source), "--format", "tsv"]) == 1
    assert "looks like prodigy" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    assert "labelstudio" in capsys.readouterr().out


def test_values_final_for_every_writer(spans_project, tmp_path):
    out = tmp_path / "final.jsonl"
    export_file(spans_project, out, "prodigy", value_source="final")
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all("_annotator_id" not in line for line in lines)
    assert [line["spans"][0]["text"] for line in lines] == [t.split()[-1] for t in HARD]
    assert len(list(iter_records(spans_project))) == len(HARD)


@pytest.mark.parametrize("task_type", ["classification", "multilabel"])
@pytest.mark.parametrize("fmt", ["labelstudio", "prodigy", "doccano"])
def test_label_formats_round_trip(make_project, tmp_path, task_type, fmt):
    project = make_project(task_type, labels=("a", "b"))
    given = ["a", "b", "a", "b", "a", "b"] if task_type == "classification" else [
        ["a"], ["a", "b"], ["b"], ["a"], ["b"], ["a", "b"]]  # fmt: skip
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(
            json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n"
            for text, label in zip(HARD, given, strict=True)
        ),
        encoding="utf-8",
    )
    import_dataset(project, source, label_column="label", annotator="ann")
    out = tmp_path / ("out.json" if fmt == "labelstudio" else "out.jsonl")
    export_file(project, out, fmt)
    again = make_project(task_type, labels=("a", "b"))
    import_dataset(again, out, fmt=fmt)
    assert texts(again) == HARD
    assert values_by_text(again) == dict(zip(HARD, given, strict=True))


def test_a_question_answer_dataset_is_not_taken_for_prodigy(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"text": "capital of France?", "answer": "Paris"}) + "\n")
    assert registry.resolve(path, tabular=True) == "jsonl"


def test_spacy_reads_our_conll(spans_project, tmp_path):
    converters = pytest.importorskip("spacy.training.converters")
    out = tmp_path / "out.conll"
    export_file(spans_project, out, "conll")
    docs = list(converters.conll_ner_to_docs(out.read_text(encoding="utf-8"), no_print=True))
    ents = [ent.text for doc in docs for ent in doc.ents]
    assert ents == [text.split()[-1] for text in HARD]
