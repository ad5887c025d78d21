"""Windowed queries over the datapoint table: filter, sort, search, count, one page at a time.

Nothing here loads a whole table. Every filter is an index lookup (status, label, flagged,
dataset) or an FTS5 match, and pages are fetched with LIMIT/OFFSET on an indexed order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from app.core.project.project import Project
from app.core.storage import fts, runs, visibility
from app.core.storage.tables import STATUS_CODES, STATUS_NAMES

SORTABLE = ("id", "dataset", "status", "confidence")
AUTO_LABELLED = "auto-labelled"  # labelled by the model alone (issue 12), not by a person
STATUS_FILTERS = (*STATUS_NAMES, "flagged", AUTO_LABELLED)
# Datapoints whose only complete annotation is an auto-label (origin 'model').
MODEL_ONLY = (
    "SELECT a.datapoint_id FROM annotation a WHERE a.origin = 'model' AND a.status = 'complete'"
    " AND NOT EXISTS (SELECT 1 FROM annotation h WHERE h.datapoint_id = a.datapoint_id"
    " AND h.origin != 'model' AND h.status = 'complete')"
)


@dataclass(frozen=True)
class Seen:
    """What this read snapshot may show: the filters of unpublished rows (None: nothing
    hidden, so the hot reads keep their index plans) and the status expression."""

    datapoints: str | None = None  # visibility.visible_where
    labels: str | None = None  # runs.label_where (alias al)
    status: str = "d.status"  # runs.status_expr

    @classmethod
    def of(cls, conn) -> Seen:
        hidden = visibility.visible_where(conn, "d")  # first: the snapshot the query reads
        return cls(hidden, runs.label_where(conn, "al"), runs.status_expr(conn, "d"))

    def model_only(self) -> str:
        """MODEL_ONLY, leaving out unpublished rows."""
        sql = MODEL_ONLY
        if self.labels:  # some run is loading: its annotations are not seen
            sql = sql.replace(
                " AND h.status = 'complete')",
                f" AND h.status = 'complete' AND {runs.annotation_visible('h')})",
            )
            sql += f" AND {runs.annotation_visible('a')}"
        if self.datapoints:
            sql += f" AND {visibility.visible_id('a.datapoint_id')}"
        return sql


PREVIEW_CHARS = 500
_ORDER = {
    "id": "d.id {dir}",
    "dataset": "d.dataset_id {dir}, d.id {dir}",
    "status": "{status} {dir}, d.id {dir}",  # Seen.status: counts a settling run's items
    # the model's confidence in the query's model version (no prediction sorts as lowest)
    "confidence": "(SELECT p.confidence FROM prediction p WHERE p.model_version_id = :mv"
    " AND p.datapoint_id = d.id) {dir}, d.id {dir}",
}
# Runs of letters and digits, as FTS5's unicode61 tokenizer cuts them ("_" separates words).
_WORD = re.compile(r"[^\W_]+\*?", re.UNICODE)
# The text holds a character beyond ASCII (more bytes than characters); 10x faster than GLOB.
_NON_ASCII = "length(text) <> length(CAST(text AS BLOB))"
_PHRASE = re.compile(r'"([^"]+)"')
LOADING = "loading"  # a parameter that marks a query leaving out an unfinished import's rows


@dataclass(frozen=True)
class Query:
    """What the user asked to see."""

    status: str | None = None  # one of STATUS_FILTERS
    label: str | None = None
    search: str | None = None
    dataset_id: int | None = None
    sort: str = "id"
    descending: bool = False
    # The model's predictions (app.core.project.modelstore) of one model version: they filter
    # ("the model says spam", "the model is unsure") and sort (by confidence) the table.
    model_version: int | None = None
    predicted: str | None = None  # the model predicts this label
    max_confidence: float | None = None  # the model's confidence is below this


@dataclass(frozen=True)
class Row:
    id: int
    dataset: str
    row: int
    text: str
    status: str
    flagged: bool
    labels: list[str]


def search_terms(search: str) -> tuple[str | None, list[str]]:
    """A safe FTS5 expression (every word required, `word*` for a prefix) and the phrases.

    FTS5 syntax is never passed through from the user, so no input can cause a syntax error.
    Quoted phrases are required as words in FTS and then checked as substrings of the text.
    """
    phrases = [p.strip() for p in _PHRASE.findall(search) if p.strip()]
    words = _WORD.findall(search)
    if not words:
        return None, phrases
    parts = []
    for word in words:
        prefix = word.endswith("*")
        word = word.rstrip("*")
        if word:
            parts.append(f'"{word}"' + ("*" if prefix else ""))
    return (" ".join(parts) or None), phrases


def _where(
    query: Query, pending_after: int | None = None, seen: Seen | None = None
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause and its parameters. `pending_after`: the search index's mark when
    datapoints above it are not indexed yet (app.core.storage.fts); those are scanned instead.
    `seen`: the filters that leave out an unfinished import's or write run's rows."""
    seen = seen or Seen()
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if seen.datapoints:
        clauses.append(seen.datapoints)
    if seen.datapoints or seen.labels or seen.status != "d.status":
        params[LOADING] = 1  # marks the query: no index-only shortcut can leave them out
    if query.status == "flagged":
        clauses.append("d.flagged = 1")
    elif query.status == AUTO_LABELLED:
        clauses.append(f"d.id IN ({seen.model_only()})")
    elif query.status:
        clauses.append(f"{seen.status} = :status")
        params["status"] = STATUS_CODES[query.status]
    label_clause = None
    visible_label = runs.and_visible(seen.labels)
    if query.label:
        label_clause = len(clauses)
        clauses.append(
            "d.id IN (SELECT datapoint_id FROM annotation_label al WHERE label = :label"
            f"{visible_label})"
        )
        params["label"] = query.label
    if query.dataset_id is not None:
        clauses.append("d.dataset_id = :dataset_id")
        params["dataset_id"] = query.dataset_id
    if query.model_version is not None:
        params["mv"] = query.model_version
        prediction = _prediction_clause(query, params)
        if prediction:
            clauses.append(prediction)
    if query.search and query.search.strip():
        match, phrases = search_terms(query.search)
        if match:
            params["m"] = match
            ids = fts.matching_ids()
            if pending_after is not None:
                ids += f" UNION ALL {_pending_scan(query.search, params, pending_after)}"
            if label_clause is None:
                clauses.append(f"d.id IN ({ids})")
            else:  # one list: the labelled ids among the matches, probed on (label, id)
                clauses[label_clause] = (
                    "d.id IN (SELECT datapoint_id FROM annotation_label al"
                    f" WHERE label = :label AND datapoint_id IN ({ids}){visible_label})"
                )
        for i, phrase in enumerate(phrases):
            clauses.append(f"d.text LIKE :p{i} ESCAPE '\\'")
            escaped = phrase.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params[f"p{i}"] = f"%{escaped}%"
        if not match and not phrases:
            clauses.append("0")  # only punctuation: nothing can match
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _prediction_clause(query: Query, params: dict[str, Any]) -> str | None:
    """Datapoints whose prediction (of version :mv) names a label or is unsure, or None.

    A classification prediction is stored as the label's JSON string, a multilabel one as a
    JSON list of them; a span prediction is an object, which a label filter does not match."""
    tests = []
    if query.predicted is not None:
        quoted = json.dumps(query.predicted, ensure_ascii=False)
        escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["predicted"] = quoted
        params["predicted_in"] = f"[%{escaped}%]"
        tests.append("(p.value = :predicted OR p.value LIKE :predicted_in ESCAPE '\\')")
    if query.max_confidence is not None:
        params["max_confidence"] = query.max_confidence
        tests.append("p.confidence < :max_confidence")
    if not tests:
        return None
    # one pass over the version's predictions (a key range), then the datapoints by id
    return (
        "d.id IN (SELECT p.datapoint_id FROM prediction p WHERE p.model_version_id = :mv"
        " AND " + " AND ".join(tests) + ")"
    )


