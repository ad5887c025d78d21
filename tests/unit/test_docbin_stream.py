"""The streaming DocBin reader (formats/spacy_stream.py) against spaCy's own as the oracle:
for every valid DocBin, the same Records as the reader built on DocBin.from_bytes
(tests/unit/docbin_oracle.py); for what spaCy refuses, a DataError naming the file."""

from __future__ import annotations

import json
import random
import tracemalloc
import zlib

import numpy
import pytest
import spacy
import srsly
from spacy.attrs import DEP, ENT_IOB, ENT_TYPE, HEAD, MORPH, ORTH, SPACY
from spacy.strings import get_string_id
from spacy.tokens import Doc, DocBin, Span

from app.core.errors import DataError
from app.core.io import longtext
from app.core.io.formats import spacy as spacy_format
from app.core.io.formats import spacy_stream
from app.core.io.formats.base import ReadOptions
from app.core.io.importer import import_dataset
from tests.unit.docbin_oracle import read_with_spacy
from tests.unit.format_samples import context, never, no_progress, record

WORDS = ["aspirin", "migraine", "attacks", "胸痛", "😀", "Étude", "x", "PERSON", "nsubj", "-"]
LABELS = ["DRUG", "DISEASE", "PERSON", "ORG", "ünï"]
OPTIONS = [
    ReadOptions("spans"),
    ReadOptions("spans", spans_key="sc"),
    ReadOptions("spans", spans_key="other"),
    ReadOptions("multilabel"),
]


def _plain(records):
    return [(r.line, longtext.plain(r.text), r.context, r.values, r.source_id) for r in records]


def _outcome(read, path, options):
    try:
        return "ok", _plain(read(path, options))
    except DataError as error:
        assert error.file == str(path)
        return "error", None


def assert_same(path, options_list=OPTIONS):
    """The new reader's Records equal the oracle's, or both refuse the file."""
    for options in options_list:
        new = _outcome(spacy_format.read, path, options)
        old = _outcome(read_with_spacy, path, options)
        assert new == old, (options, new, old)
    return new


def _random_doc(nlp, rng: random.Random) -> Doc:
    count = rng.randint(0, 14)
    words = [rng.choice(WORDS) for _ in range(count)]
    spaces = [rng.random() < 0.7 for _ in words]
    tags: list[str | None] = []
    for _ in words:
        roll = rng.random()
        if roll < 0.15:
            tags.append(None)  # missing
        elif roll < 0.5:
            tags.append("O")
        elif roll < 0.8:
            tags.append("B-" + rng.choice(LABELS))
        else:
            tags.append("I-" + rng.choice(LABELS))
    if tags and tags[0] and tags[0].startswith("I-"):  # spaCy makes any other I- after an
        tags[0] = "B-" + tags[0][2:]  # O or a missing tag a B-, but not the first one
    unknown = rng.random() < 0.1
    doc = Doc(nlp.vocab, words=words, spaces=None if unknown else spaces, ents=tags)
    if count and rng.random() < 0.6:
        spans = []
        for _ in range(rng.randint(0, 4)):
            start = rng.randrange(count)
            spans.append(Span(doc, start, rng.randint(start + 1, count), rng.choice(LABELS)))
        doc.spans[rng.choice(["sc", "other", "sc"])] = spans  # overlapping, at times
    if rng.random() < 0.5:
        doc.cats = {label: float(rng.random() < 0.5) for label in LABELS[:3]}
    return doc


def _save(tmp_path, docs, name="d.spacy", **kwargs) -> object:
    path = tmp_path / name
    path.write_bytes(DocBin(docs=docs, **kwargs).to_bytes())
    return path


def _msg(path) -> dict:
    return srsly.msgpack_loads(zlib.decompress(path.read_bytes()))


def _pack(tmp_path, msg: dict, name="forged.spacy", keys=None):
    path = tmp_path / name
    ordered = {key: msg[key] for key in (keys or list(msg))}
    path.write_bytes(zlib.compress(srsly.msgpack_dumps(ordered)))
    return path


def test_spacy_attribute_ids_are_the_ones_the_reader_knows():
    ids = (ORTH, HEAD, DEP, SPACY, ENT_IOB, ENT_TYPE, MORPH)
    s = spacy_stream
    assert ids == (s.ORTH, s.HEAD, s.DEP, s.SPACY, s.ENT_IOB, s.ENT_TYPE, s.MORPH)
    assert get_string_id("PERSON") < 1000  # a symbol: not murmurhash, and still found


