"""Label Studio's JSON export (tasks with `data` and `annotations[].result[]`) and JSON-MIN,
read and written.

Each annotation is its annotator's answer (`completed_by`); a cancelled or skipped one
(`was_cancelled`) is left out, and a task nobody annotated stays unlabelled. A submitted
annotation with an empty result is an answer: "none of these" (multilabel) or "no spans".
Results of type `labels` are spans (each of its labels a span, its `text` checked against the
slice), `choices` the chosen labels. The written file is a task list Label Studio imports
(Import > JSON), with each annotator's annotation and the annotator's name in `tagloop_annotator`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io import longtext
from app.core.io.formats import peer
from app.core.io.formats.base import (
    ANSWERED,
    SKIPPED,
    AnnotatorValue,
    ReadOptions,
    Record,
    WriteContext,
    WriteReport,
)
from app.core.jobs import CancelCheck, Progress

NAME = "labelstudio"
DESCRIPTION = "Label Studio JSON export (data + annotations[].result[]) or JSON-MIN"
SUFFIXES = (".json",)
TABULAR = False
MULTI_ANNOTATOR = True
MIN_KEYS = ("annotation_id", "lead_time", "annotator")
MIN_OWN = {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time"}
LABEL_KEYS = ("label", "labels", "sentiment", "class", "category", "choice", "choices")


def detect(path: Path, head: bytes) -> float:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start.startswith(b"["):
        return 0.0
    if b'"data"' in head and (b'"annotations"' in head or b'"completions"' in head):
        return 0.95
    first = peer.first_json(head)
    if isinstance(first, dict) and sum(key in first for key in MIN_KEYS) >= 2:
        return 0.9
    return 0.0


def _text_key(data: dict[str, Any], file: str, line: int) -> str:
    if isinstance(data.get("text"), str | longtext.LongText):
        return "text"
    keys = [key for key, value in data.items() if isinstance(value, str)]
    if not keys:
        raise DataError(file, line, "the task's data holds no text")
    return keys[0]


def _annotator(annotation: dict[str, Any]) -> str | None:
    who = annotation.get("tagloop_annotator") or annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("username") or who.get("id")
    return None if who in (None, "") else str(who)


def _list(value: Any, what: str, file: str, line: int) -> list[Any]:
    """`value` when it is a list (None: an empty one); else a DataError naming the line."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(file, line, f"{what} must be a list, not {peer.short(value)}")
    return value


def _choice(choice: Any, file: str, line: int) -> str:
    """A choice name; a taxonomy path (a list of names) is joined with '/'."""
    if isinstance(choice, list) and choice and all(isinstance(x, str) for x in choice):
        return "/".join(choice)
    if not isinstance(choice, str):
        raise DataError(file, line, f"a choice must be a name, not {peer.short(choice)}")
    return choice


def _result_value(result: Any, task_type: str, text: str, file: str, line: int) -> Any:
    spans: list[dict[str, Any]] = []
    choices: list[str] = []
    for item in _list(result, "an annotation's 'result'", file, line):
        if not isinstance(item, dict):
            raise DataError(file, line, f"a result must be an object, not {peer.short(item)}")
        value = item.get("value")
        value = {} if value is None else value
        if not isinstance(value, dict):
            raise DataError(
                file, line, f"a result's 'value' must be an object, not {peer.short(value)}"
            )
        kind = item.get("type")
        if kind in ("labels", "hypertextlabels") or ("start" in value and "labels" in value):
            if text.__class__ is longtext.LongText:  # spans outside a spans project: checked
                text = text.decode()  # all the same, on the str (once)
            for label in _list(value.get("labels"), "a span's 'labels'", file, line):
                spans.append(
                    peer.span(
                        value.get("start"),
                        value.get("end"),
                        label,
                        text,
                        file,
                        line,
                        value.get("text"),
                    )
                )
        elif kind in ("choices", "taxonomy") or "choices" in value:
            for choice in _list(value.get("choices"), "'choices'", file, line):
                choices.append(_choice(choice, file, line))
    if task_type == "spans":
        return spans
    return choices


def _full_task(task: dict[str, Any], options: ReadOptions, file: str, line: int) -> Record:
    data = task.get("data")
    if not isinstance(data, dict):
        raise DataError(file, line, "a Label Studio task needs a 'data' object")
    key = _text_key(data, file, line)
    text = data[key]
    values = []
    given = task.get("annotations", task.get("completions"))
    for annotation in _list(given, "a task's 'annotations'", file, line):
        if not isinstance(annotation, dict):
            raise DataError(
                file, line, f"an annotation must be an object, not {peer.short(annotation)}"
            )
        who = _annotator(annotation)
        if annotation.get("was_cancelled") or annotation.get("skipped"):
            values.append(AnnotatorValue(None, who, SKIPPED))
            continue
        value = _result_value(annotation.get("result"), options.task_type, text, file, line)
        if options.task_type == "classification" and not value:
            continue  # no choice made: nothing answered
        values.append(AnnotatorValue(value, who, ANSWERED))
    context = {k: v for k, v in data.items() if k != key}
    source_id = task.get("id")
    return Record(line, text, context, tuple(values), None if source_id is None else str(source_id))


