"""Export datapoints with their inputs, per-annotator annotations and status.

Streams in datapoint order (two cursors merged on datapoint id) and writes atomically: a
temporary file, then os.replace, so a cancelled or failed export leaves no partial file.

CSV cells that a spreadsheet would run as formulas (`=`, `+`, `-`, `@`...) are prefixed with a
quote unless `raw` (app.core.io.spreadsheet, which also says how a re-import undoes it).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

from app.core import audit
from app.core.errors import ProjectError
from app.core.fileio import atomic_writer
from app.core.ids import datapoint_uuid
from app.core.io.spreadsheet import NEUTRALISED_COLUMN, neutralise_row
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.project import Project
from app.core.quality.automation import run_confidences
from app.core.storage.retry import write_transaction
from app.core.storage.tables import STATUS_CODES, STATUS_NAMES

EXPORT_FORMATS = ("jsonl", "csv")
PROGRESS_EVERY = 20_000


def agreed_value(annotations: list[dict[str, Any]]) -> Any:
    """The value all complete annotations agree on, or None when there is none or they differ."""
    values = [a["value"] for a in annotations if a["status"] == "complete"]
    if values and all(value == values[0] for value in values):
        return values[0]
    return None


def _value_stream(project: Project, value_source: str) -> Iterator[tuple[int, Any, str]]:
    """(datapoint id, value, source) in datapoint order, for `value_source` (see iter_records)."""
    from app.core.quality.consensus import final_records, final_values

    if value_source == "final":
        for record in final_records(project):
            yield record.datapoint_id, record.value, record.source
        return
    if not value_source.startswith("annotator:"):
        raise ProjectError(
            f"value source must be 'final' or 'annotator:NAME', not {value_source!r}"
        )
    for dp_id, value in final_values(project, value_source):
        yield dp_id, value, value_source


def iter_records(
    project: Project,
    only_completed: bool = False,
    cancel: CancelCheck = never_cancel,
    value_source: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Every datapoint as an export record, in id order, without holding the table in memory.

    `label` is the value all complete annotations agree on; with `value_source`, it is the
    item's final value ("final": adjudicated, gold, consensus or the only annotator's, see
    app.core.quality.consensus) or one annotator's ("annotator:NAME"), and `label_source` says
    which."""
    chosen = _value_stream(project, value_source) if value_source else None
    upcoming = next(chosen, None) if chosen else None
    annotated = project.annotated_input
    context_inputs = project.context_inputs
    where = f" WHERE d.status = {STATUS_CODES['labeled']}" if only_completed else ""
    raw = project.engine.raw_connection()
    try:
        names = {
            row[0]: (row[1], row[2], row[3])
            for row in raw.execute("SELECT id, uuid, name, role FROM annotator")
        }
        schema_numbers = dict(raw.execute("SELECT id, version FROM schema_version").fetchall())
        auto_labels = run_confidences(raw)  # the model version and confidence of auto-labels
        datasets = {
            row[0]: (row[1], row[2])
            for row in raw.execute("SELECT id, uuid, source_name FROM dataset")
        }
        annotations = raw.cursor()
        annotations.execute(
            "SELECT datapoint_id, uuid, annotator_id, value, status, schema_version_id,"
            " time_spent_ms, origin, created_at, updated_at FROM annotation"
            " ORDER BY datapoint_id, annotator_id"
        )
        pending = annotations.fetchone()
        points = raw.cursor()
        points.execute(
            "SELECT d.id, d.dataset_id, d.row, d.text, d.context, d.status, d.flagged"
            f" FROM datapoint d{where} ORDER BY d.id"
        )
        for count, (dp_id, dataset_id, row, text, context, status, flagged) in enumerate(points):
            if count % PROGRESS_EVERY == 0:
                check_cancel(cancel)
            items = []
            while pending is not None and pending[0] <= dp_id:
                if pending[0] == dp_id:
                    annotator_uuid, annotator_name, _role = names[pending[2]]
                    items.append(
                        {
                            "annotator": annotator_name,
                            "annotator_id": annotator_uuid,
                            "id": pending[1],
                            "value": None if pending[3] is None else json.loads(pending[3]),
                            "status": pending[4],
                            "schema_version": schema_numbers[pending[5]],
                            "time_spent_ms": pending[6],
                            "origin": pending[7],
                            "created_at": pending[8],
                            "updated_at": pending[9],
                        }
                    )
                    if pending[7] == "model" and dp_id in auto_labels:
                        items[-1]["model_version"], items[-1]["confidence"] = auto_labels[dp_id]
                pending = annotations.fetchone()
            dataset_uuid, dataset_name = datasets[dataset_id]
            record: dict[str, Any] = {
                "id": datapoint_uuid(dataset_uuid, row),
                "dataset": dataset_name,
                "row": row,
                annotated: text,
            }
            values = json.loads(context) if context else {}
            for name in context_inputs:
                record[name] = values.get(name)
            record.update(
                status=STATUS_NAMES[status],
                flagged=bool(flagged),
                label=agreed_value(items),
                annotations=items,
            )
            if chosen is not None:
                while upcoming is not None and upcoming[0] < dp_id:
                    upcoming = next(chosen, None)
                found = upcoming is not None and upcoming[0] == dp_id
                record["label"] = upcoming[1] if found else None  # type: ignore[index]
                record["label_source"] = upcoming[2] if found else None  # type: ignore[index]
            yield record
    finally:
        raw.close()


