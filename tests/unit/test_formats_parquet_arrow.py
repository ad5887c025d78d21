"""Parquet and Arrow datasets: Hugging Face ClassLabel names, round trips through `datasets`."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.core.errors import DataError
from app.core.io.formats import arrow, parquet
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


def _hf_parquet(path, labels, names=("neg", "pos"), multi=False):
    """A parquet file as `datasets` writes one: ClassLabel integers, names in the metadata."""
    feature = {"names": list(names), "_type": "ClassLabel"}
    if multi:
        feature = {"feature": feature, "_type": "List"}
    meta = {"info": {"features": {"text": {"dtype": "string", "_type": "Value"}, "y": feature}}}
    kind = pa.list_(pa.int64()) if multi else pa.int64()
    schema = pa.schema([("text", pa.string()), ("y", kind)]).with_metadata(
        {"huggingface": json.dumps(meta)}
    )
    rows = [{"text": f"t{i}", "y": y} for i, y in enumerate(labels)]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def test_classlabel_integers_become_names_never_digits(tmp_path):
    path = tmp_path / "hf.parquet"
    _hf_parquet(path, [1, 0, None, -1])
    records = list(parquet.read(path, ReadOptions("classification")))
    assert [r.context["y"] for r in records] == ["pos", "neg", None, None]
    assert [r.line for r in records] == [1, 2, 3, 4]


def test_multilabel_classlabel_lists_become_names(tmp_path):
    path = tmp_path / "hf.parquet"
    _hf_parquet(path, [[0, 1], []], multi=True)
    rows = parquet.read(path, ReadOptions("multilabel"))
    assert [r.context["y"] for r in rows] == [["neg", "pos"], []]


def test_an_integer_outside_the_classlabel_names_is_refused(tmp_path):
    path = tmp_path / "hf.parquet"
    _hf_parquet(path, [0, 7])
    with pytest.raises(DataError) as error:
        list(parquet.read(path, ReadOptions("classification")))
    assert error.value.line == 2 and "7" in str(error.value)


def _records(task_type):
    if task_type == "spans":
        values = gold_spans()
    elif task_type == "classification":
        values = ["SYMPTOM", "DISEASE", None, "SYMPTOM"]
    else:
        values = [["DISEASE", "SYMPTOM"], [], None, ["SYMPTOM"]]
    return [
        record(i, text, value, ward=f"w{i}")
        for i, (text, value) in enumerate(zip(TEXTS, values, strict=True))
    ]


@pytest.mark.parametrize("task_type", ["classification", "multilabel", "spans"])
def test_parquet_round_trip_through_hugging_face_datasets(tmp_path, task_type):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "export.parquet"
    records = _records(task_type)
    ctx = context(task_type, context_inputs=("ward",))
    report = parquet.write(iter(records), out, ctx, no_progress, never)
    assert report.written == 4 and not report.warnings
    assert parquet.detect(out, out.read_bytes()[:8]) > 0.9
    loaded = datasets.Dataset.from_parquet(str(out))
    assert loaded["text"] == TEXTS and loaded["ward"] == ["w0", "w1", "w2", "w3"]
    feature = loaded.features["label"]
    if task_type == "classification":
        assert feature.names == list(LABELS)
        assert [feature.int2str(x) if x is not None else None for x in loaded["label"]] == [
            r["label"] for r in records
        ]
    elif task_type == "multilabel":
        assert feature.feature.names == list(LABELS)
    else:
        assert loaded["label"] == gold_spans()
    # And back: names not integers, offsets exact, each annotator's value in `annotations`.
    back = [r.context for r in parquet.read(out, ReadOptions(task_type))]
    assert [r["text"] for r in back] == TEXTS
    assert [r["ward"] for r in back] == ["w0", "w1", "w2", "w3"]
    assert [r["label"] for r in back] == [r["label"] for r in records]
    assert [[(a["annotator"], json.loads(a["value"])) for a in r["annotations"]] for r in back] == [
        [("ana", r["label"])] if r["label"] is not None else [] for r in records
    ]


def test_arrow_folder_round_trip_through_load_from_disk(tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "dataset"
    records = _records("classification")
    ctx = context("classification", values="final")
    assert arrow.write(iter(records), out, ctx, no_progress, never).written == 4
    assert arrow.detect(out, b"") > 0.9
    loaded = datasets.load_from_disk(str(out))
    assert loaded["text"] == TEXTS
    assert loaded.features["label"].names == list(LABELS)
    back = list(arrow.read(out, ReadOptions("classification")))
    assert [r.context["label"] for r in back] == [r["label"] for r in records]


def test_arrow_reads_a_save_to_disk_folder_written_by_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["bad", "good"])}
    )
    data = {"sentence": ["fine 👍🏿", "awful"], "label": [1, 0]}
    datasets.Dataset.from_dict(data, features=features).save_to_disk(str(tmp_path / "ds"))
    records = list(arrow.read(tmp_path / "ds", ReadOptions("classification")))
    assert [(r.context["sentence"], r.context["label"]) for r in records] == [
        ("fine 👍🏿", "good"),
        ("awful", "bad"),
    ]


@pytest.mark.parametrize("module, name", [(parquet, "bad.parquet"), (arrow, "bad.arrow")])
def test_corrupt_files_are_clear_errors(tmp_path, module, name):
    path = tmp_path / name
    path.write_bytes(b"PAR1" + b"\x00garbage" * 50 + b"PAR1")
    with pytest.raises(DataError) as error:
        list(module.read(path, ReadOptions("classification")))
    assert error.value.file == str(path)


def test_a_truncated_parquet_file_is_a_clear_error(tmp_path):
    path = tmp_path / "whole.parquet"
    _hf_parquet(path, list(range(2)) * 500)
    data = path.read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: len(data) // 2] + data[-8:])  # footer length and magic kept
    with pytest.raises(DataError) as error:
        list(parquet.read(cut, ReadOptions("classification")))
    assert error.value.file == str(cut)


def test_arrow_reads_a_feather_file(tmp_path):
    import pyarrow.feather as feather

    path = tmp_path / "notes.feather"
    table = pa.table({"text": ["a 👩🏽\u200d⚕️", "b\r\nc"], "label": ["x", None]})
    feather.write_feather(table, path)
    assert arrow.detect(path, path.read_bytes()[:8]) > 0.9
    rows = [r.context for r in arrow.read(path, ReadOptions("classification"))]
    assert rows == [{"text": "a 👩🏽\u200d⚕️", "label": "x"}, {"text": "b\r\nc", "label": None}]
