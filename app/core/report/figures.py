"""A project's quality and progress figures: what the dashboard draws and `tagloop report` prints.

`project_report` returns a `ProjectReport` (typed sections, `app.core.report.sections`; no Qt,
no NaN: an undefined figure is None), and `report_json` prints it as `tagloop report --json`.
Every figure is an SQL aggregate, or a stream in the case of agreement, so a report on
a million datapoints and 100k annotations never loads a table whole.

Choices, so that the figures can be read correctly:

- Annotators are named as in `app.core.quality.agreement` (the start of the UUID is added where two
  share a name), so the progress, throughput and heat-map names match.
- "progress.over_time" counts each annotator's *complete* annotations by the UTC day of their
  `updated_at`: the day the item reached its present, complete state (an annotation edited
  later moves to the day of the edit). It describes the present annotations, not a history:
  an item completed on Monday and discarded on Tuesday is not counted.
- "throughput" uses the time the editor measured on each item (`time_spent_ms`, which adds up
  across the times the annotator came back to it), over finished annotations (complete,
  skipped or discarded; drafts are unfinished work). Items without a measured time (imported
  labels, bulk labels in the grid) count in "items" but not in the timing figures. The time
  of one item is capped at `IDLE_CAP_MS` for the hours worked, so that an editor left open
  over lunch does not halve an annotator's rate; the median uses the times as measured.
  Measured editor time was chosen over gaps between saves because bulk labels, merged
  bundles and imports all make save times say nothing about working time.
- "label_distribution" counts complete annotations: one per classification, each label of a
  multilabel answer, each span of a span answer.
- "agreement" is `project_agreement` as it is, plus "heatmap": the pairwise Cohen's kappas as
  a symmetric matrix (diagonal None: an annotator is not compared with themselves; None too
  where a pair shares no item or kappa is undefined), overall and per label.
- "gold" (present only when the project has gold items) is each annotator's accuracy on gold
  (`app.core.quality.gold.gold_accuracy`: exact match, the gold's own author not scored),
  overall and in buckets of `window_days` days ("bucket" is the first day, aligned for everyone on
  the day of the first gold answer), with the drift alerts of `drift_alerts` (the latest bucket of
  at least `min_items` answers below `threshold`).
- "open_issues.rejections" (present once the review workflow is in use: a review task or
  decision exists) counts the open rejections, the ones still to fix: the annotation's newest
  review decision counts as a rejection, came with no correction, and the annotation has not
  changed since. Every other rejection is "resolved". The newest `REJECTION_LIMIT` open ones
  are listed.
- "open_issues.assignments" (present when there are tasks) is the derived status of each
  annotator's assignment and the count of their tasks in each derived status
  (`app.core.quality.review.task_status`: to-do, in progress, completed, completed with issues).
- "consensus" is `app.core.quality.consensus.consensus_counts` (exact matching for spans): the items
  with two or more votes, how many reach a consensus ("reached": unanimous or by majority),
  the disagreements, and of those the adjudicated and the still open ones.
- Gold accuracy and task status are computed per annotator, so two annotators who share a name
  are scored apart, under the names the other parts use.
- Parts that need workflows the project does not use (gold accuracy, review rejections, task
  status) are absent, not empty.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, text

from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.project import Project, current_schema
from app.core.quality.agreement_report import display_names, project_agreement
from app.core.quality.consensus import consensus_counts, current_reviews
from app.core.quality.gold import GoldAccuracy, gold_accuracy
from app.core.quality.review import DERIVED_STATUSES, StatusReport, task_status
from app.core.report.automation import automation_part, model_only
from app.core.report.sections import (
    Agreement,
    AgreementSummary,
    Assignment,
    Consensus,
    Counts,
    DayCount,
    Flag,
    Gold,
    GoldAlert,
    GoldAnnotator,
    GoldBucket,
    Heatmap,
    Label,
    LabelingProgress,
    LowAgreement,
    LowItem,
    Matrix,
    OpenIssues,
    PairKappa,
    ProjectInfo,
    ProjectReport,
    Rejection,
    Rejections,
    Throughput,
)
from app.core.report.svg import PALETTE
from app.core.storage import runs
from app.core.storage.json_sql import complete_label_counts
from app.core.storage.sqlite import driver_connection
from app.core.storage.tables import STATUS_NAMES
from app.core.storage.visibility import ready_datasets, visible, visible_id

T = TypeVar("T")

REPORT_FORMAT = 1
ANNOTATION_STATUSES = ("complete", "skipped", "discarded", "draft")
FINISHED = ("complete", "skipped", "discarded")
IDLE_CAP_MS = 10 * 60 * 1000
"""The most time one item counts for in the hours worked (items per hour)."""
FLAG_LIMIT = 200
"""The most open flags listed (newest first); "flags_open" counts them all."""
REJECTION_LIMIT = 200
"""The most open rejections listed (newest first); "rejections.open" counts them all."""
GOLD_THRESHOLD = 0.8
GOLD_MIN_ITEMS = 5
GOLD_WINDOW_DAYS = 7
"""The drift alert defaults, those of `tagloop gold --accuracy`."""
_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")

_STEPS = (
    "counting",
    "progress",
    "throughput",
    "labels",
    "agreement",
    "open issues and quality",
)


def project_report(
    project: Project,
    *,
    now: datetime | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    gold_threshold: float = GOLD_THRESHOLD,
    gold_min_items: int = GOLD_MIN_ITEMS,
    gold_window_days: int = GOLD_WINDOW_DAYS,
) -> ProjectReport:
    """Every dashboard figure of the project; see the module docstring for what each means."""
    generated = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    total = len(_STEPS)

    def step(k: int, detail: str = "") -> None:
        check_cancel(cancel)
        progress(k, total, f"Report: {detail or _STEPS[k]}…")

    with project.engine.connect() as conn:
        step(0)
        rows = [tuple(r) for r in conn.execute(text("SELECT id, name, uuid FROM annotator"))]
        names = display_names(rows)
        by_status = _datapoint_statuses(conn)
        info = _project_part(conn, project, by_status)
        step(1)
        progress_part = _progress_part(conn, names, by_status)
        step(2)
        throughput = _throughput_part(conn, names)
        step(3)
        labels, labels_by_annotator = _labels_part(
            conn, project.task_type, names, [label.name for label in info.labels]
        )
    step(4)
    agreement = _agreement_part(project_agreement(project))
    with project.engine.connect() as conn:
        step(5)
        flags_open, flags_resolved, flags = _flags_part(conn, names)
        ts = runs.and_visible(runs.task_where(conn, ""))  # no unpublished run's tasks
        review_in_use = bool(
            _scalar(conn, "SELECT EXISTS (SELECT 1 FROM review_decision)")
            or _scalar(conn, f"SELECT EXISTS (SELECT 1 FROM task WHERE kind = 'review'{ts})")
        )
        rejections = _rejections_part(conn, names) if review_in_use else None
        has_tasks = _scalar(
            conn, f"SELECT EXISTS (SELECT 1 FROM task WHERE status != 'cancelled'{ts})"
        )
        gold_count = _scalar(conn, "SELECT count(*) FROM gold_item")
    assignments = None
    if has_tasks:
        step(5, "task status")
        assignments = _assignments_part(project, rows, names)
    step(5, "consensus")
    consensus = _consensus_part(project)
    gold = None
    if gold_count:
        step(5, "gold accuracy")
        gold = _gold_part(
            project,
            rows,
            names,
            gold_count,
            threshold=gold_threshold,
            min_items=gold_min_items,
            window_days=gold_window_days,
        )
    automation = automation_part(project)
    check_cancel(cancel)
    progress(total, total, "Report ready")
    return ProjectReport(
        format=REPORT_FORMAT,
        generated_at=generated,
        project=info,
        progress=progress_part,
        throughput=throughput,
        label_distribution=labels,
        label_distribution_by_annotator=labels_by_annotator,
        agreement=agreement,
        open_issues=OpenIssues(flags_open, flags_resolved, flags, rejections, assignments),
        consensus=consensus,
        gold=gold,
        automation=automation,
    )


# --- parts ---------------------------------------------------------------------------------


def _scalar(conn: Connection, sql: str) -> int:
    return int(conn.execute(text(sql)).scalar() or 0)


def safe_colour(colour: str | None) -> str:
    """A label colour fit to put in CSS or SVG: #rrggbb, else a neutral grey (a colour comes
    from a bundle or a file, so it is untrusted text)."""
    return colour if colour and _COLOUR.fullmatch(colour) else PALETTE.neutral


def _datapoint_statuses(conn: Connection) -> dict[str, int]:
    """Datapoints per status (an index scan), and how many carry an open flag."""
    by_status = dict.fromkeys(STATUS_NAMES, 0)
    shown = f" AND {visible('d')}"  # never an unfinished import's rows
    for status, n in conn.execute(
        text(f"SELECT d.status, count(*) FROM datapoint d WHERE 1{shown} GROUP BY d.status")
    ):
        by_status[STATUS_NAMES[status]] = n
    by_status["flagged"] = _scalar(
        conn, f"SELECT count(*) FROM datapoint d WHERE d.flagged = 1{shown}"
    )
    return by_status


def _project_part(conn: Connection, project: Project, by_status: dict[str, int]) -> ProjectInfo:
    schema = current_schema(conn)
    av = runs.and_visible(runs.annotation_where(conn, ""))  # no unpublished run's annotations
    annotations = dict(
        # by people: the model's auto-labels (issue 12) are counted in the automation section
        conn.execute(
            text(
                "SELECT status, count(*) FROM annotation WHERE origin != 'model'"
                f" AND {visible_id()}{av} GROUP BY status"
            )
        ).all()
    )
    return ProjectInfo(
        name=project.name,
        uuid=project.uuid,
        task_type=project.task_type,
        schema_version=schema.version,
        labels=tuple(Label(x.name, safe_colour(x.colour)) for x in schema.labels),
        counts=Counts(
            datapoints=sum(by_status[name] for name in STATUS_NAMES),
            datasets=_scalar(conn, f"SELECT count(*) FROM dataset WHERE {ready_datasets()}"),
            annotations=sum(annotations.get(s, 0) for s in FINISHED),
            complete_annotations=annotations.get("complete", 0),
            draft_annotations=annotations.get("draft", 0),
            annotators=_scalar(
                conn,
                f"SELECT count(DISTINCT annotator_id) FROM annotation WHERE origin != 'model'{av}",
            ),
            # by people: the model's auto-labels (issue 12) are in the automation section
            labeled_datapoints=by_status["labeled"] - model_only(conn),
            flagged_datapoints=by_status["flagged"],
        ),
    )


def _progress_part(
    conn: Connection, names: dict[int, str], by_status: dict[str, int]
) -> LabelingProgress:
    by_annotator: dict[str, dict[str, int]] = {}
    shown = runs.and_visible(runs.annotation_where(conn, ""))  # no unpublished run's rows
    ts = runs.and_visible(runs.task_where(conn, ""))
    for who, status, n in conn.execute(
        text(f"SELECT annotator_id, status, count(*) FROM annotation WHERE 1{shown} GROUP BY 1, 2")
    ):
        counts = by_annotator.setdefault(names[who], dict.fromkeys(ANNOTATION_STATUSES, 0))
        counts[status] = counts.get(status, 0) + n
    # annotators with work assigned but nothing done yet belong on the chart too
    for (who,) in conn.execute(text(f"SELECT DISTINCT annotator_id FROM task WHERE 1{ts}")):
        by_annotator.setdefault(names[who], dict.fromkeys(ANNOTATION_STATUSES, 0))

    over_time = []
    running: dict[str, int] = {}
    for day, who, n in conn.execute(
        text(
            "SELECT date(updated_at) AS day, annotator_id, count(*) FROM annotation"
            f" WHERE status = 'complete' AND date(updated_at) IS NOT NULL{shown}"
            " GROUP BY day, annotator_id ORDER BY day"
        )
    ):
        name = names[who]
        running[name] = running.get(name, 0) + n
        over_time.append(DayCount(day, name, n, running[name]))
    over_time.sort(key=lambda e: (e.day, e.annotator))
    return LabelingProgress(dict(sorted(by_annotator.items())), by_status, tuple(over_time))


_THROUGHPUT = """
SELECT annotator_id, count(*),
       sum(time_spent_ms > 0),
       sum(CASE WHEN time_spent_ms > 0 THEN min(time_spent_ms, :cap) ELSE 0 END),
       sum(CASE WHEN time_spent_ms > 0 THEN time_spent_ms ELSE 0 END)