def export_datapoints(
    project: Project,
    out: Path,
    fmt: str | None = None,
    only_completed: bool = False,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    value_source: str | None = None,
    raw: bool = False,
) -> int:
    """Write the export file atomically; returns the number of datapoints written.
    `value_source` ("final" or "annotator:NAME") chooses the `label` column (iter_records).
    A CSV neutralises formula cells for spreadsheets unless `raw` (app.core.io.spreadsheet);
    JSON Lines is always verbatim."""
    out = Path(out)
    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in EXPORT_FORMATS:
        raise ProjectError(f"{out}: export format must be one of {', '.join(EXPORT_FORMATS)}")
    with project.engine.connect() as conn:
        total = conn.execute(
            text(
                "SELECT count(*) FROM datapoint"
                + (f" WHERE status = {STATUS_CODES['labeled']}" if only_completed else "")
            )
        ).scalar()
    records = iter_records(project, only_completed, cancel, value_source)
    written = 0
    with atomic_writer(out, "w", encoding="utf-8", newline="") as handle:
        if fmt == "jsonl":
            dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
            for written, record in enumerate(records, 1):
                handle.write(dumps(record))
                handle.write("\n")
                if written % PROGRESS_EVERY == 0:
                    progress(written, total, f"Exporting to {out.name}")
        else:
            written = _write_csv(
                project, handle, records, total, progress, out.name, bool(value_source), raw
            )
    progress(written, total, f"Exported {written:,} datapoints to {out.name}")
    actor = project.local_annotator_id
    with write_transaction(project.engine) as conn:
        audit.record(
            conn,
            actor,
            "export",
            "project",
            project.uuid,
            after={
                "file": out.name,
                "format": fmt,
                "datapoints": written,
                "value_source": value_source,
                **({"neutralised": not raw} if fmt == "csv" else {}),
            },
        )
    return written


def _cell(value: Any, task_type: str) -> str:
    if value is None:
        return ""
    if task_type == "classification" and isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _write_csv(
    project,
    handle,
    records,
    total,
    progress: Progress,
    name: str,
    with_source: bool = False,
    raw: bool = False,
) -> int:
    """Every cell, header too, goes through neutralise_row unless `raw`; the neutralised file
    ends with an empty NEUTRALISED_COLUMN that tells a re-import to undo it."""
    with project.engine.connect() as conn:
        annotators = [r[0] for r in conn.execute(text("SELECT name FROM annotator ORDER BY id"))]
    annotators = list(dict.fromkeys(annotators))
    inputs = [spec.name for spec in project.inputs]
    header = ["id", "dataset", "row", *inputs, "status", "flagged", "label"]
    header += ["label_source"] if with_source else []
    header += [f"label:{annotator}" for annotator in annotators]
    header += [] if raw else [NEUTRALISED_COLUMN]
    # RFC 4180's CRLF: with a bare "\n", Python 3.11's csv leaves a field holding a lone "\r"
    # unquoted, so that a reader (and a spreadsheet) breaks the row there.
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerow(header if raw else neutralise_row(header))
    task_type = project.task_type
    written = 0
    for written, record in enumerate(records, 1):
        by_annotator = {a["annotator"]: a for a in record["annotations"]}
        row = [record["id"], record["dataset"], str(record["row"])]
        row += [record[name] if record[name] is not None else "" for name in inputs]
        row += [record["status"], "1" if record["flagged"] else "0"]
        row.append(_cell(record["label"], task_type))
        if with_source:
            row.append(record["label_source"] or "")
        for annotator in annotators:
            item = by_annotator.get(annotator)
            row.append(
                _cell(item["value"], task_type) if item and item["status"] == "complete" else ""
            )
        if not raw:
            row = neutralise_row(row)
            row.append("")
        writer.writerow(row)
        if written % PROGRESS_EVERY == 0:
            progress(written, total, f"Exporting to {name}")
    return written
