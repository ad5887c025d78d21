"""A long text goes in through a placeholder and blob I/O (app.core.io.longtext), and comes
out exactly as it went in: stored as TEXT, found by search, exported, carried by a bundle, and
told apart from its duplicates. The threshold is lowered so that a 2 MB text takes the path."""

from __future__ import annotations

import json
import random
import tempfile

import pytest

from app.core.annotation.browse import Browser, Query
from app.core.bundle import export_project_bundle, open_bundle
from app.core.errors import DataError
from app.core.io import feed, longtext
from app.core.io.export import export_datapoints
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from tests.unit.helpers import rows, texts, values

# Mostly ASCII with CJK and accents (a str two bytes a character), quotes and line breaks;
# varied, or a bundle would refuse it as a zip bomb.
_random = random.Random(14)
_WORDS = ["Étude:", '"zebrafish"', "疾病研究", "heart\nattack,", "cancer", "gène"]
LONG = (
    " ".join(_random.choice(_WORDS) + str(_random.randrange(10**6)) for _ in range(160_000))
    + " closingword"
)


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch):
    monkeypatch.setattr(feed, "LONG_TEXT", 10_000)
    monkeypatch.setattr(longtext, "LONG_TEXT", 10_000)
    monkeypatch.setattr(longtext, "CHUNK", 100_000)  # several chunks, one cut mid-character


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")


@pytest.mark.parametrize("labelled", [False, True])
def test_a_long_text_round_trips_through_import_search_export_and_bundle(
    make_project, tmp_path, labelled
):
    project = make_project()
    path = tmp_path / "long.jsonl"
    write_jsonl(
        path,
        [
            {"text": "short one", "label": "ham", "note": "n1"},
            {"text": LONG, "label": "spam", "note": "n2"},
            {"text": "short two", "label": "ham", "note": "n3"},
        ],
    )
    options = {"label_column": "label"} if labelled else {}
    report = import_dataset(project, path, mapping={"text": "text"}, **options)
    assert report.rows == 3 and report.indexed
    assert texts(project) == ["short one", LONG, "short two"]
    assert rows(project, "SELECT typeof(text), length(text) FROM datapoint WHERE id = 2") == [
        ("text", len(LONG))
    ]
    if labelled:
        assert values(project) == ["ham", "spam", "ham"]
    browser = Browser(project)
    assert browser.count(Query(search="closingword")) == 1
    assert browser.count(Query(search="cancer*")) == 1

    out = tmp_path / "out.jsonl"
    assert export_datapoints(project, out) == 3
    exported = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [record["text"] for record in exported] == ["short one", LONG, "short two"]

    bundle = tmp_path / "all.tlbundle"
    export_project_bundle(project, bundle)
    opened = open_bundle(bundle, tmp_path / "copy")
    with open_project(opened.path) as copy:
        assert texts(copy) == ["short one", LONG, "short two"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "txt"])
def test_a_long_text_of_each_line_format(make_project, tmp_path, fmt):
    project = make_project()
    long = LONG.replace("\n", " ")
    if fmt == "csv":
        body = 'text\nfirst\n"' + long.replace('"', '""') + '"\r\nlast\n'
    elif fmt == "tsv":
        body = f"text\nfirst\n{long}\r\nlast\n"
    else:
        body = f"first\n{long}\r\nlast\n"
    path = tmp_path / f"long.{fmt}"
    path.write_bytes(body.encode("utf-8"))
    import_dataset(project, path)
    assert texts(project) == ["first", long, "last"]


def test_long_duplicates_are_found_and_skipped(make_project, tmp_path):
    project = make_project()
    first = tmp_path / "a.jsonl"
    write_jsonl(first, [{"text": LONG}, {"text": LONG + "!"}])
    import_dataset(project, first)
    again = tmp_path / "b.jsonl"
    write_jsonl(again, [{"text": "new"}, {"text": LONG}, {"text": LONG}])
    report = import_dataset(project, again, duplicates="skip")
    assert report.rows == 1 and report.skipped == 2
    assert texts(project) == [LONG, LONG + "!", "new"]


def test_the_spill_file_is_gone_after_a_failed_import(make_project, tmp_path, monkeypatch):
    """A record that fails after a long text went in: nothing imported, no file left."""
    project = make_project()
    made: list[str] = []
    real = tempfile.TemporaryFile

    def spy(*args, **kwargs):
        handle = real(*args, **kwargs)
        made.append(kwargs.get("dir"))
        return handle

    monkeypatch.setattr(longtext.tempfile, "TemporaryFile", spy)
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"text": LONG}) + "\n{broken\n", "utf-8")
    there = set(tmp_path.iterdir())
    with pytest.raises(Exception, match="invalid JSON"):
        import_dataset(project, path, mapping={"text": "text"})
    assert made == [str(project.path.parent)]  # spilled beside the project, not in /tmp
    assert texts(project) == []
    assert set(tmp_path.iterdir()) == there


