"""Filtering, search, sorting and counts over datapoints."""

from __future__ import annotations

import pytest

from app.core.annotation.browse import Browser, Query
from app.core.io.datasets import list_datasets, remove_dataset
from app.core.io.importer import import_dataset
from tests.unit.helpers import rows


@pytest.fixture
def project(make_project, tmp_path):
    project = make_project()
    a = tmp_path / "a.csv"
    a.write_text(
        "text,label\nFree prize call now,spam\nsee you at lunch,ham\n"
        "call me later,\nfreedom of speech,ham\nbreast cancer screening today,\n",
        encoding="utf-8",
    )
    import_dataset(project, a, label_column="label")
    b = tmp_path / "b.txt"
    b.write_text("cancer of the breast\nheart attack\n", encoding="utf-8")
    import_dataset(project, b)
    return project


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (Query(), 7),
        (Query(status="labeled"), 3),
        (Query(status="unlabeled"), 4),
        (Query(status="flagged"), 0),
        (Query(label="ham"), 2),
        (Query(search="call"), 2),
        (Query(search="fre*"), 2),
        (Query(search="CANCER"), 2),
        (Query(search='"breast cancer"'), 1),
        (Query(search="cancer breast"), 2),
        (Query(search="?!"), 0),
        (Query(search='"AND OR ( NEAR'), 0),
        (Query(label="spam", search="call"), 1),
        (Query(dataset_id=2), 2),
    ],
)
def test_counts_match_pages(project, query, expected):
    browser = Browser(project)
    assert browser.count(query) == expected
    assert len(browser.page(query, 0, 100)) == expected


def test_sorting_and_paging(project):
    browser = Browser(project)
    ids = [r.id for r in browser.page(Query(), 0, 100)]
    assert ids == sorted(ids)
    assert [r.id for r in browser.page(Query(descending=True), 0, 100)] == ids[::-1]
    statuses = [r.status for r in browser.page(Query(sort="status"), 0, 100)]
    assert statuses == ["unlabeled"] * 4 + ["labeled"] * 3
    datasets = [r.dataset for r in browser.page(Query(sort="dataset", descending=True), 0, 100)]
    assert datasets == ["b.txt"] * 2 + ["a.csv"] * 5
    assert [r.id for r in browser.page(Query(), 2, 2)] == ids[2:4]
    first = browser.page(Query(), 0, 1)[0]
    assert (first.text, first.labels, first.row) == ("Free prize call now", ["spam"], 1)


def test_status_counts(project):
    counts = Browser(project).status_counts()
    assert counts == {
        "total": 7,
        "unlabeled": 4,
        "labeled": 3,
        "skipped": 0,
        "discarded": 0,
        "flagged": 0,
    }


def test_remove_dataset_removes_everything_it_brought(project):
    from app.core.project import modelstore

    browser = Browser(project)
    dataset_a = list_datasets(project)[0].id
    # predictions have no cascade from datapoint (a derived cache): removal deletes them
    version = modelstore.save_version(project, "test", b"x", 3, {})
    every_id = [r[0] for r in rows(project, "SELECT id FROM datapoint ORDER BY id")]
    modelstore.write_predictions(project, version.id, [(i, "ham", 0.9, 0.1) for i in every_id])
    assert remove_dataset(project, dataset_a) == 5
    assert browser.count(Query()) == 2
    assert browser.count(Query(search="call")) == 0  # gone from the search index too
    assert browser.count(Query(search="heart")) == 1
    assert rows(project, "SELECT count(*) FROM annotation")[0][0] == 0
    assert rows(project, "SELECT count(*) FROM annotation_label")[0][0] == 0
    kept = [r[0] for r in rows(project, "SELECT datapoint_id FROM prediction ORDER BY 1")]
    assert kept == every_id[5:]  # only dataset b's two items keep theirs
    assert [d.source_name for d in list_datasets(project)] == ["b.txt"]
