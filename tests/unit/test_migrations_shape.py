"""The migrations build the same database schema, object for object, as when the snapshot was taken.

The snapshot (tests/fixtures/schema_snapshot.json) was written from the migrations before their
`upgrade` functions were split into helpers; splitting must not change a table, index, trigger
or their order of columns. It holds two shapes: a new project's, and that of a file upgraded
from revision 0002 (downgrading 0004 rebuilds `audit_event`, so its CREATE text differs, and
lists the table's constraints in an order that varies between runs: `_unordered` sets it aside).
Regenerate it only for a new migration, on purpose:

    PYTHONPATH=. python -m tests.unit.test_migrations_shape
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project, open_project
from app.core.storage import db

SNAPSHOT = Path(__file__).resolve().parents[1] / "fixtures" / "schema_snapshot.json"


def schema_rows(engine: Engine) -> list[list[str | None]]:
    """Every object of the database as sqlite_master describes it, in name order."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        ).all()
    return [list(row) for row in rows]


def _downgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _snapshot(key: str) -> list[list[str | None]]:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))[key]


def _upgraded_from_0002(path: Path) -> list[list[str | None]]:
    """Take a new project file back to revision 0002, then open it: opening upgrades it."""
    project = create_project(path, "classification", [LabelSpec("a")])
    _downgrade(project.engine, "0002")
    assert db.current_revision(project.engine) == "0002"
    project.close()
    with open_project(path) as again:
        assert db.current_revision(again.engine) == db.SCHEMA_HEAD
        return schema_rows(again.engine)


def test_a_new_project_has_the_schema_of_the_snapshot(make_project):
    project = make_project()
    assert schema_rows(project.engine) == _snapshot("new_project")


def test_all_the_way_down_and_up_again_gives_a_new_projects_schema(make_project):
    """Every upgrade, run again on an emptied file, builds exactly what a new project has."""
    project = make_project()
    _downgrade(project.engine, "base")
    assert db.current_revision(project.engine) is None
    db.upgrade(project.engine)
    assert schema_rows(project.engine) == _snapshot("new_project")


def _unordered(rows: list[list[str | None]]) -> list[tuple]:
    """The rows with each CREATE statement as a set of its lines, so clause order is ignored."""
    return [
        (*row[:3], sorted(line.strip(" ,\t") for line in (row[3] or "").splitlines()))
        for row in rows
    ]


def test_a_file_at_0002_upgrades_through_0003_to_the_snapshot(tmp_path):
    upgraded = _upgraded_from_0002(tmp_path / "old.tagloop")
    assert _unordered(upgraded) == _unordered(_snapshot("upgraded_from_0002"))


def _write_snapshot() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = create_project(Path(tmp) / "p.tagloop", "classification", [LabelSpec("a")])
        shapes = {"new_project": schema_rows(project.engine)}
        project.close()
        shapes["upgraded_from_0002"] = _upgraded_from_0002(Path(tmp) / "old.tagloop")
    text = json.dumps(shapes, indent=1, ensure_ascii=False)
    SNAPSHOT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {SNAPSHOT}", file=sys.stderr)


if __name__ == "__main__":
    _write_snapshot()
