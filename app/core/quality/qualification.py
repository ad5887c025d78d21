"""Qualification sets: gold items an annotator must answer well before getting real work.

- A qualification set (`create_qualification`) is a named set of gold items with a pass
  score; `assign_qualification` gives annotators its items as qualification tasks;
  `qualification_result` scores an annotator on it (unanswered items count as wrong) and,
  once they answered every item, records the result (table qualification_result; it travels
  back in work bundles). `generate_tasks` refuses real work to an annotator without a passing
  recorded result for every qualification set, unless forced: that gate reads the recorded
  results (app.core.team.eligibility).
- `qualification_sets` and `recorded_results` are the read-only views of the gold window
  (app.views.quality.gold).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from app.core import audit
from app.core.errors import ProjectError
from app.core.ids import new_uuid, now_iso, stamp_after
from app.core.project.annotators import find_annotator
from app.core.project.project import Project
from app.core.quality.gold import same_answer
from app.core.storage import runs
from app.core.storage.retry import write_transaction
from app.core.team.eligibility import newest_result
from app.core.team.tasks import QUALIFICATION, create_missing_tasks, record_assignment


@dataclass(frozen=True)
class QualificationResult:
    name: str
    annotator: str
    score: float
    correct: int
    total: int
    answered: int
    pass_score: float
    recorded: str | None  # the recorded result's UUID, None until every item is answered

    @property
    def passed(self) -> bool:
        return self.answered == self.total and self.score >= self.pass_score


def create_qualification(
    project: Project, name: str, datapoint_ids: Sequence[int], pass_score: float
) -> str:
    """A qualification set of gold items; returns its UUID."""
    name = name.strip()
    if not name:
        raise ProjectError("a qualification set needs a name")
    if not 0.0 < pass_score <= 1.0:
        raise ProjectError("the pass score is above 0 and at most 1")
    items = sorted(set(datapoint_ids))
    if not items:
        raise ProjectError("a qualification set needs items")
    actor = project.local_annotator_id
    with write_transaction(project.engine) as conn:
        if conn.execute(
            text("SELECT 1 FROM qualification_set WHERE name = :n"), {"n": name}
        ).first():
            raise ProjectError(f"a qualification set named {name!r} already exists")
        gold = {r[0] for r in conn.execute(text("SELECT datapoint_id FROM gold_item"))}
        missing = [dp for dp in items if dp not in gold]
        if missing:
            shown = ", ".join(map(str, missing[:10]))
            raise ProjectError(f"qualification items must be gold items; not gold: {shown}")
        uid = new_uuid()
        set_id = conn.execute(
            text(
                "INSERT INTO qualification_set (uuid, name, pass_score, created_by, created_at)"
                " VALUES (:uuid, :name, :score, :who, :at)"
            ),
            {"uuid": uid, "name": name, "score": pass_score, "who": actor, "at": now_iso()},
        ).lastrowid
        conn.execute(
            text("INSERT INTO qualification_item (set_id, datapoint_id) VALUES (:s, :dp)"),
            [{"s": set_id, "dp": dp} for dp in items],
        )
        audit.record(
            conn,
            actor,
            "add",
            "qualification_set",
            uid,
            after={"name": name, "items": len(items), "pass_score": pass_score},
        )
    return uid


def _set(conn: Connection, name: str | None) -> tuple[int, str, float]:
    rows = conn.execute(
        text("SELECT id, name, pass_score FROM qualification_set ORDER BY created_at, uuid")
    ).all()
    if name is not None:
        rows = [r for r in rows if r[1] == name]
    if not rows:
        raise ProjectError(
            f"no qualification set named {name!r}" if name else "no qualification set yet"
        )
    if len(rows) > 1:
        raise ProjectError("name the qualification set: there are several")
    return tuple(rows[0])  # type: ignore[return-value]


def assign_qualification(project: Project, name: str | None, annotators: Sequence[str]) -> int:
    """Qualification tasks on the set's items for each annotator (none twice); how many."""
    actor = project.local_annotator_id
    made = 0
    with write_transaction(project.engine) as conn:
        set_id, set_name, _score = _set(conn, name)
        items = [
            r[0]
            for r in conn.execute(
                text("SELECT datapoint_id FROM qualification_item WHERE set_id = :s ORDER BY 1"),
                {"s": set_id},
            )
        ]
        for key in annotators:
            who = find_annotator(conn, key)[0]
            made += create_missing_tasks(conn, who, QUALIFICATION, items, actor)
        record_assignment(conn, actor, {"kind": "qualification", "set": set_name})
    return made


