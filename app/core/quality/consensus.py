"""Consensus, adjudication and the final value of each item.

The votes on an item are its complete annotations, one per annotator, as review left them:

- a reviewer's correction (an annotation with origin 'review', app.core.quality.review) replaces the
  vote of the annotation it corrects and is not a vote of its own;
- an annotation whose current review decision rejects or discards it (without a correction,
  and not changed by its annotator since) has no vote;
- an auto-label (origin 'model', app.core.quality.automation) has no vote until a reviewer
  approves it (a correction replaces it as it replaces any vote).

Voting (`vote`), over the n votes of an item (n >= 2):

- classification: plurality; a tie for the most votes is no consensus;
- multilabel: a label is in the consensus iff more than n/2 annotators chose it; a label chosen
  by exactly n/2 is a tie: no consensus;
- spans, "exact" matching: a span (start, end, label) is in the consensus iff more than n/2
  annotators have exactly it; "overlap" matching: a span is supported by the annotators having a
  span of the same label overlapping it; candidates are taken most common exact boundaries
  first, and one is kept iff more than n/2 annotators support it and it overlaps no span kept
  already (so the kept boundaries are the most common ones among the matching spans). In both
  modes a candidate supported by exactly n/2 annotators (and not covered) is a tie.

The final value of an item (`final_values`, what training and export use) is, in order: the
newest adjudication (a table of its own: an adjudicator's decision is never confused with their
own labeling), the gold answer (app.core.quality.gold), the consensus of two or more votes, the only
vote. Items whose votes do not reach a consensus have no final value until adjudicated
(`unresolved="newest"` falls back to the newest vote, as training did before adjudication).
Consensus is derived on demand and never stored, so it cannot go stale.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, text

from app.core import audit
from app.core.annotation.commands import text_lengths, validate_value
from app.core.errors import ProjectError
from app.core.ids import new_uuid, now_iso, stamp_after
from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress
from app.core.project.annotators import find_annotator
from app.core.project.project import Project, current_schema
from app.core.storage import runs
from app.core.storage.retry import write_transaction
from app.core.storage.sqlite import driver_connection
from app.core.storage.visibility import snapshot, visible_id
from app.core.team import runtasks
from app.core.team.tasks import ADJUDICATE, record_assignment, tasked_datapoints

MATCHES = ("exact", "overlap")
SOURCES = ("adjudicated", "gold", "consensus", "single", "newest")
REVIEW_DECISIONS = ("approve", "reject", "discard")
Match = Literal["exact", "overlap"]


@dataclass(frozen=True)
class Vote:
    annotator_id: int
    annotator: str  # name
    annotation_uuid: str
    value: Any
    updated_at: str
    corrected: bool = False  # the value is a reviewer's correction


@dataclass(frozen=True)
class Consensus:
    datapoint_id: int
    reached: bool
    value: Any  # the consensus value (None when not reached)
    votes: tuple[Vote, ...]

    @property
    def unanimous(self) -> bool:
        return len({json.dumps(v.value, sort_keys=True) for v in self.votes}) == 1


@dataclass(frozen=True)
class FinalValue:
    datapoint_id: int
    value: Any
    source: str  # one of SOURCES


@dataclass
class ItemVersions:
    """Everything an adjudicator sees side by side for one item."""

    datapoint_id: int
    votes: list[Vote]
    consensus: Consensus | None
    adjudication: dict[str, Any] | None  # {uuid, value, decided_by, decided_at}
    gold: Any = None
    final: FinalValue | None = None
    others: list[dict[str, Any]] = field(default_factory=list)  # rejected/excluded versions


# -- voting ---------------------------------------------------------------------------------


def _span_key(span: dict[str, Any]) -> tuple[int, int, str]:
    return (span["start"], span["end"], span["label"])


def _as_span(key: tuple[int, int, str]) -> dict[str, Any]:
    return {"start": key[0], "end": key[1], "label": key[2]}


def _overlaps(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    return a[2] == b[2] and a[0] < b[1] and b[0] < a[1]


def vote(
    task_type: str,
    values: Sequence[Any],
    match: Match = "exact",
    label_order: Sequence[str] = (),
) -> tuple[bool, Any]:
    """(reached, value) for one item's votes, by the rules of the module doc."""
    n = len(values)
    if n == 0:
        return False, None
    if task_type == "classification":
        counts = Counter(values).most_common()
        if len(counts) > 1 and counts[0][1] == counts[1][1]:
            return False, None
        return True, counts[0][0]
    if task_type == "multilabel":
        counts = Counter(label for value in values for label in set(value))
        if any(2 * c == n for c in counts.values()):
            return False, None
        rank = {label: i for i, label in enumerate(label_order)}
        chosen = [label for label, c in counts.items() if 2 * c > n]
        return True, sorted(chosen, key=lambda x: (rank.get(x, len(rank)), x))
    if task_type == "spans":
        if match not in MATCHES:
            raise ProjectError(f"match must be one of {', '.join(MATCHES)}, not {match!r}")
        per_annotator = [{_span_key(s) for s in value} for value in values]
        exact = Counter(key for keys in per_annotator for key in keys)
        if match == "exact":
            if any(2 * c == n for c in exact.values()):
                return False, None
            kept = [key for key, c in exact.items() if 2 * c > n]
            return True, [_as_span(k) for k in sorted(kept)]

        def support(key: tuple[int, int, str]) -> int:
            return sum(1 for keys in per_annotator if any(_overlaps(key, k) for k in keys))

        candidates = sorted(exact, key=lambda k: (-exact[k], k))
        kept = []
        for key in candidates:
            if any(_overlaps(key, k) for k in kept):
                continue
            if 2 * support(key) > n:
                kept.append(key)
        for key in candidates:
            if not any(_overlaps(key, k) for k in kept) and 2 * support(key) == n:
                return False, None
        return True, [_as_span(k) for k in sorted(kept)]
    raise ProjectError(f"unknown task type {task_type!r}")