FROM annotation WHERE status IN ('complete', 'skipped', 'discarded'){shown}
GROUP BY annotator_id
"""

# The median measured time per annotator: the middle one or two of the sorted times.
_MEDIAN = """
WITH ranked AS (
  SELECT annotator_id AS who, time_spent_ms AS ms,
         row_number() OVER (PARTITION BY annotator_id ORDER BY time_spent_ms) AS k,
         count(*) OVER (PARTITION BY annotator_id) AS n
  FROM annotation
  WHERE status IN ('complete', 'skipped', 'discarded') AND time_spent_ms > 0{shown}
)
SELECT who, avg(ms) FROM ranked WHERE k IN ((n + 1) / 2, (n + 2) / 2) GROUP BY who
"""


def _throughput_part(conn: Connection, names: dict[int, str]) -> dict[str, Throughput]:
    shown = runs.and_visible(runs.annotation_where(conn, ""))  # no unpublished run's
    medians = dict(conn.execute(text(_MEDIAN.format(shown=shown))).all())
    out = {}
    for who, items, timed, capped_ms, measured_ms in conn.execute(
        text(_THROUGHPUT.format(shown=shown)), {"cap": IDLE_CAP_MS}
    ):
        hours = (capped_ms or 0) / 3_600_000
        median = medians.get(who)
        out[names[who]] = Throughput(
            items=items,
            timed_items=timed or 0,
            active_hours=round(hours, 4),
            measured_hours=round((measured_ms or 0) / 3_600_000, 4),
            items_per_hour=round(timed / hours, 2) if hours else None,
            median_seconds_per_item=round(median / 1000, 3) if median is not None else None,
        )
    return dict(sorted(out.items()))


def _labels_part(
    conn: Connection, task_type: str, names: dict[int, str], schema_labels: list[str]
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Label counts overall (schema labels first, unused ones at 0) and per annotator."""
    total = dict.fromkeys(schema_labels, 0)
    per: dict[str, dict[str, int]] = {}
    for who, label, n in complete_label_counts(conn, task_type):
        if not isinstance(label, str):
            continue  # a malformed value: not a label
        total[label] = total.get(label, 0) + n
        mine = per.setdefault(names[who], {})
        mine[label] = mine.get(label, 0) + n
    return total, dict(sorted(per.items()))


