"""Who may be given real (label) work: the qualification gate of task assignment.

A project's qualification sets (app.core.quality.qualification) are how an owner checks an
annotator before trusting them with data; assignment only needs to read the recorded results,
so the gate lives here, below the quality workflows that create the sets and score them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text


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
            passed = conn.execute(
                text(
                    "SELECT passed FROM qualification_result WHERE set_id = :s"
                    " AND annotator_id = :who ORDER BY recorded_at DESC, uuid DESC LIMIT 1"
                ),
                {"s": set_id, "who": who},
            ).scalar()
            if not passed:
                out.append((name, set_name))
    return out
