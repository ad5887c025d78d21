"""The model's bulk paths through SQLite: prediction rows written, the pool and texts read.

Why here: these are the few places where scoring a million datapoints needs SQLite's own
dialect and its raw driver (INSERT OR REPLACE, json_each, qmark parameters, fetchall on the
sqlite3 connection), so they sit in core/storage with the rest of what ties Tagloop to SQLite.
The domain API is app.core.project.modelstore (model versions, their audit events, the
predictions as the editors read them); app.ml.loop reads its training texts and its pool here.
Every function works inside the caller's connection or transaction, but `drop_older`, which
commits its own short transactions. The prediction table
itself (keyed by model version and datapoint, WITHOUT ROWID) is laid out by migration 0005.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from app.core.storage.retry import run_write
from app.core.storage.sqlite import driver_connection
from app.core.storage.staging import FIRST_CHUNK, next_chunk
from app.core.storage.tables import DatapointStatus
from app.core.storage.visibility import visible

FIXED_POINT = 1e12  # confidences and priorities travel to SQLite as integers of 1e-12
MAX_VARIABLES = 900  # ids per IN (...): below SQLite's default limit of 999 bound variables

_INSERT = (
    "INSERT OR REPLACE INTO prediction (datapoint_id, model_version_id, value, confidence, score)"
)
_UNLABELED = int(DatapointStatus.UNLABELED)


def write_rows(
    conn: Connection, version_id: int, rows: Iterable[tuple[int, str, float, float | None]]
) -> None:
    """(datapoint id, value already as JSON, confidence, priority) rows straight to the driver;
    a datapoint's earlier prediction by the same version is replaced."""
    conn.exec_driver_sql(
        f"{_INSERT} VALUES (?, ?, ?, ?, ?)",
        [(dp_id, version_id, value, conf, score) for dp_id, value, conf, score in rows],
    )


def write_arrays(
    conn: Connection,
    version_id: int,
    ids: Sequence[int],
    values: Sequence[str],
    confidence: Any,
    score: Any,
) -> None:
    """One chunk of a pool score: ids, values already as JSON, and confidences and priorities
    as arrays.

    The rows reach SQLite as one JSON text read by json_each, so the insert is a single
    statement that runs without the GIL: executemany takes the GIL back after every row,
    and beside the scoring threads those waits cost more than the inserts. The numbers go
    as integers of 1e-12 (turned back into floats by SQLite), since writing a float's
    shortest repr costs three times as much as an integer's. Rows with a non-finite number
    (not JSON) take write_rows."""
    import numpy as np  # here, not at the top: opening a project does not need NumPy

    confidence = np.asarray(confidence, np.float64)
    score = np.asarray(score, np.float64)
    if not (np.isfinite(confidence).all() and np.isfinite(score).all()):
        write_rows(
            conn, version_id, zip(ids, values, confidence.tolist(), score.tolist(), strict=True)
        )
        return
    conf_fixed = np.rint(confidence * FIXED_POINT).astype(np.int64).tolist()
    score_fixed = np.rint(score * FIXED_POINT).astype(np.int64).tolist()
    payload = (
        "["
        + ",".join(
            [
                f"[{dp_id},{value},{conf},{prio}]"
                for dp_id, value, conf, prio in zip(
                    ids, values, conf_fixed, score_fixed, strict=True
                )
            ]
        )
        + "]"
    )
    conn.exec_driver_sql(
        f"{_INSERT} SELECT value ->> 0, ?, value -> 1, (value ->> 2) * ?,"
        " (value ->> 3) * ? FROM json_each(?)",
        (version_id, 1 / FIXED_POINT, 1 / FIXED_POINT, payload),
    )


def set_scores(conn: Connection, version_id: int, rows: Iterable[tuple[float, int]]) -> None:
    """New priority scores (score, datapoint id) for some of a version's predictions."""
    conn.exec_driver_sql(
        "UPDATE prediction SET score = ? WHERE datapoint_id = ? AND model_version_id = ?",
        [(score, dp_id, version_id) for score, dp_id in rows],
    )


def _drop_step(conn: Connection, version_id: int, size: int) -> int | None:
    """Delete up to `size` predictions of the oldest version before `version_id`; how many,
    or None when no older version has any left."""
    raw = driver_connection(conn)
    (oldest,) = raw.execute(
        "SELECT min(model_version_id) FROM prediction WHERE model_version_id < ?", (version_id,)
    ).fetchone()
    if oldest is None:
        return None
    (high,) = raw.execute(
        "SELECT max(datapoint_id) FROM (SELECT datapoint_id FROM prediction"
        " WHERE model_version_id = ? ORDER BY datapoint_id LIMIT ?)",
        (oldest, size),
    ).fetchone()
    return raw.execute(
        "DELETE FROM prediction WHERE model_version_id = ? AND datapoint_id <= ?", (oldest, high)
    ).rowcount


def drop_older(engine: Engine, version_id: int) -> int:
    """Delete the predictions of every version older than `version_id` in short transactions
    sized by time (staging.next_chunk, about 0.3 s each; issue 14), not one long one: they
    are a derived cache, which the newest version has replaced (readers use the newest), so
    what is left between two chunks is never seen. How many rows were deleted."""
    removed, size = 0, FIRST_CHUNK
    while True:
        started = time.perf_counter()
        count = run_write(engine, lambda conn, size=size: _drop_step(conn, version_id, size))
        if count is None:
            return removed
        removed += count
        size = next_chunk(size, count, time.perf_counter() - started)


@dataclass(frozen=True)
class Pool:
    """The unlabeled datapoints at a glance: how many, and the lowest and highest id."""

    count: int
    low: int | None
    high: int | None


def unlabeled_pool(conn: Connection) -> Pool:
    """Count and id bounds of the unlabeled pool, in one pass over the status index."""
    count, low, high = conn.exec_driver_sql(
        f"SELECT count(*), min(id), max(id) FROM datapoint d WHERE d.status = {_UNLABELED}"
        f" AND {visible('d')}"  # never an unfinished import's rows
    ).one()
    return Pool(count, low, high)


def read_unlabeled(conn: Connection, low: int, high: int) -> list[tuple[int, str]]:
    """(id, text) of the unlabeled datapoints with ids in [low, high], fetched by the driver in
    one call: SQLAlchemy's row-by-row fetch held the GIL for about 2 s per million rows,
    starving the writing thread."""
    return (
        driver_connection(conn)
        .execute(
            "SELECT d.id, d.text FROM datapoint d"
            f" WHERE d.status = {_UNLABELED} AND d.id BETWEEN ? AND ? AND {visible('d')}"
            " ORDER BY d.id",
            (low, high),
        )
        .fetchall()
    )


def texts_by_id(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    """The text of each of these datapoints, read by the driver MAX_VARIABLES ids at a time."""
    raw = driver_connection(conn)
    texts: dict[int, str] = {}
    for start in range(0, len(ids), MAX_VARIABLES):
        chunk = ids[start : start + MAX_VARIABLES]
        texts.update(
            raw.execute(
                f"SELECT id, text FROM datapoint WHERE id IN ({','.join('?' * len(chunk))})",
                list(chunk),
            )
        )
    return texts