def _agreement_part(agreement: dict[str, Any]) -> Agreement:
    """`project_agreement`'s figures as they are, typed, plus the heat map."""
    overall = AgreementSummary.from_dict(agreement["overall"])
    per_label = {
        label: AgreementSummary.from_dict(figures)
        for label, figures in agreement["per_label"].items()
    }
    low = agreement["low_agreement"]
    return Agreement(
        overall=overall,
        per_label=per_label,
        spans=agreement.get("spans"),
        low_agreement=LowAgreement(
            tuple(low["labels"]),
            tuple(
                LowItem(
                    item["datapoint_id"],
                    item["agreement"],
                    tuple(item["annotators"]),
                    tuple(item["values"]),
                )
                for item in low["items"]
            ),
        ),
        heatmap=heatmap(overall, per_label),
    )


def heatmap(overall: AgreementSummary, per_label: dict[str, AgreementSummary]) -> Heatmap:
    """Pairwise Cohen's kappa as symmetric matrices: overall ("kappa", with "items" behind each
    pair) and per label ("per_label"). The diagonal is None."""
    pairs = overall.pairwise_cohen_kappa
    people = tuple(sorted({p.a for p in pairs} | {p.b for p in pairs}))
    index = {name: k for k, name in enumerate(people)}

    def matrix(pairs: tuple[PairKappa, ...], key: str) -> Matrix:
        m: list[list[Any]] = [[None] * len(people) for _ in people]
        for pair in pairs:
            i, j = index.get(pair.a), index.get(pair.b)
            if i is not None and j is not None:
                m[i][j] = m[j][i] = getattr(pair, key)
        return tuple(tuple(row) for row in m)

    return Heatmap(
        annotators=people,
        kappa=matrix(pairs, "kappa"),
        items=matrix(pairs, "items"),
        per_label={
            label: matrix(figures.pairwise_cohen_kappa, "kappa")
            for label, figures in per_label.items()
        },
    )


