"""Hostile files of the text peer formats (issue #14): Label Studio, Prodigy, doccano (JSON),
CoNLL, PubTator and BRAT (a folder). The binary ones (spaCy DocBin, Parquet, Arrow, xlsx) and
BioC XML are in tests.fuzz.peer_binary.

Each case is (file name, content, task type of the template project, import_dataset keyword
arguments); content is bytes, a {file name: bytes} folder, or a function making either. Every
case is seeded (its own random.Random), so a slice of the corpus writes the same files.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from functools import partial
from typing import Any

from tests.fuzz.import_cases import mutate

Spec = tuple[str, Any, str, dict]
SENTINEL = "@@HOSTILE@@"
TEXT = "Alice met Bob in Paris."


def _many_keys() -> str:
    return "{" + ",".join(f'"k{i}":{i}' for i in range(100_000)) + "}"


# Raw JSON tokens put in place of any value of a valid record.
TOKENS: dict[str, Any] = {
    "list": "[1, 2]",
    "object": '{"a": 1}',
    "number": "7",
    "null": "null",
    "true": "true",
    "bigint": "9" * 5000,
    "float": "1.5",
    "negative": "-3",
    "nan": "NaN",
    "inf": "-Infinity",
    "e309": "1e309",
    "surrogate": '"bad \\ud800 x"',
    "deep": "[" * 3000 + "]" * 3000,
    "deepobj": '{"a":' * 3000 + "1" + "}" * 3000,
    "nul": '"a\\u0000b"',
    "emoji": '"\\ud83d\\ude00 e"',
    "cr": '"a\\rb\\r\\nc"',
    "empty": '""',
    "long": json.dumps("x" * 5000),
    "manykeys": _many_keys,
}


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) to a value inside `value`, the root excluded."""
    found: list[tuple] = []
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            found.append((*prefix, key))
            found.extend(_paths(child, (*prefix, key)))
    return found


def substituted(record: Any, path: tuple, token: str) -> str:
    """The record as JSON text with the value at `path` replaced by the raw token."""
    if callable(token):
        token = token()
    changed = copy.deepcopy(record)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = SENTINEL
    return json.dumps(changed).replace(json.dumps(SENTINEL), token)


def json_file(records: list[str], array: bool) -> bytes:
    """Raw JSON record texts as a JSON array or as JSON Lines."""
    if array:
        return ("[" + ",\n".join(records) + "]").encode(errors="surrogatepass")
    return "".join(r + "\n" for r in records).encode(errors="surrogatepass")


def json_family(
    fmt: str, bases: list[tuple[dict, str]], array: bool, extra: list[Spec], seed: int
) -> list[Spec]:
    """Every hostile token at seeded paths of each valid record (after a valid record, so
    the error is on line 2 or later), truncations, byte mutations, and the format's own."""
    rng = random.Random(f"{fmt}-{seed}")
    out: list[Spec] = []
    options = {"fmt": fmt}
    ext = ".json" if array else ".jsonl"
    for number, (record, task) in enumerate(bases):
        paths = _paths(record)
        for name, token in TOKENS.items():
            path = rng.choice(paths)
            where = ".".join(map(str, path))
            make = partial(_pair, record, path, token, array)
            out.append((f"{fmt}-b{number}-{name}-{where}{ext}", make, task, options))
        valid = json_file([json.dumps(record)] * 3, array)
        for cut in sorted(rng.sample(range(1, len(valid)), 4)):
            out.append((f"{fmt}-b{number}-cut{cut}{ext}", valid[:cut], task, options))
        for index in range(6):
            mutant_rng = random.Random(f"{fmt}-{seed}-{number}-{index}")
            make = partial(mutate, mutant_rng, valid)
            out.append((f"{fmt}-b{number}-mut{index}{ext}", make, task, options))
    first_task = bases[0][1]
    for name, content in _file_level(array):
        out.append((f"{fmt}-file-{name}{ext}", content, first_task, options))
    out.extend(extra)
    return out


def _pair(record: dict, path: tuple, token: Any, array: bool) -> bytes:
    return json_file([json.dumps(record), substituted(record, path, token)], array)


