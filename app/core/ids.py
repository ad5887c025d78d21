"""Identifiers that travel between machines."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


def new_uuid() -> str:
    return uuid.uuid4().hex


def datapoint_uuid(dataset_uuid: str, row: int) -> str:
    """A datapoint's UUID: name-based (RFC 4122 v5) on its dataset's random UUID and its row.

    Stable on every machine that holds the dataset, without storing a million random UUIDs.
    """
    return uuid.uuid5(uuid.UUID(dataset_uuid), str(row)).hex


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def is_timestamp(value: str) -> bool:
    """Whether `value` reads as an ISO 8601 date and time (a bundle's, checked before it is
    trusted to order anything)."""
    if len(value) < 10:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def stamp_after(previous: str | None) -> str:
    """Now, or one millisecond after `previous` when the clock has not passed it yet.

    A decision that replaces another (a review, an adjudication, a qualification result) is
    found again as the newest by its timestamp; two made within one millisecond would otherwise
    tie, and the tie would go to the larger random UUID, not to the later call.
    """
    now = now_iso()
    if previous is None or now > previous:
        return now
    try:
        after = datetime.fromisoformat(previous) + timedelta(milliseconds=1)
    except ValueError:  # a malformed stamp from elsewhere: the clock is all we have
        return now
    return after.astimezone(UTC).isoformat(timespec="milliseconds")
