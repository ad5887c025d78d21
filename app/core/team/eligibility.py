"""Who may be given real (label) work: the qualification gate of task assignment.

A project's qualification sets (app.core.quality.qualification) are how an owner checks an
annotator before trusting them with data; assignment only needs to read the recorded results,
so the gate lives here, below the quality workflows that create the sets and score them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Row, text


def newest_result(conn: Connection, set_id: int, annotator_id: int) -> Row | None:
    """An annotator's newest recorded result on a qualification set, as (uuid, passed, correct,
    total, recorded_at), or None: the one that counts, for the gate here and for scoring again."""
    return conn.execute(
        text(
            "SELECT uuid, passed, correct, total, recorded_at FROM qualification_result"
            " WHERE set_id = :s"
            " AND annotator_id = :who ORDER BY recorded_at DESC, uuid DESC LIMIT 1"
        ),
        {"s": set_id, "who": annotator_id},
    ).first()


def unqualified(conn: Connection, annotator_ids: Sequence[int]) -> list[tuple[str, str]]:
    """(annotator name, set name) for each qualification set an annotator has not passed (their
    newest recorded result fails, or there is none)."""
    sets = conn.execute(text("SELECT id, name FROM qualification_set ORDER BY name")).all()
    if not sets:
        return []
    out = []
    for who in annotator_ids:
        name = conn.execute(text("SELECT name FROM annotator WHERE id = :id"), {"id": who}).scalar()
        for set_id, set_name in sets:
            newest = newest_result(conn, set_id, who)
            if newest is None or not newest.passed:
                out.append((name, set_name))
    return out