def _file_level(array: bool) -> list[tuple[str, Any]]:
    """Files whose trouble is the whole file: empty, a bare value, encodings, deep nesting."""
    return [
        ("empty", b""),
        ("bom-only", b"\xef\xbb\xbf"),
        ("whitespace", b"  \n\n\t \n"),
        ("bare-number", b"42"),
        ("bare-string", b'"hello"'),
        ("empty-array", b"[]"),
        ("deep-array", b"[" * 100_000 + b"]" * 100_000),
        ("unclosed", b"[" + b'{"text": "a"},' * 3),
        ("utf16", '[{"text": "a"}]'.encode("utf-16")),
        ("latin1", '[{"text": "caf\xe9"}]'.encode("latin-1")),
        ("nul-bytes", b'[{"text": "a\x00b"}]'),
        ("binary", bytes(range(256)) * 4),
        ("records-as-strings", json_file(['"a"', '"b"'], array)),
        ("records-as-lists", json_file(['["a"]', "[1]"], array)),
    ]


# ---- Label Studio -------------------------------------------------------------------------


def _ls_result(kind: str, value: dict) -> dict:
    return {"from_name": "label", "to_name": "text", "type": kind, "value": value}


def labelstudio() -> list[Spec]:
    span = _ls_result("labels", {"start": 0, "end": 5, "text": "Alice", "labels": ["D"]})
    choice = _ls_result("choices", {"choices": ["ham"]})
    spans_task = {
        "id": 1,
        "data": {"text": TEXT, "meta": "m"},
        "annotations": [{"completed_by": 1, "result": [span]}],
    }
    choice_task = {"id": 2, "data": {"text": TEXT}, "annotations": [{"result": [choice]}]}
    min_task = {"id": 3, "text": TEXT, "annotator": "a", "annotation_id": 1, "label": ["D"]}
    opts = {"fmt": "labelstudio"}

    def task_with(result: Any, task: str = "spans", **more: Any) -> bytes:
        item = {"id": 9, "data": {"text": TEXT}, "annotations": [{"result": result, **more}]}
        return json.dumps([item]).encode()

    own = [
        ("ls-no-value.json", task_with([{"from_name": "l", "type": "labels"}]), "spans"),
        ("ls-no-from-name.json", task_with([{"type": "labels", "value": {}}]), "spans"),
        ("ls-value-list.json", task_with([{"type": "labels", "value": [1]}]), "spans"),
        ("ls-value-string.json", task_with([{"type": "choices", "value": "ham"}]), "spans"),
        ("ls-choices-str.json", task_with([_ls_result("choices", {"choices": "ham"})]), "c"),
        ("ls-choices-num.json", task_with([_ls_result("choices", {"choices": 5})]), "c"),
        ("ls-choices-dict.json", task_with([_ls_result("choices", {"choices": {}})]), "c"),
        ("ls-choices-nested.json", task_with([_ls_result("choices", {"choices": [[1]]})]), "c"),
        ("ls-choices-null.json", task_with([_ls_result("choices", {"choices": [None]})]), "c"),
        ("ls-choices-unknown.json", task_with([_ls_result("choices", {"choices": ["zz"]})]), "c"),
        ("ls-result-dict.json", task_with({"a": 1}), "spans"),
        ("ls-result-string.json", task_with("abc"), "spans"),
        ("ls-result-number.json", task_with(5), "spans"),
        ("ls-labels-str.json", task_with([_ls_result("labels", _v(0, 5, "D"))]), "spans"),
        ("ls-start-gt-end.json", task_with([_ls_result("labels", _v(9, 2, ["D"]))]), "spans"),
        ("ls-float-offs.json", task_with([_ls_result("labels", _v(0.0, 5.0, ["D"]))]), "spans"),
        ("ls-past-end.json", task_with([_ls_result("labels", _v(0, 10**30, ["D"]))]), "spans"),
        ("ls-negative.json", task_with([_ls_result("labels", _v(-5, 2, ["D"]))]), "spans"),
        ("ls-unknown-label.json", task_with([_ls_result("labels", _v(0, 5, ["ZZ"]))]), "spans"),
        ("ls-label-num.json", task_with([_ls_result("labels", _v(0, 5, [3]))]), "spans"),
        ("ls-cancelled-str.json", task_with([], was_cancelled="yes"), "spans"),
        ("ls-annotations-dict.json", json.dumps([{"data": {"text": "a"}, "annotations": {}}]), "c"),
        ("ls-annotations-str.json", json.dumps([{"data": {"text": "a"}, "annotations": "x"}]), "c"),
        ("ls-data-list.json", json.dumps([{"data": ["a"], "annotations": []}]), "c"),
        ("ls-data-no-text.json", json.dumps([{"data": {"n": 1}, "annotations": []}]), "c"),
        ("ls-data-empty-text.json", json.dumps([{"data": {"text": ""}, "annotations": []}]), "c"),
        ("ls-completed-by-dict.json", task_with([], completed_by={"email": ["x"]}), "spans"),
        ("ls-completed-by-deep.json", task_with([], completed_by={"id": {"a": [1]}}), "spans"),
        (
            "ls-min-span-str.json",
            json.dumps([{**min_task, "label": None, "x": [{"start": 0}]}]),
            "s",
        ),
        ("ls-min-choices-num.json", json.dumps([{**min_task, "sentiment": {"choices": 5}}]), "c"),
        ("ls-min-label-list.json", json.dumps([{**min_task, "label": [[1], {"a": 2}]}]), "m"),
        ("ls-dup-ids.json", json.dumps([spans_task, spans_task, spans_task]), "spans"),
        ("ls-many-new-labels.json", _ls_many_labels(), "c"),
    ]
    task_of = {"c": "classification", "m": "multilabel", "s": "spans", "spans": "spans"}
    extra = [(name, _encode(data), task_of[task], opts) for name, data, task in own]
    bases = [(spans_task, "spans"), (choice_task, "classification"), (min_task, "multilabel")]
    return json_family("labelstudio", bases, True, extra, 14)