def _flags_part(conn: Connection, names: dict[int, str]) -> tuple[int, int, tuple[Flag, ...]]:
    """Open flags, resolved flags, and the newest open ones."""
    flags = tuple(
        Flag(dp, reason, names[who], at)
        for dp, reason, who, at in conn.execute(
            text(
                "SELECT datapoint_id, reason, annotator_id, created_at FROM flag"
                " WHERE resolved_at IS NULL ORDER BY created_at DESC, id DESC LIMIT :limit"
            ),
            {"limit": FLAG_LIMIT},
        )
    )
    return (
        _scalar(conn, "SELECT count(*) FROM flag WHERE resolved_at IS NULL"),
        _scalar(conn, "SELECT count(*) FROM flag WHERE resolved_at IS NOT NULL"),
        flags,
    )


# --- quality --------------------------------------------------------------------------------


def _per_annotator(
    rows: list[tuple[int, str, str]],
    names: dict[int, str],
    found: dict[str, T],
    one: Callable[[int], T | None],
) -> dict[str, T]:
    """Figures keyed by plain annotator name (as app.core.quality.gold and app.core.quality.review
    give them) re-keyed by report name; a name two annotators share was merged there, so each of
    them is computed on their own with `one(annotator id)`."""
    shared = Counter(name for _id, name, _uuid in rows)
    out: dict[str, T] = {}
    for id_, name, _uuid in rows:
        if name not in found:
            continue
        if shared[name] == 1:
            out[names[id_]] = found[name]
        else:
            mine = one(id_)
            if mine is not None:
                out[names[id_]] = mine
    return dict(sorted(out.items()))