def test_statement_puts_a_placeholder_of_the_length():
    sql = longtext.statement(
        "INSERT INTO datapoint (id, dataset_id, row, text, status, flagged)"
        " VALUES (?, 7, ?, ?, 0, 0)"
    )
    assert sql == (
        "INSERT INTO datapoint (id, dataset_id, row, text, status, flagged)"
        " VALUES (?, 7, ?, CAST(zeroblob(?) AS TEXT), 0, 0)"
    )


def spy_long_texts(monkeypatch) -> list[str]:
    """The class of every text longtext.text_of gives (a LongText: kept as UTF-8)."""
    made: list[str] = []
    real = longtext.text_of

    def spy(data):
        found = real(data)
        made.append(type(found).__name__)
        return found

    monkeypatch.setattr(longtext, "text_of", spy)
    return made


@pytest.mark.parametrize("fmt", ["csv", "tsv", "txt", "jsonl"])
def test_the_fast_readers_keep_a_long_text_as_utf8(make_project, tmp_path, monkeypatch, fmt):
    """Imported with no label column, a long text is never one str (only its context is)."""
    made = spy_long_texts(monkeypatch)
    project = make_project(inputs=["text", "note"]) if fmt in ("csv", "jsonl") else None
    project = project or make_project()
    long = LONG.replace("\n", " ")
    path = tmp_path / f"long.{fmt}"
    if fmt == "jsonl":
        long = long.replace('"', "")  # over jsonlong.MAX_QUOTES quotes, a line is read as a str
        write_jsonl(path, [{"text": "a", "note": "x"}, {"text": long, "note": long}])
    elif fmt == "csv":
        quoted = '"' + long.replace('"', '""') + '"'
        path.write_text(f"text,note\na,x\n{quoted},{quoted}\n", "utf-8")
    elif fmt == "tsv":
        path.write_text(f"text\na\n{long}\n", "utf-8")
    else:
        path.write_text(f"a\n{long}\n", "utf-8")
    mapping = {"text": "text", "note": "note"} if fmt in ("csv", "jsonl") else None
    import_dataset(project, path, mapping=mapping)
    assert "LongText" in made
    assert texts(project) == ["a", long]
    if mapping:
        contexts = [json.loads(c) for (c,) in rows(project, "SELECT context FROM datapoint")]
        assert contexts == [{"note": "x"}, {"note": long}]


def test_a_long_text_with_a_label_column_stays_utf8(make_project, tmp_path, monkeypatch):
    """A label column does not make the text a str (3x a CJK field's UTF-8 before)."""
    made = spy_long_texts(monkeypatch)
    project = make_project()
    long = LONG.replace('"', "")  # over jsonlong.MAX_QUOTES quotes, a line is read as a str
    path = tmp_path / "long.jsonl"
    write_jsonl(path, [{"text": long, "label": "spam"}])
    import_dataset(project, path, label_column="label")
    assert made == ["LongText"] and texts(project) == [long] and values(project) == ["spam"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "multilabel"])
def test_a_long_label_cell_is_read_as_its_str(make_project, tmp_path, fmt):
    """A label cell over the long-text size (or a long string inside one) reaches the label
    checks as a str, and is refused by what it says, never as a LongText."""
    name = "x" * ((1 << 20) + 10)  # over csvrecord.BIG and jsonlong.LONG: read as a LongText
    path = tmp_path / f"label.{'csv' if fmt == 'csv' else 'jsonl'}"
    if fmt == "csv":
        path.write_text(f"text,label\nhello,{name}\n", "utf-8")
    else:
        write_jsonl(path, [{"text": "hello", "label": [name] if fmt == "multilabel" else name}])
    project = make_project(task_type="multilabel" if fmt == "multilabel" else "classification")
    with pytest.raises(DataError, match="label") as caught:
        import_dataset(project, path, label_column="label", add_labels=True)
    assert "LongText" not in str(caught.value) and rows(project, "SELECT id FROM datapoint") == []


