"""A fast, seeded slice of the peer-format fuzz corpus (issue #14): every hostile Label Studio,
Prodigy, doccano, CoNLL, spaCy, BRAT, BioC, PubTator, Parquet, Arrow or xlsx file is imported
or refused with a message naming it; no traceback, no hang, nothing half-written.

The full corpus: python -m tests.fuzz.peer_corpus --all
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tests.fuzz import peer_corpus

SLICE = int(os.environ.get("TAGLOOP_FUZZ_PEER", "30"))

# Every file of the corpus that once failed (a traceback, a hang, a memory peak, a message
# without the file's name or of megabytes), or was refused without its line: each must now
# be refused, with these words in the message.
REGRESSIONS = {
    "labelstudio-b0-manykeys-annotations.0.result.0.value.start.json": "line 2: span offsets",
    "ls-choices-num.json": "line 1: 'choices' must be a list",
    "ls-value-list.json": "line 1: a result's 'value' must be an object",
    "ls-result-dict.json": "line 1: an annotation's 'result' must be a list",
    "doccano-b2-manykeys-label.jsonl": "line 2: doccano labels must be a list",
    "doccano-entities-str.jsonl": "line 1: doccano 'entities' must be a list",
    "prodigy-b2-object-label.jsonl": "line 2: 'label' must be a label's name",
    "conll-million-tokens-one-span.conll": "line 1: a sentence of over 100,000 tokens",
    "pubtator-huge-int.pubtator": "line 3: span offsets",
    "pubtator-latin1.pubtator": "line 1: not UTF-8 text",
    "brat-huge": "line 1: span offsets",
    "brat-no-id": "line 1: not a BRAT annotation line",
    "brat-single-ann.ann": "brat-single-ann.txt is not beside it",
    "brat-txt-latin1": "line 1: not utf-8-sig text",
    "bioc-offset-huge.xml": "document d1, a passage's offset: 1000000000 is out of range",
    "bioc-annotators-deep.xml": "tagloop:annotators is not a JSON list",
    "bioc-laughs-after-long-comment.xml": "declares XML entities",
    "bioc-not-bioc.xml": "its root is <html>",
    "spacy-zlib-bomb-300mb.spacy": "refused as a zip bomb",
    "spacy-ud-spans-float.spacy": "line 1: span offsets 0.5, 5.5 are not whole numbers",
    "parquet-meta-deep.parquet": "line 1: label '0', '1', '-1' not in the label schema",
    "parquet-long-text.parquet": "line 1: a cell of 'text' holds 20,971,520 bytes",
    "arrow-meta-deep.arrow": "line 1: label '0', '1', '-1' not in the label schema",
    "arrow-mut001.arrow": "a corrupt record batch",
    "arrow-mut015.arrow": "a corrupt record batch",
    "xlsx-shared-out-of-range.xlsx": "line 2: a corrupt sheet row (IndexError: shared string",
    "pubtator-nul.pubtator": "line 1: a NUL byte",
    "brat-txt-nul": "line 1: a NUL byte",
    "parquet-declares-1099511627776-rows.parquet": "declares 1,099,511,627,776 rows in",
    "arrow-zstd-declares-2147483648.arrow": "a corrupt record batch",
}


def test_the_corpus_covers_every_peer_format_with_60_files_or_more():
    found = Counter(peer_corpus.fmt_of(spec) for spec in peer_corpus.specs())
    expected = "labelstudio prodigy doccano conll spacy brat bioc pubtator parquet arrow xlsx"
    assert set(found) == set(expected.split())
    assert min(found.values()) >= 60, found
    assert sum(found.values()) >= 600


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, dict]:
    """One worker run over the regression cases and a seeded slice of the rest: {name:
    result}, and the summary's failures under None."""
    root = tmp_path_factory.mktemp("peer-fuzz")
    seed = int(os.environ.get("TAGLOOP_FUZZ_SEED", "1"))
    cases = peer_corpus.write_corpus(root / "regressions", names=set(REGRESSIONS))
    assert {case.name for case in cases} == set(REGRESSIONS)
    cases += peer_corpus.write_corpus(root / "slice", SLICE, seed, light=True)
    summary = peer_corpus.run(root, cases)
    assert summary["cases"] == len(cases)
    return {"failures": summary["failures"], **{r["name"]: r for r in summary["results"]}}


def test_every_file_that_once_failed_is_refused_with_a_clear_message(outcomes):
    for name, words in REGRESSIONS.items():
        assert outcomes[name]["outcome"] == "refused", outcomes[name]
        assert words in outcomes[name]["detail"], outcomes[name]


def test_a_seeded_slice_of_hostile_peer_files_is_imported_or_refused(outcomes):
    assert outcomes["failures"] == []