def _v(start: Any, end: Any, labels: Any) -> dict:
    return {"start": start, "end": end, "labels": labels}


def _encode(data: Any) -> Any:
    return data.encode() if isinstance(data, str) else data


def _ls_many_labels() -> bytes:
    tasks = [
        {
            "data": {"text": f"t{i}"},
            "annotations": [{"result": [_ls_result("choices", {"choices": [f"L{i}"]})]}],
        }
        for i in range(5000)
    ]
    return json.dumps(tasks).encode()


# ---- Prodigy, doccano ---------------------------------------------------------------------


def prodigy() -> list[Spec]:
    spans = {
        "text": TEXT,
        "_input_hash": 1,
        "_task_hash": 2,
        "answer": "accept",
        "spans": [{"start": 0, "end": 5, "label": "D", "token_start": 0, "token_end": 0}],
        "meta": {"source": "x"},
        "_annotator_id": "ann-1",
    }
    choice = {
        "text": TEXT,
        "_input_hash": 3,
        "options": [{"id": "ham", "text": "ham"}, {"id": "spam", "text": "spam"}],
        "accept": ["ham"],
        "answer": "accept",
    }
    binary = {"text": TEXT, "_input_hash": 4, "label": "a", "answer": "accept"}
    line = partial(_jsonl, "prodigy")
    own = [
        line("token-start-only", {**spans, "spans": [{"token_start": 0, "token_end": 1}]}, "spans"),
        line("span-no-end", {**spans, "spans": [{"start": 0, "label": "D"}]}, "spans"),
        line("span-label-missing", {**spans, "spans": [{"start": 0, "end": 5}]}, "spans"),
        line("spans-dict", {**spans, "spans": {"start": 0}}, "spans"),
        line("span-reversed", {**spans, "spans": [{"start": 5, "end": 0, "label": "D"}]}, "spans"),
        line(
            "span-text-wrong",
            {**spans, "spans": [{"start": 0, "end": 5, "label": "D", "text": "Bob"}]},
            "spans",
        ),
        line("accept-str", {**choice, "accept": "ham"}, "classification"),
        line("accept-unknown", {**choice, "accept": ["nope"]}, "classification"),
        line("accept-two", {**choice, "accept": ["ham", "spam"]}, "classification"),
        line("accept-nested", {**choice, "accept": [[{"a": 1}]]}, "multilabel"),
        line("answer-number", {**binary, "answer": 1}, "multilabel"),
        line("answer-list", {**binary, "answer": ["accept"]}, "multilabel"),
        line("label-unknown", {**binary, "label": "zzz"}, "multilabel"),
        line("annotator-deep", {**binary, "_annotator_id": {"a": [1, {"b": 2}]}}, "multilabel"),
        line("meta-list", {**binary, "meta": [1, 2]}, "multilabel"),
        line("meta-deep", {**binary, "meta": {"a": {"b": {"c": [1, [2]]}}}}, "multilabel"),
        line("input-hash-float", {**binary, "_input_hash": 1.5e300}, "multilabel"),
        line("no-text", {"answer": "accept", "label": "a"}, "multilabel"),
    ]
    bases = [(spans, "spans"), (choice, "classification"), (binary, "multilabel")]
    return json_family("prodigy", bases, False, own, 14)


