"""CSV, TSV, JSON, JSON Lines and plain text as registry formats (issue #13).

Reading wraps the streamed readers of app.core.io.readers; the importer reads these five on
its own fast path (tuples straight from the reader, no Record per row) and uses `read` only
where Records are wanted. Writing is the export's CSV and JSON Lines: every datapoint with its
inputs, status, agreed (or chosen) label and each annotator's label.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.fileio import atomic_writer
from app.core.io import readers
from app.core.io.formats.base import ReadOptions, Record, WriteContext, WriteReport
from app.core.io.spreadsheet import NEUTRALISED_COLUMN, neutralise_row
from app.core.jobs import CancelCheck, Progress, check_cancel

PROGRESS_EVERY = 20_000


def _first_line(head: bytes) -> bytes:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]


def _is_text(head: bytes) -> bool:
    return b"\x00" not in head or head.startswith((b"\xff\xfe", b"\xfe\xff"))


def _detect_csv(path: Path, head: bytes) -> float:
    if not _is_text(head):
        return 0.0
    return 0.5 if b"," in _first_line(head) else 0.3


def _detect_tsv(path: Path, head: bytes) -> float:
    if not _is_text(head):
        return 0.0
    return 0.5 if b"\t" in _first_line(head) else 0.2


def _detect_json(path: Path, head: bytes) -> float:
    return 0.5 if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[") else 0.0


def _detect_jsonl(path: Path, head: bytes) -> float:
    return 0.5 if _first_line(head).startswith(b"{") else 0.0


def _detect_txt(path: Path, head: bytes) -> float:
    return 0.4 if _is_text(head) else 0.0


@dataclass(frozen=True)
class TabularFormat:
    """One of the five line- or array-based formats; it takes --map and --label-column."""

    name: str
    description: str
    suffixes: tuple[str, ...]
    detect: Callable[[Path, bytes], float]
    writer: Callable[..., WriteReport] | None = None
    tabular: bool = True
    multi_annotator: bool = True

    @property
    def writable(self) -> bool:
        return self.writer is not None

    def read(self, path: Path, options: ReadOptions) -> Iterator[Record]:
        """Every row as a Record holding the whole row in `context` by column name."""
        path = Path(path)
        with path.open("rb") as raw:
            source = readers.open_source(
                path,
                io.BufferedReader(raw, 1 << 20),
                self.name,
                options.max_field,
                options.encoding,
            )
            try:
                for line, row in source.records:
                    if source.columns and self.name != "txt":
                        row = dict(zip(source.columns, row, strict=False))
                    elif not isinstance(row, dict):
                        row = {readers.TEXT_COLUMN: row}
                    yield Record(line, "", row)
            finally:
                source.close()

    def write(
        self,
        records: Iterator[dict[str, Any]],
        out: Path,
        context: WriteContext,
        progress: Progress,
        cancel: CancelCheck,
    ) -> WriteReport:
        if self.writer is None:
            raise NotImplementedError(self.name)
        return self.writer(records, Path(out), context, progress, cancel)


def write_jsonl(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    """The export records verbatim, one JSON object a line."""
    report = WriteReport()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with atomic_writer(out, "w", encoding="utf-8", newline="") as handle:
        for report.written, record in enumerate(records, 1):
            handle.write(dumps(record))
            handle.write("\n")
            if report.written % PROGRESS_EVERY == 0:
                progress(report.written, None, f"Exporting to {out.name}")
                check_cancel(cancel)
    return report


def _cell(value: Any, task_type: str) -> str:
    if value is None:
        return ""
    if task_type == "classification" and isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def write_csv(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    """Every cell, header too, goes through neutralise_row unless `context.raw`; the
    neutralised file ends with an empty NEUTRALISED_COLUMN that tells a re-import to undo it."""
    raw = context.raw
    annotators = list(dict.fromkeys(context.annotators))
    inputs = list(context.inputs) or [context.text_key, *context.context_inputs]
    header = ["id", "dataset", "row", *inputs, "status", "flagged", "label"]
    header += ["label_source"] if context.with_source else []
    header += [f"label:{annotator}" for annotator in annotators]
    header += [] if raw else [NEUTRALISED_COLUMN]
    task_type = context.task_type
    report = WriteReport()
    with atomic_writer(out, "w", encoding="utf-8", newline="") as handle:
        # RFC 4180's CRLF: the csv module then quotes a field holding a lone "\r" (it quotes
        # any character of the line terminator), so no reader breaks the row there.
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header if raw else neutralise_row(header))
        for report.written, record in enumerate(records, 1):
            by_annotator = {a["annotator"]: a for a in record["annotations"]}
            row = [record["id"], record["dataset"], str(record["row"])]
            row += [record[name] if record.get(name) is not None else "" for name in inputs]
            row += [record["status"], "1" if record["flagged"] else "0"]
            row.append(_cell(record["label"], task_type))
            if context.with_source:
                row.append(record.get("label_source") or "")
            for annotator in annotators:
                item = by_annotator.get(annotator)
                complete = item is not None and item["status"] == "complete"
                row.append(_cell(item["value"], task_type) if complete else "")  # type: ignore[index]
            if not raw:
                row = neutralise_row(row)
                row.append("")
            writer.writerow(row)
            if report.written % PROGRESS_EVERY == 0:
                progress(report.written, None, f"Exporting to {out.name}")
                check_cancel(cancel)
    return report


CSV = TabularFormat(
    "csv", "comma-separated values with a header line", (".csv",), _detect_csv, write_csv
)
TSV = TabularFormat(
    "tsv", "tab-separated values with a header line, no quoting", (".tsv", ".tab"), _detect_tsv
)
JSON = TabularFormat("json", "a JSON array of objects (or of strings)", (".json",), _detect_json)
JSONL = TabularFormat(
    "jsonl", "JSON Lines: one object a line", (".jsonl", ".ndjson"), _detect_jsonl, write_jsonl
)
TXT = TabularFormat("txt", "plain text, one datapoint a line", (".txt", ".text"), _detect_txt)
