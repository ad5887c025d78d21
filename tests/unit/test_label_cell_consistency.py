"""The same label, written in different tabular formats, meets the same checks (session 7's
cross-format red team): a label cell holding a string of JSON (CSV, TSV, xlsx, Parquet, or a
JSON Lines string) goes through the strict decoder a JSON Lines record does."""

from __future__ import annotations

import json

import pytest

from app.core.io.importer import import_dataset
from tests.unit.helpers import import_refused

TEXT = "heart attack"

# (name, cell, task type, words of the message). Each got past plain json.loads: a
# traceback (RecursionError, UnicodeEncodeError when stored, ValueError) or NaN taken in.
HOSTILE = [
    ("deep", "[" * 5000 + "]" * 5000, "spans", ["label cell", "nested more than 100"]),
    ("surrogate", '["ham\\ud800"]', "multilabel", ["label cell", "lone UTF-16 surrogate"]),
    ("surrogate1", '["ham\\ud800"]', "classification", ["label cell", "surrogate"]),
    ("bigint", "[[0, 5" + "0" * 5000 + ', "D"]]', "spans", ["label cell", "more digits"]),
    ("nan", '[{"start": 0, "end": 5, "label": "D", "score": NaN}]', "spans", ["NaN"]),
    ("inf", '{"choices": ["ham"], "score": Infinity}', "classification", ["Infinity"]),
]


def cell_file(tmp_path, fmt: str, cell, text: str = TEXT, name: str = "labels"):
    """One row of `text` and a label `cell`: a string is written as it is (in JSON Lines, as
    a string value); any other value as its JSON (in JSON Lines, as the native value)."""
    path = tmp_path / f"{name}.{fmt}"
    if fmt == "jsonl":
        path.write_text(json.dumps({"text": text, "label": cell}) + "\n", "utf-8")
        return path
    if not isinstance(cell, str):
        cell = json.dumps(cell, ensure_ascii=False)
    if fmt == "tsv":
        path.write_text(f"text\tlabel\n{text}\t{cell}\n", "utf-8")
    else:
        quoted = cell.replace('"', '""')
        path.write_text(f'text,label\n{text},"{quoted}"\n', "utf-8")
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
@pytest.mark.parametrize(("name", "cell", "task_type", "words"), HOSTILE)
def test_a_hostile_json_label_cell_is_refused_in_every_format(
    make_project, tmp_path, fmt, name, cell, task_type, words
):
    labels = ("D",) if task_type == "spans" else ("ham", "spam")
    project = make_project(task_type, labels=labels)
    line = 1 if fmt == "jsonl" else 2
    import_refused(project, cell_file(tmp_path, fmt, cell), line, words, label_column="label")


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_a_spans_own_text_is_checked_in_every_tabular_format(make_project, tmp_path, fmt):
    """A span's own `text` must be what its offsets cut, whether the cell is a JSON list
    (JSON Lines) or a string of JSON (CSV, TSV): it was checked in JSON Lines only."""
    project = make_project("spans", labels=("PER",))
    text = "Zoë met Bob 🙂 and Ann"
    # offsets counted in UTF-16 code units, as JavaScript counts them: "Ann" is 19-22 there
    shifted = [{"start": 19, "end": 22, "label": "PER", "text": "Ann"}]
    line = 1 if fmt == "jsonl" else 2
    path = cell_file(tmp_path, fmt, shifted, text, "shifted")
    import_refused(project, path, line, ["UTF-16"], label_column="label")
    right = [{"start": 18, "end": 21, "label": "PER", "text": "Ann"}]
    path = cell_file(tmp_path, fmt, right, text, "right")
    assert import_dataset(project, path, label_column="label").annotations == 1


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_a_classification_cell_that_is_not_json_stays_a_label(make_project, tmp_path, fmt):
    """ "[draft]" is a label that looks like JSON, not an error (as before)."""
    project = make_project(labels=("[draft]",))
    path = cell_file(tmp_path, fmt, "[draft]")
    assert import_dataset(project, path, label_column="label").annotations == 1


def test_a_blank_spreadsheet_cell_is_an_empty_string_as_in_its_csv(make_project, tmp_path):
    """A sheet with a blank text cell and a blank context cell imports as its CSV does: the
    row with no text is skipped as empty, the blank context is "" (xlsx refused the first as
    "the text is null" and stored the second as null)."""
    from openpyxl import Workbook

    from tests.unit.helpers import rows

    sheet_rows = [["text", "note", "label"], ["fever", None, "ham"], [None, "bed 4", "ham"]]
    book = Workbook()
    for row in sheet_rows:
        book.active.append(row)
    book.save(tmp_path / "ward.xlsx")
    lines = [",".join(cell or "" for cell in row) for row in sheet_rows]
    (tmp_path / "ward.csv").write_text("\n".join(lines) + "\n", "utf-8")
    outcomes = []
    for name in ("ward.csv", "ward.xlsx"):
        project = make_project(inputs=["text", "note"], annotated_input="text")
        report = import_dataset(
            project,
            tmp_path / name,
            mapping={"text": "text", "note": "note"},
            label_column="label",
        )
        stored = rows(project, "SELECT text, context FROM datapoint")
        outcomes.append((report.rows, report.empty, report.annotations, stored))
    assert outcomes[0] == outcomes[1] == (1, 1, 1, [("fever", '{"note": ""}')])


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "arrow"])
def test_a_column_named_twice_is_refused_in_every_tabular_format(make_project, tmp_path, fmt):
    """Which "label" would --label-column mean? Parquet and Arrow took the last one without a
    word (the second annotator's labels stored as the first's); CSV and xlsx refused."""
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq
    from openpyxl import Workbook

    path = tmp_path / f"twice.{fmt}"
    header, row = ["text", "label", "label"], ["fever", "ham", "spam"]
    if fmt == "csv":
        path.write_text(",".join(header) + "\n" + ",".join(row) + "\n", "utf-8")
    elif fmt == "xlsx":
        book = Workbook()
        book.active.append(header)
        book.active.append(row)
        book.save(path)
    else:
        table = pa.Table.from_arrays([pa.array([cell]) for cell in row], names=header)
        (pq.write_table if fmt == "parquet" else feather.write_feather)(table, path)
    line = None if fmt in ("parquet", "arrow") else 1
    import_refused(make_project(), path, line, ["'label' appears twice"], label_column="label")


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
@pytest.mark.parametrize("column", ["text", "note", "label"])
def test_a_float_nan_cell_is_refused_as_a_json_lines_nan_is(make_project, tmp_path, fmt, column):
    """Polars writes a NaN float as NaN (not null): it was stored as the text "nan", the
    label "nan" (with --add-labels), or a bare NaN in the stored context, which is not JSON
    (a JSON Lines record holding NaN is refused)."""
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    from tests.unit.helpers import snapshot

    columns = {"text": ["fever", "cough"], "note": ["bed 1", "bed 2"], "label": ["ham", "ham"]}
    columns[column] = [1.5, float("nan")]
    if column == "note":
        columns[column] = [[1.5], [float("inf")]]  # nested, too
    path = tmp_path / f"floats.{fmt}"
    (pq.write_table if fmt == "parquet" else feather.write_feather)(pa.table(columns), path)
    project = make_project(inputs=["text", "note"], annotated_input="text")
    before = snapshot(project)
    words = ["NaN or Infinity", {"text": "the text", "note": "'note'", "label": "label"}[column]]
    import_refused(
        project,
        path,
        2,
        words,
        mapping={"text": "text", "note": "note"},
        label_column="label",
        add_labels=True,
    )
    assert snapshot(project) == before