@pytest.mark.parametrize("quoted", [None, "right", "wrong"])
def test_a_label_columns_spans_on_a_long_text(make_project, tmp_path, monkeypatch, quoted):
    """The text stays UTF-8 unless a span quotes it; a quote is checked on the text's slice."""
    made = spy_long_texts(monkeypatch)
    project = make_project(task_type="spans", labels=("PER",))
    long = LONG.replace('"', "")
    span = {"start": 2, "end": 9, "label": "PER"}
    if quoted:
        span["text"] = long[2:9] if quoted == "right" else "nothing"
    path = tmp_path / "spans.jsonl"
    write_jsonl(path, [{"text": long, "label": [span]}])
    if quoted == "wrong":
        with pytest.raises(DataError, match="says its text is 'nothing'"):
            import_dataset(project, path, label_column="label")
        assert rows(project, "SELECT id FROM datapoint") == []
        return
    import_dataset(project, path, label_column="label")
    assert made == ["LongText"] and texts(project) == [long]
    assert values(project) == [[{"start": 2, "end": 9, "label": "PER"}]]


def csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def test_a_neutralised_long_cell_is_restored(make_project, tmp_path):
    """Tagloop's export quotes a cell that starts like a formula; re-import takes the quote
    off a long cell too (kept as UTF-8), and leaves a quote that the text itself begins with."""
    project = make_project()
    formula = "=" + LONG.replace("\n", " ")
    quoted = "'" + LONG.replace("\n", " ")
    body = "text,tagloop:neutralised\n" + csv_cell("'" + formula) + ",1\n"
    body += csv_cell(quoted) + ",1\n"
    path = tmp_path / "again.csv"
    path.write_text(body, "utf-8")
    import_dataset(project, path, mapping={"text": "text"})
    assert texts(project) == [formula, quoted]


@pytest.mark.parametrize("fmt", ["csv", "txt", "jsonl"])
def test_a_bad_byte_in_a_long_text_names_its_line(make_project, tmp_path, fmt):
    project = make_project()
    long = LONG.replace("\n", " ").encode()
    bad = long[:1_000_000] + b"\xff" + long[1_000_000:]
    if fmt == "csv":
        body = b'text\nfirst\n"two\nlines ' + bad.replace(b'"', b'""') + b'"\n'
    elif fmt == "jsonl":
        body = b'{"text": "first"}\n{"text": "' + bad.replace(b'"', b'\\"') + b'"}\n'
    else:
        body = b"first\n" + bad + b"\n"
    path = tmp_path / f"bad.{fmt}"
    path.write_bytes(body)
    with pytest.raises(DataError) as caught:
        import_dataset(project, path, mapping={"text": "text"} if fmt != "txt" else None)
    assert caught.value.line == (4 if fmt == "csv" else 2)  # the line of the bad byte
    assert "0xFF" in str(caught.value)
    assert texts(project) == []


def json_long() -> str:
    """LONG with few quotes (jsonlong reads a line of over MAX_QUOTES quotes as a str) and
    brackets, which the element scan must skip inside strings."""
    return LONG.replace('"', "").replace("heart", "[{heart}]").replace("\n", " ")


@pytest.mark.parametrize("indent", [None, 2])
def test_a_long_element_of_a_json_array_is_read_from_its_bytes(
    make_project, tmp_path, monkeypatch, indent
):
    made = spy_long_texts(monkeypatch)
    project = make_project(inputs=["text", "note"])
    long = json_long()
    records = [
        {"text": "first", "note": "a"},
        {"note": ["x", {"y": "]"}], "text": long},
        {"text": 'last "quoted" \\ one', "note": "c"},
    ]
    path = tmp_path / "array.json"
    path.write_text(json.dumps(records, ensure_ascii=False, indent=indent), "utf-8")
    import_dataset(project, path, mapping={"text": "text", "note": "note"})
    assert "LongText" in made
    assert texts(project) == ["first", long, 'last "quoted" \\ one']
    contexts = [json.loads(c)["note"] for (c,) in rows(project, "SELECT context FROM datapoint")]
    assert contexts == ["a", ["x", {"y": "]"}], "c"]


@pytest.mark.parametrize(
    ("tail", "line", "message"),
    [
        ("", 2, "invalid JSON: Unterminated string"),
        ('"}', 2, "the file ends before the JSON array is closed"),
        ('"} {"text": "x"}]', 2, "expected ',' or ']' between records"),
        ('", "n": tru}]', 2, "invalid JSON: Expecting value"),
    ],
)
def test_a_broken_long_json_element_gives_the_ordinary_error(
    make_project, tmp_path, tail, line, message
):
    project = make_project()
    path = tmp_path / "broken.json"
    path.write_text('[{"text": "a"},\n{"text": "' + json_long() + tail, "utf-8")
    with pytest.raises(DataError, match=message) as caught:
        import_dataset(project, path, mapping={"text": "text"})
    assert caught.value.line == line
    assert texts(project) == []


