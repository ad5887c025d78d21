"""Every import case of session 6's red team (tests/fuzz/import_red6.py) on each run: each
ends as import_red6.EXPECTED says (refused naming the file, or every row imported), and none
in a traceback, a hang or a half-written project."""

from __future__ import annotations

from tests.fuzz import import_corpus, import_red6, import_runner


def test_every_session_6_red_team_import_case(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    chosen = [
        import_corpus.make_case(corpus, name, data, task, options)
        for name, data, task, options in import_red6.cases()
    ]
    results = import_runner.run_cases(chosen, tmp_path / "work")
    summary = import_runner.summarise(results)
    assert summary["failures"] == [], summary
    ended = {r["name"]: "refused" if r["outcome"] == "refused" else r["detail"] for r in results}
    assert ended == import_red6.EXPECTED
