"""The import summary in words (issue #16): plurals, separators, no rate for an instant import,
and each duplicate named with the line it repeats."""

from __future__ import annotations

from app.cli.data import demo_next_steps
from app.core.io.importer import ImportReport, import_dataset


def test_summary_plurals_and_separators():
    one = ImportReport(1, "u", "a.csv", rows=1, annotations=1, seconds=0.01)
    assert one.summary() == "Imported 1 datapoint from a.csv; 1 annotation in under 0.1 s."
    many = ImportReport(1, "u", "b.tsv", rows=5574, seconds=2.0)
    assert many.summary() == "Imported 5,574 datapoints from b.tsv in 2.0 s (2,787 rows/s)."


def test_no_rate_for_an_instant_import(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "d.csv"
    path.write_text("text\nfirst\nsecond\nfirst\nsecond\nthird\n", encoding="utf-8")
    report = import_dataset(project, path)
    text = report.summary()
    assert "rows/s" not in text
    assert "2 exact duplicate texts (kept)" in text
    assert "line 4: duplicate of line 2; line 5: duplicate of line 3." in text
    again = tmp_path / "e.csv"
    again.write_text("text\nthird\nnew\n", encoding="utf-8")
    later = import_dataset(project, again, duplicates="skip").summary()
    assert "line 2: duplicate of a text already in the project" in later


def test_demo_says_what_to_do_next(tmp_path):
    paths = [tmp_path / "spam.tagloop", tmp_path / "diseases.tagloop"]
    text = demo_next_steps(paths)
    assert "2 demo projects are ready" in text
    assert f"tagloop gui {paths[0]}" in text and "make run" in text
