"""The rows of one import, as tuples for one executemany, and the annotations they carry.

Exact-duplicate detection: texts already in the project, then the file's own. hash(text) ->
datapoint id of its first occurrence; a hit is confirmed by comparing the texts before a row
is skipped. Labels come from a `valuer` (app.core.io.values): a label column's cell, or each
annotator's answer in a peer format's Record, each becoming that annotator's annotation.

SQLite-bound like the importer that drives it: it reads and writes on the raw sqlite3 driver.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
from array import array
from collections.abc import Callable, Collection, Iterator
from typing import Any

from app.core.annotation import bulk
from app.core.annotation.states import AnnotationState
from app.core.annotation.values import NOT_FINITE, LabelParser
from app.core.errors import DataError
from app.core.ids import now_iso
from app.core.io import longtext, readers
from app.core.io.longcontext import LongContext, NotJson, context_value
from app.core.io.longtext import CONTEXT_COLUMN, LONG_TEXT, TEXT_COLUMN, LongText
from app.core.jobs import check_cancel
from app.core.project.label_schema import (
    MAX_LABEL_LENGTH,
    MAX_LABELS,
    label_name_problem,
    label_too_long,
    same_looking,
)
from app.core.storage import runs
from app.core.storage.tables import DatapointStatus
from app.core.storage.visibility import visible

BATCH = 20_000
# (parsed value, annotator name, origin) of each annotation a record brings
Valuer = Callable[[Any, int, str], list[tuple[Any, str, str]]]


def check_new_labels(name: str, line: int, added: list[str], known: Collection[str] | int) -> None:
    """Refuse labels too long to be labels, or more than a schema can hold, or names no
    label may have, before listing them or adding them (a text column read as the labels
    would bring thousands). `known` is the schema's labels (or just how many there are)."""
    long = next((label for label in added if len(label) > MAX_LABEL_LENGTH), None)
    if long is not None:
        raise DataError(name, None, f"{label_too_long(long)}: is the label column right?")
    for label in added:  # red team: a tab or a line break in a label corrupted the CoNLL,
        # PubTator and BRAT exports (a crafted one could add a line of its own to a .ann)
        problem = label_name_problem(label) if label.strip() else "is blank"
        if problem is not None:
            raise DataError(
                name,
                None,
                f"the label {label[:40]!r} {problem}: is the label column right?",
            )
    present = known if isinstance(known, int) else len(known)
    if present + len(added) > MAX_LABELS:
        raise DataError(
            name,
            line,
            f"{len(added):,} labels not in the schema, the first on this line; a schema holds "
            f"at most {MAX_LABELS:,} labels (it has {present:,}): is the label column right?",
        )
    if not isinstance(known, int):
        new = set(added)  # an old schema's own lookalikes are not this file's doing
        lookalikes = [label for label in same_looking([*known, *added]) if label in new]
        if lookalikes:
            raise DataError(
                name,
                None,
                f"the label {lookalikes[0][:40]!r} looks the same as another label but is "
                "written with other Unicode code points (a composed accent and a combining "
                "one): write it as the schema does",
            )


def text_of_value(name: str, line: int, value: Any) -> str:
    """The text of a cell that is not a string: a number or a boolean as written; null, an
    object, a list, NaN or Infinity refused."""
    if value is None or isinstance(value, dict | list):
        raise DataError(name, line, f"the text is {readers.kind_of(value)}, not a string")
    if isinstance(value, float) and not math.isfinite(value):
        raise DataError(name, line, f"the text {NOT_FINITE}")
    return str(value)


def context_of(name: str, line: int, items: list[tuple[str, Any]]) -> str | LongContext:
    """The context to store (longcontext.context_value); a value JSON cannot hold refused."""
    try:
        return context_value(items)
    except NotJson as exc:
        raise DataError(name, line, f"the input {exc.args[0]!r} {NOT_FINITE}") from None


