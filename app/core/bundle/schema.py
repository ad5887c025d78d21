"""The schema of every bundle member: one typed record per row (types, ranges, enums, UUID
syntax, lengths, timestamps, JSON texts), checked as each row is read.

`BundleReader.rows` checks every row of a table member against its `Record` here, and
`BundleReader.project` checks project.json with `project_problem`, so open and merge (and any
other reader of a bundle) see only rows that passed. What needs more than one row (duplicates,
references between members, the audit chain) is app.core.bundle.validate, run over the whole
bundle before anything is written.

A problem is a short text naming the field ("'row' must be an integer from 0 to ..."); the
reader adds the member and the line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.annotation.commands import ANNOTATION_STATUSES
from app.core.ids import is_timestamp
from app.core.io.formats.registry import NAMES as FORMATS
from app.core.project.annotators import ALL_ROLES
from app.core.project.label_schema import TASK_TYPES
from app.core.project.project import RESERVED_INPUT_NAMES
from app.core.storage.tables import DatapointStatus
from app.core.team.tasks import TASK_KINDS

UUID_SYNTAX = re.compile(
    r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
SURROGATE = re.compile("[\ud800-\udfff]")
HASH_SYNTAX = re.compile(r"[0-9a-f]{64}")
LANGUAGE_SYNTAX = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}")
TIME_CHARS = 40
NAME_CHARS = 1_000
SHORT_CHARS = 64
ROW_MAX = (1 << 62) - 1
COUNT_MAX = (1 << 62) - 1
MS_MAX = 10**12  # about 31 years of work on one item
VERSION_MAX = (1 << 31) - 1
STATUS_CODES = tuple(int(s) for s in DatapointStatus)
TASK_STATUSES = ("todo", "done", "cancelled")
# Where an annotation came from (app.core.annotation.commands.AnnotationState.origin).
ORIGINS = ("human", "imported", "accepted", "suggestion", "corrected", "review", "model")
HISTORY_REASONS = ("conflict", "superseded")
COUNTS_AS = ("approve", "reject", "discard")
MAX_INPUTS = 1_000


@dataclass(frozen=True)
class Field:
    """One key of a row: its kind and the bounds its value must keep.

    kinds: uuid, hash (64 hex), digest (a hash or ''), time (ISO 8601), text, int, num
    (finite), bool, json (a string holding JSON text; `obj`: a JSON object), enum (one of
    `choices`), language.
    """

    key: str
    kind: str
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    max_chars: int | None = None
    nonempty: bool = False
    obj: bool = False

    def problem(self, value: Any) -> str | None:
        """Why `value` is not a valid value of this field, or None."""
        if value is None:
            return None if self.nullable else f"{self.key!r} is missing or null"
        check = _CHECKS[self.kind]
        return check(self, value)


def _string(field: Field, value: Any) -> str | None:
    if value.__class__ is not str:
        return f"{field.key!r} must be a string"
    if field.nonempty and not value.strip():
        return f"{field.key!r} must not be empty"
    if field.max_chars is not None and len(value) > field.max_chars:
        return f"{field.key!r} is longer than {field.max_chars:,} characters"
    if SURROGATE.search(value):
        return f"{field.key!r} holds a lone surrogate (\\ud800-\\udfff), which is not text"
    return None


def _uuid(field: Field, value: Any) -> str | None:
    if value.__class__ is not str or not UUID_SYNTAX.fullmatch(value):
        return f"{field.key!r} is not a UUID ({_shown(value)})"
    return None


def _hash(field: Field, value: Any) -> str | None:
    if value.__class__ is not str or not HASH_SYNTAX.fullmatch(value):
        return f"{field.key!r} is not a SHA-256 hex digest ({_shown(value)})"
    return None


def _digest(field: Field, value: Any) -> str | None:
    """A SHA-256 hex digest, or '' (a dataset's checksum before its import finished)."""
    return None if value == "" else _hash(field, value)


def _time(field: Field, value: Any) -> str | None:
    if value.__class__ is not str or len(value) > TIME_CHARS or not is_timestamp(value):
        return f"{field.key!r} is not a timestamp ({_shown(value)})"
    return None


def _int(field: Field, value: Any) -> str | None:
    low = int(field.low if field.low is not None else -(1 << 63))
    high = int(field.high if field.high is not None else (1 << 63) - 1)
    if value.__class__ is not int or not low <= value <= high:
        return f"{field.key!r} must be an integer from {low:,} to {high:,} ({_shown(value)})"
    return None


def _num(field: Field, value: Any) -> str | None:
    low = field.low if field.low is not None else -math.inf
    high = field.high if field.high is not None else math.inf
    if value.__class__ not in (int, float) or not math.isfinite(value) or not low <= value <= high:
        return f"{field.key!r} must be a finite number from {low} to {high} ({_shown(value)})"
    return None


def _bool(field: Field, value: Any) -> str | None:
    return None if value.__class__ is bool else f"{field.key!r} must be true or false"


def _enum(field: Field, value: Any) -> str | None:
    if not any(value.__class__ is c.__class__ and value == c for c in field.choices):
        shown = ", ".join(str(c) for c in field.choices)
        return f"{field.key!r} must be one of {shown}, not {_shown(value)}"
    return None


def _json(field: Field, value: Any) -> str | None:
    problem = _string(field, value)
    if problem:
        return problem
    decoded = parse_json(value)
    if decoded is _INVALID:
        return f"{field.key!r} is not valid JSON text"
    if field.obj and decoded.__class__ is not dict:
        return f"{field.key!r} must be JSON text of an object"
    return None


def _language(field: Field, value: Any) -> str | None:
    if value.__class__ is not str or not LANGUAGE_SYNTAX.fullmatch(value):
        return f"{field.key!r} is not a language code such as 'en' or 'pt-BR' ({_shown(value)})"
    return None


_CHECKS: dict[str, Callable[[Field, Any], str | None]] = {
    "uuid": _uuid,
    "hash": _hash,
    "digest": _digest,
    "time": _time,
    "text": _string,
    "int": _int,
    "num": _num,
    "bool": _bool,
    "enum": _enum,
    "json": _json,
    "language": _language,
}
_INVALID = object()


def parse_json(text: str) -> Any:
    """The value of a JSON text, or `_INVALID` (never a RecursionError or a ValueError)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _INVALID


def is_valid_json(text: str) -> bool:
    return parse_json(text) is not _INVALID


def _shown(value: Any) -> str:
    """A value for a message: short, and never a 5,000-digit number."""
    if value.__class__ is int and value.bit_length() > 64:
        return f"an integer of {value.bit_length():,} bits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Record:
    """The fields of one row of a member. `problem` runs one function made for the record
    (`_compile`: a test per field, inline) and asks a field for its message only when its test
    fails, so a million-row member is checked at about a microsecond a row."""

    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_first_bad", _compile(self.fields))

    def problem(self, row: dict[str, Any]) -> str | None:
        bad = self._first_bad(row)  # type: ignore[attr-defined]
        if bad is None:
            return None
        field = self.fields[bad]
        return field.problem(row.get(field.key)) or f"{field.key!r} is invalid"


def _compile(fields: tuple[Field, ...]) -> Callable[[dict[str, Any]], int | None]:
    """A function of a row: the index of the first field whose value fails, or None. The
    common kinds are tested inline; the others call `Field.problem`."""
    names: dict[str, Any] = {"UUID": UUID_SYNTAX.fullmatch, "SURROGATE": SURROGATE.search}
    lines = ["def first_bad(row):", "    get = row.get"]
    for i, field in enumerate(fields):
        names[f"f{i}"] = field
        kind = field.kind
        if kind == "uuid":
            test = "v.__class__ is str and UUID(v) is not None"
        elif kind == "int":
            low = int(field.low if field.low is not None else -(1 << 63))
            high = int(field.high if field.high is not None else (1 << 63) - 1)
            test = f"v.__class__ is int and {low} <= v <= {high}"
        elif kind == "bool":
            test = "v.__class__ is bool"
        elif kind == "enum" and len({c.__class__ for c in field.choices}) == 1:
            names[f"c{i}"] = field.choices[0].__class__
            names[f"a{i}"] = frozenset(field.choices)
            test = f"v.__class__ is c{i} and v in a{i}"
        elif kind == "text":
            test = "v.__class__ is str"
            if field.max_chars is not None:
                test += f" and len(v) <= {int(field.max_chars)}"
            if field.nonempty:
                test += " and bool(v.strip())"
            test += " and (v.isascii() or SURROGATE(v) is None)"
        else:
            test = f"f{i}.problem(v) is None"
        if field.nullable:
            test = f"v is None or ({test})"
        lines += [f"    v = get({field.key!r})", f"    if not ({test}):", f"        return {i}"]
    lines.append("    return None")
    exec("\n".join(lines), names)
    return names["first_bad"]


def _uuid_f(key: str, nullable: bool = False) -> Field:
    return Field(key, "uuid", nullable)


def _time_f(key: str, nullable: bool = False) -> Field:
    return Field(key, "time", nullable)


def _text_f(key: str, nullable: bool = False, nonempty: bool = False, max_chars=None) -> Field:
    return Field(key, "text", nullable, nonempty=nonempty, max_chars=max_chars)


def _int_f(key: str, low: int, high: int) -> Field:
    return Field(key, "int", low=low, high=high)


def _enum_f(key: str, choices: tuple[Any, ...]) -> Field:
    return Field(key, "enum", choices=choices)


def _json_f(key: str, nullable: bool = False, obj: bool = False) -> Field:
    return Field(key, "json", nullable, obj=obj)


ABOUT = (_uuid_f("dataset"), _int_f("row", 0, ROW_MAX))  # a row about one datapoint
VERSION_FIELDS = (
    _uuid_f("uuid"),
    *ABOUT,
    _uuid_f("annotator"),
    _json_f("value", nullable=True),
    _enum_f("status", ANNOTATION_STATUSES),
    _uuid_f("schema_version"),
    _int_f("time_spent_ms", 0, MS_MAX),
    _enum_f("origin", ORIGINS),
    _time_f("created_at"),
    _time_f("updated_at"),
)

RECORDS: dict[str, Record] = {
    "schema_versions.jsonl": Record(
        (
            _uuid_f("uuid"),
            _int_f("version", 1, VERSION_MAX),
            _json_f("labels"),
            _text_f("guidelines"),
            Field("allow_overlap", "bool"),
            _time_f("created_at"),
            _uuid_f("created_by", nullable=True),
        )
    ),
    "annotators.jsonl": Record(
        (
            _uuid_f("uuid"),
            _text_f("name", nonempty=True, max_chars=NAME_CHARS),
            _enum_f("role", ALL_ROLES),
            _time_f("created_at"),
        )
    ),
    "datasets.jsonl": Record(
        (
            _uuid_f("uuid"),
            _text_f("source_name", nonempty=True, max_chars=4_096),
            Field("sha256", "digest"),
            _enum_f("format", FORMATS),
            _json_f("mapping", obj=True),
            _text_f("label_column", nullable=True, max_chars=NAME_CHARS),
            _int_f("row_count", 0, COUNT_MAX),
            _int_f("duplicate_count", 0, COUNT_MAX),
            _time_f("imported_at"),
            _uuid_f("imported_by", nullable=True),
        )
    ),
    "datapoints.jsonl": Record(
        (
            *ABOUT,
            _text_f("text", nonempty=True),
            _json_f("context", nullable=True, obj=True),
            _enum_f("status", STATUS_CODES),
            Field("flagged", "bool"),
        )
    ),
    "annotations.jsonl": Record(
        (*VERSION_FIELDS, _text_f("synced_from", nullable=True, max_chars=NAME_CHARS))
    ),
    "annotation_history.jsonl": Record(
        (*VERSION_FIELDS, _uuid_f("annotation_uuid"), _enum_f("reason", HISTORY_REASONS))
    ),
    "tasks.jsonl": Record(
        (
            _uuid_f("uuid"),
            *ABOUT,
            _uuid_f("annotator"),
            _enum_f("kind", TASK_KINDS),
            _enum_f("status", TASK_STATUSES),
            _time_f("created_at"),
        )
    ),
    "comments.jsonl": Record(
        (
            _uuid_f("uuid"),
            *ABOUT,
            _uuid_f("annotator"),
            _text_f("body", nonempty=True),
            _time_f("created_at"),
        )
    ),
    "flags.jsonl": Record(
        (
            _uuid_f("uuid"),
            *ABOUT,
            _uuid_f("annotator"),
            _text_f("reason", nonempty=True),
            _time_f("created_at"),
            _time_f("resolved_at", nullable=True),
        )
    ),
    "audit_events.jsonl": Record(
        (
            _uuid_f("uuid"),
            _time_f("at"),
            _uuid_f("actor", nullable=True),
            _text_f("action", nonempty=True, max_chars=32),
            _text_f("entity", nonempty=True, max_chars=32),
            _text_f("entity_uuid", nullable=True, max_chars=SHORT_CHARS),
            _json_f("before", nullable=True),
            _json_f("after", nullable=True),
            # Format 3 carries the chain (app.core.bundle.validate); older formats lack it.
            Field("prev_hash", "hash", nullable=True),
            Field("hash", "hash", nullable=True),
        )
    ),
    "model_versions.jsonl": Record(
        (
            _uuid_f("uuid"),
            _time_f("created_at"),
            _int_f("label_count", 0, COUNT_MAX),
            _json_f("metrics"),
            _text_f("format", nonempty=True, max_chars=32),
            _text_f("artifact", max_chars=NAME_CHARS),
        )
    ),
    "predictions.jsonl": Record(
        (
            *ABOUT,
            _uuid_f("model_version"),
            _json_f("value"),
            Field("confidence", "num", low=0.0, high=1.0),
            Field("score", "num", nullable=True),
        )
    ),
    "custom_statuses.jsonl": Record(
        (
            _uuid_f("uuid"),
            _text_f("name", nonempty=True, max_chars=32),
            _enum_f("counts_as", COUNTS_AS),
            _text_f("description"),
            _time_f("created_at"),
        )
    ),
    "gold_items.jsonl": Record(
        (
            _uuid_f("uuid"),
            *ABOUT,
            _json_f("value"),
            _uuid_f("created_by", nullable=True),
            _time_f("created_at"),
        )
    ),
    "qualification_sets.jsonl": Record(
        (
            _uuid_f("uuid"),
            _text_f("name", nonempty=True, max_chars=NAME_CHARS),
            Field("pass_score", "num", low=0.0, high=1.0),
            _uuid_f("created_by", nullable=True),
            _time_f("created_at"),
        )
    ),
    "qualification_items.jsonl": Record((_uuid_f("set"), *ABOUT)),
    "qualification_results.jsonl": Record(
        (
            _uuid_f("uuid"),
            _uuid_f("set"),
            _uuid_f("annotator"),
            Field("score", "num", low=0.0, high=1.0),
            _int_f("correct", 0, COUNT_MAX),
            _int_f("total", 0, COUNT_MAX),
            Field("passed", "bool"),
            _uuid_f("recorded_by", nullable=True),
            _time_f("recorded_at"),
        )
    ),
    "adjudications.jsonl": Record(
        (
            _uuid_f("uuid"),
            *ABOUT,
            _json_f("value"),
            _uuid_f("decided_by"),
            _time_f("decided_at"),
        )
    ),
    "review_decisions.jsonl": Record(
        (
            _uuid_f("uuid"),
            _uuid_f("annotation_uuid"),
            *ABOUT,
            _uuid_f("reviewer"),
            _text_f("decision", nonempty=True, max_chars=32),
            _text_f("reason", nullable=True),
            _uuid_f("correction_uuid", nullable=True),
            _time_f("created_at"),
        )
    ),
}

PROJECT = Record(
    (
        _uuid_f("uuid"),
        _text_f("name", nonempty=True, max_chars=NAME_CHARS),
        _enum_f("task_type", TASK_TYPES),
        Field("language", "language"),
        _time_f("created_at"),
        _text_f("app_version", nonempty=True, max_chars=32),
    )
)
INPUT = Record(
    (
        _text_f("name", nonempty=True, max_chars=NAME_CHARS),
        _int_f("position", 0, MAX_INPUTS),
        Field("annotated", "bool"),
    )
)


def project_problem(info: dict[str, Any]) -> str | None:
    """Why project.json is not a valid project row with its inputs, or None."""
    problem = PROJECT.problem(info)
    if problem:
        return problem
    inputs = info.get("inputs")
    if inputs.__class__ is not list or not inputs:
        return "it lists no inputs"
    if len(inputs) > MAX_INPUTS:
        return f"it lists more than {MAX_INPUTS:,} inputs"
    names: set[str] = set()
    for number, item in enumerate(inputs, 1):
        if item.__class__ is not dict:
            return f"input {number} is not an object"
        problem = INPUT.problem(item)
        if problem:
            return f"input {number}: {problem}"
        name = item["name"]
        if name != name.strip():
            return f"input {number}: its name {name!r} has spaces around it"
        if name in RESERVED_INPUT_NAMES:
            return f"input {number}: the name {name!r} is reserved (it is an export column)"
        if name in names:
            return f"input {number}: the name {name!r} appears twice"
        names.add(name)
    if sum(item["annotated"] for item in inputs) != 1:
        return "exactly one input must be the annotated one"
    return None
