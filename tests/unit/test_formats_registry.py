"""The registry: a missing format module leaves the others working and says so; a dataset
imported from a peer format travels in a bundle (its format name is one bundles accept)."""

from __future__ import annotations

import json

import pytest

from app.core.bundle import export_project_bundle, open_bundle
from app.core.errors import DataError
from app.core.io.formats import registry
from app.core.io.importer import import_dataset
from tests.unit.helpers import rows


def test_a_missing_format_module_is_skipped_and_named(monkeypatch):
    table = {**registry.TABLE, "ghost": ("app.core.io.formats.no_such_module", None)}
    monkeypatch.setattr(registry, "TABLE", table)
    monkeypatch.setattr(registry, "NAMES", (*registry.NAMES, "ghost"))
    monkeypatch.setattr(registry, "_loaded", {})
    assert "ghost" not in [fmt.name for fmt in registry.available()]
    with pytest.raises(DataError, match="ghost format is not available"):
        registry.get("ghost")
    with pytest.raises(DataError, match="unknown format 'nope'"):
        registry.get("nope")
    with pytest.raises(DataError, match="cannot write it"):
        registry.get("tsv", writable=True)


def test_unknown_suffix_and_content_asks_for_a_format(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(DataError, match="give it with --format"):
        registry.resolve(path)


def test_a_peer_dataset_travels_in_a_bundle(make_project, tmp_path):
    project = make_project(labels=("ham", "spam"))
    source = tmp_path / "db.jsonl"
    source.write_text(
        json.dumps({"text": "hi", "label": "ham", "answer": "accept", "_annotator_id": "a"}) + "\n"
    )
    import_dataset(project, source)
    out = tmp_path / "p.tlbundle"
    export_project_bundle(project, out)
    opened = open_bundle(out, tmp_path / "copy")
    assert rows(opened, "SELECT format FROM dataset") == [("prodigy",)]