class RowFeed:
    """The datapoint rows of the file, and the annotations pending for them."""

    def __init__(self, job: Any, conn: sqlite3.Connection, report: Any, first_id: int) -> None:
        self.job = job
        self.conn = conn
        self.report = report
        self.first_id = first_id
        self.seen: dict[int, int] = {}
        self.lines_of = array("q")  # the line of each row of this file, by id - first_id
        self.parser: LabelParser | None = None
        self.valuer: Valuer | None = None
        # (datapoint id, line, parsed value, annotator name, origin)
        self.pending: list[tuple[int, int, Any, str, str]] = []
        self.attached: list[tuple[int, int, Any, str, str]] = []  # for datapoints already there
        self.relabeled: list[int] = []  # datapoints that got answers from a later line
        self.added = 0
        self.records = 0
        self.done = False  # the file is read to its end
        # (datapoint id, annotator name) of the annotations already taken (peer formats only:
        # a later line of the same item may bring an answer from someone who gave one)
        self.given: set[tuple[int, str]] = set()
        self.long_sqls: dict[tuple[str, ...], str] = {}  # by the row's long columns
        # Every format, not only the fast readers: without it a long text read by a format
        # module (PubTator, brat, BioC) stayed on the heap after the import, and the search
        # index built next stacked on it (3.02x the text, 2.1x with it).
        longtext.steady_malloc()

    @property
    def simple(self) -> bool:
        """Rows with the text only: no context, no label."""
        return not self.job.context_getters and self.valuer is None

    @property
    def next_id(self) -> int:
        """The id of the next row written."""
        return self.first_id + len(self.lines_of)

    def load_seen(self) -> None:
        """The texts already in the project; not those of an unfinished (or dead) import."""
        if self.first_id > 1:
            setdefault = self.seen.setdefault
            for count, (dp_id, text) in enumerate(
                self.conn.execute(f"SELECT id, text FROM datapoint d WHERE {visible('d')}")
            ):
                setdefault(hash(text) if len(text) <= LONG_TEXT else longtext.key(text), dp_id)
                if count % 50_000 == 0:
                    check_cancel(self.job.cancel)

    def insert_sql(self, dataset_id: int) -> str:
        sql = self._insert_sql(dataset_id)
        shapes = [("text",)] if self.simple else [("text",), ("context",), ("text", "context")]
        self.long_sqls = {columns: longtext.statement(sql, columns) for columns in shapes}
        return sql

    def insert_long(self, row: list[Any], long_text: bool, long_context: bool) -> None:
        """Insert a row (id, row, text[, context, status]) whose text or context is long, each
        long column written into its placeholder (app.core.io.longtext)."""
        columns = ((("text", TEXT_COLUMN),) if long_text else ()) + (
            (("context", CONTEXT_COLUMN),) if long_context else ()
        )
        sql = self.long_sqls[tuple(name for name, _position in columns)]
        longtext.insert(self.conn, sql, row, columns)

    def _insert_sql(self, dataset_id: int) -> str:
        unlabeled = int(DatapointStatus.UNLABELED)
        if self.simple:
            return (
                "INSERT INTO datapoint (id, dataset_id, row, text, status, flagged)"
                f" VALUES (?, {dataset_id}, ?, ?, {unlabeled}, 0)"
            )
        return (
            "INSERT INTO datapoint (id, dataset_id, row, text, context, status, flagged)"
            f" VALUES (?, {dataset_id}, ?, ?, ?, ?, 0)"
        )

    def check_labels(self) -> None:
        """Stop early when the new labels are already too many or too long."""
        parser = self.parser
        if parser is not None and parser.first_unknown_line:
            check_new_labels(
                self.job.name, parser.first_unknown_line, parser.unknown_labels(), len(parser.known)
            )

    def original_text(self, dp_id: int) -> str | None:
        found = self.conn.execute("SELECT text FROM datapoint WHERE id = ?", (dp_id,)).fetchone()
        return found[0] if found else None

    def same_text(self, dp_id: int, text: str | LongText, key: int, long: bool) -> bool:
        """Whether datapoint `dp_id` holds `text`: a long text by its SHA-256 (longtext.key),
        without a second copy of it as a str."""
        if not long:
            return self.original_text(dp_id) == text
        original = self.original_text(dp_id)
        return original is not None and longtext.key(original) == key

    def duplicate(self, line: int, first: int) -> None:
        """Count a duplicate text and keep the first few as examples."""
        report = self.report
        report.duplicates += 1
        if len(report.duplicate_examples) < 5:
            report.duplicate_examples.append((line, line_of(self.lines_of, first, self.first_id)))

    def _progress(self) -> None:
        """Inside a chunk's transaction: no progress report (the importer reports between
        chunks, when the lock is free), only the cancel and label checks."""
        check_cancel(self.job.cancel)
        self.check_labels()

    def rows(self) -> Iterator[tuple]:
        """The datapoint rows to insert, as tuples; counts and duplicates go to the report."""
        job, report, first_id = self.job, self.report, self.first_id
        next_id = first_id
        row_number = 0
        decoded = longtext.decoded

        def kept(value: Any) -> Any:
            """A context value: a long one stays UTF-8 (app.core.io.longcontext); a LongText
            nested in an object or a list is decoded."""
            return value if value.__class__ is LongText else decoded(value)

        append_line = self.lines_of.append
        seen = self.seen
        seen_get = seen.get
        valuer, get_text = self.valuer, job.get_text
        spans = valuer is not None and (self.parser is None or self.parser.task_type == "spans")
        context_getters = job.context_getters
        simple = self.simple
        skip = job.skip_duplicates
        labeled_code = int(DatapointStatus.LABELED)
        unlabeled_code = int(DatapointStatus.UNLABELED)
        # A peer format's lines with the same item id (Prodigy's _input_hash, one line per
        # annotator) are one datapoint: id -> (datapoint id, hash of its text).
        merge: dict[str, tuple[int, int]] | None = {} if job.peer else None
        try:
            for line, record in job.source.records:
                row_number += 1
                if not row_number % BATCH:
                    self._progress()
                text = get_text(record, line)
                if text.__class__ is not str:
                    if text.__class__ is LongText:  # long, checked, not blank (longtext.text_of)
                        if spans and quotes_text(record):  # checked on the str's slices
                            text = text.decode()
                    else:
                        text = text_of_value(job.name, line, text)
                if text.__class__ is LongText:
                    long = True
                    key = longtext.key(text)
                else:
                    if not text or text.isspace():
                        report.empty += 1
                        continue
                    long = len(text) > LONG_TEXT
                    key = longtext.key(text) if long else hash(text)
                if merge is not None and record.source_id is not None:
                    known = merge.get(record.source_id)
                    if known is not None and known[1] == key:
                        self.more_answers(known[0], record, line, text)
                        continue
                    merge[record.source_id] = (next_id, key)
                first = seen_get(key)
                if first is None:
                    seen[key] = next_id
                elif skip:
                    if self.same_text(first, text, key, long):
                        report.skipped += 1
                        self.duplicate(line, first)
                        if valuer is not None and first < first_id:
                            for item in valuer(record, line, text):
                                self.attached.append((first, line, *item))
                        continue
                else:
                    self.duplicate(line, first)
                append_line(line)
                if simple:
                    if long:  # its own statement (app.core.io.longtext)
                        row = [next_id, row_number, text]
                        record = text = None
                        self.insert_long(row, True, False)
                    else:
                        yield (next_id, row_number, text)
                else:
                    context = None
                    if context_getters:
                        items = [(spec, kept(get(record, line))) for spec, get in context_getters]
                        context = context_of(job.name, line, items)
                        del items
                    status = unlabeled_code
                    if valuer is not None:
                        for item in valuer(record, line, text):
                            self.pending.append((next_id, line, *item))
                            status = labeled_code
                    long_context = context.__class__ is LongContext
                    if long or long_context:  # its own statement (app.core.io.longtext)
                        row = [next_id, row_number, text, context, status]
                        record = text = context = None
                        self.insert_long(row, long, long_context)
                    else:
                        yield (next_id, row_number, text, context, status)
                next_id += 1
        finally:
            self.added = next_id - first_id
            self.records = row_number
        self.done = True

    def more_answers(self, dp_id: int, record: Any, line: int, text: str) -> None:
        """Another line of the same item: its answers go to the datapoint already read."""
        items = self.valuer(record, line, text) if self.valuer is not None else []
        for item in items:
            self.pending.append((dp_id, line, *item))
            self.relabeled.append(dp_id)

    def take_pending(self) -> list[tuple[int, int, Any, str, str]]:
        """The annotations read since the last call, one per datapoint and annotator over the
        whole file (the first one read); they are no longer pending."""
        pending, self.pending = self.pending, []
        if not self.job.peer:
            return pending
        given = self.given
        kept = []
        for item in pending:
            key = (item[0], item[3])
            if key not in given:
                given.add(key)
                kept.append(item)
        return kept

    def take_relabeled(self) -> list[int]:
        """The datapoints that got answers from a later line since the last call."""
        relabeled, self.relabeled = self.relabeled, []
        return relabeled

    def new_attached(self, annotator_ids: dict[str, int]) -> list[tuple[int, int, Any, str, str]]:
        """The labels of skipped duplicates that their annotator has not given already: an
        import never overwrites someone's earlier label, and gives each person one label."""
        if not self.attached:
            return []
        wanted = {annotator_ids[item[3]] for item in self.attached}
        # a row of an unpublished run (a bulk label still being written) is no label yet:
        # the import's takes its place (take_hidden_places), and outlives that run's kill
        theirs = {
            (row[0], row[1])
            for annotator_id in wanted
            for row in self.conn.execute(
                "SELECT datapoint_id, annotator_id FROM annotation WHERE annotator_id = ?"
                f" AND {runs.annotation_visible('')}",
                (annotator_id,),
            )
        }
        kept = []
        for item in self.attached:
            key = (item[0], annotator_ids[item[3]])
            if key not in theirs:
                theirs.add(key)
                kept.append(item)
        return kept


