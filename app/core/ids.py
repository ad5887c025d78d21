"""Identifiers that travel between machines."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def new_uuid() -> str:
    return uuid.uuid4().hex


def datapoint_uuid(dataset_uuid: str, row: int) -> str:
    """A datapoint's UUID: name-based (RFC 4122 v5) on its dataset's random UUID and its row.

    Stable on every machine that holds the dataset, without storing a million random UUIDs.
    """
    return uuid.uuid5(uuid.UUID(dataset_uuid), str(row)).hex


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