@pytest.mark.parametrize("seed", range(25))
def test_random_docbins_read_as_spacy_reads_them(tmp_path, seed):
    rng = random.Random(seed)
    nlp = spacy.blank("en")
    docs = [_random_doc(nlp, rng) for _ in range(rng.randint(1, 8))]
    path = _save(tmp_path, docs, store_user_data=rng.random() < 0.5)
    assert assert_same(path, [ReadOptions("spans")])[0] == "ok"
    assert_same(path)
    keys = list(_msg(path))
    rng.shuffle(keys)  # a peer tool may write the keys in any order
    assert_same(_pack(tmp_path, _msg(path), "shuffled.spacy", keys))


@pytest.mark.parametrize("seed", range(6))
def test_documents_read_a_chunk_at_a_time_read_the_same(tmp_path, monkeypatch, seed):
    """Entities across the chunks' edges, and the token-by-token copy of long tokens."""
    rng = random.Random(100 + seed)
    nlp = spacy.blank("en")
    docs = [_random_doc(nlp, rng) for _ in range(6)]
    path = _save(tmp_path, docs)
    whole = assert_same(path)
    assert whole[0] == "ok"
    width = len(_msg(path)["attrs"])
    monkeypatch.setattr(spacy_stream, "CHUNK_BYTES", 8 * width * rng.randint(1, 3))
    monkeypatch.setattr(spacy_stream, "GATHER_BYTES", rng.choice([4, 1 << 19]))
    monkeypatch.setattr(spacy_stream, "PRESIZE_BYTES", rng.choice([0, 1 << 22]))  # measured
    assert assert_same(path) == whole


def test_entities_b_i_o_and_missing_tags(tmp_path):
    nlp = spacy.blank("en")
    words = ["Aspirin", "helps", "with", "migraine", "attacks", "and", "PERSON", "x"]
    tags = ["B-DRUG", "O", None, "B-DISEASE", "I-DISEASE", None, "B-PERSON", "I-PERSON"]
    path = _save(tmp_path, [Doc(nlp.vocab, words=words, ents=tags)])
    status, records = assert_same(path, [ReadOptions("spans")])
    assert status == "ok"
    (only,) = records
    assert [only[1][s["start"] : s["end"]] for s in only[3][0].value] == [
        "Aspirin",
        "migraine attacks",
        "PERSON x",
    ]
    untagged = _save(tmp_path, [Doc(nlp.vocab, words=words)], "none.spacy")
    assert assert_same(untagged)[1][0][3] == ()  # no tag at all: unanswered


def test_forged_tags_i_without_b_and_b_without_type(tmp_path):
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["a", "b", "c", "d"], ents=["O", "B-X", "I-X", "O"])
    msg = _msg(_save(tmp_path, [doc]))
    attrs = msg["attrs"]
    table = numpy.frombuffer(msg["tokens"], numpy.uint64).reshape(-1, len(attrs)).copy()
    iob, kind = attrs.index(ENT_IOB), attrs.index(ENT_TYPE)
    stray = table.copy()
    stray[1, iob] = 2  # O, then the I: an I with no B (spaCy raises E093 on doc.ents)
    typeless_i = table.copy()
    typeless_i[1, kind] = 0  # a B with no type closes rather than opens: the I is stray
    typeless = typeless_i.copy()
    typeless[2, iob] = 2
    bad_iob = table.copy()
    bad_iob[0, iob] = 7
    cases = [("stray", stray), ("typeless", typeless), ("typeless-i", typeless_i)]
    for name, forged in [*cases, ("iob7", bad_iob)]:
        path = _pack(tmp_path, {**msg, "tokens": forged.tobytes()}, f"{name}.spacy")
        status, _ = assert_same(path, [ReadOptions("spans")])
        assert status == ("ok" if name == "typeless" else "error"), name
        # the span group key asks nothing of the entities: no E093 then
        assert_same(path, [ReadOptions("spans", spans_key="sc"), ReadOptions("multilabel")])


def test_span_groups_keys_overlaps_and_the_list_layout(tmp_path):
    nlp = spacy.blank("en")
    doc = nlp.make_doc("left lung cancer and more")
    doc.spans["sc"] = [Span(doc, 0, 2, "DISEASE"), Span(doc, 1, 3, "SYMPTOM")]
    doc.spans["shared"] = doc.spans["sc"]  # one group under two keys
    doc.spans["empty"] = []
    path = _save(tmp_path, [doc])
    options = [ReadOptions("spans", spans_key=key) for key in ("sc", "shared", "empty", "no")]
    assert_same(path, [*OPTIONS, *options])
    # the first layout of SpanGroups: a list of group bytes, keyed by each group's name
    group = srsly.msgpack_dumps(
        {"name": "sc", "attrs": {}, "spans": [b"\0" * 24 + bytes.fromhex("0000000000000001")]}
    )
    msg = _msg(path)
    assert_same(_pack(tmp_path, {**msg, "span_groups": [srsly.msgpack_dumps([group])]}))


