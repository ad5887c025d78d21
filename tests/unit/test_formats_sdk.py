"""Tagloop's Label Studio export goes through label-studio-sdk's own converter, and what the
converter writes (JSON-MIN, CoNLL 2003) comes back into Tagloop with exact offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.io.formats import labelstudio
from app.core.io.formats.base import WriteContext
from app.core.io.importer import import_dataset
from tests.unit.helpers import rows

DATA = Path(__file__).parent / "data" / "peer"
TEXTS = ["👩🏽‍⚕️ nurse saw 👨🏿‍👩🏻‍👧 family", "𠮷野家 cough 𪚲", "مريض يعاني من حمى fever"]


def last_word(text: str) -> list[dict]:
    word = text.split()[-1]
    return [{"start": text.rindex(word), "end": len(text), "label": "W"}]


def imported(project) -> dict[str, list]:
    found = rows(
        project,
        "SELECT d.text, a.value FROM annotation a JOIN datapoint d ON d.id = a.datapoint_id",
    )
    return {text: json.loads(value) for text, value in found}


@pytest.mark.parametrize("name", ["labelstudio_sdk_json_min.json", "labelstudio_sdk.conll"])
def test_files_written_by_the_sdk_converter_read_exactly(make_project, name):
    project = make_project("spans", labels=("W",))
    import_dataset(project, DATA / name)
    assert imported(project) == {text: last_word(text) for text in TEXTS}


def test_the_sdk_converter_reads_our_export(tmp_path):
    converter = pytest.importorskip("label_studio_sdk.converter")
    context = WriteContext("spans", ("W",), "text")
    records = [
        {"id": str(i), "row": i, "text": text, "label": None,
         "annotations": [{"annotator": "ann", "value": last_word(text), "status": "complete"}]}
        for i, text in enumerate(TEXTS)
    ]  # fmt: skip
    tasks = tmp_path / "tasks.json"
    labelstudio.write(iter(records), tasks, context, lambda *a: None, lambda: False)
    out = tmp_path / "min"
    out.mkdir()
    convert = converter.Converter(
        labelstudio.labeling_config(context), str(tmp_path), download_resources=False
    )
    convert.convert_to_json_min(str(tasks), str(out), is_dir=False)
    (result,) = out.iterdir()
    items = json.loads(result.read_text(encoding="utf-8"))
    assert [item["label"][0]["text"] for item in items] == [t.split()[-1] for t in TEXTS]
