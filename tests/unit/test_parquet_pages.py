"""A Parquet column of long texts read page by page (app.core.io.formats.parquet_pages) gives
exactly the rows Arrow's reader gives, for every encoding, page version and codec a writer
uses, and a corrupt page is a clear error. BIG_PAGE is lowered so that short files take the
page path; memory itself is measured by bench/import_memory.py."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.core.errors import DataError
from app.core.io import longtext
from app.core.io.formats import parquet, parquet_pages
from app.core.io.formats.base import ReadOptions
from app.core.io.importer import import_dataset
from app.core.io.longtext import LongText
from tests.unit.helpers import import_refused, texts

LONG = " ".join(f"疾病{i}" if i % 7 == 0 else f"Étude{i}" for i in range(2000))
CODECS = ["none", "snappy", "gzip", "zstd", "brotli", "lz4"]


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(parquet_pages, "BIG_PAGE", 4_000)
    monkeypatch.setattr(longtext, "LONG_TEXT", 1_000)


@pytest.fixture
def paged(monkeypatch):
    """The columns each row group read page by page, as planned."""
    real = parquet_pages.plan
    found: list[list[str]] = []

    def spy(*args):
        found.append(real(*args))
        return found[-1]

    monkeypatch.setattr(parquet_pages, "plan", spy)
    return found


def table(rows: int = 5000, long_at: tuple[int, ...] = (3, 4000)) -> pa.Table:
    """Texts (nulls, empties, a repeated one, long ones), labels, ids and a nested column."""
    text = []
    for i in range(rows):
        if i in long_at:
            text.append(f"{i} {LONG}")
        elif i % 11 == 0:
            text.append(None)
        elif i % 13 == 0:
            text.append("")
        else:
            text.append(f"row {i % 50} ü")
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "text": pa.array(text, pa.string()),
            "label": pa.array([i % 2 for i in range(rows)], pa.int64()),
            "tags": pa.array([[f"t{i % 3}"] for i in range(rows)]),
        }
    )


def arrow_rows(path, **options):
    """The rows as Arrow's reader gives them (no page is read by parquet_pages)."""
    real = parquet_pages.plan
    try:
        parquet_pages.plan = lambda *args: []
        return list(parquet.rows(path, ReadOptions("classification", **options)))
    finally:
        parquet_pages.plan = real


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("dictionary", [True, False])
@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("page", [2048, 1 << 20])  # many pages, or a few of many values
def test_pages_give_the_rows_arrow_gives(tmp_path, paged, codec, dictionary, version, page):
    path = tmp_path / "t.parquet"
    pq.write_table(
        table(),
        path,
        compression=codec,
        use_dictionary=dictionary,
        data_page_version=version,
        row_group_size=3000,  # two row groups; batches cut inside each
        data_page_size=page,
    )
    got = list(parquet.rows(path, ReadOptions("classification")))
    # Arrow's "lz4" is Hadoop's framing, read by Arrow alone
    assert paged == ([[], []] if codec == "lz4" else [["text"], ["text"]])
    assert got == arrow_rows(path)
    assert got[3][1]["text"] == f"3 {LONG}" and got[11][1]["text"] is None


def test_a_long_text_is_a_view_of_its_page(tmp_path, paged):
    path = tmp_path / "t.parquet"
    pq.write_table(table(long_at=(0,)), path)
    got = list(parquet.rows(path, ReadOptions("classification", long_bytes=True)))
    first = got[0][1]["text"]
    assert first.__class__ is LongText and first.data.__class__ is memoryview
    assert first.decode() == f"0 {LONG}" and got[1][1]["text"] == "row 1 ü"


def test_a_required_column_and_a_text_column_alone(tmp_path, paged):
    schema = pa.schema([pa.field("text", pa.string(), nullable=False)])
    path = tmp_path / "t.parquet"
    rows = [LONG, "b", LONG + "c"] * 900
    pq.write_table(pa.table({"text": rows}, schema=schema), path, row_group_size=1000)
    got = [row["text"] for _line, row in parquet.rows(path, ReadOptions("classification"))]
    assert paged == [["text"]] * 3 and got == rows


def test_a_long_parquet_text_is_imported_exactly(make_project, tmp_path, paged):
    project = make_project()
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["short", LONG, "last"], "n": [1, 2, 3]}), path)
    import_dataset(project, path, mapping={"text": "text"})
    assert paged == [["text"]] and texts(project) == ["short", LONG, "last"]


