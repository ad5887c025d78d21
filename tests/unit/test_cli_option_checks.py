"""Command-line options a careless user gets wrong (red team, session 6): each is refused with
a message naming the option or the file, never taken silently."""

from __future__ import annotations

import pytest

from app.cli.main import main as cli
from app.core.errors import DataError
from app.core.io.importer import import_dataset


@pytest.mark.parametrize(
    ("argv", "option", "value"),
    [
        (["gold", "{p}", "--accuracy", "--threshold", "nan"], "--threshold", "nan"),
        (["qualify", "{p}", "--pass", "2"], "--pass", "2"),
        (["review", "{p}", "--spot-check", "-0.5"], "--spot-check", "-0.5"),
        (["import", "{p}", "{p}", "--max-field-mb", "0"], "--max-field-mb", "0"),
    ],
)
def test_a_share_or_size_out_of_range_is_refused(make_project, capsys, argv, option, value):
    project = make_project()
    with pytest.raises(SystemExit) as stop:
        cli([a.format(p=project.path) for a in argv])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and f"not {value}" in err


def test_gold_threshold_in_range_is_taken(make_project, capsys):
    project = make_project()
    assert cli(["gold", str(project.path), "--accuracy", "--threshold", "0.7"]) == 0


def test_an_empty_annotator_is_refused_naming_the_file(make_project, tmp_path, capsys):
    project = make_project()
    data = tmp_path / "a.csv"
    data.write_text("text,label\nhello there,spam\n", encoding="utf-8")
    argv = ["import", str(project.path), str(data), "--label-column", "label", "--annotator", ""]
    assert cli(argv) != 0
    err = capsys.readouterr().err
    assert "a.csv" in err and "annotator name is blank" in err
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar() == 0


def test_arrow_is_an_export_choice_and_reads_back(make_project, tmp_path, capsys):
    project = make_project()
    data = tmp_path / "a.csv"
    data.write_text("text\nhello there\nsecond text\n", encoding="utf-8")
    import_dataset(project, data)
    out = tmp_path / "out.x"
    assert cli(["export", str(project.path), str(out), "--format", "arrow"]) == 0
    again = make_project()
    import_dataset(again, out, fmt="arrow")
    with again.engine.connect() as conn:
        texts = sorted(r[0] for r in conn.exec_driver_sql("SELECT text FROM datapoint"))
    assert texts == ["hello there", "second text"]


@pytest.mark.parametrize(
    ("option", "value", "wanted"),
    [("--sheet", "Notes", "xlsx workbook"), ("--spans-key", "sc", "spaCy DocBin")],
)
def test_an_option_of_another_format_is_refused_not_ignored(
    make_project, tmp_path, capsys, option, value, wanted
):
    project = make_project()
    data = tmp_path / "a.csv"
    data.write_text("text\nhello there\n", encoding="utf-8")
    assert cli(["import", str(project.path), str(data), option, value]) != 0
    err = capsys.readouterr().err
    assert "a.csv" in err and option in err and wanted in err and "read as csv" in err
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar() == 0


def test_predict_reads_a_file_its_suffix_does_not_name_when_told_the_format(
    make_project, tmp_path, capsys
):
    """`predict` said "give it explicitly" of a file named data.dat, and had no option to."""
    import json

    from tests.fixtures_data import sms_rows, write_csv

    project = make_project()
    labelled = tmp_path / "sms.csv"
    write_csv(labelled, [["text", "label"], *[[t, label] for t, label in sms_rows(60)]])
    import_dataset(project, labelled, label_column="label")
    project.close()
    assert cli(["train", str(project.path)]) == 0
    source = tmp_path / "data.dat"
    source.write_text("text\nwin cash now\nsee you\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert cli(["predict", str(project.path), str(source), "--output", str(out)]) != 0
    assert "data.dat: cannot tell the format from the name; give it with --format" in (
        capsys.readouterr().err
    )
    argv = ["predict", str(project.path), str(source), "--output", str(out), "--format", "csv"]
    assert cli(argv) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["text"] for line in lines] == ["win cash now", "see you"]
    assert all(line["label"] in ("spam", "ham") for line in lines)


def test_al_bench_reads_a_file_its_suffix_does_not_name_when_told_the_format(tmp_path):
    from app.ml.bench import data
    from tests.fixtures_data import sms_rows, write_csv

    source = tmp_path / "labelled.dat"
    write_csv(source, [["text", "label"], *[[t, label] for t, label in sms_rows(20)]])
    with pytest.raises(DataError, match="give it with --format"):
        data.read_examples(source, "classification")
    examples, labels = data.read_examples(source, "classification", "csv")
    assert len(examples) == 20 and labels == ["ham", "spam"]
