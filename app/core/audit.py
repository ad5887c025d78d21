"""Audit events: who did what, when, with before and after values."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert

from app.core import tables as t
from app.core.ids import new_uuid, now_iso


def record(
    conn: Connection,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_uuid: str | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    """Add an audit event inside the caller's transaction, so it commits with the change."""
    conn.execute(
        insert(t.audit_event).values(
            uuid=new_uuid(),
            at=now_iso(),
            actor_id=actor_id,
            action=action,
            entity=entity,
            entity_uuid=entity_uuid,
            before=None if before is None else json.dumps(before, ensure_ascii=False),
            after=None if after is None else json.dumps(after, ensure_ascii=False),
        )
    )
