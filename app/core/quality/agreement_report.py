"""Inter-annotator agreement of a project: its complete annotations, gathered into the tallies
of app.core.quality.agreement (the statistics), per label and overall.

`project_agreement` streams the annotations one datapoint at a time, so memory grows with the
number of annotators and labels, not with the number of annotations.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations, groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, bindparam, text

from app.core.errors import ProjectError
from app.core.project.project import Project, current_schema
from app.core.quality.agreement import (
    Pair,
    SpanTally,
    Tally,
    fill_binary,
    item_agreement,
    labels_of,
    spans_of,
    tally_figures,
)
from app.core.storage import runs
from app.core.storage.visibility import visible_id

LOW_ALPHA = 0.667
"""Krippendorff's lowest acceptable alpha for tentative conclusions: labels below are shown as
candidates for guideline updates."""


def display_names(rows: Sequence[tuple[int, str, str]]) -> dict[int, str]:
    """Annotator names, with the start of the UUID added where two annotators share a name."""
    seen = Counter(name for _id, name, _uuid in rows)
    return {id_: name if seen[name] == 1 else f"{name} ({uuid[:8]})" for id_, name, uuid in rows}


def _select_annotators(
    rows: Sequence[tuple[int, str, str]], wanted: Iterable[str] | None
) -> list[int] | None:
    if wanted is None:
        return None
    if isinstance(wanted, str):
        wanted = [wanted]
    ids = []
    for key in wanted:
        found = [id_ for id_, name, uuid in rows if key in (name, uuid)]
        if not found:
            raise ProjectError(f"no annotator named {key!r} in this project")
        ids += found
    return sorted(set(ids))


# The model's auto-labels (origin 'model', issue 12) are no annotator's: left out.
_FETCH = (
    "SELECT a.datapoint_id, a.annotator_id, a.value FROM annotation a"
    " WHERE a.status = 'complete' AND a.origin != 'model'{who} AND {shown} AND a.datapoint_id IN ("
    "  SELECT datapoint_id FROM annotation i WHERE status = 'complete'"
    "  AND origin != 'model'{who_inner} AND {shown_inner}"
    "  GROUP BY datapoint_id HAVING count(*) >= 2)"
    " ORDER BY a.datapoint_id"
)


def project_agreement(
    project: Project,
    *,
    annotators: Iterable[str] | None = None,
    max_items: int = 50,
    low_alpha: float = LOW_ALPHA,
) -> dict[str, Any]:
    """Agreement between a project's annotators, overall and per label, JSON-serialisable.

    Only complete annotations count, and only on datapoints that at least two (selected)
    annotators completed; `annotators` names them (by name or UUID), None meaning all.

    - "overall": for classification, nominal over the labels; for multilabel and spans, the
      label decisions (is label L in the item's value / among its spans' labels?) pooled over
      every (item, label) pair for the labels that anyone used.
    - "per_label": label L against the rest, as binary, for every label of the schema and any
      other label found in the annotations.
    - "spans" (span projects only): pairwise F1, exact and overlap matching, per label and
      overall, pooled over pairs; "items" there counts the items with a span to compare.
    - "low_agreement": labels whose alpha is below `low_alpha`, worst first, and up to
      `max_items` items whose annotators agree least, worst first.

    Every figure comes with the items behind it: "items" for alpha and the pairwise kappas,
    "fleiss_items" for Fleiss' kappa, which uses only the items with the most common number
    of annotators (Fleiss assumes a fixed number; alpha does not). Undefined figures are None.
    """
    gathered = _Gathering(project.task_type, max_items)
    with project.engine.connect() as conn:
        rows = [
            (id_, name, uuid)
            for id_, name, uuid in conn.execute(text("SELECT id, name, uuid FROM annotator"))
        ]
        selected = _select_annotators(rows, annotators)
        display = display_names(rows)
        ranked_ids = sorted(display, key=lambda id_: (display[id_], id_))
        rank = {id_: k for k, id_ in enumerate(ranked_ids)}
        names = [display[id_] for id_ in ranked_ids]
        schema_labels = current_schema(conn).label_names
        for dp_id, group in groupby(_complete_annotations(conn, selected), key=itemgetter(0)):
            decoded = ((rank[who], json.loads(raw or "null")) for _dp, who, raw in group)
            ratings = sorted(((r, v) for r, v in decoded if v is not None), key=itemgetter(0))
            if len(ratings) >= 2:
                gathered.add(dp_id, ratings, names)
    return gathered.report(names, schema_labels, low_alpha)


def _complete_annotations(conn: Connection, selected: list[int] | None):
    """(datapoint id, annotator id, value JSON) of the complete annotations of the items that
    two or more (selected) annotators completed, in datapoint order, streamed."""
    sql = text(
        _FETCH.format(
            who="" if selected is None else " AND a.annotator_id IN :who",
            who_inner="" if selected is None else " AND annotator_id IN :who",
            # never an unfinished import's labels, nor an unpublished run's (app.core.storage.runs)
            shown=f"{visible_id('a.datapoint_id')} AND {runs.annotation_visible('a')}",
            shown_inner=runs.annotation_visible("i"),
        )
    )
    params: dict[str, Any] = {}
    if selected is not None:
        sql = sql.bindparams(bindparam("who", expanding=True))
        params["who"] = selected
    return conn.execution_options(yield_per=2000).execute(sql, params)


@dataclass
class _Gathering:
    """The tallies of a project's items, filled one item at a time (annotators as ranks)."""

    task_type: str
    max_items: int
    overall: Tally = field(default_factory=Tally)
    per_label: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    spans: SpanTally = field(default_factory=SpanTally)
    items_by_m: Counter[int] = field(default_factory=Counter)  # items rated by m annotators
    shared: Counter[Pair] = field(default_factory=Counter)  # items both of a pair rated
    worst: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)  # a heap
    items: int = 0

    def add(self, dp_id: int, ratings: list[tuple[int, Any]], names: Sequence[str]) -> None:
        """One item's ratings, (annotator rank, value) in rank order, two or more."""
        task_type = self.task_type
        self.items += 1
        self.items_by_m[len(ratings)] += 1
        for (i, _x), (j, _y) in combinations(ratings, 2):
            self.shared[(i, j)] += 1
        sets = [labels_of(value, task_type) for _rank, value in ratings]
        if task_type == "classification":
            self.overall.add(ratings)
        for label in frozenset().union(*sets):
            marks = [(r, label in s) for (r, _v), s in zip(ratings, sets, strict=True)]
            self.per_label[label].add(marks)
        if task_type == "spans":
            score = self.spans.add([(r, spans_of(value)) for r, value in ratings])
        else:
            score = item_agreement(task_type, [v for _r, v in ratings], sets)
        if score < 1 and self.max_items > 0:
            self._keep_worst(dp_id, score, ratings, names)

    def _keep_worst(
        self, dp_id: int, score: float, ratings: list[tuple[int, Any]], names: Sequence[str]
    ) -> None:
        entry = (
            -score,
            -dp_id,
            {
                "datapoint_id": dp_id,
                "agreement": score,
                "annotators": [names[r] for r, _v in ratings],
                "values": [v for _r, v in ratings],
            },
        )
        if len(self.worst) < self.max_items:
            heapq.heappush(self.worst, entry)
        else:
            heapq.heappushpop(self.worst, entry)

    def report(
        self, names: Sequence[str], schema_labels: list[str], low_alpha: float
    ) -> dict[str, Any]:
        """The figures of project_agreement, from what was gathered."""
        items, items_by_m, shared = self.items, self.items_by_m, self.shared
        used = sorted(self.per_label)
        labels = schema_labels + [label for label in used if label not in schema_labels]
        filled = {
            label: fill_binary(self.per_label.get(label) or Tally(), items_by_m, shared)
            for label in labels
        }
        if self.task_type == "classification":
            overall_figures = tally_figures(self.overall, items, names)
        elif used:
            pooled = Tally()
            for label in used:
                pooled.merge(filled[label])
            overall_figures = tally_figures(pooled, items, names, pooled=len(used))
        else:  # nobody used any label: all agree on "none", which leaves nothing to measure
            overall_figures = tally_figures(fill_binary(Tally(), items_by_m, shared), items, names)
        label_figures = {label: tally_figures(filled[label], items, names) for label in labels}
        low_labels = sorted(
            (
                (figures["krippendorff_alpha"], label)
                for label, figures in label_figures.items()
                if figures["krippendorff_alpha"] is not None
                and figures["krippendorff_alpha"] < low_alpha
            ),
        )
        report: dict[str, Any] = {"overall": overall_figures, "per_label": label_figures}
        if self.task_type == "spans":
            report["spans"] = self.spans.report(names, labels)
        report["low_agreement"] = {
            "labels": [label for _alpha, label in low_labels],
            "items": [payload for *_key, payload in sorted(self.worst, reverse=True)],
        }
        return report
