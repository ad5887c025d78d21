"""A workbook, Parquet or Arrow file with columns and no rows holds no records, and says so as a
CSV of a header alone does; it said "no column is mapped to 'text'" of a file whose header has
a text column (red team, session 6)."""

from __future__ import annotations

import pytest

from app.core.errors import DataError
from app.core.io.importer import import_dataset


def _xlsx(path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["text", "label"])
    book.save(path)


def _parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": pa.array([], pa.string())}), path)


def _csv(path):
    path.write_text("text,label\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "write"), [("h.xlsx", _xlsx), ("h.parquet", _parquet), ("h.csv", _csv)]
)
def test_a_header_alone_holds_no_records(make_project, tmp_path, name, write):
    path = tmp_path / name
    write(path)
    project = make_project()
    with pytest.raises(DataError, match=r"holds no records \(only a header, or nothing\)") as err:
        import_dataset(project, path)
    assert name in str(err.value)
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM dataset").scalar() == 0
