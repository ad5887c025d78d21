"""A JSON object that names a key twice is refused, in every JSON-based import and in a
bundle, with a DataError naming the file, the line (record) and the key (RFC 8259 leaves such
an object undefined: Python kept the last value silently)."""

from __future__ import annotations

import json

import pytest

from app.core.io.importer import import_dataset
from app.core.jsonkeys import DuplicateKey, duplicate_problem, unique_object
from tests.fuzz.bundle_corpus import Case, build
from tests.unit.helpers import import_refused, texts
from tests.unit.test_bundle_hostile import refused

LONG = "y" * (3 << 20)  # a line jsonlong reads from its bytes (its long literal a LongText)


def test_unique_object_keeps_an_object_without_duplicates():
    assert unique_object([("a", 1), ("b", 2)]) == {"a": 1, "b": 2}
    assert unique_object([]) == {}
    with pytest.raises(DuplicateKey) as info:
        unique_object([("a", 1), ("b", 2), ("a", 3)])
    assert info.value.args[0] == "a"


def test_the_message_quotes_the_key_escaped_and_short():
    assert duplicate_problem("text") == 'the key "text" appears twice in one object'
    shown = duplicate_problem("\x1b[2J" + "k" * 100)
    assert "\\u001b" in shown and "\x1b" not in shown and '..."' in shown


@pytest.mark.parametrize(
    ("name", "body", "line", "key"),
    [
        ("top.jsonl", '{"text": "a"}\n{"text": "b", "x": 1, "text": "c"}\n', 2, "text"),
        ("nested.jsonl", '{"text": "a", "x": {"k": 1, "k": 2}}\n', 1, "k"),
        ("deep.jsonl", '{"text": "a", "x": [{"y": [{"k": 1, "k": 2}]}]}\n', 1, "k"),
        ("top.json", '[{"text": "a"},\n {"text": "b", "text": "c"}]', 2, "text"),
        ("nested.json", '[\n{"text": "a",\n "x": {"k": 1,\n "k": 2}}]', 2, "k"),
        ("long.jsonl", f'{{"text": "{LONG}", "x": 1, "text": "b"}}\n', 1, "text"),
        ("long-nested.jsonl", f'{{"text": "{LONG}", "x": {{"k": 1, "k": 2}}}}\n', 1, "k"),
        ("long.json", f'[{{"text": "{LONG}", "x": {{"k": 1, "k": 2}}}}]', 1, "k"),
    ],
)
def test_json_and_jsonl_refuse_a_duplicate_key(make_project, tmp_path, name, body, line, key):
    project = make_project(inputs=["text", "x"])
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    mapping = {"text": "text"}
    error = import_refused(project, path, line, [f'the key "{key}" appears twice'], mapping=mapping)
    assert error.line == line


def test_the_same_key_in_two_objects_is_fine(make_project, tmp_path):
    project = make_project(inputs=["text", "x"])
    path = tmp_path / "ok.jsonl"
    rows = [{"text": "a", "x": {"text": 1}}, {"text": "b", "x": [{"k": 1}, {"k": 2}]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert import_dataset(project, path).rows == 2
    assert texts(project) == ["a", "b"]


@pytest.mark.parametrize(
    ("fmt", "task", "body", "key"),
    [
        ("labelstudio", "classification", '[{"data": {"text": "hi", "text": "ho"}}]', "text"),
        (
            "labelstudio",
            "classification",
            '[{"data": {"text": "hi"}, "annotations": [{"result": [{"value": '
            '{"choices": ["ham"], "choices": ["spam"]}, "from_name": "l", "to_name": "t", '
            '"type": "choices"}]}]}]',
            "choices",
        ),
        (
            "prodigy",
            "classification",
            '{"text": "hi", "accept": ["ham"], "accept": []}\n',
            "accept",
        ),
        ("doccano", "spans", '{"text": "hi", "label": [[0, 1, "ham"]], "label": []}\n', "label"),
    ],
)
def test_peer_formats_refuse_a_duplicate_key(make_project, tmp_path, fmt, task, body, key):
    project = make_project(task)
    path = tmp_path / f"in-{fmt}.{'json' if fmt == 'labelstudio' else 'jsonl'}"
    path.write_text(body, encoding="utf-8")
    import_refused(project, path, 1, [f'"{key}" appears twice'], fmt=fmt)


@pytest.mark.parametrize(
    ("task", "cell"),
    [
        ("spans", '[{""start"": 0, ""end"": 1, ""label"": ""ham"", ""start"": 1}]'),
        ("multilabel", '{""a"": 1, ""a"": 2}'),
        ("classification", '{""choices"": [""ham""], ""choices"": [""spam""]}'),
    ],
)
def test_a_label_cell_with_a_duplicate_key_is_refused(make_project, tmp_path, task, cell):
    project = make_project(task)
    path = tmp_path / "labels.csv"
    path.write_text(f'text,label\nhi,"{cell}"\n', encoding="utf-8")
    import_refused(project, path, 2, ["label cell", "appears twice"], label_column="label")


@pytest.mark.parametrize(
    ("member", "key"),
    [("datapoints.jsonl", "text"), ("project.json", "name"), ("comments.jsonl", "k")],
)
def test_a_forged_bundle_with_a_duplicate_key_is_refused(bundled, tmp_path, member, key):
    """A bundle member edited to say a key twice, its checksum recomputed: open and merge
    refuse it, naming the member (and line) and the key."""
    project, good = bundled

    def edit(members):
        text = members[member].decode()
        lines = [text.strip()] if member == "project.json" else text.split("\n")
        row = json.loads(lines[0])
        extra = (
            f', "{key}": {json.dumps(row.get(key, 1))}' if key != "k" else ', "x": {"k": 1, "k": 2}'
        )
        lines[0] = lines[0].rstrip()[:-1] + extra + "}"
        members[member] = "\n".join(lines).encode()

    bad = build(good, Case("dup", edit), tmp_path / "bad.tlbundle")
    where = "project.json" if member == "project.json" else f"{member}, line 1"
    refused(project, bad, tmp_path, f'{where}: the key "{key}" appears twice')


def test_parquet_metadata_that_names_a_key_twice_is_refused(make_project, tmp_path):
    """Hugging Face ClassLabel names given twice: which names the integers mean is unknown."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    project = make_project()
    names = '{"_type": "ClassLabel", "names": ["ham", "spam"], "names": ["spam", "ham"]}'
    meta = {b"huggingface": f'{{"info": {{"features": {{"label": {names}}}}}}}'.encode()}
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.table({"text": ["a"], "label": [0]}).replace_schema_metadata(meta), path)
    import_refused(project, path, None, ['metadata: the key "names" appears twice'])
