"""Labels made elsewhere by several people: each person's file imported with --annotator and
--skip-duplicates adds their labels to the datapoints already there."""

from __future__ import annotations

from sqlalchemy import text

from app.core.io.importer import import_dataset
from tests.fixtures_data import write_csv


def _rows(project, sql: str):
    with project.engine.connect() as conn:
        return conn.execute(text(sql)).all()


def test_skipped_duplicates_attach_their_label_per_annotator(make_project, tmp_path):
    project = make_project()
    texts = ["first text", "second text", "third text"]
    plain = tmp_path / "plain.csv"
    write_csv(plain, [["text"], *[[t] for t in texts]])
    import_dataset(project, plain)
    ana = tmp_path / "ana.csv"
    write_csv(ana, [["text", "label"], ["first text", "ham"], ["second text", "spam"]])
    report = import_dataset(project, ana, label_column="label", annotator="ana", duplicates="skip")
    assert (report.rows, report.skipped, report.attached) == (0, 2, 2)
    assert "2 labels added" in report.summary()
    again = tmp_path / "ana_again.csv"  # ana's second opinion never overwrites her first
    write_csv(again, [["text", "label"], ["first text", "spam"], ["third text", "ham"]])
    report = import_dataset(
        project, again, label_column="label", annotator="ana", duplicates="skip"
    )
    assert report.attached == 1
    got = _rows(
        project,
        "SELECT d.text, a.value, n.name, d.status FROM annotation a"
        " JOIN datapoint d ON d.id = a.datapoint_id JOIN annotator n ON n.id = a.annotator_id"
        " ORDER BY d.id",
    )
    assert got == [
        ("first text", '"ham"', "ana", 1),
        ("second text", '"spam"', "ana", 1),
        ("third text", '"ham"', "ana", 1),
    ]
    assert _rows(project, "SELECT count(*) FROM datapoint")[0][0] == 3
    labels = _rows(project, "SELECT label FROM annotation_label ORDER BY datapoint_id")
    assert [row[0] for row in labels] == ["ham", "spam", "ham"]
