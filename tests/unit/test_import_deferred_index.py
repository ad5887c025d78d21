"""The search index is built after an import commits: pending rows, resuming, cancelling."""

from __future__ import annotations

import sqlite3

import pytest

from app.core.annotation.browse import Browser, Query
from app.core.errors import Cancelled, DataError
from app.core.io.datasets import list_datasets, remove_dataset
from app.core.io.importer import import_dataset
from app.core.storage import fts
from tests.unit.helpers import rows, snapshot, texts

LINES = [
    "Free prize call now",
    "see you at lunch",
    "call me later",
    "freedom of speech",
    "breast cancer screening today",
    "Le café est ouvert",
    "ÉCOLE fermée demain",
    "recall the general meeting",
    "gene_expression of BRCA1 genes",
    "Ελληνικά κείμενα εδώ",
]

SEARCHES = [
    "call",
    "CALL",
    "fre*",
    "gene*",
    "genes",
    "cafe",
    "Café",
    "école",
    "fermee",
    "κείμενα",
    "ΚΕΊΜΕΝΑ",
    '"breast cancer"',
    "cancer breast",
    "brca1",
    "gene_expression",
    "?!",
    "ll",
]


def _integrity(project) -> None:
    conn = sqlite3.connect(project.path)
    try:
        conn.execute("INSERT INTO datapoint_fts (datapoint_fts) VALUES ('integrity-check')")
    finally:
        conn.close()


def _write(path, lines, label=None):
    if label is None:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        body = "".join(f'"{text}",{label(i)}\n' for i, text in enumerate(lines))
        path.write_text("text,label\n" + body, encoding="utf-8")
    return path


def _results(browser, query):
    return browser.count(query), [row.id for row in browser.page(query, 0, 100)]


def test_search_finds_rows_not_yet_indexed_exactly_as_the_index_does(make_project, tmp_path):
    indexed = make_project()
    report = import_dataset(indexed, _write(tmp_path / "a.txt", LINES))
    assert report.indexed and fts.pending_count(indexed) == 0

    pending = make_project()
    report = import_dataset(pending, _write(tmp_path / "b.txt", LINES), index=False)
    assert not report.indexed
    assert fts.pending_count(pending) == len(LINES)
    assert rows(pending, "SELECT count(*) FROM datapoint_fts WHERE datapoint_fts MATCH 'call'") == [
        (0,)
    ]

    expected = {s: _results(Browser(indexed), Query(search=s)) for s in SEARCHES}
    assert expected["call"][0] == 2  # not "recall"
    assert expected["cafe"][0] == expected["Café"][0] == 1
    assert expected["κείμενα"][0] == expected["ΚΕΊΜΕΝΑ"][0] == 1
    assert expected["gene*"][0] == 2
    assert expected["gene_expression"][0] == 1
    for search, found in expected.items():
        assert _results(Browser(pending), Query(search=search)) == found, search
        sorted_query = Query(search=search, sort="status", descending=True)
        assert _results(Browser(pending), sorted_query) == _results(Browser(indexed), sorted_query)

    assert fts.index_pending(pending) == len(LINES)
    assert fts.pending_count(pending) == 0
    for search, found in expected.items():
        assert _results(Browser(pending), Query(search=search)) == found, search
    _integrity(pending)


def test_half_indexed_project_searches_both_parts(make_project, tmp_path):
    project = make_project()
    import_dataset(project, _write(tmp_path / "a.txt", LINES))
    import_dataset(project, _write(tmp_path / "b.txt", LINES), index=False)
    browser = Browser(project)
    assert browser.count(Query(search="call")) == 4
    assert browser.count(Query(search="call", dataset_id=2)) == 2
    assert [r.text for r in browser.page(Query(search="cafe"), 0, 10)] == [LINES[5]] * 2
    fts.index_pending(project)
    assert browser.count(Query(search="call")) == 4


def test_label_filter_and_search_on_pending_rows(make_project, tmp_path):
    project = make_project()
    path = _write(tmp_path / "l.csv", LINES, label=lambda i: "spam" if i % 2 == 0 else "ham")
    import_dataset(project, path, label_column="label", index=False)
    browser = Browser(project)
    query = Query(label="spam", search="call")
    assert browser.count(query) == 2
    assert [r.text for r in browser.page(query, 0, 10)] == [LINES[0], LINES[2]]
    assert browser.count(Query(label="ham", search="call")) == 0


def test_index_pending_is_cancellable_and_resumable(make_project, tmp_path):
    project = make_project()
    lines = [f"message number {i} with word{i % 7}" for i in range(25)]
    import_dataset(project, _write(tmp_path / "m.txt", lines), index=False)
    calls = []

    def cancel():
        return len(calls) >= 2  # the start, then one chunk done

    with pytest.raises(Cancelled):
        fts.index_pending(project, progress=lambda *a: calls.append(a), cancel=cancel, chunk=10)
    assert fts.pending_count(project) == 15  # the finished chunk stays committed
    assert calls[-1][:2] == (10, 25)
    assert Browser(project).count(Query(search="word3")) == 4  # 3, 10, 17, 24
    assert fts.index_pending(project, chunk=10) == 15
    assert fts.pending_count(project) == 0
    assert fts.index_pending(project) == 0  # nothing left: returns at once
    assert Browser(project).count(Query(search="word3")) == 4
    assert Browser(project).count(Query(search="message")) == 25
    _integrity(project)


