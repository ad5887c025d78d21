"""The derived caches are written in short transactions sized by time (issue 14): dropping an
older model version's predictions, and building the search index. Between two of them the
write lock is free (a second connection takes it with busy_timeout=0)."""

from __future__ import annotations

from app.core.annotation.browse import Browser, Query
from app.core.io.importer import import_dataset
from app.core.project import modelstore
from app.core.storage import fts, predictions
from tests.fixtures_data import write_csv
from tests.unit.locking import lock_is_free


def probing(path, probes: list[bool], size: int):
    """A next_chunk that checks the lock (it runs between two transactions), then says `size`."""

    def next_chunk(*_args, **_kwargs) -> int:
        probes.append(lock_is_free(path))
        return size

    return next_chunk


def a_project(make_project, tmp_path, n: int = 40):
    project = make_project()
    write_csv(tmp_path / "a.csv", [["text"]] + [[f"cancer case {i}"] for i in range(n)])
    import_dataset(project, tmp_path / "a.csv")
    return project


def test_older_predictions_go_in_short_transactions(make_project, tmp_path, monkeypatch):
    project = a_project(make_project, tmp_path)
    with project.engine.connect() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM datapoint")]
    versions = [modelstore.save_version(project, "test", b"x", 3, {}) for _ in range(3)]
    for version in versions:
        modelstore.write_predictions(project, version.id, [(i, "ham", 0.9, 0.1) for i in ids])
    probes: list[bool] = []
    monkeypatch.setattr(predictions, "FIRST_CHUNK", 6)
    monkeypatch.setattr(predictions, "next_chunk", probing(project.path, probes, 6))
    modelstore.drop_older_predictions(project, versions[-1].id)
    assert len(probes) >= 2 * 40 // 6 and all(probes)  # many chunks, the lock free after each
    with project.engine.connect() as conn:
        left = conn.exec_driver_sql(
            "SELECT model_version_id, count(*) FROM prediction GROUP BY 1"
        ).all()
    assert left == [(versions[-1].id, 40)]  # the newest version's are all kept
    assert modelstore.scored_version(project) == versions[-1].id


def test_the_search_index_is_built_in_chunks_sized_by_time(make_project, tmp_path, monkeypatch):
    project = a_project(make_project, tmp_path)
    assert fts.pending_count(project) == 0  # the import indexed it; start over
    with project.engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO datapoint_fts (datapoint_fts) VALUES ('delete-all')")
        conn.exec_driver_sql("UPDATE datapoint_fts_state SET indexed_upto = 0")
        conn.commit()
    sizes: list[int] = []

    def next_chunk(size: int, rows: int, seconds: float) -> int:
        assert lock_is_free(project.path)
        sizes.append(size)
        return 5 if len(sizes) < 3 else 11  # as if the machine got faster

    monkeypatch.setattr(fts, "FIRST_CHUNK", 4)
    monkeypatch.setattr(fts, "next_chunk", next_chunk)
    assert fts.index_pending(project) == 40
    assert sizes[:4] == [4, 5, 5, 11]
    assert fts.pending_count(project) == 0
    assert Browser(project).count(Query(search="cancer")) == 40