def qualification_result(
    project: Project, annotator: int | str, name: str | None = None, *, record: bool = True
) -> QualificationResult:
    """Score `annotator` on the qualification set `name` (or the only one) and, once every
    item is answered, record the result (once per distinct outcome)."""
    actor = project.local_annotator_id  # before the lock: it may write on its own
    with write_transaction(project.engine) as conn:
        who, _uuid, who_name = find_annotator(conn, annotator)
        set_id, set_name, pass_score = _set(conn, name)
        rows = conn.execute(
            text(
                "SELECT g.value, a.status, a.value FROM qualification_item q"
                " JOIN gold_item g ON g.datapoint_id = q.datapoint_id"
                " LEFT JOIN annotation a ON a.datapoint_id = q.datapoint_id"
                f" AND a.annotator_id = :who AND {runs.annotation_visible('a')}"
                " WHERE q.set_id = :s"
            ),
            {"who": who, "s": set_id},
        ).all()
        total = len(rows)
        answered = sum(
            1 for _g, status, _v in rows if status in ("complete", "skipped", "discarded")
        )
        correct = sum(
            1
            for gold, status, value in rows
            if status == "complete"
            and same_answer(project.task_type, json.loads(value), json.loads(gold))
        )
        score = correct / total if total else 0.0
        passed = answered == total and total > 0 and score >= pass_score
        recorded = None
        if record and total and answered == total:
            last = newest_result(conn, set_id, who)
            if last is not None and (last.correct, last.total) == (correct, total):
                recorded = last.uuid
            else:
                recorded = new_uuid()
                conn.execute(
                    text(
                        "INSERT INTO qualification_result (uuid, set_id, annotator_id, score,"
                        " correct, total, passed, recorded_by, recorded_at) VALUES (:uuid, :s,"
                        " :who, :score, :correct, :total, :passed, :by, :at)"
                    ),
                    {
                        "uuid": recorded,
                        "s": set_id,
                        "who": who,
                        "score": score,
                        "correct": correct,
                        "total": total,
                        "passed": passed,
                        "by": actor,
                        "at": stamp_after(None if last is None else last.recorded_at),
                    },
                )
                audit.record(
                    conn,
                    actor,
                    "qualify",
                    "qualification_result",
                    recorded,
                    after={
                        "annotator": who_name,
                        "set": set_name,
                        "score": score,
                        "passed": passed,
                    },
                )
    return QualificationResult(
        set_name, who_name, score, correct, total, answered, pass_score, recorded
    )


def qualification_sets(project: Project) -> list[tuple[str, float, int]]:
    """(name, pass score, items) of every qualification set, oldest first."""
    with project.engine.connect() as conn:
        return [
            (name, score, items)
            for name, score, items in conn.execute(
                text(
                    "SELECT s.name, s.pass_score, (SELECT count(*) FROM qualification_item i"
                    " WHERE i.set_id = s.id) FROM qualification_set s ORDER BY s.created_at, s.uuid"
                )
            )
        ]


def recorded_results(project: Project) -> list[tuple[str, str, float, int, int, bool, str]]:
    """(annotator, set, score, correct, total, passed, recorded at) of every recorded
    qualification result, newest first."""
    with project.engine.connect() as conn:
        return [
            (who, name, score, correct, total, bool(passed), at)
            for who, name, score, correct, total, passed, at in conn.execute(
                text(
                    "SELECT n.name, s.name, r.score, r.correct, r.total, r.passed, r.recorded_at"
                    " FROM qualification_result r JOIN qualification_set s ON s.id = r.set_id"
                    " JOIN annotator n ON n.id = r.annotator_id"
                    " ORDER BY r.recorded_at DESC, r.uuid DESC"
                )
            )
        ]
