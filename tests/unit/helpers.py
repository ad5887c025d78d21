"""Reading a project's rows back for assertions."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from app.core.errors import DataError
from app.core.ids import now_iso
from app.core.io.importer import import_dataset
from app.core.project.project import Project


def next_millisecond() -> None:
    """Wait until the clock (app.core.ids.now_iso) has moved on by a millisecond: whatever is
    stamped next is stamped later than anything stamped before this call. Timestamps have
    millisecond resolution; a test that means "later" must not let two writes share one."""
    stamp = now_iso()
    while now_iso() == stamp:
        time.sleep(0.0002)


def rows(project: Project, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(project.path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def texts(project: Project) -> list[str]:
    return [r[0] for r in rows(project, "SELECT text FROM datapoint ORDER BY id")]


def values(project: Project) -> list:
    return [
        json.loads(r[0])
        for r in rows(
            project,
            "SELECT a.value FROM annotation a JOIN datapoint d ON d.id = a.datapoint_id"
            " ORDER BY d.id",
        )
    ]


def snapshot(project: Project) -> dict[str, int]:
    """Row counts of every table that an import may touch."""
    tables = (
        "datapoint",
        "dataset",
        "annotation",
        "annotation_label",
        "audit_event",
        "schema_version",
        "annotator",
    )
    return {t: rows(project, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def import_refused(
    project: Project, path: Path, line: int | None, words: Iterable[str], **kwargs
) -> DataError:
    """Importing `path` fails with a DataError that names the file first, then `line` (if
    given) and each of `words`, and leaves the project exactly as it was."""
    before = snapshot(project)
    with pytest.raises(DataError) as info:
        import_dataset(project, path, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path)), message
    if line is not None:
        assert f"line {line}:" in message, message
    for word in words:
        assert word in message, message
    assert snapshot(project) == before  # nothing half-imported
    return info.value
