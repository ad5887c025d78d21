"""Every import format lands the right datapoints, inputs, labels and dataset record."""

from __future__ import annotations

import codecs
import hashlib
import json

import pytest

from app.core.io.datasets import list_datasets
from app.core.io.importer import import_dataset, preview
from tests.unit.helpers import rows, texts, values

SMS = ["Free entry in 2 a wkly comp", 'He said "ok" then left', "Ok lar... Joking wif u oni"]


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "a.csv",
            "text,title\n"
            + "".join(f'"{t.replace(chr(34), 2 * chr(34))}",T{i}\n' for i, t in enumerate(SMS)),
        ),
        ("a.tsv", "text\ttitle\n" + "".join(f"{t}\tT{i}\n" for i, t in enumerate(SMS))),
        (
            "a.json",
            json.dumps([{"text": t, "title": f"T{i}"} for i, t in enumerate(SMS)], indent=2),
        ),
        (
            "a.jsonl",
            "".join(json.dumps({"text": t, "title": f"T{i}"}) + "\n" for i, t in enumerate(SMS)),
        ),
    ],
)
def test_formats_with_context_input(make_project, tmp_path, name, content):
    project = make_project(inputs=["text", "title"])
    path = write(tmp_path / name, content)
    report = import_dataset(project, path)
    assert report.rows == 3
    assert texts(project) == SMS
    contexts = [
        json.loads(r[0]) for r in rows(project, "SELECT context FROM datapoint ORDER BY id")
    ]
    assert contexts == [{"title": f"T{i}"} for i in range(3)]
    assert [r[0] for r in rows(project, "SELECT row FROM datapoint ORDER BY id")] == [1, 2, 3]
    (info,) = list_datasets(project)
    assert info.source_name == name
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.mapping == {"text": "text", "title": "title"}
    assert info.row_count == 3


def test_plain_text_one_item_per_line(make_project, tmp_path):
    project = make_project()
    path = write(tmp_path / "a.txt", "first line\n\n  \nsecond line\r\nthird\n")
    assert import_dataset(project, path).rows == 3
    assert texts(project) == ["first line", "second line", "third"]
    assert [r[0] for r in rows(project, "SELECT row FROM datapoint ORDER BY id")] == [1, 2, 3]


def test_two_datasets_with_different_columns_feed_one_input(make_project, tmp_path):
    project = make_project()
    import_dataset(project, write(tmp_path / "a.csv", "body\nalpha\n"), mapping={"body": "text"})
    import_dataset(
        project, write(tmp_path / "b.csv", "content\nbeta\n"), mapping={"content": "text"}
    )
    assert texts(project) == ["alpha", "beta"]
    assert [d.mapping for d in list_datasets(project)] == [{"body": "text"}, {"content": "text"}]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
    ],
)
def test_bom_encodings(make_project, tmp_path, encoding, bom):
    project = make_project()
    path = tmp_path / "a.csv"
    path.write_bytes(bom + "text\ncafé ☕\n日本語\n".encode(encoding))
    assert preview(path).columns == ["text"]  # the BOM is not part of the first column name
    import_dataset(project, path)
    assert texts(project) == ["café ☕", "日本語"]


def test_label_columns_for_each_task_type(make_project, tmp_path):
    cls = make_project()
    import_dataset(
        cls,
        write(tmp_path / "c.csv", "text,label\na,ham\nb,\nc,spam\n"),
        label_column="label",
        annotator="alice",
    )
    assert values(cls) == ["ham", "spam"]
    assert rows(cls, "SELECT status FROM datapoint ORDER BY id") == [(1,), (0,), (1,)]
    assert rows(
        cls, "SELECT DISTINCT an.name FROM annotation a JOIN annotator an ON an.id = a.annotator_id"
    ) == [("alice",)]

    multi = make_project("multilabel", labels=("x", "y", "z"))
    content = 'text,label\n1,"[""x"",""y""]"\n2,y|z\n3,[]\n4,\n'
    import_dataset(multi, write(tmp_path / "m.csv", content), label_column="label")
    assert values(multi) == [["x", "y"], ["y", "z"], []]  # [] is an answer; empty is not
    assert rows(multi, "SELECT status FROM datapoint ORDER BY id") == [(1,), (1,), (1,), (0,)]
    assert rows(multi, "SELECT count(*) FROM annotation_label")[0][0] == 4

    spans = make_project("spans", labels=("Disease",))
    record = {"text": "BRCA1 breast cancer", "label": [{"start": 6, "end": 19, "label": "Disease"}]}
    import_dataset(
        spans, write(tmp_path / "s.jsonl", json.dumps(record) + "\n"), label_column="label"
    )
    assert values(spans) == [[{"start": 6, "end": 19, "label": "Disease"}]]


def test_duplicates_keep_skip_and_against_the_project(make_project, tmp_path):
    project = make_project()
    path = write(tmp_path / "d.csv", "text\nsame\nother\nsame\n")
    kept = import_dataset(project, path)
    assert (kept.rows, kept.duplicates, kept.skipped) == (3, 1, 0)
    assert kept.duplicate_examples == [(4, 2)]
    again = import_dataset(
        project, write(tmp_path / "e.csv", "text\nsame\nnew\n"), duplicates="skip"
    )
    assert (again.rows, again.duplicates, again.skipped) == (1, 1, 1)
    assert texts(project) == ["same", "other", "same", "new"]
