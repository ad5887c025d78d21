"""Gold (honeypot) items, accuracy on them over time, and drift alerts.

- `mark_gold` records the known answer of items (table gold_item; re-marking an item replaces
  its answer under a new UUID, so bundles settle on the newest). Gold answers travel only in
  project bundles, never in assignment bundles.
- `mix_gold_into_tasks` gives annotators gold tasks (kind 'gold' in the owner's file, for the
  bookkeeping) so that gold makes up `rate` of their queue: round(rate × L / (1 − rate)) for
  L label tasks. In an assignment bundle a gold task is an ordinary label task (same kind,
  a creation time borrowed from one of their label tasks), and nothing else of the item
  (others' annotations, the answer) travels with it.
- `gold_accuracy`: each annotator's complete annotations of gold items (not the gold's own
  author's) scored by exact match (multilabel: the same set; spans: the same spans), overall
  and in buckets of `window_days` days by the annotation's last change, aligned on the first
  day any gold answer was given. `drift_alerts`: annotators whose latest bucket with at least
  `min_items` answers is below `threshold`.
- Qualification sets, made of gold items, are app.core.quality.qualification; `same_answer`
  here is how both score an answer.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from app.core import audit
from app.core.annotation.commands import text_lengths, validate_value
from app.core.errors import ProjectError
from app.core.fileio import read_small_text
from app.core.ids import datapoint_uuid, new_uuid, now_iso
from app.core.project.annotators import find_annotator
from app.core.project.project import Project, current_schema
from app.core.storage import runs
from app.core.storage.retry import write_transaction
from app.core.storage.sqlite import driver_connection
from app.core.storage.visibility import ready_datasets, visible
from app.core.team.tasks import GOLD, create_tasks, record_assignment, round_half_up


@dataclass(frozen=True)
class AccuracyBucket:
    start: str  # first day, ISO date
    end: str  # last day
    correct: int
    total: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None


@dataclass
class GoldAccuracy:
    annotator: str
    correct: int = 0
    total: int = 0
    buckets: list[AccuracyBucket] = field(default_factory=list)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "annotator": self.annotator,
            "correct": self.correct,
            "total": self.total,
            "accuracy": self.accuracy,
            "buckets": [
                {
                    "start": b.start,
                    "end": b.end,
                    "correct": b.correct,
                    "total": b.total,
                    "accuracy": b.accuracy,
                }
                for b in self.buckets
            ],
        }


@dataclass(frozen=True)
class DriftAlert:
    annotator: str
    accuracy: float
    items: int
    start: str
    end: str
    threshold: float

    def message(self) -> str:
        return (
            f"{self.annotator}: gold accuracy {self.accuracy:.0%} on {self.items} items "
            f"({self.start} to {self.end}), below {self.threshold:.0%}"
        )


def same_answer(task_type: str, a: Any, b: Any) -> bool:
    """Exact match of two values (order of multilabel labels and spans does not matter)."""
    if task_type == "multilabel":
        return sorted(set(a)) == sorted(set(b))
    if task_type == "spans":

        def keys(v):
            return sorted((s["start"], s["end"], s["label"]) for s in v)

        return keys(a) == keys(b)
    return a == b


# -- gold items -----------------------------------------------------------------------------


def mark_gold(project: Project, datapoint_ids: Sequence[int], answers: Sequence[Any]) -> int:
    """Record the correct answer of each item (answers[i] for datapoint_ids[i], checked like an
    annotation); returns how many were marked. One transaction."""
    if len(datapoint_ids) != len(answers):
        raise ProjectError("give one answer per gold item")
    actor = project.local_annotator_id
    with write_transaction(project.engine) as conn:
        schema = current_schema(conn)
        lengths = text_lengths(conn, list(datapoint_ids))
        for dp_id, value in zip(datapoint_ids, answers, strict=True):
            if dp_id not in lengths:
                raise ProjectError(f"datapoint {dp_id} does not exist")
            if value is None:
                raise ProjectError(f"the gold answer of datapoint {dp_id} is missing")
            validate_value(
                project,
                schema.label_names,
                value,
                "complete",
                lengths[dp_id],
                schema.allow_overlap,
            )
        now = now_iso()
        for dp_id, value in zip(datapoint_ids, answers, strict=True):
            conn.execute(text("DELETE FROM gold_item WHERE datapoint_id = :dp"), {"dp": dp_id})
            conn.execute(
                text(
                    "INSERT INTO gold_item (uuid, datapoint_id, value, created_by, created_at)"
                    " VALUES (:uuid, :dp, :value, :who, :at)"
                ),
                {
                    "uuid": new_uuid(),
                    "dp": dp_id,
                    "value": json.dumps(value, ensure_ascii=False),
                    "who": actor,
                    "at": now,
                },
            )
        audit.record(conn, actor, "mark-gold", "gold_item", None, after={"items": len(answers)})
    return len(answers)


def gold_items(project: Project) -> dict[int, Any]:
    """{datapoint id: gold answer}."""
    with project.engine.connect() as conn:
        return {
            dp: json.loads(value)
            for dp, value in conn.execute(text("SELECT datapoint_id, value FROM gold_item"))
        }


def resolve_datapoints(project: Project, keys: Sequence[str]) -> list[int]:
    """Datapoint ids for keys that are datapoint UUIDs (as exports write them) or integer ids."""
    wanted = {k for k in keys if not k.isdigit()}
    found: dict[str, int] = {}
    with project.engine.connect() as conn:
        raw = driver_connection(conn)
        if wanted:
            datasets = dict(raw.execute(f"SELECT id, uuid FROM dataset WHERE {ready_datasets()}"))
            for dp_id, dataset_id, row in raw.execute(
                f"SELECT id, dataset_id, row FROM datapoint WHERE {visible('datapoint')}"
            ):
                uid = datapoint_uuid(datasets[dataset_id], row)
                if uid in wanted:
                    found[uid] = dp_id
        ids = (
            {r[0] for r in raw.execute(f"SELECT id FROM datapoint WHERE {visible('datapoint')}")}
            if len(wanted) < len(keys)
            else set()
        )
    out = []
    for key in keys:
        dp = int(key) if key.isdigit() and int(key) in ids else found.get(key)
        if dp is None:
            raise ProjectError(f"no datapoint {key!r} in this project")
        out.append(dp)
    return out


def read_answers_csv(project: Project, path: Path) -> tuple[list[int], list[Any]]:
    """A CSV of gold answers: columns `id` (a datapoint UUID as exports write it, or an integer
    datapoint id) and `label` (classification: the label; otherwise JSON)."""
    # read_small_text: a FIFO, a huge file, bad UTF-8 or a NUL are clear errors (red team)
    reader = csv.DictReader(io.StringIO(read_small_text(Path(path)), newline=""))
    if not reader.fieldnames or not {"id", "label"} <= set(reader.fieldnames):
        raise ProjectError(f"{path}: needs the columns id and label")
    rows = [((r["id"] or "").strip(), r["label"] or "") for r in reader]  # short rows: None
    answers: list[Any] = []
    for key, cell in rows:
        if project.task_type == "classification":
            answers.append(cell.strip())
            continue
        try:
            answers.append(json.loads(cell))
        except ValueError:
            raise ProjectError(f"{path}: the label of {key} is not JSON") from None
    return resolve_datapoints(project, [k for k, _ in rows]), answers


def mix_gold_into_tasks(
    project: Project, annotators: Sequence[str], rate: float, *, seed: int = 0
) -> dict[str, int]:
    """Gold tasks for each annotator, so that gold is about `rate` of their queue (module
    doc); items they have no task on and have not annotated, a seeded sample. Returns
    {annotator name: gold tasks made}."""
    if not 0.0 <= rate < 1.0:
        raise ProjectError("the gold rate must be at least 0 and below 1")
    rng = random.Random(seed)
    actor = project.local_annotator_id
    made: dict[str, int] = {}
    with write_transaction(project.engine) as conn:
        gold = [r[0] for r in conn.execute(text("SELECT datapoint_id FROM gold_item ORDER BY 1"))]
        if not gold:
            raise ProjectError("no gold items yet: mark some first (tagloop gold --mark)")
        for key in annotators:
            who, _uuid, name = find_annotator(conn, key)
            label_times = [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT created_at FROM task WHERE annotator_id = :who AND kind = 'label'"
                        f" AND status != 'cancelled' AND {runs.task_visible('task')} ORDER BY id"
                    ),
                    {"who": who},
                )
            ]
            busy = {
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT datapoint_id FROM task WHERE annotator_id = :who"
                        f" AND status != 'cancelled' AND {runs.task_visible('task')}"
                        " UNION SELECT datapoint_id FROM annotation WHERE annotator_id = :who"
                        f" AND {runs.annotation_visible('annotation')}"
                    ),
                    {"who": who},
                )
            }
            wanted = round_half_up(rate * len(label_times) / (1.0 - rate))
            free = [dp for dp in gold if dp not in busy]
            picks = sorted(rng.sample(free, min(wanted, len(free))))
            made[name] = create_tasks(
                conn,
                [
                    (dp, who, GOLD, rng.choice(label_times) if label_times else now_iso())
                    for dp in picks
                ],
                actor,
            )
        record_assignment(conn, actor, {"kind": "gold", "rate": rate, "tasks": made})
    return made


def _gold_answers(conn: Connection, task_type: str):
    """(annotator id, name, correct?, ISO date) of every scored gold answer."""
    rows = driver_connection(conn).execute(
        "SELECT a.annotator_id, n.name, a.value, g.value, a.updated_at FROM annotation a"
        " JOIN gold_item g ON g.datapoint_id = a.datapoint_id"
        " JOIN annotator n ON n.id = a.annotator_id"
        " WHERE a.status = 'complete' AND a.origin != 'review'"
        " AND (g.created_by IS NULL OR a.annotator_id != g.created_by)"
        f"{runs.and_visible(runs.annotation_where(conn))} ORDER BY a.updated_at"
    )
    for who, name, value, answer, updated in rows:
        yield who, name, same_answer(task_type, json.loads(value), json.loads(answer)), updated[:10]


def gold_accuracy(
    project: Project, annotator: int | str | None = None, window_days: int = 7
) -> list[GoldAccuracy]:
    """Each annotator's accuracy on gold, overall and per `window_days` bucket (module doc),
    ordered by name; one annotator's only, if given."""
    if window_days < 1:
        raise ProjectError("the window is at least one day")
    with project.engine.connect() as conn:
        only = None if annotator is None else find_annotator(conn, annotator)[0]
        answers = list(_gold_answers(conn, project.task_type))
    if not answers:
        return []
    first = min(date.fromisoformat(day).toordinal() for *_x, day in answers)
    per: dict[str, GoldAccuracy] = {}
    tallies: dict[str, dict[int, list[int]]] = {}
    for who, name, correct, day in answers:
        if only is not None and who != only:
            continue
        acc = per.setdefault(name, GoldAccuracy(name))
        acc.total += 1
        acc.correct += correct
        k = (date.fromisoformat(day).toordinal() - first) // window_days
        tally = tallies.setdefault(name, {}).setdefault(k, [0, 0])
        tally[0] += correct
        tally[1] += 1
    for name, acc in per.items():
        for k in sorted(tallies[name]):
            start = date.fromordinal(first + k * window_days)
            end = start + timedelta(days=window_days - 1)
            right, total = tallies[name][k]
            acc.buckets.append(AccuracyBucket(start.isoformat(), end.isoformat(), right, total))
    return [per[name] for name in sorted(per)]


