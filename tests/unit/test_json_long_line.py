"""Issue 14 §2 (memory): a JSON Lines line with long strings is read by app.core.io.jsonlong
from its bytes (each long string unescaped in place and decoded once). It must give exactly
what json.loads gives, or hand the line back (FALLBACK) untouched for the ordinary path."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.io import jsonlong
from app.core.io.importer import import_dataset
from tests.unit.helpers import import_refused, texts

CHARS = st.sampled_from(['"', "\\", "/", "\n", "\t", "\x01", "a", " ", "é", "疾", "😀", "\u2028"])


@pytest.fixture
def small(monkeypatch):
    """Long means 8 bytes and chunks are 5: every split rule runs on short strings."""
    monkeypatch.setattr(jsonlong, "LONG", 8)
    monkeypatch.setattr(jsonlong, "CHUNK", 5)


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(CHARS, max_size=40), st.text(CHARS, max_size=40), st.booleans())
def test_the_same_record_as_json_loads(small, text, other, ascii_only):
    text = "long enough: " + text  # over LONG: read by jsonlong; `other` may be either
    line = json.dumps({"text": text, "more": [other, 1, None], "n": 2.5}, ensure_ascii=ascii_only)
    found = jsonlong.loads(bytearray(line.encode("utf-8")), "f.jsonl", 1)
    assert found is not jsonlong.FALLBACK
    assert found == json.loads(line)


@pytest.mark.parametrize(
    "line",
    [
        '{"text": "long enough but \\ud800 lone"}',
        '{"text": "long enough \\x bad escape"}',
        '{"text": "long enough\tcontrol"}',
        '{"long enough key": 1}',
        '{"text": "long enough never closed}',
        '{"text": "long enough" "broken": 1}',
    ],
)
def test_what_it_cannot_read_is_handed_back_untouched(small, line):
    buf = bytearray(line.encode())
    assert jsonlong.loads(buf, "f.jsonl", 1) is jsonlong.FALLBACK
    assert buf == line.encode()


def test_a_bad_byte_is_handed_back(small):
    buf = bytearray(b'{"a": "long \\n enough", "text": "caf\xe9 long enough"}')
    before = bytes(buf)
    assert jsonlong.loads(buf, "f.jsonl", 1) is jsonlong.FALLBACK
    assert buf == before


@pytest.mark.parametrize("ascii_only", [False, True])
def test_a_long_jsonl_record_imports(make_project, tmp_path, ascii_only):
    project = make_project()
    long = 'Étude "quoted" \\ back, 疾病 😀\n' * 60_000
    path = tmp_path / "long.jsonl"
    lines = [{"text": "first"}, {"text": long, "n": [1, {"k": long[:10]}]}, {"text": "last"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in lines), "utf-8")
    import_dataset(project, path, mapping={"text": "text"})
    assert texts(project) == ["first", long, "last"]


def test_errors_in_a_long_jsonl_line_are_the_ordinary_ones(make_project, tmp_path):
    project = make_project()
    long = "x" * (1 << 21)
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "' + long.encode() + b'\\ud800"}\n')
    assert "surrogate" in str(import_refused(project, path, 2, ()))
    path.write_bytes(b'{"text": "ok"}\n{"text": "' + long.encode() + b'", "x": [1,}\n')
    assert "invalid JSON" in str(import_refused(project, path, 2, ()))
    path.write_bytes(b'{"text": "ok"}\n{"text": "' + long.encode() + b'\xe9"}\n')
    assert "not valid UTF-8" in str(import_refused(project, path, 2, ()))
