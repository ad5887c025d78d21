"""Project report figures on a hand-built three-annotator project, and the HTML report."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sklearn.metrics import cohen_kappa_score

from app.core.annotation.commands import AddFlag, AnnotationState, SetAnnotations
from app.core.errors import Cancelled
from app.core.ids import new_uuid
from app.core.io.importer import import_dataset
from app.core.project.annotators import ensure_annotator
from app.core.quality.agreement_report import project_agreement
from app.core.report.figures import IDLE_CAP_MS, project_report, report_json
from app.core.report.html import kappa_colour, render_html, write_html

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)

# Per annotator: {datapoint: (value or status, seconds spent, updated_at)}.
ANN = {
    1: ("a", 10, "2024-03-01T09:00:00.000+00:00"),
    2: ("a", 20, "2024-03-01T09:10:00.000+00:00"),
    3: ("b", 30, "2024-03-01T09:20:00.000+00:00"),
    4: ("b", 40, "2024-03-02T10:00:00.000+00:00"),
    5: ("a", 50, "2024-03-02T10:10:00.000+00:00"),
    6: ("c", 60, "2024-03-02T10:20:00.000+00:00"),
    7: ("skipped", 5, "2024-03-02T10:30:00.000+00:00"),
}
BOB = {
    1: ("a", 30, "2024-03-02T08:00:00.000+00:00"),
    2: ("b", 30, "2024-03-02T08:01:00.000+00:00"),
    3: ("b", 30, "2024-03-02T08:02:00.000+00:00"),
    4: ("b", 30, "2024-03-02T08:03:00.000+00:00"),
    5: ("a", 30, "2024-03-02T08:04:00.000+00:00"),
    6: ("c", 3600, "2024-03-02T09:04:00.000+00:00"),  # left open for an hour: capped
}
CAT = {
    1: ("a", 0, "2024-03-03T08:00:00.000+00:00"),  # imported labels: no time measured
    2: ("a", 0, "2024-03-03T08:00:00.000+00:00"),
    3: ("b", 0, "2024-03-03T08:00:00.000+00:00"),
    4: ("c", 0, "2024-03-03T08:00:00.000+00:00"),
    5: ("b", 120, "2024-03-03T23:30:00.000-02:00"),  # 01:30 UTC on the 4th
    8: ("draft", 15, "2024-03-03T09:00:00.000+00:00"),
}
TEAM = {"ann": ANN, "bob": BOB, "cat": CAT}


def _annotator(project, name):
    with project.engine.begin() as conn:
        return ensure_annotator(conn, new_uuid(), name, "annotator")


def _apply(project, who, work):
    changes = []
    for dp, (value, seconds, _at) in work.items():
        if value in ("skipped", "discarded"):
            state = AnnotationState(None, value, seconds * 1000)
        elif value == "draft":
            state = AnnotationState("a", "draft", seconds * 1000)
        else:
            state = AnnotationState(value, "complete", seconds * 1000)
        changes.append((dp, state))
    SetAnnotations(who, tuple(changes)).apply(project)
    with project.engine.begin() as conn:
        for dp, (_value, _seconds, at) in work.items():
            conn.exec_driver_sql(
                "UPDATE annotation SET created_at = ?, updated_at = ?"
                " WHERE annotator_id = ? AND datapoint_id = ?",
                (at, at, who, dp),
            )


def _items(make_project, tmp_path, n, task_type="classification", labels=("a", "b", "c")):
    project = make_project(task_type, labels=labels)
    path = tmp_path / f"items{n}.txt"
    path.write_text("".join(f"item number {i} with some text\n" for i in range(n)))
    import_dataset(project, path)
    return project


@pytest.fixture
def three(make_project, tmp_path):
    project = _items(make_project, tmp_path, 10)
    ids = {}
    for name, work in TEAM.items():
        ids[name] = _annotator(project, name)
        _apply(project, ids[name], work)
    AddFlag(3, ids["ann"], "guideline unclear", created_at="2024-03-02T11:00:00.000+00:00").apply(
        project
    )
    AddFlag(5, ids["bob"], "typo in text", created_at="2024-03-02T12:00:00.000+00:00").apply(
        project
    )
    AddFlag(6, ids["cat"], "old question", created_at="2024-03-01T12:00:00.000+00:00").apply(
        project
    )
    with project.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE flag SET resolved_at = '2024-03-05T00:00:00.000+00:00'"
            " WHERE reason = 'old question'"
        )
        conn.exec_driver_sql("UPDATE datapoint SET flagged = 0 WHERE id = 6")  # as derived
    return project


def _strict(report):
    return json.loads(json.dumps(report.as_dict(), allow_nan=False))


def test_report_progress_counts_and_days(three):
    report = _strict(project_report(three, now=NOW))
    assert report["generated_at"] == "2024-03-10T12:00:00+00:00"
    project = report["project"]
    assert project["task_type"] == "classification"
    assert [x["name"] for x in project["labels"]] == ["a", "b", "c"]
    assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", x["colour"]) for x in project["labels"])
    assert project["counts"] == {
        "datapoints": 10,
        "datasets": 1,
        "annotations": 18,  # finished: 7 + 6 + 5
        "complete_annotations": 17,
        "draft_annotations": 1,
        "annotators": 3,
        "labeled_datapoints": 6,
        "flagged_datapoints": 2,
    }

    progress = report["progress"]
    assert progress["by_annotator"] == {
        "ann": {"complete": 6, "skipped": 1, "discarded": 0, "draft": 0},
        "bob": {"complete": 6, "skipped": 0, "discarded": 0, "draft": 0},
        "cat": {"complete": 5, "skipped": 0, "discarded": 0, "draft": 1},
    }
    # 1-6 labeled, 7 skipped, 8 has a draft only, 9 and 10 untouched
    assert progress["by_status"] == {
        "unlabeled": 3,
        "labeled": 6,
        "skipped": 1,
        "discarded": 0,
        "flagged": 2,
    }
    # complete annotations by UTC day of updated_at; skips and drafts do not count
    assert progress["over_time"] == [
        {"day": "2024-03-01", "annotator": "ann", "completed": 3, "cumulative": 3},
        {"day": "2024-03-02", "annotator": "ann", "completed": 3, "cumulative": 6},
        {"day": "2024-03-02", "annotator": "bob", "completed": 6, "cumulative": 6},
        {"day": "2024-03-03", "annotator": "cat", "completed": 4, "cumulative": 4},
        {"day": "2024-03-04", "annotator": "cat", "completed": 1, "cumulative": 5},
    ]


def test_report_throughput_uses_measured_time_with_an_idle_cap(three):
    throughput = project_report(three).as_dict()["throughput"]
    assert IDLE_CAP_MS == 600_000
    # ann: 7 finished items (a skip is work too), 215 s in all, median of 5..60 s is 30 s
    assert throughput["ann"] == {
        "items": 7,
        "timed_items": 7,
        "active_hours": round(215 / 3600, 4),
        "measured_hours": round(215 / 3600, 4),
        "items_per_hour": round(7 * 3600 / 215, 2),
        "median_seconds_per_item": 30.0,
    }
    assert throughput["ann"]["items_per_hour"] == 117.21
    # bob: the hour-long item counts 10 minutes: 5 x 30 s + 600 s = 750 s -> 28.8 items/h;
    # the median is of the times as measured
    assert throughput["bob"]["items_per_hour"] == 28.8
    assert throughput["bob"]["median_seconds_per_item"] == 30.0
    assert throughput["bob"]["active_hours"] == round(750 / 3600, 4)
    assert throughput["bob"]["measured_hours"] == round(3750 / 3600, 4)
    # cat: four imported labels without time, one item of 2 minutes; the draft is not counted
    assert throughput["cat"] == {
        "items": 5,
        "timed_items": 1,
        "active_hours": round(120 / 3600, 4),
        "measured_hours": round(120 / 3600, 4),
        "items_per_hour": 30.0,
        "median_seconds_per_item": 120.0,
    }


def test_report_median_of_an_even_count_is_the_mean_of_the_middle_two(make_project, tmp_path):
    project = _items(make_project, tmp_path, 4)
    who = _annotator(project, "solo")
    _apply(
        project,
        who,
        {
            dp: ("a", s, "2024-03-01T09:00:00.000+00:00")
            for dp, s in zip((1, 2, 3, 4), (4, 1, 9, 3), strict=True)
        },
    )
    throughput = project_report(project).as_dict()["throughput"]["solo"]
    assert throughput["median_seconds_per_item"] == 3.5
    assert throughput["items_per_hour"] == round(4 * 3600 / 17, 2)


def test_report_label_distribution(three):
    report = project_report(three)
    assert report.label_distribution == {"a": 7, "b": 7, "c": 3}
    assert report.label_distribution_by_annotator == {
        "ann": {"a": 3, "b": 2, "c": 1},
        "bob": {"a": 2, "b": 3, "c": 1},
        "cat": {"a": 2, "b": 2, "c": 1},
    }


def test_report_label_distribution_multilabel_and_spans(make_project, tmp_path):
    multi = _items(make_project, tmp_path, 3, "multilabel", ("x", "y", "z"))
    who = _annotator(multi, "ann")
    SetAnnotations(
        who,
        (
            (1, AnnotationState(["x", "y"], "complete")),
            (2, AnnotationState(["x"], "complete")),
            (3, AnnotationState([], "complete")),
        ),
    ).apply(multi)
    assert project_report(multi).as_dict()["label_distribution"] == {"x": 2, "y": 1, "z": 0}

    spans = _items(make_project, tmp_path, 2, "spans", ("PER", "LOC"))
    who = _annotator(spans, "ann")

    def s(start, end, label):
        return {"start": start, "end": end, "label": label}

    SetAnnotations(
        who,
        (
            (1, AnnotationState([s(0, 4, "PER"), s(5, 11, "PER"), s(12, 14, "LOC")], "complete")),
            (2, AnnotationState([s(0, 4, "PER")], "complete")),
        ),
    ).apply(spans)
    report = _strict(project_report(spans))
    assert report["label_distribution"] == {"PER": 3, "LOC": 1}  # every span counts
    assert "spans" in report["agreement"]


def test_report_agreement_is_project_agreement_plus_a_heat_map(three):
    report = _strict(project_report(three))
    agreement = report["agreement"]
    expected = json.loads(json.dumps(project_agreement(three), allow_nan=False))
    assert {k: v for k, v in agreement.items() if k != "heatmap"} == expected

    heat = agreement["heatmap"]
    assert heat["annotators"] == ["ann", "bob", "cat"]
    kappa, items = heat["kappa"], heat["items"]
    for i in range(3):
        assert kappa[i][i] is None and items[i][i] is None
        for j in range(3):
            assert kappa[i][j] == kappa[j][i]
            assert items[i][j] == items[j][i]
    # ann and bob share items 1-6; cat shares 1-5 with each
    assert items[0][1] == 6 and items[0][2] == 5 and items[1][2] == 5
    assert kappa[0][1] == pytest.approx(
        cohen_kappa_score(["a", "a", "b", "b", "a", "c"], ["a", "b", "b", "b", "a", "c"])
    )
    assert kappa[1][2] == pytest.approx(
        cohen_kappa_score(["a", "b", "b", "b", "a"], ["a", "a", "b", "c", "b"])
    )
    assert set(heat["per_label"]) == {"a", "b", "c"}
    for label, matrix in heat["per_label"].items():
        pairs = agreement["per_label"][label]["pairwise_cohen_kappa"]
        assert matrix[0][1] == matrix[1][0] == next(p["kappa"] for p in pairs if p["b"] == "bob")
        assert all(matrix[i][i] is None for i in range(3))
    # what `tagloop report --json` must carry
    overall = agreement["overall"]
    assert {"krippendorff_alpha", "fleiss_kappa", "pairwise_cohen_kappa"} <= set(overall)
    assert {"a", "b", "kappa", "items"} <= set(overall["pairwise_cohen_kappa"][0])


def test_report_open_issues_and_absent_parts(three):
    report = project_report(three)
    issues = report.as_dict()["open_issues"]
    assert issues["flags_open"] == 2
    assert issues["flags_resolved"] == 1
    assert issues["flags"] == [  # newest first; the resolved one is not listed
        {
            "datapoint_id": 5,
            "reason": "typo in text",
            "by": "bob",
            "at": "2024-03-02T12:00:00.000+00:00",
        },
        {
            "datapoint_id": 3,
            "reason": "guideline unclear",
            "by": "ann",
            "at": "2024-03-02T11:00:00.000+00:00",
        },
    ]
    # no gold items and no review workflow yet: those parts are absent, not empty
    assert "gold" not in report.as_dict() and report.gold is None
    assert "rejections" not in issues
    assert json.loads(report_json(report)) == _strict(report)


def test_report_on_an_empty_project(make_project):
    project = make_project()
    typed = project_report(project)
    report = _strict(typed)
    assert report["project"]["counts"]["datapoints"] == 0
    assert report["progress"] == {
        "by_annotator": {},
        "by_status": {"unlabeled": 0, "labeled": 0, "skipped": 0, "discarded": 0, "flagged": 0},
        "over_time": [],
    }
    assert report["throughput"] == {}
    assert report["label_distribution"] == {"ham": 0, "spam": 0}
    assert report["agreement"]["heatmap"]["annotators"] == []
    assert report["open_issues"]["flags"] == []
    html = render_html(typed)
    assert "No annotations yet" in html


def test_report_progress_and_cancel(three):
    seen = []
    project_report(three, progress=lambda done, total, message: seen.append((done, total)))
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)
    assert [d for d, _t in seen] == sorted(d for d, _t in seen)
    with pytest.raises(Cancelled):
        project_report(three, cancel=lambda: True)
    calls = []

    def cancel_later():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        project_report(three, cancel=cancel_later)


def test_duplicate_annotator_names_stay_apart(make_project, tmp_path):
    project = _items(make_project, tmp_path, 2)
    for _ in range(2):
        _apply(project, _annotator(project, "sam"), {1: ("a", 5, "2024-03-01T09:00:00.000+00:00")})
    report = project_report(project)
    names = list(report.progress.by_annotator)
    assert len(names) == 2 and all(name.startswith("sam (") for name in names)
    assert set(report.throughput) == set(names) == set(report.agreement.heatmap.annotators)


# --- HTML -----------------------------------------------------------------------------------

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def hostile(make_project, tmp_path):
    project = _items(make_project, tmp_path, 4, labels=("a", "b<script>x</script>"))
    evil = _annotator(project, HOSTILE)
    good = _annotator(project, "ok")
    at = "2024-03-01T09:00:00.000+00:00"
    _apply(project, evil, {1: ("a", 5, at), 2: ("b<script>x</script>", 5, at), 3: ("a", 5, at)})
    _apply(project, good, {1: ("a", 5, at), 2: ("a", 5, at), 3: ("a", 5, at)})
    AddFlag(1, evil, '"><svg onload=alert(2)>').apply(project)
    with project.engine.begin() as conn:  # a colour from a hostile bundle
        conn.exec_driver_sql(
            "UPDATE schema_version SET labels = replace(labels, '#E69F00',"
            " 'red/><script>alert(3)</script>')"
        )
    return project


def test_html_report_is_self_contained_and_escapes_user_text(hostile, tmp_path):
    report = project_report(hostile)
    out = tmp_path / "deep" / "report.html"
    assert write_html(report, out) == out
    page = out.read_text(encoding="utf-8")
    lowered = page.lower()
    assert page.startswith("<!DOCTYPE html>")
    for forbidden in ("http://", "https://", "<script", "<img", "<link", "@import", "url(", "src="):
        if forbidden == "src=":
            # the only src= in the page is inside the escaped annotator name
            assert lowered.count("src=") == page.count("&lt;img src=x")
        else:
            assert forbidden not in lowered, forbidden
    assert "<svg onload" not in lowered
    assert html_escape(HOSTILE) in page
    assert "&lt;script&gt;" in page  # the label
    assert "&quot;&gt;&lt;svg onload=alert(2)&gt;" in page  # the flag reason
    assert "alert(3)" not in page  # an unsafe colour is replaced, not printed
    assert page.count("<svg") >= 7  # progress, status, time, throughput, labels, heat map, alpha
    assert not list(out.parent.glob("*.part"))  # written atomically: no temporary left


def html_escape(text):
    import html

    return html.escape(text, quote=True)


def test_html_report_shows_the_figures(three, tmp_path):
    report = project_report(three)
    page = render_html(report)
    for name in ("ann", "bob", "cat"):
        assert f">{name}<" in page
    assert "117.2/h" in page and "28.8/h" in page  # throughput captions
    assert "7 (41.2%)" in page  # label a: 7 of 17
    assert "guideline unclear" in page and "old question" not in page
    kappa = report.agreement.heatmap.kappa[0][1]
    assert f"{kappa:.2f}" in page and kappa_colour(kappa) in page


def test_kappa_colours():
    assert kappa_colour(None) == "#ECEFF1"
    assert kappa_colour(-0.5) == kappa_colour(0.0) == "#D73027"
    assert kappa_colour(1.0) == "#1A9850"
    assert kappa_colour(0.4) == "#FEE08B"


def test_write_html_replaces_a_file_only_when_complete(three, tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    out.write_text("old")
    report = project_report(three)
    broken = replace(report, project=None)  # rendering fails
    with pytest.raises(AttributeError):
        write_html(broken, out)
    assert out.read_text() == "old"
    write_html(report, out)
    assert out.read_text().startswith("<!DOCTYPE html>")