def _pending_scan(search: str, params: dict[str, Any], pending_after: int) -> str:
    """Ids of not-yet-indexed datapoints holding every search word, found as FTS5 would.

    A cheap LIKE test in SQL first keeps only ASCII texts that contain each ASCII word (and
    every non-ASCII text), then app.core.storage.fts.match_words tokenizes what is left.
    """
    words = []
    tests = []
    for i, word in enumerate(_WORD.findall(search)):
        prefix = word.endswith("*")
        folded = fts.fold(word.rstrip("*"))
        if not folded:
            continue
        words.append((folded, prefix))
        if folded.isascii():
            tests.append(f" AND (text LIKE :w{i} OR {_NON_ASCII})")
            params[f"w{i}"] = f"%{folded}%"
    params["pending_after"] = pending_after
    params["spec"] = fts.match_spec(words)
    return (
        "SELECT id FROM datapoint WHERE id > :pending_after"
        + "".join(tests)
        + f" AND {fts.MATCH_FUNCTION}(text, :spec)"
    )


def _only(query: Query, params: dict[str, Any]) -> str | None:
    """'label' or 'words' when that is the query's only filter (words: no quoted phrases)."""
    keys = ("status", "label", "search", "dataset_id", "predicted", "max_confidence")
    if LOADING in params:
        return None
    used = {k for k in keys if getattr(query, k) is not None and getattr(query, k) != ""}
    if used == {"label"}:
        return "label"
    phrases = any(re.fullmatch(r"p\d+", k) for k in params)
    if used == {"search"} and "m" in params and not phrases and "pending_after" not in params:
        return "words"
    return None


