"""`tagloop report` pinned: the JSON, the HTML page and the terminal digest of small fixed
projects must stay byte for byte what they were when the report became typed dataclasses.

The expected files in tests/unit/data/ were generated from the dict-based report before the
change; only the project's random UUID and the generation time are normalised.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.report.figures import project_report, report_json
from app.core.report.html import render_html
from tests.unit.test_report import NOW, _annotator, _items, three  # noqa: F401
from tests.unit.test_report_quality import shop  # noqa: F401

DATA = Path(__file__).parent / "data"
STAMP = re.compile(r'"generated_at": "[^"]*"')


def _pin_times(project) -> None:
    """Stamp every annotation at NOW, so the report's days don't depend on when the test runs."""
    stamp = NOW.isoformat()
    with project.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE annotation SET created_at = ?, updated_at = ?", (stamp, stamp))


def _span(start: int, end: int, label: str) -> dict:
    return {"start": start, "end": end, "label": label}


@pytest.fixture
def spans(make_project, tmp_path):
    """Two annotators on a span project: json_each over span lists, overlap, agreement."""
    project = _items(make_project, tmp_path, 3, "spans", ("PER", "LOC"))
    ann, bob = _annotator(project, "ann"), _annotator(project, "bob")
    SetAnnotations(
        ann,
        (
            (1, AnnotationState([_span(0, 4, "PER"), _span(12, 14, "LOC")], "complete")),
            (2, AnnotationState([_span(0, 4, "PER")], "complete")),
        ),
    ).apply(project)
    SetAnnotations(
        bob,
        (
            (1, AnnotationState([_span(0, 4, "PER")], "complete")),
            (2, AnnotationState([_span(0, 4, "LOC")], "complete")),
            (3, AnnotationState([], "complete")),
        ),
    ).apply(project)
    _pin_times(project)
    return project


@pytest.fixture
def multilabel(make_project, tmp_path):
    project = _items(make_project, tmp_path, 3, "multilabel", ("x", "y", "z"))
    ann, bob = _annotator(project, "ann"), _annotator(project, "bob")
    SetAnnotations(
        ann, ((1, AnnotationState(["x", "y"], "complete")), (2, AnnotationState(["x"], "complete")))
    ).apply(project)
    SetAnnotations(
        bob, ((1, AnnotationState(["x"], "complete")), (2, AnnotationState(["z"], "complete")))
    ).apply(project)
    _pin_times(project)
    return project


def _check(name: str, project, capsys) -> None:
    expected = (DATA / f"report_{name}.json").read_text(encoding="utf-8")
    # what `tagloop report --json` prints, byte for byte (but the clock)
    assert main(["report", str(project.path), "--json"]) == 0
    printed = capsys.readouterr().out.replace(project.uuid, "PROJECT-UUID")
    assert STAMP.sub('"generated_at": "NOW"', printed) == STAMP.sub(
        '"generated_at": "NOW"', expected
    )
    report = project_report(project, now=NOW)
    assert report_json(report).replace(project.uuid, "PROJECT-UUID") + "\n" == expected
    page = render_html(report).replace(project.uuid, "PROJECT-UUID")
    assert page == (DATA / f"report_{name}.html").read_text(encoding="utf-8")
    assert main(["report", str(project.path)]) == 0
    digest = capsys.readouterr().out
    assert digest == (DATA / f"report_{name}.txt").read_text(encoding="utf-8")


def test_pinned_classification_report(three, capsys):  # noqa: F811
    _check("three", three, capsys)


def test_pinned_quality_report(shop, capsys):  # noqa: F811
    _check("shop", shop[0], capsys)


def test_pinned_spans_report(spans, capsys):
    _check("spans", spans, capsys)


def test_pinned_multilabel_report(multilabel, capsys):
    _check("multilabel", multilabel, capsys)