def test_a_long_json_element_over_the_limit_is_refused(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "big.json"
    path.write_text('[{"text": "a"},\n{"text": "' + json_long() + '"}]', "utf-8")
    with pytest.raises(DataError, match="longer than the 1 MB limit") as caught:
        import_dataset(project, path, mapping={"text": "text"}, max_field=1 << 20)
    assert caught.value.line == 2


@pytest.mark.parametrize(("bad", "message"), [(b"\xff", "0xFF"), (b"\x00", "NUL")])
def test_a_bad_byte_in_a_long_json_element_names_its_line(make_project, tmp_path, bad, message):
    project = make_project()
    long = json_long()
    body = b'[{"text": "a"},\n{"text": "' + long[:1_500_000].encode() + b'",\n"n": "'
    body += bad + long[1_500_000:].encode() + b'"}]'
    path = tmp_path / "bad.json"
    path.write_bytes(body)
    with pytest.raises(DataError, match=message) as caught:
        import_dataset(project, path, mapping={"text": "text"})
    assert caught.value.line == 3
    assert texts(project) == []


def test_a_long_conll_sentence_is_joined_as_it_goes(make_project, tmp_path, monkeypatch):
    """CoNLL keeps a long sentence's tokens joined in pieces: same text, same spans."""
    from app.core.io.formats import conll

    tokens = [
        (f"tok{i}é", "B-a" if i % 7 == 1 else "I-a" if i % 7 == 2 else "O") for i in range(40)
    ]
    path = tmp_path / "long.conll"
    path.write_text("".join(f"{t}\t{tag}\n" for t, tag in tokens) + "\n", "utf-8")
    found = []
    for compact in (100_000, 3):
        monkeypatch.setattr(conll, "COMPACT", compact)
        project = make_project("spans", labels=("a",))
        import_dataset(project, path)
        found.append((texts(project), values(project)))
    assert found[0] == found[1]
    assert found[0][0] == [" ".join(t for t, _tag in tokens)]
    text = found[0][0][0]
    assert [text[s["start"] : s["end"]] for s in found[0][1][0]][:2] == [
        "tok1é tok2é",
        "tok8é tok9é",
    ]


@pytest.mark.parametrize(("fmt", "suffix"), [("labelstudio", "json"), ("prodigy", "jsonl")])
def test_a_peer_format_reads_a_long_text_as_utf8_then_one_str(
    make_project, tmp_path, monkeypatch, fmt, suffix
):
    made = spy_long_texts(monkeypatch)
    project = make_project("spans", labels=("a",))
    long = json_long()
    at = long.index("closingword")
    span = {"start": at, "end": at + len("closingword"), "label": "a"}
    if fmt == "labelstudio":
        result = {"from_name": "label", "to_name": "text", "type": "labels"}
        result["value"] = {"start": span["start"], "end": span["end"], "labels": ["a"]}
        body = json.dumps(
            [{"data": {"text": long, "note": long}, "annotations": [{"result": [result]}]}],
            ensure_ascii=False,
        )
    else:
        body = json.dumps({"text": long, "spans": [span], "answer": "accept"}, ensure_ascii=False)
    path = tmp_path / f"long.{suffix}"
    path.write_text(body + "\n", "utf-8")
    import_dataset(project, path, fmt=fmt)
    assert "LongText" in made
    assert texts(project) == [long]
    assert [[(s["start"], s["end"]) for s in v] for v in values(project)] == [
        [(span["start"], span["end"])]
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_long_string_inside_a_context_value_is_stored(make_project, tmp_path, fmt):
    """A long string nested in a context object or list (read as a LongText) is stored as
    JSON text: it was a TypeError traceback ("LongText is not JSON serializable")."""
    project = make_project(inputs=["text", "note"])
    big = "y" * ((1 << 20) + 10)  # over jsonlong.LONG: read as a LongText
    records = [{"text": "a", "note": {"x": big}}, {"text": "b", "note": [big, 1]}]
    path = tmp_path / f"nested.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(records), "utf-8")
    else:
        write_jsonl(path, records)
    import_dataset(project, path, mapping={"text": "text", "note": "note"})
    contexts = [json.loads(c) for (c,) in rows(project, "SELECT context FROM datapoint")]
    assert contexts == [{"note": {"x": big}}, {"note": [big, 1]}]