def test_cancel_during_indexing_keeps_the_import(make_project, tmp_path):
    project = make_project()
    lines = [f"line {i}" for i in range(30)]
    path = _write(tmp_path / "c.txt", lines)
    state = {"indexing": False}

    def progress(done, total, message):
        state["indexing"] = state["indexing"] or message == fts.MESSAGE

    report = import_dataset(project, path, progress=progress, cancel=lambda: state["indexing"])
    assert report.rows == 30 and not report.indexed
    assert "still being built" in report.summary()
    assert texts(project) == lines
    assert Browser(project).count(Query(search="line")) == 30
    assert fts.index_pending(project) == 30


def test_removing_pending_and_indexed_datasets_keeps_the_index_sound(make_project, tmp_path):
    project = make_project()
    import_dataset(project, _write(tmp_path / "a.txt", ["alpha one", "alpha two"]))
    import_dataset(project, _write(tmp_path / "b.txt", ["beta one", "beta two"]), index=False)
    first, second = (d.id for d in list_datasets(project))
    remove_dataset(project, second)  # never indexed: nothing to remove from the index
    _integrity(project)
    remove_dataset(project, first)  # the newest rows are gone: the mark comes down with them
    _integrity(project)
    assert fts.pending(sqlite3.connect(project.path)) == (0, 0)
    import_dataset(project, _write(tmp_path / "c.txt", ["gamma one"]))
    assert Browser(project).count(Query(search="one")) == 1
    assert Browser(project).count(Query(search="alpha")) == 0
    _integrity(project)


def test_failed_or_cancelled_import_leaves_index_state_untouched(make_project, tmp_path):
    project = make_project()
    import_dataset(project, _write(tmp_path / "a.txt", ["kept row"]), index=False)
    before = snapshot(project), rows(project, "SELECT * FROM datapoint_fts_state")
    bad = tmp_path / "bad.csv"
    bad.write_text("text\n" + "fine\n" * 30_000 + '"never closed\n', encoding="utf-8")
    with pytest.raises(DataError):
        import_dataset(project, bad)
    assert (snapshot(project), rows(project, "SELECT * FROM datapoint_fts_state")) == before
    calls = []
    with pytest.raises(Cancelled):
        import_dataset(
            project, bad, progress=lambda *a: calls.append(a), cancel=lambda: bool(calls)
        )
    assert (snapshot(project), rows(project, "SELECT * FROM datapoint_fts_state")) == before
    assert Browser(project).count(Query(search="kept")) == 1


def test_skip_duplicates_within_a_large_file(make_project, tmp_path):
    project = make_project()
    import_dataset(project, _write(tmp_path / "a.txt", ["seen before"]))
    lines = [f"row {i % 30_000}" for i in range(45_000)] + ["seen before"]
    report = import_dataset(project, _write(tmp_path / "b.txt", lines), duplicates="skip")
    assert (report.rows, report.duplicates, report.skipped) == (30_000, 15_001, 15_001)
    assert report.duplicate_examples[0] == (30_001, 1)
    assert report.duplicate_examples[-1][1] == 5
    assert texts(project)[:3] == ["seen before", "row 0", "row 1"]
    assert len(texts(project)) == 30_001


def test_foreign_keys_are_back_on_after_an_import(make_project, tmp_path):
    project = make_project()
    import_dataset(project, _write(tmp_path / "a.txt", ["one"]))
    for _ in range(5):  # every pooled connection
        with project.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _indexes(project):
    return rows(
        project,
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'datapoint'"
        " ORDER BY name",
    )


def test_indexes_rebuilt_by_a_big_import_are_the_same_and_survive_a_failure(make_project, tmp_path):
    project = make_project()
    before = _indexes(project)
    assert {name for name, _ in before} >= {"ix_datapoint_id", "ix_datapoint_status"}
    bad = tmp_path / "bad.csv"
    bad.write_text("text\n" + "fine\n" * 1_000 + '"never closed\n', encoding="utf-8")
    with pytest.raises(DataError):
        import_dataset(project, bad)  # empty project: the indexes were dropped, then rolled back
    assert _indexes(project) == before
    import_dataset(project, _write(tmp_path / "a.txt", LINES))
    assert _indexes(project) == before
    plan = rows(project, "EXPLAIN QUERY PLAN SELECT id FROM datapoint WHERE status = 0")
    assert "ix_datapoint_status" in plan[0][3]
    import_dataset(project, _write(tmp_path / "b.txt", ["one more"]))  # kept in place
    assert _indexes(project) == before
    assert rows(project, "PRAGMA integrity_check") == [("ok",)]