# -- reading votes --------------------------------------------------------------------------


def current_reviews(raw: sqlite3.Connection) -> dict[str, tuple[str, str | None, str, str]]:
    """{annotation uuid: (effective decision, correction uuid, created_at, decision uuid)} of
    each annotation's newest review decision; custom statuses are mapped to what they count as."""
    custom = dict(raw.execute("SELECT name, counts_as FROM custom_status"))
    out: dict[str, tuple[str, str | None, str, str]] = {}
    for ann, decision, correction, created, uid in raw.execute(
        "SELECT annotation_uuid, decision, correction_uuid, created_at, uuid"
        " FROM review_decision ORDER BY annotation_uuid, created_at, uuid"
    ):
        out[ann] = (custom.get(decision, decision), correction, created, uid)
    return out


def _grouped_votes(
    raw: sqlite3.Connection, where: str = "", params: tuple = ()
) -> Iterator[tuple[int, list[Vote], list[dict[str, Any]]]]:
    """(datapoint id, votes, excluded versions) for each item with complete annotations, in
    datapoint order, streamed."""
    shown = runs.and_visible(runs.annotation_where(raw, "a"))  # nor an unpublished run's
    reviews = current_reviews(raw)
    corrections = {
        uid: json.loads(value)
        for uid, value in raw.execute(
            "SELECT uuid, value FROM annotation a WHERE origin = 'review'"
            f" AND status = 'complete'{shown}"
        )
    }
    cursor = raw.execute(
        "SELECT a.datapoint_id, a.annotator_id, n.name, a.uuid, a.value, a.updated_at, a.origin"
        " FROM annotation a JOIN annotator n ON n.id = a.annotator_id"
        " WHERE a.status = 'complete' AND a.origin != 'review'"
        f" AND {visible_id('a.datapoint_id')}"  # never an unfinished import's labels
        f"{shown}{where} ORDER BY a.datapoint_id, a.annotator_id",
        params,
    )
    current: int | None = None
    votes: list[Vote] = []
    excluded: list[dict[str, Any]] = []
    for dp_id, who, name, uid, value, updated, origin in cursor:
        if dp_id != current:
            if current is not None:
                yield current, votes, excluded
            current, votes, excluded = dp_id, [], []
        decoded = json.loads(value)
        review = reviews.get(uid)
        if review is not None and updated <= review[2]:
            decision, correction = review[0], review[1]
            if correction is not None and correction in corrections:
                votes.append(Vote(who, name, uid, corrections[correction], updated, True))
                excluded.append({"annotator": name, "value": decoded, "review": decision})
                continue
            if decision in ("reject", "discard"):
                excluded.append({"annotator": name, "value": decoded, "review": decision})
                continue
        if origin == "model" and (review is None or review[0] != "approve"):
            # an auto-label (issue 12) is no vote until a person approves or corrects it
            excluded.append({"annotator": name, "value": decoded, "review": "unconfirmed"})
            continue
        votes.append(Vote(who, name, uid, decoded, updated))
    if current is not None:
        yield current, votes, excluded


