"""The project's annotators: their roles, and finding or adding one.

It sits in the project layer, below annotation, team and quality, so that every workflow that
names an annotator (assignment, review, adjudication, gold, qualification) finds them the same
way without importing another workflow.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, text

from app.core.errors import ProjectError
from app.core.ids import new_uuid, now_iso
from app.core.project.label_schema import label_name_problem
from app.core.storage import tables as t

ROLES = ("owner", "manager", "annotator", "reviewer")
# The built-in annotator whose annotations are the model's auto-labels (issue 12): the same
# UUID in every project, so bundles merge its work as one annotator. Nobody is given its role.
MODEL_ROLE = "model"
MODEL_NAME = "model"
MODEL_UUID = "7a6d6f64656c00000000000000000001"
ALL_ROLES = (*ROLES, MODEL_ROLE)


MAX_NAME = 200


def name_problem(name: str, model_allowed: bool = False) -> str | None:
    """What is wrong with `name` as an annotator's name, or None: blank, control characters
    (they broke the exports' lines), over MAX_NAME characters, or, unless `model_allowed` (a
    file naming the model's own labels), the model's name: a second "model" made every
    `label:model` column and `--values annotator:model` ambiguous. Red team (issue 14)."""
    if not name.strip():
        return "an annotator name is blank"
    if name.strip() == MODEL_NAME and not model_allowed:
        return f"{MODEL_NAME!r} is the name of the model's own annotator; choose another name"
    problem = label_name_problem(name)  # red team, session 6: line separators and bidi
    if problem is not None:  # controls too (a name shown reversed could pass for another)
        return f"the annotator name {name[:40]!r} {problem}"
    if len(name) > MAX_NAME:
        return f"an annotator name of {len(name):,} characters (at most {MAX_NAME})"
    return None


def ensure_annotator(conn: Connection, uuid: str, name: str, role: str) -> int:
    """The id of the annotator with this UUID, adding them if the project does not know them."""
    existing = conn.execute(select(t.annotator.c.id).where(t.annotator.c.uuid == uuid)).scalar()
    if existing is not None:
        return existing
    if role not in ALL_ROLES:
        raise ProjectError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return conn.execute(
        insert(t.annotator).values(uuid=uuid, name=name, role=role, created_at=now_iso())
    ).inserted_primary_key[0]


def model_annotator(conn: Connection) -> int:
    """The id of the built-in annotator `model`, added on first use."""
    return ensure_annotator(conn, MODEL_UUID, MODEL_NAME, MODEL_ROLE)


def annotator_by_name(conn: Connection, name: str) -> int:
    """An annotator found by name (for labels imported on someone's behalf), added if new."""
    existing = conn.execute(
        select(t.annotator.c.id).where(t.annotator.c.name == name).order_by(t.annotator.c.id)
    ).scalar()
    return (
        existing if existing is not None else ensure_annotator(conn, new_uuid(), name, "annotator")
    )


def find_annotator(conn: Connection, who: int | str) -> tuple[int, str, str]:
    """(id, uuid, name) of the annotator given by id, or by UUID or (unique) name.

    Commands and dialogs name annotators as their users do; an ambiguous or unknown name is a
    ProjectError that says what to do."""
    if isinstance(who, int):
        row = conn.execute(
            text("SELECT id, uuid, name FROM annotator WHERE id = :id"), {"id": who}
        ).first()
        if row is None:
            raise ProjectError(f"no annotator with id {who}")
        return tuple(row)  # type: ignore[return-value]
    rows = conn.execute(
        text("SELECT id, uuid, name FROM annotator WHERE uuid = :key OR name = :key ORDER BY id"),
        {"key": who},
    ).all()
    if not rows:
        raise ProjectError(f"no annotator named {who!r} (see: tagloop annotators PROJECT)")
    if len(rows) > 1:
        raise ProjectError(f"more than one annotator is named {who!r}; use their UUID")
    return tuple(rows[0])  # type: ignore[return-value]