def test_classlabel_names_and_the_field_cap_hold_on_the_page_path(make_project, tmp_path, paged):
    path = tmp_path / "t.parquet"
    features = {"label": {"_type": "ClassLabel", "names": ["ham", "spam"]}}
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    data = pa.table({"text": ["a", LONG], "label": [0, 1]}).replace_schema_metadata(meta)
    pq.write_table(data, path)
    got = [row for _line, row in parquet.rows(path, ReadOptions("classification"))]
    assert got == [{"text": "a", "label": "ham"}, {"text": LONG, "label": "spam"}]
    with pytest.raises(DataError, match="line 2: a cell of 'text' holds"):
        list(parquet.rows(path, ReadOptions("classification", max_field=1000)))


def test_text_that_is_not_utf8_is_refused_naming_its_row(tmp_path, paged):
    path = tmp_path / "t.parquet"
    bad = pa.array([b"ok", LONG.encode() + b"\xff"], pa.binary()).cast(pa.string(), safe=False)
    pq.write_table(pa.table({"text": bad}), path, use_dictionary=False)
    with pytest.raises(DataError, match="line 2: a cell of 'text' is not UTF-8"):
        list(parquet.rows(path, ReadOptions("classification", long_bytes=True)))


@pytest.mark.parametrize("codec", ["none", "snappy"])
def test_a_corrupt_page_is_a_clear_error(make_project, tmp_path, codec):
    project = make_project()
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["a", LONG]}), path, compression=codec, use_dictionary=False)
    data = bytearray(path.read_bytes())
    if codec == "none":  # the long value's length says it runs past its page
        at = data.find(LONG[:20].encode())
        data[at - 4 : at] = b"\xf0\xff\xff\x0f"
    else:  # the packed page is damaged
        at = len(data) // 2
        data[at : at + 400] = b"\x00" * 400
    path.write_bytes(bytes(data))
    import_refused(project, path, None, ["corrupt Parquet page"], mapping={"text": "text"})


def test_page_headers_are_read_from_thrift(tmp_path):
    """Every page header of a file written by Arrow decodes, its sizes adding up to the
    chunk's (the same walk plan makes)."""
    path = tmp_path / "t.parquet"
    pq.write_table(table(), path, data_page_size=2048, compression="zstd")
    meta = pq.ParquetFile(path).metadata
    with path.open("rb") as handle:
        for group in range(meta.num_row_groups):
            for index in range(meta.num_columns):
                chunk = meta.row_group(group).column(index)
                offset = parquet_pages._start(chunk)
                end = offset + chunk.total_compressed_size
                kinds = []
                while offset < end:
                    src = parquet_pages._Input(handle, offset)
                    header = parquet_pages._header(src)
                    kinds.append(header[1])
                    offset = src.end() + header[3]
                assert offset == end
                assert kinds[0] in (0, 2) and set(kinds) <= {0, 2, 3}


def test_a_chunk_of_too_many_pages_is_left_to_arrow(tmp_path, paged, monkeypatch):
    monkeypatch.setattr(parquet_pages, "MAX_PAGES", 5)
    path = tmp_path / "t.parquet"
    pq.write_table(table(), path, data_page_size=2048, use_dictionary=False)
    got = list(parquet.rows(path, ReadOptions("classification")))
    assert paged == [[]] and got == arrow_rows(path)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (b"\x1c" * 40, "nested too deeply"),
        (b"\x19\xfc" + b"\xff" * 10 + b"\x01", "varint of over 64 bits"),
        (b"\x15\x02\x15", "ends inside a page header"),
        (b"\x1d", "unknown Thrift type"),
        (b"\x15\x00\x00", "without its type or sizes"),
    ],
)
def test_a_hostile_page_header_is_corrupt_not_a_crash(header, problem):
    import io

    with pytest.raises(parquet_pages.Corrupt, match=problem):
        parquet_pages._header(parquet_pages._Input(io.BytesIO(header), 0))


@pytest.mark.parametrize("dictionary", [True, False])
def test_long_runs_of_levels_and_indexes(tmp_path, paged, dictionary):
    """Runs of over 63 (a run header of two bytes and more): no null in 3,000 rows, and one
    text repeated 1,000 times."""
    rows = ["same"] * 1000 + [f"{i}" for i in range(1999)] + [LONG]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": rows}), path, use_dictionary=dictionary)
    got = [row["text"] for _line, row in parquet.rows(path, ReadOptions("classification"))]
    assert paged == [["text"]] and got == rows