def quotes_text(record: Any) -> bool:
    """Whether a spans record's answers may quote their text (a span's own `text`, checked
    against the slice of the str: app.core.io.formats.spancheck). A peer format's spans
    without one (CoNLL's) need only the text's length, which a LongText has. A label column's
    spans are looked at when they are parsed (app.core.io.answers decodes the text then)."""
    values = getattr(record, "values", None)
    if not isinstance(values, tuple):  # a label column
        return False
    for item in values:
        value = getattr(item, "value", None)
        if not isinstance(value, list):
            return True
        if not all(span.__class__ is dict and "text" not in span for span in value):
            return True
    return False


def line_of(lines_of: array, dp_id: int, first_id: int) -> int:
    """The line of a datapoint of this file, or 0 for one already in the project."""
    return lines_of[dp_id - first_id] if dp_id >= first_id else 0


class UuidRun:
    """UUIDs for one import's annotations: a random prefix of 80 bits, then a counter. They
    are as unique as random ones (the prefix is new per import), and they sort in the order
    they are made, so each chunk adds to the end of the annotation UUID index: random UUIDs
    touched pages all over it, and every chunk's commit wrote most of the index again."""

    def __init__(self) -> None:
        self.prefix = secrets.token_hex(10)
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return f"{self.prefix}{self.count:012x}"


