"""doccano's JSON Lines export, read and written.

Spans come as `label: [[start, end, "L"], ...]` (sequence labelling), as `entities` /
`annotations` objects with `start_offset`/`end_offset` (the newer and the older exports), and
classification labels as a `label` list of names. doccano writes a document nobody touched
as `"label": []`: that stays unlabelled (doccano has no way to say "answered, nothing here").
doccano keeps one set of labels per document, so the writer writes the final value.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io.formats import peer
from app.core.io.formats.base import (
    AnnotatorValue,
    ReadOptions,
    Record,
    WriteContext,
    WriteReport,
)
from app.core.jobs import CancelCheck, Progress

NAME = "doccano"
DESCRIPTION = "doccano JSON Lines (label [[s, e, L]] or start_offset/end_offset, label lists)"
SUFFIXES = (".jsonl",)
TABULAR = False
MULTI_ANNOTATOR = False
SPAN_KEYS = ("entities", "annotations")
OWN_KEYS = {"id", "text", "label", "labels", "entities", "annotations", "relations", "cats"}


def detect(path: Path, head: bytes) -> float:
    first = peer.first_json(head)
    if not isinstance(first, dict) or not isinstance(first.get("text"), str):
        return 0.0
    if "Comments" in first or "comments" in first or "relations" in first:
        return 0.85
    for key in SPAN_KEYS:
        items = first.get(key)
        entry = items[0] if isinstance(items, list) and items else None
        if isinstance(entry, dict) and "start_offset" in entry:
            return 0.9
    label = first.get("label")
    if isinstance(label, list) and label and isinstance(label[0], list) and len(label[0]) == 3:
        return 0.8
    return 0.0


def _spans(item: dict[str, Any], text: str, file: str, line: int) -> list[dict[str, Any]]:
    found = []
    label = item.get("label", item.get("labels"))
    if label is not None and not isinstance(label, list):
        raise DataError(
            file, line, f"doccano spans are [[start, end, label], ...], not {peer.short(label)}"
        )
    if isinstance(label, list):
        for entry in label:
            if not (isinstance(entry, list | tuple) and len(entry) == 3):
                raise DataError(
                    file, line, f"a doccano span is [start, end, label], not {peer.short(entry)}"
                )
            found.append(peer.span(entry[0], entry[1], entry[2], text, file, line))
    for key in SPAN_KEYS:
        entries = item.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise DataError(
                file, line, f"doccano {key!r} must be a list, not {peer.short(entries)}"
            )
        for entry in entries:
            if not isinstance(entry, dict) or "start_offset" not in entry:
                raise DataError(
                    file, line, f"a doccano {key} entry needs start_offset: {peer.short(entry)}"
                )
            name = entry.get("label")
            name = str(name) if isinstance(name, int) and not isinstance(name, bool) else name
            found.append(
                peer.span(
                    entry.get("start_offset"), entry.get("end_offset"), name, text, file, line
                )
            )
    return found


def _labels(item: dict[str, Any], file: str, line: int) -> list[str]:
    label = item.get("label", item.get("labels", item.get("cats")))
    if label is None:
        return []
    if isinstance(label, str):
        return [label]
    if not isinstance(label, list):
        raise DataError(
            file, line, f"doccano labels must be a list of names, not {peer.short(label)}"
        )
    names = []
    for name in label:
        if isinstance(name, list):
            raise DataError(
                file, line, "this doccano record holds spans; import it into a spans project"
            )
        if isinstance(name, dict) or name is None:
            raise DataError(file, line, f"a doccano label is a name, not {peer.short(name)}")
        names.append(str(name))
    return names


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    file = str(path)
    for line, item in peer.json_objects(path, options, (("text",),)):
        text = peer.need_text(item, "text", file, line)
        if options.task_type == "spans":
            value: Any = _spans(item, text, file, line)
        else:
            value = _labels(item, file, line)
        # An empty list is an untouched document: no answer, not "answered: nothing".
        values = (AnnotatorValue(value, _user(item)),) if value else ()
        context = {k: v for k, v in item.items() if k not in OWN_KEYS}
        source_id = item.get("id")
        yield Record(line, text, context, values, None if source_id is None else str(source_id))


def _user(item: dict[str, Any]) -> str | None:
    user = item.get("user") or item.get("annotator")
    return None if user in (None, "") else str(user)


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    """One line per datapoint with its final value (`label` [] when it has none)."""
    report = WriteReport()
    out = Path(out)
    with atomic_writer(out, "w", encoding="utf-8", newline="") as handle:
        for report.written, record in enumerate(records, 1):
            value = record.get("label")
            line: dict[str, Any] = {"id": report.written, "text": record[context.text_key]}
            if value is None:
                line["label"] = []
            elif context.task_type == "spans":
                line["label"] = [[s["start"], s["end"], s["label"]] for s in value]
            else:
                line["label"] = [value] if isinstance(value, str) else list(value)
            line.update(
                {k: v for k, v in peer.context_of(record, context).items() if k not in OWN_KEYS}
            )
            handle.write(peer.dumps(line) + "\n")
            peer.tick(report.written, out, progress, cancel)
    return report