def test_parser_attributes_heads_and_morphology(tmp_path):
    nlp = spacy.blank("en")
    words = ["She", "reads", "books", "."]
    doc = Doc(
        nlp.vocab,
        words=words,
        heads=[1, 1, 1, 1],
        deps=["nsubj", "ROOT", "dobj", "punct"],
        morphs=["Case=Nom", "Tense=Pres", "Number=Plur", ""],
        lemmas=["she", "read", "book", "."],
        tags=["PRP", "VBZ", "NNS", "."],
        pos=["PRON", "VERB", "NOUN", "PUNCT"],
        ents=["B-PERSON", "O", "O", "O"],
    )
    path = _save(tmp_path, [doc, nlp.make_doc("and another one")])
    assert assert_same(path)[0] == "ok"
    msg = _msg(path)
    attrs = msg["attrs"]
    table = numpy.frombuffer(msg["tokens"], numpy.uint64).reshape(-1, len(attrs)).copy()
    table[0, attrs.index(HEAD)] = 9  # a head outside the document
    assert assert_same(_pack(tmp_path, {**msg, "tokens": table.tobytes()}))[0] == "error"


def test_spaces_unknown_none_and_a_spacy_column(tmp_path):
    nlp = spacy.blank("en")
    glued = Doc(nlp.vocab, words=["胸", "痛", "😀", "x"], spaces=[False, False, True, False])
    unknown = Doc(nlp.vocab, words=["a", "b"])  # has_unknown_spaces: each token spaced
    path = _save(tmp_path, [glued, unknown], attrs=["ORTH", "ENT_IOB"])
    _, records = assert_same(path)
    assert [text for _, text, *_ in records] == ["胸痛😀 x", "a b "]
    # DocBin leaves SPACY out of its attrs; a peer's may hold it: from_array then sets each
    # token's space from it (a C int: only the low 32 bits count)
    msg = _msg(path)
    table = numpy.frombuffer(msg["tokens"], numpy.uint64).reshape(-1, len(msg["attrs"]))
    column = numpy.array([[1], [0], [1 << 32], [5], [0], [1]], numpy.uint64)
    forged = {**msg, "attrs": [*msg["attrs"], SPACY]}
    forged["tokens"] = numpy.hstack([table, column]).tobytes()
    _, records = assert_same(_pack(tmp_path, forged))
    assert [text for _, text, *_ in records] == ["胸 痛😀x ", "ab "]


def test_spaces_of_a_doc_whose_spaces_are_unknown_are_all_there(tmp_path):
    nlp = spacy.blank("en")
    msg = _msg(_save(tmp_path, [Doc(nlp.vocab, words=["a", "b"], spaces=[False, False])]))
    forged = {**msg, "flags": [{"has_unknown_spaces": True}]}
    _, records = assert_same(_pack(tmp_path, forged))
    assert [text for _, text, *_ in records] == ["a b "]


def test_empty_blank_and_trailing_documents_are_left_out(tmp_path):
    nlp = spacy.blank("en")
    docs = [nlp.make_doc("one"), nlp.make_doc(""), nlp.make_doc("   "), nlp.make_doc("two")]
    docs.append(nlp.make_doc(""))  # what `spacy convert` adds for a trailing newline
    _, records = assert_same(_save(tmp_path, docs))
    assert [(line, text) for line, text, *_ in records] == [(1, "one"), (4, "two")]


def test_tagloop_written_docbins_give_each_annotator_back(tmp_path):
    texts = ["Aspirin for migraine", "疾病研究 😀", "plain text here"]
    rows = [
        record(i, text, [{"start": 0, "end": len(text.split()[0]), "label": "DISEASE"}])
        for i, text in enumerate(texts)
    ]
    out = tmp_path / "tagloop.spacy"
    spacy_format.write(iter(rows), out, context(values="final"), no_progress, never)
    status, records = assert_same(out)
    assert status == "ok" and [r[3][0].annotator for r in records] == ["ana"] * 3
    labelled = {
        "classification": [record(1, "fever", "DISEASE"), record(2, "fine", "SYMPTOM")],
        "multilabel": [record(1, "fever", ["DISEASE", "SYMPTOM"]), record(2, "fine", [])],
    }
    for task, rows in labelled.items():
        out = tmp_path / f"{task}.spacy"
        spacy_format.write(iter(rows), out, context(task, values="final"), no_progress, never)
        assert assert_same(out, [ReadOptions(task)])[0] == "ok"
        # and read as a peer's DocBin: the cats, without Tagloop's user_data
        msg = _msg(out)
        del msg["user_data"]
        assert assert_same(_pack(tmp_path, msg, f"{task}-peer.spacy"), [ReadOptions(task)])