def _adjudications(raw: sqlite3.Connection) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for dp_id, uid, value, who, at in raw.execute(
        "SELECT j.datapoint_id, j.uuid, j.value, n.name, j.decided_at FROM adjudication j"
        " JOIN annotator n ON n.id = j.decided_by ORDER BY j.datapoint_id, j.decided_at, j.uuid"
    ):
        out[dp_id] = {"uuid": uid, "value": json.loads(value), "decided_by": who, "decided_at": at}
    return out


def _gold(raw: sqlite3.Connection) -> dict[int, Any]:
    return {
        dp_id: json.loads(value)
        for dp_id, value in raw.execute("SELECT datapoint_id, value FROM gold_item")
    }


# -- the verbs ------------------------------------------------------------------------------


def consensus(
    project: Project, *, match: Match = "exact", datapoint_ids: Sequence[int] | None = None
) -> Iterator[Consensus]:
    """The consensus of every item with two or more votes (or of the given items), in order."""
    order = project.schema.label_names
    where, params = _id_filter(datapoint_ids)
    with project.engine.connect() as conn:
        for dp_id, votes, _excluded in _grouped_votes(driver_connection(conn), where, params):
            if len(votes) < 2:
                continue
            reached, value = vote(project.task_type, [v.value for v in votes], match, order)
            yield Consensus(dp_id, reached, value, tuple(votes))


def _id_filter(ids: Sequence[int] | None) -> tuple[str, tuple]:
    if ids is None:
        return "", ()
    ids = [int(i) for i in ids]
    if not ids:
        return " AND 0", ()
    return f" AND a.datapoint_id IN ({','.join('?' * len(ids))})", tuple(ids)


def disagreements(
    project: Project,
    *,
    match: Match = "exact",
    include_adjudicated: bool = False,
) -> list[Consensus]:
    """Items with two or more votes and no consensus: the adjudication queue. Items already
    adjudicated, and gold items (their answer is known), are left out unless asked for."""
    with project.engine.connect() as conn:
        raw = driver_connection(conn)
        settled = set() if include_adjudicated else set(_adjudications(raw)) | set(_gold(raw))
    return [
        c
        for c in consensus(project, match=match)
        if not c.reached and c.datapoint_id not in settled
    ]


def consensus_counts(project: Project, *, match: Match = "exact") -> dict[str, int]:
    """How many items have several votes, reach consensus (unanimously or not), disagree, and
    of those how many are adjudicated: the figures `tagloop consensus` prints."""
    with project.engine.connect() as conn:
        raw = driver_connection(conn)
        adjudicated = set(_adjudications(raw))
        gold = set(_gold(raw))
    counts = dict.fromkeys(
        ("items", "unanimous", "majority", "disagreements", "adjudicated", "open"), 0
    )
    for c in consensus(project, match=match):
        counts["items"] += 1
        if c.reached:
            counts["unanimous" if c.unanimous else "majority"] += 1
        else:
            counts["disagreements"] += 1
            if c.datapoint_id in adjudicated:
                counts["adjudicated"] += 1
            elif c.datapoint_id not in gold:
                counts["open"] += 1
    return counts


