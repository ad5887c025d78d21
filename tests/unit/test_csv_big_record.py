"""Issue 14 §2 (memory): a CSV/TSV record over csvrecord.BIG bytes is read by Tagloop's own
byte-level parser (app.core.io.csvrecord), not the csv module. It must read exactly what
csv.reader(strict=True) reads, fed the same lines, and the import around it must keep every
rule of the csv path: errors naming the file and line, BOM, CRLF, NULs, the field cap,
neutralised-CSV re-import."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.io import csvrecord
from app.core.io.importer import import_dataset
from app.core.io.spreadsheet import NEUTRALISED_COLUMN
from tests.unit.helpers import import_refused, rows, texts, values


def lines_of(data: str) -> list[str]:
    """The lines decoding.TextLines gives csv.reader: split at LF only, endings kept."""
    parts = data.split("\n")
    out = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def by_csv(data: str, tsv: bool) -> tuple[list[str] | str, int]:
    """(first row or the error, lines read) as the csv module reads them."""
    lines = lines_of(data)
    if tsv:
        reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE, strict=True)
    else:
        reader = csv.reader(lines, strict=True)
    try:
        row = next(reader)
    except csv.Error as exc:
        return f"error: {exc}", -1
    # A blank line: csv gives [], the parser [""]; the importer skips both (it never hands
    # the parser a blank line: csv has read it whole before a record can pass BIG).
    return row or [""], reader.line_num


def by_parser(data: str, tsv: bool) -> tuple[list[str] | str, int]:
    """(first row or the error, lines read) as csvrecord reads them."""
    lines = [line.encode("utf-8") for line in lines_of(data)]
    buf = bytearray(lines[0])
    used = [1]

    def more(target: bytearray) -> bool:
        if used[0] >= len(lines):
            return False
        target += lines[used[0]]
        used[0] += 1
        return True

    try:
        spans = csvrecord.split_record(buf, more, b"\t" if tsv else b",", not tsv)
    except csv.Error as exc:
        return f"error: {exc}", -1
    return csvrecord.decode_fields(buf, spans, lambda at, exc: exc), used[0]


ALPHABET = st.sampled_from(['"', ",", "\t", "\r", "\n", "a", "b", " ", "é", "疾", "'", "="])
CELL = st.text(ALPHABET, max_size=8)


@settings(max_examples=400, deadline=None)
@given(st.lists(CELL, min_size=1, max_size=4), st.sampled_from(["\n", "\r\n", "\r", ""]))
def test_the_parser_reads_what_csv_reads_of_written_rows(cells, ending):
    """Rows as csv.writer writes them (quoted fields with commas, doubled quotes, CR, LF)."""
    for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_ALL):
        out = io.StringIO()
        csv.writer(out, quoting=quoting, lineterminator=ending or "\n").writerow(cells)
        data = out.getvalue() + "next,row\n"
        assert by_parser(data, tsv=False) == by_csv(data, tsv=False)


@settings(max_examples=600, deadline=None)
@given(st.text(ALPHABET, min_size=1, max_size=30), st.booleans())
def test_the_parser_reads_what_csv_reads_of_any_text(data, tsv):
    """Any mix of quotes, delimiters, lone CRs and LFs: the same row, or an error in both."""
    if not lines_of(data):
        return
    parsed, expected = by_parser(data, tsv), by_csv(data, tsv)
    if isinstance(expected[0], str):
        assert isinstance(parsed[0], str)
        # the same complaint, unless csv met the end of data first (it reads further on)
        assert parsed[0] == expected[0] or "unexpected end" in parsed[0] + expected[0]
    else:
        assert parsed == expected


@pytest.mark.parametrize(
    ("data", "row"),
    [
        ('"a,b","c""d"\r\n', ["a,b", 'c"d']),
        ('"line\r\nbreak",x\n', ["line\r\nbreak", "x"]),
        ('"lone\rcr",x\n', ["lone\rcr", "x"]),
        ("été,疾病\n", ["été", "疾病"]),
        ('a"b,c\n', ['a"b', "c"]),
        ("a,b,\n", ["a", "b", ""]),
    ],
)
def test_known_rows(data, row):
    assert by_parser(data, tsv=False)[0] == row == by_csv(data, tsv=False)[0]


def test_a_lone_cr_in_an_unquoted_field_is_the_csv_error():
    assert by_parser("a\rb,c\n", tsv=False)[0] == by_csv("a\rb,c\n", tsv=False)[0]
    assert "new-line character" in by_parser("a\rb,c\n", tsv=False)[0]


def test_the_parser_holds_a_big_field_about_twice():
    """tracemalloc peak of reading one 3 MB record: its bytes, then its str (generous bound)."""
    text = "Ceci n'est pas un « test », dit-il. " * 90_000
    data = ('"' + text.replace('"', '""') + '",x\n').encode("utf-8")
    size = len(data)
    tracemalloc.start()
    try:
        buf = bytearray(data)
        del data
        spans = csvrecord.split_record(buf, lambda b: False, b",", True)
        fields = csvrecord.decode_fields(buf, spans, lambda at, exc: exc)
        del buf
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fields[0] == text
    assert peak <= 3.5 * size, peak / size


# ---- through the import -----------------------------------------------------------------------


@pytest.fixture
def project(make_project):
    return make_project(labels=("a", "b"))


def big_text(size: int = csvrecord.BIG + 1000) -> str:
    sentence = 'Familial adenomatous polyposis, « été » 疾病, "quoted"; end. '
    return (sentence * (size // len(sentence.encode()) + 1))[: size // 2 * 2]


def write_csv(path, rows, header="text,label", ending="\n", bom=False) -> None:
    body = header + ending
    for row in rows:
        body += ",".join('"' + cell.replace('"', '""') + '"' for cell in row) + ending
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8"))


@pytest.mark.parametrize(("ending", "bom"), [("\n", False), ("\r\n", True)])
def test_a_big_quoted_record_imports_like_any_other(project, tmp_path, ending, bom):
    big = big_text() + "\r\nline two\nline three"
    rows = [["short one", "a"], [big, "b"], ["short, after", "a"], ["last", "b"]]
    path = tmp_path / "big.csv"
    write_csv(path, rows, ending=ending, bom=bom)
    report = import_dataset(project, path, mapping={"text": "text"})
    assert report.rows == 4
    assert texts(project) == [row[0] for row in rows]


def test_a_big_record_after_short_lines_of_the_same_record(project, tmp_path):
    """The record is short on its first lines and passes BIG on a later one."""
    big = "start\n" * 10 + big_text()
    path = tmp_path / "mid.csv"
    write_csv(path, [["before", "a"], [big, "a"], ["after", "a"]])
    import_dataset(project, path, mapping={"text": "text"})
    assert texts(project) == ["before", big, "after"]


def test_a_big_tsv_record(project, tmp_path):
    big = big_text().replace("\t", " ") + ' "not a quote'
    path = tmp_path / "big.tsv"
    path.write_bytes(f"text\tlabel\nfirst\ta\n{big}\tb\nlast\ta\n".encode())
    import_dataset(project, path, mapping={"text": "text"})
    assert texts(project) == ["first", big, "last"]


def test_errors_in_a_big_record_name_the_file_and_line(project, tmp_path):
    big = big_text().replace('"', "")
    path = tmp_path / "open.csv"
    path.write_bytes(f'text,label\nok,a\n"{big}\nmore,a\n'.encode())
    assert "never closed" in str(import_refused(project, path, 3, ()))
    path = tmp_path / "after.csv"
    path.write_bytes(f'text,label\nok,a\nok,b\n"{big}"x,a\n'.encode())
    assert "broken quoting" in str(import_refused(project, path, 4, ()))
    path = tmp_path / "width.csv"
    path.write_bytes(f'text,label\nok,a\n"{big}",a,extra\n'.encode())
    assert "3 fields" in str(import_refused(project, path, 3, ()))
    path = tmp_path / "latin.csv"
    path.write_bytes(b'text,label\nok,a\n"' + b"x\n" * 600_000 + b'caf\xe9",a\n')
    assert "not valid UTF-8" in str(import_refused(project, path, 600_003, ()))
    path = tmp_path / "nul.csv"
    path.write_bytes(b'text,label\nok,a\n"' + b"x\n" * 600_000 + b'\x00",a\n')
    assert "NUL" in str(import_refused(project, path, 600_003, ()))


def test_the_field_cap_holds_on_the_big_path(project, tmp_path):
    """Two lines of 1.5 MB in one quoted field: each line fits 2 MB, the row does not."""
    half = big_text(3 << 19)
    path = tmp_path / "capped.csv"
    write_csv(path, [["ok", "a"], ["first\n" + half + "\n" + half, "a"]])
    assert "row is longer" in str(import_refused(project, path, 3, (), max_field=2 << 20))
    assert import_dataset(project, path, mapping={"text": "text"}, max_field=4 << 20).rows == 2


def test_a_neutralised_big_cell_is_restored(project, tmp_path):
    big = "=" + big_text()
    path = tmp_path / "neutral.csv"
    write_csv(path, [["'" + big, "'=x"]], header=f"text,label,{NEUTRALISED_COLUMN}")
    path.write_bytes(path.read_bytes().replace(b'"=x"\n', b'"=x",\n'))
    path.write_bytes(path.read_bytes().replace(b'"\'=x"\n', b'"\'=x",\n'))
    import_dataset(project, path, mapping={"text": "text"})
    assert texts(project) == [big]


def test_a_header_over_big_is_read_too(project, tmp_path):
    long_name = "y" * (csvrecord.BIG + 10)
    path = tmp_path / "header.csv"
    path.write_bytes(f'text,"{long_name}"\r\nfirst,1\r\nsecond,2\r\n'.encode())
    import_dataset(project, path, mapping={"text": "text"})
    assert texts(project) == ["first", "second"]


@pytest.mark.parametrize("labelled", [False, True])
def test_a_long_text_is_stored_as_text(project, tmp_path, labelled):
    """Over longtext.LONG_TEXT characters a text is bound as UTF-8 bytes (io.longtext) and
    cast back: the column holds TEXT, equal to the file's, with or without labels."""
    long = "疾病 and ASCII, é. " * 70_000
    path = tmp_path / "long.jsonl"
    records = [{"text": "short", "label": "a"}, {"text": long, "label": "b"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    options = {"label_column": "label"} if labelled else {}
    import_dataset(project, path, mapping={"text": "text"}, **options)
    assert texts(project) == ["short", long]
    assert rows(project, "SELECT typeof(text) FROM datapoint") == [("text",), ("text",)]
    if labelled:
        assert values(project) == ["a", "b"]
