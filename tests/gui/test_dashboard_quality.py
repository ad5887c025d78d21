"""The dashboard's quality side on a realistic team project: gold accuracy over time with a
drift alert, open rejections, assignment status and consensus."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from app.core.annotation.commands import AddFlag, AnnotationState, SetAnnotations
from app.core.io.importer import import_dataset
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.core.quality.consensus import adjudicate, create_adjudication_tasks, disagreements
from app.core.quality.gold import mark_gold, mix_gold_into_tasks
from app.core.quality.review import annotations_to_review, review, spot_check
from app.core.team.assign import add_annotator, generate_tasks
from app.views.dashboard.window import DashboardView
from tests.fixtures_data import sms_rows, write_csv

LABELS = ("ham", "spam", "unsure")
# name: (accuracy in the first two weeks, accuracy after, share of the queue done, seconds)
TEAM = {
    "Dr. Amira Haddad": (0.95, 0.95, 1.0, 22),
    "Ben Okafor": (0.92, 0.92, 1.0, 38),
    "Chloé Martin": (0.93, 0.5, 0.96, 16),  # drifts from the third week on
    "dmitri.v": (0.93, 0.93, 0.55, 55),
}
REVIEWER = "Rita Alves"
LEAD = "Noor Saleh"
START = date(2024, 4, 1)  # a Monday
WORKING_DAYS = 25  # five weeks
REASONS = (
    "Marketing text with a premium-rate number: spam, see guideline 3.2",
    "Personal message, not spam",
    "Prize claim, clearly spam",
    "Too short to decide: should be unsure",
    "Bank notice from a known sender is ham",
)
FLAGS = (
    (3, "Dr. Amira Haddad", "Is a bank notice spam? Guidelines unclear."),
    (42, "Chloé Martin", "Contains a phone number: personal data?"),
    (88, "dmitri.v", "Duplicate of an earlier message"),
)


def _working_day(k: int) -> date:
    """The k-th working day from START (weekends off)."""
    return START + timedelta(days=7 * (k // 5) + k % 5)


def _stamp(day: date, rng: random.Random) -> str:
    at = datetime(day.year, day.month, day.day, 8, 30, tzinfo=UTC)
    return (at + timedelta(minutes=rng.randint(0, 540))).isoformat(timespec="milliseconds")


def build_quality_project(path: Path, n: int = 200, seed: int = 23, hostile: str | None = None):
    """Real SMS texts; four annotators work through assignments with 25% overlap and gold
    mixed in at 40% over five weeks, one of them (Chloé Martin) drifting after two; a reviewer
    spot-checks 10% and rejects some answers; a lead adjudicates half of the disagreements."""
    rng = random.Random(seed)
    project = create_project(path, "classification", [LabelSpec(x) for x in LABELS])
    data = sms_rows(n)
    source = path.with_name(f"{path.stem}-sms.csv")
    write_csv(source, [["message"], *([body] for body, _label in data)])
    import_dataset(project, source)
    truth = {dp: label for dp, (_body, label) in enumerate(data, 1)}
    ids = {name: add_annotator(project, name).id for name in TEAM}
    ids[REVIEWER] = add_annotator(project, REVIEWER, "reviewer").id
    ids[LEAD] = add_annotator(project, LEAD, "manager").id

    gold = sorted(rng.sample(range(1, n + 1), n // 4))
    mark_gold(project, gold, [truth[dp] for dp in gold])
    generate_tasks(project, list(TEAM), fraction=1.0, overlap_fraction=0.4, seed=seed)
    # gold is never label work, so it comes only as gold tasks: at 40% some 35 per annotator
    # (about 7 a week, enough for weekly buckets of at least 5 answers and the drift alert)
    mix_gold_into_tasks(project, list(TEAM), 0.4, seed=seed)

    stamps: list[tuple[str, int, int]] = []
    with project.engine.connect() as conn:
        queues = {
            name: [
                r[0]
                for r in conn.execute(
                    text("SELECT datapoint_id FROM task WHERE annotator_id = :who ORDER BY id"),
                    {"who": ids[name]},
                )
            ]
            for name in TEAM
        }
    last_day: date = START
    for name, (early, late, share, seconds) in TEAM.items():
        queue = queues[name]
        rng.shuffle(queue)  # gold comes unannounced, among the rest
        done = queue[: round(len(queue) * share)]
        changes = []
        for k, dp in enumerate(done):
            day = _working_day(min(WORKING_DAYS - 1, k * WORKING_DAYS // len(done)))
            last_day = max(last_day, day)
            accuracy = early if (day - START).days < 14 else late
            spent = int(1000 * seconds * rng.lognormvariate(0, 0.4))
            if k == len(done) - 1 and share < 1:
                state = AnnotationState(truth[dp], "draft", spent)  # still on it
            elif rng.random() < 0.02:
                state = AnnotationState(None, "skipped", spent)
            else:
                value = truth[dp]
                if rng.random() > accuracy:
                    value = rng.choice([x for x in LABELS if x != value])
                state = AnnotationState(value, "complete", spent)
            changes.append((dp, state))
            stamps.append((_stamp(day, rng), ids[name], dp))
        SetAnnotations(ids[name], tuple(changes)).apply(project)
    with project.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE annotation SET created_at = :at, updated_at = :at"
                " WHERE annotator_id = :who AND datapoint_id = :dp"
            ),
            [{"at": at, "who": who, "dp": dp} for at, who, dp in stamps],
        )

    # review: a spot check of 10%; wrong answers are rejected, the last items not reached yet
    spot_check(project, REVIEWER, 0.1, seed=seed)
    with project.engine.connect() as conn:
        queue = [
            r[0]
            for r in conn.execute(
                text("SELECT datapoint_id FROM task WHERE kind = 'review' ORDER BY datapoint_id")
            )
        ]
    decided: list[tuple[str, str]] = []
    rejected: list[tuple[str, int]] = []
    for dp in queue[:-3]:
        for version in annotations_to_review(project, REVIEWER, dp):
            if version["value"] != truth[dp] and len(rejected) < len(REASONS):
                reason = hostile if hostile and not rejected else REASONS[len(rejected)]
                uid = review(project, REVIEWER, version["annotation_uuid"], "reject", reason)
                rejected.append((version["annotation_uuid"], dp))
            else:
                uid = review(project, REVIEWER, version["annotation_uuid"], "approve")
            decided.append((uid, _stamp(last_day + timedelta(days=3), rng)))
    with project.engine.begin() as conn:
        conn.execute(
            text("UPDATE review_decision SET created_at = :at WHERE uuid = :uuid"),
            [{"uuid": uid, "at": at} for uid, at in decided],
        )
        # the first rejected annotation is fixed by its annotator the day after
        if rejected:
            ann, dp = rejected[0]
            conn.execute(
                text("UPDATE annotation SET value = :v, updated_at = :at WHERE uuid = :uuid"),
                {
                    "v": f'"{truth[dp]}"',
                    "at": _stamp(last_day + timedelta(days=4), rng),
                    "uuid": ann,
                },
            )

    # adjudication: the lead settles half of the open disagreements so far
    create_adjudication_tasks(project, LEAD)
    open_items = [c.datapoint_id for c in disagreements(project)]
    for dp in open_items[: len(open_items) // 2]:
        adjudicate(project, dp, LEAD, truth[dp])

    for k, (dp, name, reason) in enumerate(FLAGS):
        at = datetime(2024, 4, 3, 10, tzinfo=UTC) + timedelta(days=7 * k, hours=k)
        AddFlag(dp, ids[name], reason, created_at=at.isoformat(timespec="milliseconds")).apply(
            project
        )
    return project


HOSTILE = '<b>bold</b><img src=x onerror=alert(1)> "quoted"'


@pytest.fixture
def shop(tmp_path):
    project = build_quality_project(tmp_path / "quality.tagloop", hostile=HOSTILE)
    yield project
    project.close()


def _open(qtbot, project) -> DashboardView:
    view = DashboardView(project)
    qtbot.addWidget(view)
    view.resize(1320, 1000)
    view.show()
    with qtbot.waitSignal(view.report_ready, timeout=30_000):
        pass
    return view


def test_dashboard_shows_gold_accuracy_over_time_and_the_drift_alert(qtbot, shop):
    view = _open(qtbot, shop)
    report = view.report.as_dict()
    gold = report["gold"]
    assert view.cards["gold"].isVisible()
    grid = view.consensus_card.parentWidget().parentWidget().layout()
    assert grid.getItemPosition(grid.indexOf(view.consensus_card.parentWidget())) == (2, 1, 1, 1)

    buckets, series, items = view.gold_card.chart.data
    assert buckets == ["2024-04-01", "2024-04-08", "2024-04-15", "2024-04-22", "2024-04-29"]
    assert sorted(series) == sorted(TEAM)
    for name, per in gold["per_annotator"].items():
        shown = {b: v for b, v in zip(buckets, series[name], strict=True) if v is not None}
        assert shown == {b["bucket"]: b["accuracy"] for b in per["over_time"]}
        assert sum(items[name]) == per["items"] > 0
    assert view.gold_card.chart.threshold == gold["threshold"] == 0.8

    # Chloé drifts: good at first, below the threshold at the end; she alone is alerted
    chloe = [v for v in series["Chloé Martin"] if v is not None]
    assert chloe[0] >= 0.8 > chloe[-1]
    assert [a["annotator"] for a in gold["alerts"]] == ["Chloé Martin"]
    assert view.gold_card.chart.alerts == {"Chloé Martin": gold["alerts"][0]["bucket"]}
    assert view.gold_card.alert.isVisible()
    assert view.gold_card.alert.text().startswith("⚠ Drift alert: 1 annotator below 80%")
    assert gold["alerts"][0]["message"] in view.gold_card.alert.text()
    assert view.gold_card.badge.isVisible() and view.gold_card.badge.text() == "⚠ 1 alert"
    assert view.tile_labels["alerts"].text() == "1"
    assert view.tile_frames["alerts"].isVisible()
    flagged = {
        view.gold_card.table.item(r, 0).text(): view.gold_card.table.item(r, 4).text()
        for r in range(view.gold_card.table.rowCount())
    }
    assert flagged["Chloé Martin"] == "⚠ drift alert"
    assert flagged["Ben Okafor"] == ""

    # it is drawn: the chart's pixels are not all background
    image = view.gold_card.chart.grab().toImage()
    assert image.width() > 400
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    assert len(colours) > 8


def test_dashboard_shows_rejections_assignments_and_consensus(qtbot, shop):
    view = _open(qtbot, shop)
    report = view.report.as_dict()
    rejections = report["open_issues"]["rejections"]
    assert rejections["open"] >= 3 and rejections["resolved"] == 1
    assert view.issues_card.rejections.isVisible()
    assert view.issues_card.rejections.rowCount() == rejections["open"]
    shown = {
        view.issues_card.rejections.item(r, 1).text()
        for r in range(view.issues_card.rejections.rowCount())
    }
    assert shown == {r["reason"] for r in rejections["items"]}
    assert HOSTILE not in shown  # the first rejection was fixed: it is resolved
    assert {
        view.issues_card.rejections.item(r, 3).text()
        for r in range(view.issues_card.rejections.rowCount())
    } == {REVIEWER}
    assert view.tile_labels["rejections"].text() == f"{rejections['open']:,}"

    assignments = report["open_issues"]["assignments"]
    assert set(assignments) == {*TEAM, REVIEWER, LEAD}
    assert [name for name, _counts in view.assignments_card.task_bars.data] == sorted(assignments)
    for name, counts in view.assignments_card.task_bars.data:
        assert counts == assignments[name]["tasks"]
        assert view.assignments_card.task_bars.captions[name] == assignments[name]["status"]
    assert assignments["dmitri.v"]["status"] == "in progress"
    assert assignments[REVIEWER]["status"] == "in progress"  # three items not reached
    assert assignments[REVIEWER]["tasks"]["completed with issues"] >= 3

    consensus = report["consensus"]
    assert consensus["disagreements"] > consensus["adjudicated"] > 0
    assert view.consensus_card.values["items with two or more votes"].text() == (
        f"{consensus['items']:,}"
    )
    assert view.consensus_card.values["disagreements"].text() == f"{consensus['disagreements']:,}"
    assert view.consensus_card.values["adjudicated"].text() == f"{consensus['adjudicated']:,}"


def test_hostile_rejection_reason_is_text(qtbot, tmp_path):
    project = build_quality_project(tmp_path / "h.tagloop", n=120, seed=3, hostile=HOSTILE)
    try:
        with project.engine.begin() as conn:  # reopen the fixed rejection: move it back
            conn.execute(text("UPDATE annotation SET updated_at = '2024-04-01T09:00:00.000+00:00'"))
        view = _open(qtbot, project)
        reasons = [
            view.issues_card.rejections.item(r, 1).text()
            for r in range(view.issues_card.rejections.rowCount())
        ]
        assert HOSTILE in reasons
        assert view.gold_card.alert.textFormat() == view.issues_card.rejections_note.textFormat()
    finally:
        project.close()


def test_quality_cards_are_hidden_without_the_workflows(qtbot, tmp_path):
    project = create_project(tmp_path / "plain.tagloop", "classification", [LabelSpec("a")])
    try:
        view = _open(qtbot, project)
        assert not view.cards["gold"].isVisible()
        assert not view.cards["assignments"].isVisible()
        assert not view.tile_frames["alerts"].isVisible()
        assert not view.issues_card.rejections.isVisible()
        assert view.cards["consensus"].isVisible()
        assert view.consensus_card.values["items with two or more votes"].text() == "0"
        # no gold card: consensus spans both columns rather than leaving the left one empty
        grid = view.consensus_card.parentWidget().parentWidget().layout()
        at = grid.getItemPosition(grid.indexOf(view.consensus_card.parentWidget()))
        assert at == (2, 0, 1, 2)
        left, right = view.consensus_card.parentWidget().geometry(), view.progress_card.geometry()
        assert left.left() == right.left()
    finally:
        project.close()