def create_adjudication_tasks(
    project: Project,
    adjudicator: int | str,
    *,
    match: Match = "exact",
    datapoint_ids: Sequence[int] | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> int:
    """An adjudicate task for `adjudicator` on each open disagreement (or on the given items)
    that has no open adjudicate task yet (anyone's: one adjudicator per item is enough);
    returns how many were made. Written as a write run in short chunks and published with its
    one audit event (app.core.team.runtasks); refused, with nothing written, if another round
    gave any of these items an adjudicate task meanwhile."""
    wanted = None if datapoint_ids is None else set(datapoint_ids)
    items = [
        c.datapoint_id
        for c in disagreements(project, match=match)
        if wanted is None or c.datapoint_id in wanted
    ]
    actor = project.local_annotator_id  # a write the first time: never under the run's lock
    with project.engine.connect() as conn:
        snapshot(conn)
        seen = runtasks.seen_tasks(conn)
        who, who_uuid, _name = find_annotator(conn, adjudicator)
        have = tasked_datapoints(conn, ADJUDICATE)
    todo = [dp for dp in dict.fromkeys(items) if dp not in have]
    if not todo:
        return 0

    def finish(sa_conn: Connection, raw: sqlite3.Connection, run: runtasks.TaskRun) -> None:
        """Under the lock: the adjudicator is still there, no item got a task meanwhile."""
        find_annotator(sa_conn, who_uuid)
        since = runtasks.made_since(raw, seen, run, ADJUDICATE)
        runtasks.refuse_duplicates(sum(1 for dp in todo if dp in since) if since else 0, ADJUDICATE)
        what = {"kind": ADJUDICATE, "annotator": who_uuid, "tasks": run.count}
        record_assignment(sa_conn, actor, {**what, "task_uuid_prefix": run.prefix})

    created = now_iso()
    tasks = ((dp, who, ADJUDICATE, created) for dp in todo)
    run = runtasks.write_run(project, "adjudicate", tasks, len(todo), finish, progress, cancel)
    return run.count


def adjudicate(project: Project, datapoint_id: int, adjudicator: int | str, value: Any) -> str:
    """Record `adjudicator`'s final value for an item (checked like an annotation); returns the
    decision's UUID. Deciding again adds a newer decision; the newest is the final value."""
    with write_transaction(project.engine) as conn:
        who, _uuid, _name = find_annotator(conn, adjudicator)
        schema = current_schema(conn)
        lengths = text_lengths(conn, [datapoint_id])
        if datapoint_id not in lengths:
            raise ProjectError(f"datapoint {datapoint_id} does not exist")
        if value is None:
            raise ProjectError("an adjudication needs a value")
        validate_value(
            project,
            schema.label_names,
            value,
            "complete",
            lengths[datapoint_id],
            schema.allow_overlap,
        )
        previous = conn.execute(
            text(
                "SELECT value, decided_at FROM adjudication WHERE datapoint_id = :dp"
                " ORDER BY decided_at DESC, uuid DESC LIMIT 1"
            ),
            {"dp": datapoint_id},
        ).first()
        uid = new_uuid()
        conn.execute(
            text(
                "INSERT INTO adjudication (uuid, datapoint_id, value, decided_by, decided_at)"
                " VALUES (:uuid, :dp, :value, :who, :at)"
            ),
            {
                "uuid": uid,
                "dp": datapoint_id,
                "value": json.dumps(value, ensure_ascii=False),
                "who": who,
                "at": stamp_after(None if previous is None else previous.decided_at),
            },
        )
        audit.record(
            conn,
            who,
            "adjudicate",
            "adjudication",
            uid,
            before=None if previous is None else {"value": json.loads(previous.value)},
            after={"value": value, "datapoint": datapoint_id},
        )
    return uid


def item_versions(project: Project, datapoint_id: int, *, match: Match = "exact") -> ItemVersions:
    """The side-by-side view of one item: every vote, the versions review set aside, the
    consensus, the adjudication and the gold answer, and the final value."""
    with project.engine.connect() as conn:
        raw = driver_connection(conn)
        grouped = list(_grouped_votes(raw, " AND a.datapoint_id = ?", (datapoint_id,)))
        adjudication = _adjudications(raw).get(datapoint_id)
        gold = _gold(raw).get(datapoint_id)
    votes, excluded = (grouped[0][1], grouped[0][2]) if grouped else ([], [])
    agreed = None
    if len(votes) >= 2:
        reached, value = vote(
            project.task_type, [v.value for v in votes], match, project.schema.label_names
        )
        agreed = Consensus(datapoint_id, reached, value, tuple(votes))
    final = _decide(datapoint_id, votes, agreed, adjudication, gold, "skip")
    return ItemVersions(datapoint_id, votes, agreed, adjudication, gold, final, excluded)


def _decide(dp_id, votes, agreed, adjudication, gold, unresolved) -> FinalValue | None:
    if adjudication is not None:
        return FinalValue(dp_id, adjudication["value"], "adjudicated")
    if gold is not None:
        return FinalValue(dp_id, gold, "gold")
    if agreed is not None and agreed.reached:
        return FinalValue(dp_id, agreed.value, "consensus")
    if len(votes) == 1:
        return FinalValue(dp_id, votes[0].value, "single")
    if votes and unresolved == "newest":
        newest = max(votes, key=lambda v: (v.updated_at, v.annotation_uuid))
        return FinalValue(dp_id, newest.value, "newest")
    return None


def final_records(
    project: Project, *, match: Match = "exact", unresolved: str = "skip"
) -> Iterator[FinalValue]:
    """The final value of every item that has one, in datapoint order (see the module doc);
    `unresolved="newest"` gives unsettled disagreements their newest vote."""
    if unresolved not in ("skip", "newest"):
        raise ProjectError("unresolved must be 'skip' or 'newest'")
    task_type = project.task_type
    order = project.schema.label_names
    with project.engine.connect() as conn:
        raw = driver_connection(conn)
        adjudications = _adjudications(raw)
        gold = _gold(raw)
        extra = sorted(set(adjudications) | set(gold))
        pending = 0
        for dp_id, votes, _excluded in _grouped_votes(raw):
            while pending < len(extra) and extra[pending] < dp_id:
                only = extra[pending]
                decided = _decide(only, [], None, adjudications.get(only), gold.get(only), "skip")
                if decided is not None:
                    yield decided
                pending += 1
            if pending < len(extra) and extra[pending] == dp_id:
                pending += 1
            agreed = None
            if len(votes) >= 2 and dp_id not in adjudications and dp_id not in gold:
                reached, value = vote(task_type, [v.value for v in votes], match, order)
                agreed = Consensus(dp_id, reached, value, tuple(votes))
            decided = _decide(
                dp_id, votes, agreed, adjudications.get(dp_id), gold.get(dp_id), unresolved
            )
            if decided is not None:
                yield decided
        for only in extra[pending:]:
            decided = _decide(only, [], None, adjudications.get(only), gold.get(only), "skip")
            if decided is not None:
                yield decided


def final_values(
    project: Project,
    source: str = "final",
    *,
    match: Match = "exact",
    unresolved: str = "skip",
) -> Iterator[tuple[int, Any]]:
    """(datapoint id, value) in datapoint order: the final values (source "final"), or one
    annotator's own complete annotations (source "annotator:NAME", or the name or UUID)."""
    if source == "final":
        for record in final_records(project, match=match, unresolved=unresolved):
            yield record.datapoint_id, record.value
        return
    key = source.removeprefix("annotator:")
    with project.engine.connect() as conn:
        who, _uuid, _name = find_annotator(conn, key)
        rows = conn.execute(
            text(
                "SELECT datapoint_id, value FROM annotation WHERE annotator_id = :who"
                f" AND status = 'complete' AND {visible_id()}"
                f"{runs.and_visible(runs.annotation_where(conn, 'annotation'))}"
                " ORDER BY datapoint_id"
            ),
            {"who": who},
        )
        for dp_id, value in rows:
            yield dp_id, json.loads(value)
