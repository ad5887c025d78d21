"""Prodigy's JSON Lines (db-out and the input of its recipes), read and written.

`answer` is respected: only "accept" becomes a label. A "reject" (the example is wrong) and
an "ignore" (skipped) never do, and a line without an answer is an unanswered input: its
datapoint stays unlabelled. An accepted example gives: the `accept` list of a choice
interface (`options`), the `spans` of an NER interface (an empty list: answered, no spans),
or the binary `label`. Each `_annotator_id` (else `_session_id`) is its own annotator, and
lines with the same `_input_hash` are one datapoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io.formats import peer
from app.core.io.formats.base import (
    ANSWERED,
    DISCARDED,
    SKIPPED,
    AnnotatorValue,
    ReadOptions,
    Record,
    WriteContext,
    WriteReport,
)
from app.core.jobs import CancelCheck, Progress

NAME = "prodigy"
DESCRIPTION = "Prodigy JSON Lines (answer accept/reject/ignore, spans, accept, label)"
SUFFIXES = (".jsonl",)
TABULAR = False
MULTI_ANNOTATOR = True
MARKERS = ("_input_hash", "_task_hash", "_view_id", "_session_id", "_annotator_id")
ANSWERS = ("accept", "reject", "ignore")


def detect(path: Path, head: bytes) -> float:
    """Prodigy's own keys, or an `answer` that is one of Prodigy's three (a dataset of
    questions and answers has an `answer` too)."""
    first = peer.first_json(head)
    if not isinstance(first, dict) or "text" not in first:
        return 0.0
    if any(key in first for key in MARKERS) or first.get("answer") in ANSWERS:
        return 0.95
    return 0.0


def _value(item: dict[str, Any], task_type: str, text: str, file: str, line: int) -> Any:
    """What an accepted example says, in the project's task shape (None: nothing to say)."""
    if "options" in item or "accept" in item:
        accepted = item.get("accept") or []
        if not isinstance(accepted, list):
            raise DataError(file, line, f"'accept' must be a list, not {peer.short(accepted)}")
        for choice in accepted:
            if not isinstance(choice, str | int) or isinstance(choice, bool):
                raise DataError(
                    file, line, f"an accepted option is {peer.short(choice)}, not an id"
                )
        accepted = [str(choice) for choice in accepted]
        if task_type == "spans":
            raise DataError(file, line, "a choice answer ('accept') for a spans project")
        return accepted
    if task_type == "spans":
        spans = item.get("spans") or []
        if not isinstance(spans, list):
            raise DataError(file, line, f"'spans' must be a list, not {peer.short(spans)}")
        found = []
        for entry in spans:
            if not isinstance(entry, dict):
                raise DataError(file, line, f"a span must be an object, not {peer.short(entry)}")
            label = entry.get("label", item.get("label"))
            found.append(
                peer.span(
                    entry.get("start"), entry.get("end"), label, text, file, line, entry.get("text")
                )
            )
        return found
    label = item.get("label")
    if label is None:
        return None
    if not isinstance(label, str) or not label.strip():
        raise DataError(file, line, f"'label' must be a label's name, not {peer.short(label)}")
    return [label] if task_type == "multilabel" else label


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    file = str(path)
    for line, item in peer.json_objects(path, options, (("text",),)):
        text = peer.need_text(item, "text", file, line)
        answer = item.get("answer")
        values: tuple[AnnotatorValue, ...] = ()
        who = item.get("_annotator_id") or item.get("_session_id")
        who = str(who) if who not in (None, "") else None
        if answer == "accept":
            value = _value(item, options.task_type, text, file, line)
            if value is not None:
                values = (AnnotatorValue(value, who, ANSWERED),)
        elif answer in ("reject", "ignore"):
            status = DISCARDED if answer == "reject" else SKIPPED
            values = (AnnotatorValue(None, who, status),)
        elif answer is not None:
            raise DataError(
                file, line, f"unknown answer {peer.short(answer)} (accept, reject or ignore)"
            )
        meta = item.get("meta")
        context = dict(meta) if isinstance(meta, dict) else {}
        source_id = item.get("_input_hash")
        yield Record(line, text, context, values, None if source_id is None else str(source_id))


def _example(record: dict[str, Any], context: WriteContext) -> dict[str, Any]:
    text = record[context.text_key]
    example: dict[str, Any] = {"text": text, "_input_hash": _input_hash(record["id"])}
    meta = {k: v for k, v in peer.context_of(record, context).items() if v is not None}
    if meta:
        example["meta"] = meta
    return example


def _input_hash(identifier: str) -> int:
    """A stable 31-bit hash of the datapoint's id: Prodigy's own hashes are ints."""
    import hashlib

    return int.from_bytes(hashlib.sha256(identifier.encode()).digest()[:4], "big") >> 1


def _answered(example: dict[str, Any], value: Any, context: WriteContext) -> dict[str, Any]:
    text = example["text"]
    if context.task_type == "spans":
        spans = [
            {
                "start": s["start"],
                "end": s["end"],
                "label": s["label"],
                "text": text[s["start"] : s["end"]],
            }
            for s in value
        ]
        return {**example, "spans": spans, "answer": "accept", "_view_id": "spans_manual"}
    chosen = [value] if isinstance(value, str) else list(value)
    options = [{"id": label, "text": label} for label in context.labels]
    return {
        **example,
        "options": options,
        "accept": chosen,
        "answer": "accept",
        "_view_id": "choice",
    }


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    """One line per answer (an unlabelled datapoint: one line without an answer)."""
    report = WriteReport()
    out = Path(out)
    with atomic_writer(out, "w", encoding="utf-8", newline="") as handle:
        for report.written, record in enumerate(records, 1):
            example = _example(record, context)
            given = peer.answers(record, context)
            if not given:
                handle.write(peer.dumps(example) + "\n")
            for annotator, value in given:
                line = _answered(example, value, context)
                if annotator:
                    line["_annotator_id"] = annotator
                    line["_session_id"] = annotator
                handle.write(peer.dumps(line) + "\n")
            peer.tick(report.written, out, progress, cancel)
    return report