def take_hidden_places(
    conn: sqlite3.Connection,
    pending: list[tuple[int, int, Any, str, str]],
    annotator_ids: dict[str, int],
    schema_version_id: int,
    task_type: str,
) -> list[tuple[int, int, Any, str, str]]:
    """Labels attached to datapoints already there, where their annotator has a row of an
    unpublished run (unseen, never acknowledged): written over that row, which leaves the run
    in the same transaction (so it outlives the run's kill, and a merge that wrote it early
    decides the pair again); the others, for insert_annotations."""
    stamp = now_iso()
    rest = []
    places: dict[int, list[tuple[int, AnnotationState]]] = {}
    hidden = (
        "SELECT 1 FROM annotation WHERE datapoint_id = ? AND annotator_id = ?"
        f" AND run_id IN ({runs.HIDDEN_RUNS})"
    )
    for item in pending:
        dp_id, _line, value, annotator, origin = item
        who = annotator_ids[annotator]
        if conn.execute(hidden, (dp_id, who)).fetchone() is None:
            rest.append(item)
            continue
        state = AnnotationState(value, "complete", 0, None, origin)
        places.setdefault(who, []).append((dp_id, state))
    for who, changes in places.items():  # an update that takes the row out of its run
        bulk.write_states(conn, task_type, who, changes, schema_version_id, stamp)
    return rest


def insert_annotations(
    conn: sqlite3.Connection,
    pending: list[tuple[int, int, Any, str, str]],
    annotator_ids: dict[str, int],
    schema_version_id: int,
    task_type: str,
    uuids: UuidRun | None = None,
) -> int:
    """Imported labels become complete annotations by their annotators."""
    if not pending:
        return 0
    make_uuid = (uuids or UuidRun()).next
    first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM annotation").fetchone()[0]
    stamp = now_iso()
    rows = []
    label_rows = []
    for offset, (dp_id, _line, value, annotator, origin) in enumerate(pending):
        annotation_id = first + offset
        rows.append(
            (
                annotation_id,
                make_uuid(),
                dp_id,
                annotator_ids[annotator],
                json.dumps(value, ensure_ascii=False),
                schema_version_id,
                origin,
                stamp,
                stamp,
            )
        )
        label_rows.extend(
            (annotation_id, label, dp_id) for label in LabelParser.labels_of(value, task_type)
        )
    conn.executemany(
        "INSERT INTO annotation (id, uuid, datapoint_id, annotator_id, value, status,"
        " schema_version_id, time_spent_ms, origin, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, 'complete', ?, 0, ?, ?, ?)",
        rows,
    )
    conn.executemany(
        "INSERT OR IGNORE INTO annotation_label (annotation_id, label, datapoint_id)"
        " VALUES (?, ?, ?)",
        label_rows,
    )
    return len(rows)