def _min_spans(items: list[Any], text: str, file: str, line: int) -> list[dict[str, Any]]:
    """The spans of a JSON-MIN column: [{start, end, text, labels: [...]}, ...]."""
    spans = []
    for item in items:
        if not isinstance(item, dict):
            raise DataError(file, line, f"a span must be an object, not {peer.short(item)}")
        labels = _list(item.get("labels"), "a span's 'labels'", file, line)
        if not labels:
            raise DataError(file, line, f"a span without labels: {peer.short(item)}")
        for label in labels:
            spans.append(
                peer.span(
                    item.get("start"), item.get("end"), label, text, file, line, item.get("text")
                )
            )
    return spans


def _min_task(task: dict[str, Any], options: ReadOptions, file: str, line: int) -> Record:
    key = _text_key({k: v for k, v in task.items() if k not in MIN_OWN}, file, line)
    text = task[key]
    value: Any = None
    context = {}
    for name, item in task.items():
        if name in MIN_OWN or name == key:
            continue
        if isinstance(item, list) and item and isinstance(item[0], dict) and "start" in item[0]:
            if options.task_type == "spans":
                value = _min_spans(item, text, file, line)
        elif isinstance(item, dict) and "choices" in item:
            chosen = _list(item["choices"], "'choices'", file, line)
            value = [_choice(choice, file, line) for choice in chosen]
        elif name in LABEL_KEYS and isinstance(item, str | list):
            value = [item] if isinstance(item, str) else list(item)
        else:
            context[name] = item
    values = ()
    if value is not None:
        who = task.get("annotator")
        values = (AnnotatorValue(value, None if who in (None, "") else str(who)),)
    source_id = task.get("id")
    return Record(line, text, context, values, None if source_id is None else str(source_id))


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    file = str(path)
    for line, task in peer.json_objects(path, options, (("data", "text"), ("text",))):
        if not isinstance(task, dict):
            raise DataError(file, line, "a Label Studio task must be an object")
        if "data" in task:
            yield _full_task(task, options, file, line)
        else:
            yield _min_task(task, options, file, line)


def _result(value: Any, context: WriteContext, text: str) -> list[dict[str, Any]]:
    """Label Studio result items for one value (from_name "label", to_name "text")."""
    if context.task_type == "spans":
        return [
            {
                "id": f"s{i}",
                "from_name": "label",
                "to_name": "text",
                "type": "labels",
                "value": {
                    "start": s["start"],
                    "end": s["end"],
                    "text": text[s["start"] : s["end"]],
                    "labels": [s["label"]],
                },
            }
            for i, s in enumerate(value)
        ]
    chosen = [value] if isinstance(value, str) else list(value)
    if not chosen:
        return []
    return [
        {
            "id": "c0",
            "from_name": "label",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": chosen},
        }
    ]


def labeling_config(context: WriteContext) -> str:
    """The Label Studio labeling config the written tasks fit (shown in --help, the README)."""
    if context.task_type == "spans":
        labels = "".join(f'<Label value="{label}"/>' for label in context.labels)
        return (
            f'<View><Labels name="label" toName="text">{labels}</Labels>'
            '<Text name="text" value="$text"/></View>'
        )
    choice = "multiple" if context.task_type == "multilabel" else "single"
    choices = "".join(f'<Choice value="{label}"/>' for label in context.labels)
    return (
        f'<View><Text name="text" value="$text"/><Choices name="label" toName="text" '
        f'choice="{choice}">{choices}</Choices></View>'
    )


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    """A JSON array of tasks, streamed: one task per datapoint, one annotation per answer."""
    report = WriteReport()
    out = Path(out)
    with atomic_writer(out, "w", encoding="utf-8", newline="") as handle:
        handle.write("[")
        for report.written, record in enumerate(records, 1):
            text = record[context.text_key]
            data = {"text": text}
            data.update({k: v for k, v in peer.context_of(record, context).items() if k != "text"})
            annotations = []
            for annotator, value in peer.answers(record, context):
                annotation: dict[str, Any] = {
                    "result": _result(value, context, text),
                    "was_cancelled": False,
                    "ground_truth": False,
                }
                if annotator:
                    annotation["tagloop_annotator"] = annotator
                annotations.append(annotation)
            task = {"id": report.written, "data": data, "annotations": annotations}
            handle.write(
                ("\n" if report.written == 1 else ",\n") + json.dumps(task, ensure_ascii=False)
            )
            peer.tick(report.written, out, progress, cancel)
        handle.write("\n]\n")
    report.notes.append(f"Label Studio labeling config for these tasks: {labeling_config(context)}")
    return report