def _pending_after(conn, query: Query) -> int | None:
    """The search index's mark if the query searches and some datapoints are not indexed
    yet (then the SQL matcher is registered on this connection), else None."""
    if not (query.search and query.search.strip()):
        return None
    upto, top = fts.pending(conn)
    if top <= upto:
        return None
    fts.register(conn.connection.dbapi_connection)
    return upto


def order_by(query: Query, seen: Seen | None = None) -> str:
    """The ORDER BY terms of the query's sort, on datapoint `d` (by id when the sort is unknown).
    The status sort orders by `seen.status` (the read snapshot's runs.status_expr: while an
    automation run's statuses settle, its items sort as labelled, not by the stored column)."""
    sort = query.sort if query.sort in SORTABLE else "id"
    if sort == "confidence" and query.model_version is None:
        sort = "id"  # no model version: nothing to sort by
    status = seen.status if seen else "d.status"
    return _ORDER[sort].format(dir="DESC" if query.descending else "ASC", status=status)


def where_clause(conn, query: Query, seen: Seen | None = None) -> tuple[str, dict[str, Any]]:
    """The WHERE clause that selects the query's datapoints `d`, and its parameters, for this
    connection: rows not in the search index yet are scanned, exactly as the table does, and
    the rows of an unfinished import or write run are left out (app.core.storage.visibility,
    app.core.storage.runs)."""
    seen = seen or Seen.of(conn)
    return _where(query, _pending_after(conn, query), seen)


class Browser:
    """Read-only, thread-safe access to pages of datapoints for the table and the CLI."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def count(self, query: Query) -> int:
        with self.project.engine.connect() as conn:
            where, params = where_clause(conn, query)
            sql = f"SELECT count(*) FROM datapoint d{where}"
            # A lone label or word search counts its own index instead of probing 1M rows.
            only = _only(query, params)
            if only == "label":
                sql = (
                    "SELECT count(DISTINCT datapoint_id) FROM annotation_label WHERE label = :label"
                )
            elif only == "words":
                sql = fts.count_matches()
            return conn.execute(text(sql), params).scalar()

    def page(self, query: Query, offset: int, limit: int) -> list[Row]:
        with self.project.engine.connect() as conn:
            seen = Seen.of(conn)
            where, params = where_clause(conn, query, seen)
            sort = query.sort if query.sort in SORTABLE else "id"
            order = order_by(query, seen)
            # Find the page's ids on narrow indexes first; only then read those rows' text.
            ids = (
                f"SELECT d.id FROM datapoint d{where} ORDER BY {order} LIMIT :limit OFFSET :offset"
            )
            if _only(query, params) == "words" and sort == "id":  # FTS5 yields rowids in order
                ids = fts.matching_page(query.descending)
            sql = (
                f"SELECT d.id, ds.source_name, d.row, substr(d.text, 1, :chars), {seen.status}, "
                "d.flagged FROM datapoint d JOIN dataset ds ON ds.id = d.dataset_id "
                f"WHERE d.id IN ({ids}) ORDER BY {order}"
            )
            params.update(chars=PREVIEW_CHARS, limit=limit, offset=offset)
            rows = conn.execute(text(sql), params).all()
            labels: dict[int, list[str]] = {}
            if rows:
                ids = ",".join(str(row[0]) for row in rows)  # integers from the database
                for dp_id, label in conn.execute(
                    text(
                        "SELECT datapoint_id, label FROM annotation_label al "
                        f"WHERE datapoint_id IN ({ids}){runs.and_visible(seen.labels)}"
                        " ORDER BY datapoint_id, label"
                    )
                ):
                    found = labels.setdefault(dp_id, [])
                    if label not in found:
                        found.append(label)
        return [
            Row(r[0], r[1], r[2], r[3], STATUS_NAMES[r[4]], bool(r[5]), labels.get(r[0], []))
            for r in rows
        ]

    def status_counts(self) -> dict[str, int]:
        """Counts for the status bar: total, one per status, and flagged; "labeled" counts
        people's labels, and "auto-labelled" (present once the model labelled some) the
        items the model alone labelled."""
        counts = dict.fromkeys(("total", *STATUS_FILTERS[:-1]), 0)
        with self.project.engine.connect() as conn:
            seen = Seen.of(conn)
            hidden = seen.datapoints
            where = f" WHERE {hidden}" if hidden else ""
            both = f" AND {hidden}" if hidden else ""
            for status, n in conn.execute(
                text(f"SELECT {seen.status}, count(*) FROM datapoint d{where} GROUP BY 1")
            ):
                counts[STATUS_NAMES[status]] = n
            counts["flagged"] = conn.execute(
                text(f"SELECT count(*) FROM datapoint d WHERE d.flagged = 1{both}")
            ).scalar()
            auto = conn.execute(text(f"SELECT count(*) FROM ({seen.model_only()})")).scalar()
        counts["total"] = sum(counts[name] for name in STATUS_NAMES)
        if auto:
            counts["labeled"] -= auto
            counts[AUTO_LABELLED] = auto
        return counts