def test_a_string_not_in_the_table_and_a_label_spacy_knows_anyway(tmp_path):
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["ORG", "said", "hi"], ents=["B-ORG", "O", "O"])
    msg = _msg(_save(tmp_path, [doc]))
    # ORG is a spaCy symbol: found in spaCy's vocabulary even when the strings lack it
    known = _pack(tmp_path, {**msg, "strings": [s for s in msg["strings"] if s != "ORG"]})
    assert assert_same(known)[0] == "ok"
    lacking = _pack(tmp_path, {**msg, "strings": [s for s in msg["strings"] if s != "said"]})
    assert assert_same(lacking, [ReadOptions("spans")])[0] == "error"


def test_hostile_headers_and_truncation_are_clear_errors(tmp_path):
    nlp = spacy.blank("en")
    path = _save(tmp_path, [nlp.make_doc("Chest pain since Monday.")])
    raw = zlib.decompress(path.read_bytes())
    huge_bin = b"\x81\xa6tokens\xc6\xff\xff\xff\xff" + b"\0" * 64  # says 4 GB, holds 64 bytes
    huge_map = b"\xdf\xff\xff\xff\xff\xa5attrs"
    huge_array = b"\x82\xa7strings\xdd\xff\xff\xff\xff\xa1a"
    cases = {
        "cut": zlib.compress(raw[:-5]),
        "zlib cut": path.read_bytes()[:-8],
        "extra": zlib.compress(raw + b"\xc0"),
        "huge bin": zlib.compress(huge_bin),
        "huge map": zlib.compress(huge_map),
        "huge array": zlib.compress(huge_array),
        "deep": zlib.compress(b"\x81\xa4cats" + b"\x91" * 100_000),
    }
    for name, data in cases.items():
        bad = tmp_path / f"{name.replace(' ', '-')}.spacy"
        bad.write_bytes(data)
        with pytest.raises(DataError) as raised:
            list(spacy_format.read(bad, ReadOptions("spans")))
        assert raised.value.file == str(bad) and "spaCy DocBin" in str(raised.value), name


@pytest.mark.parametrize("presize", [0, 1 << 22])
def test_a_document_over_the_field_limit_is_refused_naming_it(tmp_path, monkeypatch, presize):
    monkeypatch.setattr(spacy_stream, "PRESIZE_BYTES", presize)  # 0: measured before it is built
    nlp = spacy.blank("en")
    path = _save(tmp_path, [nlp.make_doc("short"), nlp.make_doc("word " * 300)])
    with pytest.raises(DataError, match="field limit") as raised:
        list(spacy_format.read(path, ReadOptions("spans", max_field=1000)))
    assert raised.value.line == 2
    assert len(list(spacy_format.read(path, ReadOptions("spans", max_field=1500)))) == 2


def test_a_long_document_stays_utf8_and_memory_follows_the_document(tmp_path):
    nlp = spacy.blank("en")
    nlp.max_length = 10_000_000
    text = "Étude of migraine 疾病 attacks. " * 90_000  # 3 MB of UTF-8, over LONG_TEXT chars
    path = _save(tmp_path, [nlp.make_doc("first"), nlp.make_doc(text)])
    size = len(text.encode("utf-8"))
    tracemalloc.start()
    try:
        records = list(spacy_format.read(path, ReadOptions("spans")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert records[1].text.__class__ is longtext.LongText
    assert records[1].text.decode() == text
    assert peak < 2 * size, f"peak {peak:,} for a text of {size:,} bytes"


def test_a_long_document_with_entities_imports_into_a_spans_project(make_project, tmp_path):
    """A text over LONG_TEXT characters stays UTF-8 up to the database; its entities (found
    on the token table, never on a str) land where they are in the text."""
    nlp = spacy.blank("en")
    nlp.max_length = 5_000_000
    text = "Étude 疾病 of migraine attacks. " * 40_000 + "Aspirin helps"
    doc = nlp.make_doc(text)
    doc.ents = [doc.char_span(len(text) - 13, len(text) - 6, "DRUG")]
    path = _save(tmp_path, [nlp.make_doc("a short one"), doc])
    assert len(text) > longtext.LONG_TEXT
    project = make_project("spans", labels=("DRUG",))
    import_dataset(project, path)
    with project.engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT d.text, a.value FROM annotation a JOIN datapoint d ON d.id = a.datapoint_id"
            " ORDER BY d.id"
        ).all()
        datapoints = conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar()
    assert datapoints == 2  # the short one unanswered: it has no entity tags
    assert [(len(t), json.loads(v)) for t, v in found] == [
        (len(text), [{"start": len(text) - 13, "end": len(text) - 6, "label": "DRUG"}]),
    ]
    assert found[0][0] == text