def _jsonl(fmt: str, name: str, record: dict, task: str) -> Spec:
    return (f"{fmt}-{name}.jsonl", json.dumps(record).encode(), task, {"fmt": fmt})


def doccano() -> list[Spec]:
    tuples = {"id": 1, "text": TEXT, "label": [[0, 5, "D"], [10, 13, "D"]], "Comments": []}
    objects = {
        "id": 2,
        "text": TEXT,
        "entities": [{"id": 7, "start_offset": 0, "end_offset": 5, "label": "D"}],
        "relations": [],
    }
    labels = {"id": 3, "text": TEXT, "label": ["ham"], "Comments": []}
    line = partial(_jsonl, "doccano")
    own = [
        line("tuple-short", {**tuples, "label": [[0, 5]]}, "spans"),
        line("tuple-long", {**tuples, "label": [[0, 5, "D", "x"]]}, "spans"),
        line("tuple-strings", {**tuples, "label": [["0", "5", "D"]]}, "spans"),
        line("tuple-floats", {**tuples, "label": [[0.0, 5.5, "D"]]}, "spans"),
        line("tuple-reversed", {**tuples, "label": [[5, 0, "D"]]}, "spans"),
        line("tuple-label-num", {**tuples, "label": [[0, 5, 7]]}, "spans"),
        line("tuple-dict", {**tuples, "label": [{"start": 0}]}, "spans"),
        line(
            "both-wrong",
            {**objects, "label": [[9, 1, None]], "entities": [{"end_offset": 1}]},
            "spans",
        ),
        line(
            "entities-no-end", {**objects, "entities": [{"start_offset": 0, "label": "D"}]}, "spans"
        ),
        line("entities-str", {**objects, "entities": "D"}, "spans"),
        line("entities-list-of-lists", {**objects, "entities": [[0, 5, "D"]]}, "spans"),
        line(
            "entities-past-end",
            {**objects, "entities": [{"start_offset": 0, "end_offset": 999, "label": "D"}]},
            "spans",
        ),
        line(
            "entities-label-bool",
            {**objects, "entities": [{"start_offset": 0, "end_offset": 5, "label": True}]},
            "spans",
        ),
        line("labels-spans-in-cls", {**labels, "label": [[0, 5, "D"]]}, "classification"),
        line("labels-dict", {**labels, "label": {"ham": 1}}, "classification"),
        line("labels-unknown", {**labels, "label": ["zz"]}, "classification"),
        line("labels-two-cls", {**labels, "label": ["ham", "spam"]}, "classification"),
        line("labels-num", {**labels, "label": [1, 2.5, None]}, "multilabel"),
        line("cats-dict", {"text": TEXT, "cats": {"a": 1.0}}, "multilabel"),
        line("user-deep", {**labels, "user": [[[1]]]}, "classification"),
    ]
    bases = [(tuples, "spans"), (objects, "spans"), (labels, "classification")]
    return json_family("doccano", bases, False, own, 14)


def text_mutants(fmt: str, suffix: str, bases: list[tuple[bytes, str]], count: int) -> list[Spec]:
    """`count` seeded byte mutations spread over the valid files."""
    out = []
    for index in range(count):
        data, task = bases[index % len(bases)]
        rng = random.Random(f"{fmt}-mut-{index}")
        out.append(
            (f"{fmt}-mut{index:03d}{suffix}", partial(mutate, rng, data), task, {"fmt": fmt})
        )
    return out


ALL: tuple[Callable[[], list[Spec]], ...] = (labelstudio, prodigy, doccano)
