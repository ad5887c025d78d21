"""The dashboard on a team project: figures computed off the GUI thread, charts, HTML export."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from sqlalchemy import text

from app.core.annotation.commands import AddFlag, AnnotationState, SetAnnotations
from app.core.ids import new_uuid
from app.core.io.importer import import_dataset
from app.core.project.annotators import ensure_annotator
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.views.dashboard.window import DashboardView
from tests.fixtures_data import sms_rows, write_csv

# name: (how often they give the true label, median seconds per item, share of items done)
TEAM = {
    "Dr. Amira Haddad": (0.97, 22, 0.9),
    "Ben Okafor": (0.92, 38, 0.75),
    "Chloé Martin": (0.84, 16, 0.8),
    "dmitri.v": (0.95, 55, 0.35),
}
FLAGS = (
    (3, "Dr. Amira Haddad", "Is a bank notice spam? Guidelines unclear."),
    (17, "Ben Okafor", "Message truncated mid-sentence"),
    (42, "Chloé Martin", "Contains a phone number: personal data?"),
    (88, "dmitri.v", "Duplicate of an earlier message"),
)


def build_team_project(path: Path, n: int = 160, seed: int = 7):
    """Real SMS texts labeled ham/spam/unsure by four annotators with different accuracy and
    pace, over twelve days: overlap, disagreement, skips, drafts and flags."""
    rng = random.Random(seed)
    project = create_project(
        path, "classification", [LabelSpec("ham"), LabelSpec("spam"), LabelSpec("unsure")]
    )
    source = path.with_name("sms.csv")
    write_csv(source, [["message"], *([text] for text, _label in sms_rows(n))])
    import_dataset(project, source)
    truth = {dp: label for dp, (_text, label) in enumerate(sms_rows(n), 1)}
    start = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
    stamps: list[tuple[str, int, int]] = []
    ids = {}
    for name, (accuracy, median_s, share) in TEAM.items():
        with project.engine.begin() as conn:
            who = ids[name] = ensure_annotator(conn, new_uuid(), name, "annotator")
        done = sorted(rng.sample(range(1, n + 1), int(n * share)))
        changes = []
        for dp in done:
            spent = int(1000 * median_s * rng.lognormvariate(0, 0.45))
            roll = rng.random()
            if roll < 0.03:
                state = AnnotationState(None, "skipped", spent)
            elif roll < 0.045:
                state = AnnotationState(None, "discarded", spent)
            elif roll < 0.06:
                state = AnnotationState(None, "draft", spent)
            else:
                label = truth[dp]
                if rng.random() > accuracy:
                    label = rng.choice([x for x in ("ham", "spam", "unsure") if x != label])
                state = AnnotationState(label, "complete", spent)
            changes.append((dp, state))
        SetAnnotations(who, tuple(changes)).apply(project)
        pace = len(done) / 9  # items a day, with a slow start and weekends off
        for k, dp in enumerate(done):
            day = min(11, int(k / pace * (0.8 + 0.4 * rng.random())) + (1 if k > 10 else 0))
            if (start + timedelta(days=day)).weekday() >= 5:
                day += 2
            at = start + timedelta(days=min(day, 13), minutes=rng.randint(0, 480))
            stamps.append((at.isoformat(timespec="milliseconds"), who, dp))
    with project.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE annotation SET created_at = :at, updated_at = :at"
                " WHERE annotator_id = :who AND datapoint_id = :dp"
            ),
            [{"at": at, "who": who, "dp": dp} for at, who, dp in stamps],
        )
    for k, (dp, name, reason) in enumerate(FLAGS):
        at = start + timedelta(days=2 + 3 * k, hours=k)
        AddFlag(dp, ids[name], reason, created_at=at.isoformat(timespec="milliseconds")).apply(
            project
        )
    return project


@pytest.fixture
def team(tmp_path):
    project = build_team_project(tmp_path / "team.tagloop")
    yield project
    project.close()


def test_dashboard_computes_off_the_gui_thread_and_draws_the_figures(qtbot, team):
    view = DashboardView(team)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.report_ready, timeout=20_000) as blocker:
        pass
    report = blocker.args[0]
    assert view.report is report
    assert view.save_button.isEnabled()

    names = sorted(TEAM)
    assert [name for name, _ in view.progress_card.progress_bars.data] == names
    for name, counts in view.progress_card.progress_bars.data:
        assert counts == report.progress.by_annotator[name]
    assert (
        sum(
            view.progress_card.status_bar.data[0][1][s] for s in ("labeled", "unlabeled", "skipped")
        )
        <= 160
    )

    _days, series = view.timeline_card.chart.data
    assert set(series) == set(names)
    for name, values in series.items():
        assert values[-1] == report.progress.by_annotator[name]["complete"]
        assert values == sorted(values)  # cumulative

    rates = {name: value for name, value, _colour, _caption in view.throughput_card.chart.data}
    assert rates == {n: report.throughput[n].items_per_hour for n in names}
    assert rates["Chloé Martin"] > rates["dmitri.v"]  # the fastest and the slowest

    assert [row[0] for row in view.labels_card.chart.data] == ["ham", "spam", "unsure"]
    assert sum(row[1] for row in view.labels_card.chart.data) == sum(
        counts["complete"] for counts in report.progress.by_annotator.values()
    )

    heat_names, kappa, _items = view.heatmap_card.heatmap.data
    assert heat_names == names
    assert all(kappa[i][i] is None for i in range(4))
    assert all(kappa[i][j] == kappa[j][i] for i in range(4) for j in range(4))
    assert all(
        kappa[i][j] is not None and kappa[i][j] > 0 for i in range(4) for j in range(4) if i != j
    )
    view.heatmap_card.label_choice.setCurrentIndex(view.heatmap_card.label_choice.findData("spam"))
    assert view.heatmap_card.heatmap.data[1] == report.agreement.heatmap.per_label["spam"]
    assert [row[0] for row in view.alpha_card.alpha.data] == ["ham", "spam", "unsure"]

    assert view.issues_card.flags.rowCount() == len(FLAGS)
    reasons = {
        view.issues_card.flags.item(r, 1).text() for r in range(view.issues_card.flags.rowCount())
    }
    assert reasons == {reason for _dp, _who, reason in FLAGS}
    assert view.tile_labels["flags"].text() == "4"


def test_save_html_writes_the_report_shown(qtbot, team, tmp_path, monkeypatch):
    view = DashboardView(team)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.report_ready, timeout=20_000):
        pass
    out = tmp_path / "out" / "team report"  # no suffix: .html is added
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "HTML files"))
    )
    view.save_button.click()
    written = out.with_suffix(".html")
    assert written.exists()
    page = written.read_text(encoding="utf-8")
    assert "Dr. Amira Haddad" in page and "<svg" in page
    assert "<script" not in page.lower() and "http" not in page
    assert "Saved" in view.message.text()

    # cancelled dialog: nothing written, no error
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    assert view.save_html() is None


def test_refresh_sees_new_work(qtbot, team):
    view = DashboardView(team)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.report_ready, timeout=20_000):
        pass
    before = view.report.open_issues.flags_open
    with team.engine.begin() as conn:
        who = ensure_annotator(conn, new_uuid(), "late joiner", "annotator")
    AddFlag(5, who, "one more").apply(team)
    with qtbot.waitSignal(view.report_ready, timeout=20_000):
        view.refresh_button.click()
    assert view.report.open_issues.flags_open == before + 1
    assert view.issues_card.flags.rowCount() == before + 1


def test_closing_while_computing_cancels_quietly(qtbot, team):
    view = DashboardView(team)
    qtbot.addWidget(view)
    job = view.job
    view.reject()  # closed before the figures arrive
    qtbot.waitUntil(lambda: job.done, timeout=20_000)
    assert job.is_cancelled()


def test_hostile_names_are_shown_as_text(qtbot, tmp_path):
    project = create_project(
        tmp_path / "h.tagloop", "classification", [LabelSpec("<b>bold</b>"), LabelSpec("x")]
    )
    source = tmp_path / "h.txt"
    source.write_text("one\ntwo\n")
    import_dataset(project, source)
    hostile = "<img src=x onerror=alert(1)>"
    whos = []
    for name in (hostile, "ok"):
        with project.engine.begin() as conn:
            whos.append(ensure_annotator(conn, new_uuid(), name, "annotator"))
    SetAnnotations(whos[0], ((1, AnnotationState("<b>bold</b>", "complete")),)).apply(project)
    SetAnnotations(whos[1], ((1, AnnotationState("x", "complete")),)).apply(project)
    try:
        view = DashboardView(project)
        qtbot.addWidget(view)
        with qtbot.waitSignal(view.report_ready, timeout=20_000):
            pass
        assert hostile in [name for name, _counts in view.progress_card.progress_bars.data]
        assert view.alpha_card.low_labels.textFormat() == Qt.TextFormat.PlainText
        assert "<b>bold</b>" in view.alpha_card.low_labels.text()
        assert view.alpha_card.disagreements.item(0, 2).text().startswith(hostile)
    finally:
        project.close()
