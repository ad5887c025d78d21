"""Bad input gets a message naming file, line and problem, and changes nothing."""

from __future__ import annotations

import json

import pytest

from app.core.errors import Cancelled, UnknownLabelsError
from app.core.io.importer import import_dataset
from tests.unit.helpers import import_refused, snapshot

fails = import_refused


@pytest.mark.parametrize(
    ("name", "data", "line", "words"),
    [
        ("quote.csv", b'text\nok\n"never closed\nmore\nrows\n', 3, ["never closed"]),
        ("stray.csv", b'text\n"a"b\n', 2, ["broken quoting"]),
        ("fields.csv", b"text,x\na,1\nb,2,3\n", 3, ["3 fields", "header has 2"]),
        ("latin1.csv", "text\nfine\nalso fine\ncaf\u00e9\n".encode("latin-1"), 4, ["UTF-8"]),
        ("utf16.csv", "text\nno bom\n".encode("utf-16-le"), 1, ["UTF-16"]),
        ("empty.csv", b"", None, ["empty"]),
        ("header.csv", b"text\n", None, ["no records"]),
        ("bad.jsonl", b'{"text": "a"}\n{"text": "b",}\n', 2, ["invalid JSON"]),
        ("notarray.json", b'{"text": "a"}', 1, ["JSON array"]),
        ("truncated.json", b'[{"text": "a"},\n{"text": "b"', 2, ["invalid JSON"]),
        ("syntax.json", b'[\n {"text": "a"},\n {"text": "b" "c"}\n]', 3, ["invalid JSON"]),
        ("missingkey.jsonl", b'{"text": "a"}\n{"body": "b"}\n', 2, ["missing key 'text'"]),
        ("nulltext.jsonl", b'{"text": null}\n', 1, ["null"]),
    ],
)
def test_bad_files(make_project, tmp_path, name, data, line, words):
    project = make_project()
    path = tmp_path / name
    path.write_bytes(data)
    fails(project, path, line, words)


def test_missing_mapped_column_lists_the_columns(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "a.csv"
    path.write_text("Label,SMS\nham,hi\n", encoding="utf-8")
    fails(project, path, 1, ["missing column 'message'", "Label, SMS"], mapping={"message": "text"})


def test_unknown_label_then_added_on_request(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "a.csv"
    path.write_text("text,label\na,ham\nb,promo\nc,other\n", encoding="utf-8")
    error = fails(project, path, 3, ["'promo'", "'other'"], label_column="label")
    assert isinstance(error, UnknownLabelsError) and error.labels == ["promo", "other"]
    report = import_dataset(project, path, label_column="label", add_labels=True)
    assert report.added_labels == ["promo", "other"]
    versions = project.schema_versions()
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].label_names == ["ham", "spam"]
    assert versions[1].label_names == ["ham", "spam", "promo", "other"]


def test_spans_out_of_range_and_overlap_rules(make_project, tmp_path):
    def spans_file(name, spans):
        path = tmp_path / name
        path.write_text(json.dumps({"text": "heart attack risk", "label": spans}) + "\n")
        return path

    strict = make_project("spans", labels=("D",))
    fails(
        strict,
        spans_file("range.jsonl", [[0, 99, "D"]]),
        1,
        ["outside the text"],
        label_column="label",
    )
    overlapping = [[0, 12, "D"], [6, 17, "D"]]
    fails(strict, spans_file("overlap.jsonl", overlapping), 1, ["overlap"], label_column="label")
    loose = make_project("spans", labels=("D",), allow_overlap=True)
    assert (
        import_dataset(loose, spans_file("ok.jsonl", overlapping), label_column="label").annotations
        == 1
    )


def test_cancel_leaves_nothing(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "big.csv"
    path.write_text("text\n" + "".join(f"message {i}\n" for i in range(100_000)), encoding="utf-8")
    before = snapshot(project)
    calls = []

    def cancel():
        return bool(calls)

    with pytest.raises(Cancelled):
        import_dataset(project, path, progress=lambda *a: calls.append(a), cancel=cancel)
    assert snapshot(project) == before
