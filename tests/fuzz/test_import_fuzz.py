"""A fast, seeded slice of the import fuzz corpus: every file is imported or refused with a
message naming it, nothing else (no traceback, no hang, nothing half-written).

The full corpus: python -m tests.fuzz.import_corpus --all
"""

from __future__ import annotations

import os

from tests.fuzz import import_corpus, import_runner

SLICE = int(os.environ.get("TAGLOOP_FUZZ_IMPORTS", "40"))


def test_a_seeded_slice_of_hostile_imports(tmp_path):
    assert len(import_corpus.specs()) >= 1000
    seed = int(os.environ.get("TAGLOOP_FUZZ_SEED", "1"))
    chosen = import_corpus.write_corpus(tmp_path / "corpus", count=SLICE, slice_seed=seed)
    results = import_runner.run_cases(chosen, tmp_path / "work")
    summary = import_runner.summarise(results)
    assert summary["cases"] == len(chosen)
    assert summary["failures"] == [], summary
