"""A spaCy DocBin whose arrays disagree (forged `lengths`, cut tokens or spaces, per-document
lists of the wrong size) is refused with a clear error naming the file, before spaCy builds a
Doc from it (issue 14 leftover: spaCy splits the token rows by the lengths without checking
them, so a forged file imported a cut or merged document without complaint)."""

from __future__ import annotations

import random
import zlib

import numpy
import pytest
import spacy
import srsly
from spacy.tokens import DocBin

from app.core.errors import DataError
from app.core.io.formats import spacy as spacy_format
from app.core.io.formats.base import ReadOptions
from app.core.io.importer import import_dataset

TEXTS = ("Chest pain since Monday.", "No fever, mild cough.", "Left lung clear.")


def _msg() -> dict:
    nlp = spacy.blank("en")
    docs = DocBin(store_user_data=True)
    for text in TEXTS:
        doc = nlp(text)
        doc.ents = [doc.char_span(0, len(text.split()[0]), "SYMPTOM")]
        docs.add(doc)
    return srsly.msgpack_loads(zlib.decompress(docs.to_bytes()))


def _file(tmp_path, msg: dict, name: str = "forged.spacy"):
    path = tmp_path / name
    path.write_bytes(zlib.compress(srsly.msgpack_dumps(msg)))
    return path


def _lengths(msg: dict) -> list[int]:
    return numpy.frombuffer(msg["lengths"], dtype="<i4").tolist()


def _with_lengths(msg: dict, lengths: list[int]) -> dict:
    return {**msg, "lengths": numpy.array(lengths, dtype="<i4").tobytes()}


def test_a_true_docbin_reads_every_document(tmp_path):
    path = _file(tmp_path, _msg(), "true.spacy")
    records = list(spacy_format.read(path, ReadOptions("spans")))
    assert [r.text for r in records] == list(TEXTS)


def _cases(msg: dict) -> dict[str, dict]:
    lengths = _lengths(msg)
    first, second, third = lengths
    return {
        "one document of all the tokens": _with_lengths(msg, [sum(lengths)]),
        "lengths short of the tokens": _with_lengths(msg, [first, second, third - 1]),
        "lengths past the tokens": _with_lengths(msg, [first, second, third + 5]),
        "a negative length": _with_lengths(msg, [first + second + third + 2, -2]),
        "an extra empty document": _with_lengths(msg, [*lengths, 0]),
        "spaces cut": {**msg, "spaces": msg["spaces"][:-1]},
        "tokens cut by a row": {**msg, "tokens": msg["tokens"][: -8 * len(msg["attrs"])]},
        "tokens cut mid-element": {**msg, "tokens": msg["tokens"][:-3]},
        "lengths cut mid-element": {**msg, "lengths": msg["lengths"][:-1]},
        "cats of two documents": {**msg, "cats": msg["cats"][:2]},
        "flags of four documents": {**msg, "flags": [*msg["flags"], {}]},
        "span groups of one document": {**msg, "span_groups": msg["span_groups"][:1]},
        "user data of two documents": {**msg, "user_data": msg["user_data"][:2]},
        "no token text": {**msg, "attrs": [a for a in msg["attrs"] if a != spacy.attrs.ORTH]},
        "lengths as a list": {**msg, "lengths": lengths},
    }


@pytest.mark.parametrize("case", list(_cases(_msg())))
def test_a_docbin_whose_arrays_disagree_is_refused(tmp_path, case):
    path = _file(tmp_path, _cases(_msg())[case])
    with pytest.raises(DataError) as raised:
        list(spacy_format.read(path, ReadOptions("spans")))
    message = str(raised.value)
    assert str(path) in message and "spaCy DocBin" in message, message
    assert "Traceback" not in message


def test_forged_lengths_fuzz_never_import_quietly(tmp_path):
    """Random lengths over the same arrays: refused unless they add up exactly, and then the
    documents read are exactly the token rows, none cut or lost."""
    msg = _msg()
    rows = sum(_lengths(msg))
    rng = random.Random(14)
    refused = read_ok = 0
    for index in range(60):
        count = rng.randint(1, 5)
        lengths = [rng.randint(-3, rows + 3) for _ in range(count)]
        if index % 4 == 0:  # some that add up: a real split of the same tokens
            cuts = sorted(rng.randint(0, rows) for _ in range(count - 1))
            lengths = [b - a for a, b in zip([0, *cuts], [*cuts, rows], strict=True)]
        forged = _with_lengths(msg, lengths)
        forged["cats"] = [{}] * count
        forged["flags"] = [{}] * count
        forged["span_groups"] = [b""] * count
        forged.pop("user_data")
        path = _file(tmp_path, forged, f"fuzz{index}.spacy")
        if sum(lengths) == rows and min(lengths) >= 0:
            docs = list(DocBin().from_bytes(path.read_bytes()).get_docs(spacy.blank("en").vocab))
            records = list(spacy_format.read(path, ReadOptions("spans")))
            assert sum(len(doc) for doc in docs) == rows
            assert len(records) == sum(1 for doc in docs if doc.text.strip())
            read_ok += 1
        else:
            with pytest.raises(DataError, match="not a spaCy DocBin"):
                list(spacy_format.read(path, ReadOptions("spans")))
            refused += 1
    assert refused > 20 and read_ok > 10


def test_the_import_of_a_forged_docbin_writes_nothing(make_project, tmp_path):
    project = make_project("spans", labels=("SYMPTOM",))
    msg = _msg()
    # the lengths forged to make the three documents one (the other arrays left as they are)
    path = _file(tmp_path, _with_lengths(msg, [sum(_lengths(msg))]))
    with pytest.raises(DataError, match=r"forged\.spacy"):
        import_dataset(project, path)
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM dataset").scalar() == 0
