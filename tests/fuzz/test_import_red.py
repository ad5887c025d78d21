"""Every import case of session 5's red team (tests/fuzz/import_red.py) on each run: each one
is imported or refused with a message naming the file, nothing else (no traceback, no hang,
nothing half-written). They are small, so all of them run, not a slice."""

from __future__ import annotations

from tests.fuzz import import_corpus, import_red, import_runner


def test_every_red_team_import_case(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    chosen = [
        import_corpus.make_case(corpus, name, data, task, options)
        for name, data, task, options in import_red.cases()
    ]
    results = import_runner.run_cases(chosen, tmp_path / "work")
    summary = import_runner.summarise(results)
    assert summary["cases"] == len(chosen) >= 100
    assert summary["failures"] == [], summary