def drift_alerts(
    project: Project, threshold: float = 0.8, min_items: int = 5, window_days: int = 7
) -> list[DriftAlert]:
    """Annotators whose latest bucket of at least `min_items` gold answers is below
    `threshold`."""
    alerts = []
    for acc in gold_accuracy(project, window_days=window_days):
        recent = [b for b in acc.buckets if b.total >= min_items]
        if recent and recent[-1].accuracy < threshold:  # type: ignore[operator]
            b = recent[-1]
            alerts.append(
                DriftAlert(acc.annotator, b.accuracy, b.total, b.start, b.end, threshold)  # type: ignore[arg-type]
            )
    return alerts


# -- read-only views for the gold window (app.views.quality.gold) -------------------------------


@dataclass(frozen=True)
class GoldRow:
    datapoint_id: int
    answer: Any
    answered: int  # annotators with a complete answer (not the gold's author, not a correction)
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None


def gold_rows(project: Project) -> list[GoldRow]:
    """Every gold item with its answer and how its annotators did on it, in datapoint order."""
    with project.engine.connect() as conn:
        gold = {
            dp: json.loads(value)
            for dp, value in conn.execute(
                text("SELECT datapoint_id, value FROM gold_item ORDER BY datapoint_id")
            )
        }
        answers = conn.execute(
            text(
                "SELECT a.datapoint_id, a.value FROM annotation a"
                " JOIN gold_item g ON g.datapoint_id = a.datapoint_id"
                " WHERE a.status = 'complete' AND a.origin != 'review'"
                " AND (g.created_by IS NULL OR a.annotator_id != g.created_by)"
                f"{runs.and_visible(runs.annotation_where(conn))}"
            )
        ).all()
    tally = {dp: [0, 0] for dp in gold}
    for dp, value in answers:
        tally[dp][0] += 1
        tally[dp][1] += same_answer(project.task_type, json.loads(value), gold[dp])
    return [GoldRow(dp, gold[dp], *tally[dp]) for dp in gold]