def _rejections_part(conn: Connection, names: dict[int, str]) -> Rejections:
    raw = driver_connection(conn)
    reviews = current_reviews(raw)  # custom statuses are mapped to what they count as
    counts_as = dict(raw.execute("SELECT name, counts_as FROM custom_status"))
    open_: list[tuple[str, str, Rejection]] = []
    resolved = 0
    for uid, ann_uuid, dp, reviewer, decision, reason, at, author, updated in raw.execute(
        "SELECT d.uuid, d.annotation_uuid, d.datapoint_id, d.reviewer_id, d.decision, d.reason,"
        " d.created_at, a.annotator_id, a.updated_at FROM review_decision d"
        f" LEFT JOIN annotation a ON a.uuid = d.annotation_uuid AND {runs.annotation_visible('a')}"
    ):
        if counts_as.get(decision, decision) != "reject":
            continue
        current = reviews.get(ann_uuid)
        still_open = (
            current is not None
            and current[3] == uid
            and current[1] is None  # a correction settles it
            and updated is not None
            and updated <= at  # the annotator has not changed it since
        )
        if not still_open:
            resolved += 1
            continue
        rejection = Rejection(
            datapoint_id=dp,
            reason=reason,
            decision=decision,
            reviewer=names.get(reviewer, f"#{reviewer}"),
            annotator=names.get(author, f"#{author}"),
            at=at,
        )
        open_.append((at, uid, rejection))
    open_.sort(key=lambda r: (r[0], r[1]), reverse=True)
    listed = tuple(rejection for _at, _uid, rejection in open_[:REJECTION_LIMIT])
    return Rejections(open=len(open_), resolved=resolved, items=listed)


