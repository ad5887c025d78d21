"""Export datapoints with their inputs, per-annotator annotations and status.

Streams in datapoint order (two cursors merged on datapoint id) to a writer of the format
registry (app.core.io.formats.registry), which writes atomically: a temporary file, then
os.replace, so a cancelled or failed export leaves no partial file.

CSV cells that a spreadsheet would run as formulas (`=`, `+`, `-`, `@`...) are prefixed with a
quote unless `raw` (app.core.io.spreadsheet, which also says how a re-import undoes it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

from app.core import audit
from app.core.errors import DataError, ProjectError
from app.core.fileio import display_name, refuse_overwrite
from app.core.ids import datapoint_uuid
from app.core.io.formats import registry
from app.core.io.formats.base import WriteContext, WriteReport
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.project.project import Project, current_schema
from app.core.quality.automation import run_confidences
from app.core.storage import runs
from app.core.storage.retry import write_transaction
from app.core.storage.tables import STATUS_CODES, STATUS_NAMES
from app.core.storage.visibility import visible

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
    where = f" WHERE {visible('d')}"  # never an unfinished import's rows
    raw = project.engine.raw_connection()
    try:
        # one read snapshot for the whole export; the statuses of a run being settled
        state = runs.status_sql("d", runs.settling(raw.driver_connection))
        if only_completed:
            where += f" AND {state} = {STATUS_CODES['labeled']}"
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
            f" WHERE {runs.annotation_visible('annotation')}"  # never an unpublished run's
            " ORDER BY datapoint_id, annotator_id"
        )
        pending = annotations.fetchone()
        points = raw.cursor()
        points.execute(
            f"SELECT d.id, d.dataset_id, d.row, d.text, d.context, {state}, d.flagged"
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
    """Write the export file atomically; returns the number of datapoints written
    (export_file gives the writer's whole report, with its warnings)."""
    return export_file(
        project, out, fmt, only_completed, progress, cancel, value_source, raw
    ).written


def export_file(
    project: Project,
    out: Path,
    fmt: str | None = None,
    only_completed: bool = False,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    value_source: str | None = None,
    raw: bool = False,
) -> WriteReport:
    """Write the export in any writable format of the registry (app.core.io.formats).

    `value_source` ("final" or "annotator:NAME") chooses the `label` of each record
    (iter_records); a format that holds one value per datapoint (doccano, CoNLL) writes the
    final one unless told otherwise, the others keep every annotator's annotations.
    A CSV neutralises formula cells for spreadsheets unless `raw` (app.core.io.spreadsheet);
    JSON Lines is always verbatim."""
    out = Path(out)
    fmt = fmt or _format_of(out)
    try:
        writer = registry.get(fmt, out, writable=True)
    except DataError as exc:
        raise ProjectError(f"{out}: {exc.problem}") from None
    if not (fmt == "brat" and out.is_dir()):  # a folder format checks its folder itself
        refuse_overwrite(out)  # the open project given as the output: refused before any work
    if not writer.multi_annotator and value_source is None:
        value_source = "final"
    context = _context(project, raw, value_source)
    with project.engine.connect() as conn:
        total = conn.execute(
            text(
                f"SELECT count(*) FROM datapoint d WHERE {visible('d')}"
                + (f" AND d.status = {STATUS_CODES['labeled']}" if only_completed else "")
            )
        ).scalar()

    def counted(done: int, _total: int | None, message: str) -> None:
        progress(done, total, message)

    records = iter_records(project, only_completed, cancel, value_source)
    report = writer.write(records, out, context, counted, cancel)
    progress(report.written, total, f"Exported {report.written:,} datapoints to {out.name}")
    actor = project.local_annotator_id
    with write_transaction(project.engine) as conn:
        audit.record(
            conn,
            actor,
            "export",
            "project",
            project.uuid,
            after={
                "file": display_name(out.name),
                "format": fmt,
                "datapoints": report.written,
                "value_source": value_source,
                **({"neutralised": not raw} if fmt == "csv" else {}),
            },
        )
    return report


def _format_of(out: Path) -> str:
    """The writable format the file name says (.jsonl is JSON Lines, .json Label Studio)."""
    found = [name for name in registry.by_suffix(out) if registry.get(name).writable]
    if not found:
        raise ProjectError(
            f"{out}: cannot tell the export format from the name; give it with --format "
            f"({registry.names_text(writable=True)})"
        )
    return found[0]


def _context(project: Project, raw: bool, value_source: str | None) -> WriteContext:
    with project.engine.connect() as conn:
        annotators = [r[0] for r in conn.execute(text("SELECT name FROM annotator ORDER BY id"))]
        schema = current_schema(conn)
    return WriteContext(
        task_type=project.task_type,
        labels=tuple(schema.label_names),
        text_key=project.annotated_input,
        context_inputs=tuple(project.context_inputs),
        language=getattr(project, "language", "en") or "en",
        values="final" if value_source else "all",
        inputs=tuple(spec.name for spec in project.inputs),
        annotators=tuple(annotators),
        raw=raw,
        with_source=bool(value_source),
    )
