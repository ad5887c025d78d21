"""Migration 0005: predictions keyed by (model version, datapoint) in a WITHOUT ROWID table.
A file from before keeps every prediction, and the queue and suggestions still read them."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.core.project import modelstore
from app.core.project.project import open_project
from app.core.storage import db
from tests.fixtures_data import write_csv


def _to_revision(project, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    with project.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _table_sql(project) -> str:
    with project.engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'prediction'"
        ).scalar_one()


def test_an_older_file_keeps_its_predictions_through_the_migration(make_project, tmp_path):
    from app.core.io.importer import import_dataset

    project = make_project()
    source = tmp_path / "a.csv"
    write_csv(source, [["text"], *[[f"text number {i}"] for i in range(30)]])
    import_dataset(project, source)
    old = modelstore.save_version(project, "test", b"x", 3, {})
    new = modelstore.save_version(project, "test", b"y", 5, {})
    ids = list(range(1, 31))
    modelstore.write_predictions(project, old.id, [(i, "a", 0.5, 0.1) for i in ids[:10]])
    modelstore.write_predictions(project, new.id, [(i, "a", 0.9, i / 100) for i in ids])
    assert "WITHOUT ROWID" in _table_sql(project)

    _to_revision(project, "0004")  # the layout files made before 0005 have
    assert "WITHOUT ROWID" not in _table_sql(project)
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM prediction").scalar_one() == 40
    project.close()

    with open_project(project.path) as again:  # opening upgrades it
        assert db.current_revision(again.engine) == db.SCHEMA_HEAD
        assert "WITHOUT ROWID" in _table_sql(again)
        assert modelstore.scored_version(again) == new.id
        found = modelstore.suggestions(again, [3, 30], new.id)
        assert (found[3].value, found[30].confidence) == ("a", 0.9)
        modelstore.drop_older_predictions(again, new.id)
        with again.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT model_version_id, datapoint_id, score FROM prediction"
            ).all()
        assert rows == [(new.id, i, i / 100) for i in ids]  # key order: version, datapoint
