"""A long context value goes into the database as JSON written from its UTF-8, a chunk at a
time (app.core.io.longcontext): byte for byte what json.dumps gives, never a str of it."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.io import longcontext, longtext
from app.core.io.importer import import_dataset
from app.core.io.longtext import LongText
from tests.unit.helpers import rows

NASTY = 'quote " backslash \\ newline \n tab \t cr \r bell \x07 nul \x00 del \x7f \u2028 é 疾病 🙂'


def long_text(text: str) -> LongText:
    data = bytearray(text.encode("utf-8"))
    return LongText(data, len(text))


def spilled(items) -> bytes:
    out = io.BytesIO()
    size = longcontext.LongContext(items).spill(out)
    assert size == len(out.getvalue())
    return out.getvalue()


def test_the_spilled_json_is_json_dumps_byte_for_byte(monkeypatch):
    monkeypatch.setattr(longtext, "CHUNK", 7)  # escapes cut across many chunks
    items = [("note", long_text(NASTY * 3)), ("n", 3), ("meta", {"k": ["v", None, 1.5]})]
    expected = json.dumps(
        {"note": NASTY * 3, "n": 3, "meta": {"k": ["v", None, 1.5]}}, ensure_ascii=False
    ).encode("utf-8")
    assert spilled(items) == expected
    assert items == [("note", None), ("n", None), ("meta", None)]  # let go of as written


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8),
            st.one_of(st.text(max_size=40), st.integers(), st.none()),
            st.booleans(),
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda item: item[0],
    )
)
def test_any_context_spills_as_json_dumps_would_write_it(pairs):
    items = [(name, long_text(v) if long and isinstance(v, str) else v) for name, v, long in pairs]
    expected = json.dumps({name: v for name, v, _long in pairs}, ensure_ascii=False)
    assert spilled(items) == expected.encode("utf-8")


def test_context_value_is_plain_json_without_a_long_text():
    assert longcontext.context_value([("a", "x"), ("b", [1])]) == '{"a": "x", "b": [1]}'
    assert isinstance(longcontext.context_value([("a", long_text("x"))]), longcontext.LongContext)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("text_long", [False, True])
def test_a_long_context_cell_is_stored_as_its_json(make_project, tmp_path, fmt, text_long):
    project = make_project(inputs=["text", "note", "more"])
    note = (NASTY.replace("\x00", "") + " ") * 70_000  # about 3 MB: read as a LongText
    text = ("word " * 300_000) if text_long else "a short text"
    records = [
        {"text": "first", "note": "x", "more": "1"},
        {"text": text, "note": note, "more": "2"},
    ]
    path = tmp_path / f"long-context.{fmt}"
    if fmt == "csv":
        import csv

        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "note", "more"])
            for record in records:
                writer.writerow([record["text"], record["note"], record["more"]])
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    import_dataset(project, path, mapping={"text": "text", "note": "note", "more": "more"})
    stored = rows(project, "SELECT text, context, typeof(context) FROM datapoint ORDER BY id")
    assert [r[2] for r in stored] == ["text", "text"]
    assert stored[1][0] == text
    assert stored[1][1] == json.dumps({"note": note, "more": "2"}, ensure_ascii=False)
    assert json.loads(stored[0][1]) == {"note": "x", "more": "1"}
