"""The spacy, brat, bioc, pubtator, parquet, arrow and xlsx formats through a project: export,
import into a new project, exact texts and offsets; ClassLabel names; the CLI (issue #13)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from app.cli.main import main
from app.core.io.export import export_file
from app.core.io.importer import import_dataset
from tests.unit.helpers import rows, texts
from tests.unit.test_formats_roundtrip import HARD, spans_for, spans_project, values_by_text

__all__ = ["spans_project"]  # the fixture, shared with I1's round-trip tests


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("brat", "brat"),
        ("bioc", "out.bioc.xml"),
        ("spacy", "out.spacy"),
        ("pubtator", "o.pubtator"),
    ],
)
def test_span_formats_round_trip_through_a_project(
    spans_project, make_project, tmp_path, fmt, name
):
    out = tmp_path / name
    report = export_file(spans_project, out, fmt)
    assert report.written == len(HARD)
    again = make_project("spans", labels=("W",))
    import_dataset(again, out)  # the format detected from the name and the content
    expected = HARD
    if fmt == "pubtator":  # one line per text: each line break became one space
        expected = [t.replace("\r", " ").replace("\n", " ") for t in HARD]
    assert texts(again) == expected
    assert values_by_text(again) == {text: spans_for(text) for text in expected}


def _hf_parquet(path, names=("ham", "spam")):
    features = {
        "sms": {"dtype": "string", "_type": "Value"},
        "label": {"names": list(names), "_type": "ClassLabel"},
    }
    schema = pa.schema([("sms", pa.string()), ("label", pa.int64())]).with_metadata(
        {"huggingface": json.dumps({"info": {"features": features}})}
    )
    data = [{"sms": "Free prize!", "label": 1}, {"sms": "See you at 5", "label": 0}]
    pq.write_table(pa.Table.from_pylist(data, schema=schema), path)


def test_hugging_face_classlabels_import_as_names_never_digits(make_project, tmp_path):
    """Regression (#13): the integers of a ClassLabel column were taken as label names."""
    path = tmp_path / "sms.parquet"
    _hf_parquet(path)
    project = make_project("classification", labels=("x",))
    import_dataset(project, path, mapping={"sms": "text"}, label_column="label", add_labels=True)
    assert sorted(project.schema.label_names) == ["ham", "spam", "x"]  # no "0", no "1"
    found = rows(
        project,
        "SELECT d.text, a.value FROM annotation a JOIN datapoint d ON d.id = a.datapoint_id"
        " ORDER BY d.id",
    )
    assert [(t, json.loads(v)) for t, v in found] == [
        ("Free prize!", "spam"),
        ("See you at 5", "ham"),
    ]


def test_parquet_and_arrow_exports_import_again_with_their_names(make_project, tmp_path):
    project = make_project("multilabel", labels=("a", "b"))
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps({"text": t, "y": ["b"]}, ensure_ascii=False) + "\n" for t in HARD)
    )
    import_dataset(project, source, label_column="y", annotator="ann")
    for fmt, out in (("parquet", tmp_path / "out.parquet"), ("arrow", tmp_path / "dataset")):
        assert export_file(project, out, fmt).written == len(HARD)
        again = make_project("multilabel", labels=("a", "b"))
        import_dataset(again, out, fmt=fmt, mapping={"text": "text"}, label_column="label")
        assert texts(again) == HARD
        assert {json.dumps(v) for v in values_by_text(again).values()} == {'["b"]'}


def test_cli_imports_a_chosen_sheet_and_exports_xlsx(tmp_path, capsys):
    book = Workbook()
    book.active.title = "Summary"
    book.active.append(["nothing here"])
    sheet = book.create_sheet("Notes")
    sheet.append(["Note", "Triage"])
    sheet.append(["@SUM(1+1)*cmd chest pain", "urgent"])
    sheet.append(["mild cough 😷", "routine"])
    path = tmp_path / "ward.xlsx"
    book.save(path)
    project = str(tmp_path / "p.tagloop")
    assert main(["init", project, "--type", "classification", "--labels", "urgent,routine"]) == 0
    common = ["import", project, str(path), "--map", "Note=text", "--label-column", "Triage"]
    assert main([*common, "--sheet", "Ward"]) == 1
    assert "no sheet 'Ward'; the sheets are 'Summary', 'Notes'" in capsys.readouterr().err
    assert main([*common, "--sheet", "Notes"]) == 0
    out = tmp_path / "out.xlsx"
    assert main(["export", project, str(out)]) == 0
    again = str(tmp_path / "again.tagloop")
    assert main(["init", again, "--type", "classification", "--labels", "urgent,routine"]) == 0
    assert main(["import", again, str(out), "--map", "text=text", "--label-column", "label"]) == 0
    from app.core.project.project import open_project

    with open_project(tmp_path / "again.tagloop") as project_again:
        assert texts(project_again) == ["@SUM(1+1)*cmd chest pain", "mild cough 😷"]
