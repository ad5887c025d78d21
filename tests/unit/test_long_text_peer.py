"""Outside a spans project, a peer format's long text (Label Studio, Prodigy, doccano) goes
into the database from its UTF-8 and is never decoded as one str (issue 14: decoding it held
the bytes and the str, 3.1-3.3x the field for text mixing CJK into ASCII); what the file says
is imported exactly as before. The threshold is lowered so that a short text takes the path."""

from __future__ import annotations

import json

import pytest

from app.core.io import decoding, feed, jsonarray, longtext, readers
from app.core.io.importer import import_dataset
from tests.unit.helpers import import_refused, rows, texts, values

LONG = " ".join(f"疾病研究{i} Étude gène" for i in range(3_000)) + " closingword"


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch):
    monkeypatch.setattr(feed, "LONG_TEXT", 1_000)
    monkeypatch.setattr(longtext, "LONG_TEXT", 1_000)
    monkeypatch.setattr(longtext, "CHUNK", 10_000)  # several chunks, one cut mid-character
    monkeypatch.setattr(decoding, "LINE_CHUNK", 10_000)  # a JSON line read as bytes
    monkeypatch.setattr(jsonarray, "LONG", 10_000)  # a JSON array's element read as bytes
    monkeypatch.setattr(readers, "JSON_CHUNK", 10_000)  # the JSON array reader's window


@pytest.fixture
def decodes(monkeypatch):
    """The lengths of the LongTexts decoded as strs during the test (`made`: of those made)."""
    real, real_text_of = longtext.LongText.decode, longtext.text_of

    def spy(self):
        made.append(self.chars)
        return real(self)

    def spy_text_of(data):
        found = real_text_of(data)
        if isinstance(found, longtext.LongText):
            made.made.append(found.chars)
        return found

    made = Made()
    monkeypatch.setattr(longtext.LongText, "decode", spy)
    monkeypatch.setattr(longtext, "text_of", spy_text_of)
    return made


class Made(list):
    """Lengths of the LongTexts decoded; `made`: of the LongTexts made."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[int] = []


def peer_file(tmp_path, fmt: str, text: str, label: str = "spam", note: str = "n"):
    if fmt == "labelstudio":
        result = {"from_name": "label", "to_name": "text", "type": "choices"}
        result["value"] = {"choices": [label]}
        task = {"data": {"text": text, "note": note}, "annotations": [{"result": [result]}]}
        body = json.dumps([{"data": {"text": "short"}}, task], ensure_ascii=False)
        path = tmp_path / "long.json"
    else:
        extra = {"answer": "accept", "label": label} if fmt == "prodigy" else {"label": [label]}
        meta = {"meta": {"note": note}} if fmt == "prodigy" else {"note": note}
        lines = [{"text": "short"}, {"text": text, **extra, **meta}]
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
        path = tmp_path / "long.jsonl"
    path.write_text(body, "utf-8")
    return path


@pytest.mark.parametrize("fmt", ["labelstudio", "prodigy", "doccano"])
def test_a_long_text_of_a_classification_project_is_never_decoded(
    make_project, tmp_path, decodes, fmt
):
    project = make_project(inputs=["text", "note"])
    import_dataset(project, peer_file(tmp_path, fmt, LONG), fmt=fmt)
    assert decodes.made == [len(LONG)] and decodes == []
    assert texts(project) == ["short", LONG]
    assert values(project) == ["spam"]
    (context,) = rows(project, "SELECT context FROM datapoint WHERE text = ?", LONG)[0]
    assert json.loads(context) == {"note": "n"}


@pytest.mark.parametrize("fmt", ["labelstudio", "prodigy", "doccano"])
def test_a_long_context_value_is_still_decoded(make_project, tmp_path, decodes, fmt):
    """Only the text stays UTF-8: any other long value of the record is a str as before."""
    project = make_project(inputs=["text", "note"])
    import_dataset(project, peer_file(tmp_path, fmt, LONG, note=LONG + " note"), fmt=fmt)
    assert len(LONG) not in decodes and len(LONG) in decodes.made  # the text: kept
    assert all(chars in decodes for chars in decodes.made if chars != len(LONG))
    (context,) = rows(project, "SELECT context FROM datapoint WHERE text = ?", LONG)[0]
    assert json.loads(context) == {"note": LONG + " note"}


def test_a_spans_project_still_checks_spans_on_the_str(make_project, tmp_path, decodes):
    project = make_project("spans", labels=("a",))
    at = LONG.index("closingword")
    span = {"start": at, "end": at + len("closingword"), "label": "a"}
    path = tmp_path / "long.jsonl"
    record = {"text": LONG, "spans": [span], "answer": "accept"}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", "utf-8")
    import_dataset(project, path, fmt="prodigy")
    assert decodes == decodes.made == [len(LONG)] and texts(project) == [LONG]
    assert [[(s["start"], s["end"]) for s in v] for v in values(project)] == [[(at, span["end"])]]


def test_a_span_result_outside_a_spans_project_is_checked_as_before(make_project, tmp_path):
    """Label Studio checks every span it meets; the text is decoded for them."""
    project = make_project()
    result = {"type": "labels", "value": {"start": 0, "end": len(LONG) + 5, "labels": ["x"]}}
    task = {"data": {"text": LONG}, "annotations": [{"result": [result]}]}
    path = tmp_path / "long.json"
    path.write_text(json.dumps([task], ensure_ascii=False), "utf-8")
    import_refused(project, path, 1, ["outside the text"], fmt="labelstudio")


def test_prodigy_lines_of_one_long_item_are_one_datapoint(make_project, tmp_path, decodes):
    """Two annotators' lines of the same long text (_input_hash) merge into one datapoint."""
    project = make_project()
    lines = [
        {"text": LONG, "_input_hash": 7, "_annotator_id": who, "answer": "accept", "label": lab}
        for who, lab in (("ann", "spam"), ("bob", "ham"))
    ]
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), "utf-8")
    import_dataset(project, path, fmt="prodigy")
    assert decodes.made == [len(LONG)] * 2 and decodes == [] and texts(project) == [LONG]
    assert sorted(values(project)) == ["ham", "spam"]