def _assignments_part(
    project: Project, rows: list[tuple[int, str, str]], names: dict[int, str]
) -> dict[str, Assignment]:
    def entry(status: StatusReport, name: str) -> Assignment:
        counts = status.counts.get(name, {})
        return Assignment(
            status=status.assignments[name],
            tasks={s: counts.get(s, 0) for s in DERIVED_STATUSES},
        )

    everyone = task_status(project)
    found = {name: entry(everyone, name) for name in everyone.assignments}

    def one(id_: int) -> Assignment | None:
        mine = task_status(project, id_)
        return entry(mine, next(iter(mine.assignments))) if mine.assignments else None

    return _per_annotator(rows, names, found, one)


def _consensus_part(project: Project) -> Consensus:
    counts = consensus_counts(project, match="exact")
    return Consensus(
        items=counts["items"],
        reached=counts["unanimous"] + counts["majority"],
        unanimous=counts["unanimous"],
        majority=counts["majority"],
        disagreements=counts["disagreements"],
        adjudicated=counts["adjudicated"],
        open=counts["open"],
        match="exact",
    )


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _gold_alert(name: str, acc: GoldAccuracy, threshold: float, min_items: int) -> GoldAlert | None:
    """The rule of app.core.quality.gold.drift_alerts, on the annotator's own figures: the
    latest bucket of at least `min_items` answers is below `threshold`."""
    recent = [b for b in acc.buckets if b.total >= min_items]
    if not recent or recent[-1].accuracy is None or recent[-1].accuracy >= threshold:
        return None
    b = recent[-1]
    return GoldAlert(
        annotator=name,
        accuracy=_ratio(b.accuracy),
        correct=b.correct,
        items=b.total,
        bucket=b.start,
        end=b.end,
        message=(
            f"{name}: gold accuracy {b.accuracy:.0%} on {b.total} items"
            f" ({b.start} to {b.end}), below {threshold:.0%}"
        ),
    )


def _gold_annotator(acc: GoldAccuracy) -> GoldAnnotator:
    return GoldAnnotator(
        accuracy=_ratio(acc.accuracy),
        correct=acc.correct,
        items=acc.total,
        over_time=tuple(
            GoldBucket(b.start, b.end, _ratio(b.accuracy), b.correct, b.total) for b in acc.buckets
        ),
    )


def _gold_part(
    project: Project,
    rows: list[tuple[int, str, str]],
    names: dict[int, str],
    gold_count: int,
    *,
    threshold: float,
    min_items: int,
    window_days: int,
) -> Gold:
    found = {acc.annotator: acc for acc in gold_accuracy(project, window_days=window_days)}

    def one(id_: int) -> GoldAccuracy | None:
        mine = gold_accuracy(project, id_, window_days=window_days)
        return mine[0] if mine else None

    per = _per_annotator(rows, names, found, one)
    alerts = (_gold_alert(name, acc, threshold, min_items) for name, acc in per.items())
    return Gold(
        gold_items=gold_count,
        threshold=threshold,
        min_items=min_items,
        window_days=window_days,
        per_annotator={name: _gold_annotator(acc) for name, acc in per.items()},
        alerts=tuple(alert for alert in alerts if alert is not None),
    )


def report_json(report: ProjectReport) -> str:
    """The report as strict JSON (no NaN), for `tagloop report --json`."""
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2, allow_nan=False)
