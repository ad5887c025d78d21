"""A fast, seeded slice of the peer-format fuzz corpus (issue #14): every hostile Label Studio,
Prodigy, doccano, CoNLL, spaCy, BRAT, BioC, PubTator, Parquet, Arrow or xlsx file is imported
or refused with a message naming it; no traceback, no hang, nothing half-written.

The full corpus: python -m tests.fuzz.peer_corpus --all
"""

from __future__ import annotations

import os
from collections import Counter

from tests.fuzz import peer_corpus

SLICE = int(os.environ.get("TAGLOOP_FUZZ_PEER", "30"))


def test_the_corpus_covers_every_peer_format_with_60_files_or_more():
    found = Counter(peer_corpus.fmt_of(spec) for spec in peer_corpus.specs())
    expected = "labelstudio prodigy doccano conll spacy brat bioc pubtator parquet arrow xlsx"
    assert set(found) == set(expected.split())
    assert min(found.values()) >= 60, found
    assert sum(found.values()) >= 600


def test_a_seeded_slice_of_hostile_peer_files(tmp_path):
    seed = int(os.environ.get("TAGLOOP_FUZZ_SEED", "1"))
    cases = peer_corpus.write_corpus(tmp_path / "corpus", SLICE, seed, light=True)
    summary = peer_corpus.run(tmp_path, cases)
    assert summary["cases"] == len(cases)
    assert summary["failures"] == [], summary
