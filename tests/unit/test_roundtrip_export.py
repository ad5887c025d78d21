"""Import, export, re-import gives identical data; exports are atomic and ids stable."""

from __future__ import annotations

import csv
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import Cancelled
from app.core.ids import datapoint_uuid
from app.core.io.export import export_datapoints, iter_records
from app.core.io.importer import import_dataset
from app.core.io.spreadsheet import neutralise
from tests.unit.helpers import texts, values

HARD_TEXTS = [
    "emoji 👩‍⚕️ treats 🫀 fever",
    "e\u0301 combining acute, and n\u0303",
    "CRLF line one\r\nline two",
    "tab\tseparated\tinside",
    "مرحبا بالعالم — right to left",
    "中文和日本語のテキスト",
    'quotes "inside" and, commas',
]


def test_roundtrip_jsonl_and_csv(make_project, tmp_path):
    source = make_project()
    path = tmp_path / "in.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i, text in enumerate(HARD_TEXTS):
            handle.write(json.dumps({"text": text, "label": "spam" if i % 2 else "ham"}) + "\n")
    import_dataset(source, path, label_column="label")
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"out.{fmt}"
        assert export_datapoints(source, out) == len(HARD_TEXTS)
        again = make_project()
        import_dataset(again, out, mapping={"text": "text"}, label_column="label")
        assert texts(again) == HARD_TEXTS
        assert values(again) == values(source)


def test_span_offsets_roundtrip_exactly(make_project, tmp_path):
    text = "e\u0301 👩‍⚕️ saw\tgout\r\nand 中文 flu"
    spans = [
        {"start": text.index("gout"), "end": text.index("gout") + 4, "label": "D"},
        {"start": text.index("flu"), "end": text.index("flu") + 3, "label": "D"},
    ]
    source = make_project("spans", labels=("D",))
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"text": text, "label": spans}) + "\n", encoding="utf-8")
    import_dataset(source, path, label_column="label")
    out = tmp_path / "out.jsonl"
    export_datapoints(source, out)
    again = make_project("spans", labels=("D",))
    import_dataset(again, out, label_column="label")
    (value,) = values(again)
    assert [text[s["start"] : s["end"]] for s in value] == ["gout", "flu"]
    assert value == spans


def test_export_only_completed_and_per_annotator_csv(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "a.csv"
    path.write_text("text,label\na,ham\nb,\nc,spam\n", encoding="utf-8")
    import_dataset(project, path, label_column="label", annotator="alice")
    out = tmp_path / "done.csv"
    assert export_datapoints(project, out, only_completed=True) == 2
    with out.open(encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    assert [r["text"] for r in records] == ["a", "c"]
    assert [r["label:alice"] for r in records] == ["ham", "spam"]
    assert {r["status"] for r in records} == {"labeled"}


def test_export_ids_are_stable_uuids(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "a.txt"
    path.write_text("one\ntwo\n", encoding="utf-8")
    import_dataset(project, path)
    first = [r["id"] for r in iter_records(project)]
    assert first == [r["id"] for r in iter_records(project)]
    assert all(uuid.UUID(x).version == 5 for x in first)
    assert datapoint_uuid(uuid.uuid4().hex, 1) != datapoint_uuid(uuid.uuid4().hex, 1)


def test_failed_export_leaves_target_untouched_and_no_temp(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "a.txt"
    path.write_text("".join(f"line {i}\n" for i in range(50_000)), encoding="utf-8")
    import_dataset(project, path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "x.jsonl"
    target.write_text("previous export", encoding="utf-8")
    calls = []
    with pytest.raises(Cancelled):
        export_datapoints(
            project, target, cancel=lambda: len(calls) > 0, progress=lambda *a: calls.append(a)
        )
    assert target.read_text(encoding="utf-8") == "previous export"
    assert sorted(p.name for p in out_dir.iterdir()) == ["x.jsonl"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.text(st.characters(exclude_categories=("Cs",)), min_size=1).filter(
            lambda s: s.strip() and s.strip("\x00")
        ),
        min_size=1,
        max_size=20,
    )
)
def test_any_text_roundtrips_through_jsonl(make_project, tmp_path_factory, items):
    directory = tmp_path_factory.mktemp("rt")
    project = make_project()
    path = directory / "in.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in items), encoding="utf-8")
    import_dataset(project, path)
    out = directory / "out.jsonl"
    export_datapoints(project, out)
    with out.open(encoding="utf-8") as handle:
        assert [json.loads(line)["text"] for line in handle] == items


formula_like = st.tuples(
    st.sampled_from(["", "'", "''", "=", "+", "-", "@", "\t", "\r", "＝", "'=", "''@"]),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00")),
).map("".join)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(formula_like.filter(str.strip), min_size=1, max_size=12), st.booleans())
def test_formula_like_text_roundtrips_through_csv(make_project, tmp_path_factory, items, raw):
    """Neutralised (default) or raw, a CSV export re-imports to the very same texts."""
    directory = tmp_path_factory.mktemp("rt")
    project = make_project()
    path = directory / "in.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in items), encoding="utf-8")
    import_dataset(project, path)
    out = directory / "out.csv"
    export_datapoints(project, out, raw=raw)
    with out.open(encoding="utf-8", newline="") as handle:
        cells = [row[3] for row in csv.reader(handle)][1:]
    assert cells == (items if raw else [neutralise(t) for t in items])
    again = make_project()
    import_dataset(again, out, mapping={"text": "text"})
    assert texts(again) == items
