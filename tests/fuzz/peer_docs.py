"""Hostile files of the line-based peer formats (issue #14): CoNLL, PubTator, and BRAT
folders (a .txt with its .ann). Cases as in tests.fuzz.peer_cases.
"""

from __future__ import annotations

from functools import partial

from tests.fuzz.peer_cases import Spec, text_mutants

CONLL = (
    b"-DOCSTART- -X- -X- O\n\nAlice B-D\nmet O\nBob B-D\nin O\nParis I-D\n. O\n\nNo O\nspans O\n"
)
BILUO = b"Alice U-D\nmet O\nNew B-D\nYork L-D\n. O\n"


def _conll_many_tokens(count: int, tag: bytes = b"O") -> bytes:
    return (
        b"w "
        + tag
        + b"\n"
        + b"".join(b"t I-D\n" if tag != b"O" else b"t O\n" for _ in range(count))
    )


def conll() -> list[Spec]:
    spans = "spans"
    own: list[tuple[str, bytes, str]] = [
        ("one-column", b"Alice\nmet O\n", spans),
        ("ten-columns", b"Alice a b c d e f g h B-D\nmet a b c d e f g h O\n", spans),
        ("odd-columns", b"Alice NNP B-NP B-D\nmet O\nBob NNP B-D\nx y z w v u I-D\n", spans),
        ("i-without-b", b"Alice I-D\nmet O\nBob I-D\n", spans),
        ("l-without-b", b"Alice L-D\nBob I-D\nCarl U-D\n", spans),
        ("biluo-misuse", b"Alice B-D\nmet U-D\nBob L-X\nin I-D\n", spans),
        ("b-then-other-i", b"Alice B-D\nBob I-X\n", spans),
        ("bad-tag", b"Alice X-D\nmet O\n", spans),
        ("empty-label", b"Alice B-\nmet O\n", spans),
        ("tag-dash-only", b"Alice -\nmet O\n", spans),
        ("lowercase-tags", b"Alice b-d\nmet o\n", spans),
        ("unknown-label", b"Alice B-NOPE\nmet O\n", spans),
        ("emoji", "\U0001f600 B-D\n\u00e9t\u00e9 O\n".encode(), spans),
        ("nul", b"Al\x00ice B-D\nmet O\n", spans),
        ("cr-only", b"Alice B-D\rmet O\rBob O\r", spans),
        ("crlf", b"Alice B-D\r\nmet O\r\n\r\nBob O\r\n", spans),
        ("tabs", b"Alice\tB-D\nmet\tO\n", spans),
        ("docstart-only", b"-DOCSTART- -X- -X- O\n\n", spans),
        ("blank-only", b"\n\n\n   \n", spans),
        ("empty", b"", spans),
        ("latin1", "caf\xe9 B-D\n".encode("latin-1"), spans),
        ("utf16", "Alice B-D\nmet O\n".encode("utf-16"), spans),
        ("surrogate-bytes", b"Al\xed\xa0\x80ice B-D\n", spans),
        ("classification-project", CONLL, "classification"),
        ("multilabel-project", CONLL, "multilabel"),
        ("long-token", b"x" * 200_000 + b" B-D\n", spans),
        ("long-tag", b"Alice B-" + b"D" * 100_000 + b"\n", spans),
        ("many-sentences", b"a B-D\n\n" * 20_000, spans),
        ("million-tokens", _conll_many_tokens(1_000_000), spans),
        ("million-tokens-one-span", _conll_many_tokens(1_000_000, b"B-D"), spans),
        ("binary", bytes(range(256)) * 8, spans),
    ]
    out = [(f"conll-{name}.conll", data, task, {"fmt": "conll"}) for name, data, task in own]
    return out + text_mutants("conll", ".conll", [(CONLL, spans), (BILUO, spans)], 40)


PUBTATOR = (
    b"101|t|Alice met Bob.\n101|a|In Paris they talked.\n101\t0\t5\tAlice\tD\n"
    b"101\t10\t13\tBob\tD\tC1\n101\tCID\tC1\tC2\n\n"
    b"102|t|No spans here\n102|a|at all\n\n"
)


def pubtator() -> list[Spec]:
    title = b"7|t|Alice met Bob.\n7|a|In Paris.\n"
    own: list[tuple[str, bytes]] = [
        ("few-fields", title + b"7\t0\t5\n"),
        ("non-int", title + b"7\tzero\t5\tAlice\tD\n"),
        ("float", title + b"7\t0.0\t5.5\tAlice\tD\n"),
        ("huge-int", title + b"7\t" + b"9" * 5000 + b"\t5\tAlice\tD\n"),
        ("big-offsets", title + b"7\t0\t99999999999999999999\tAlice\tD\n"),
        ("negative", title + b"7\t-3\t5\tAlice\tD\n"),
        ("reversed", title + b"7\t5\t0\tAlice\tD\n"),
        ("past-end", title + b"7\t20\t40\tAlice\tD\n"),
        ("mention-wrong", title + b"7\t0\t5\tBobby\tD\n"),
        ("empty-label", title + b"7\t0\t5\tAlice\t\n"),
        ("unknown-label", title + b"7\t0\t5\tAlice\tNOPE\n"),
        ("annotation-first", b"7\t0\t5\tAlice\tD\n" + title),
        ("abstract-first", b"7|a|In Paris.\n7|t|Alice\n"),
        ("pmid-mismatch", b"7|t|Alice\n8|a|Bob\n"),
        ("other-pmid-span", title + b"8\t0\t5\tAlice\tD\n"),
        ("two-titles", b"7|t|A\n7|t|B\n"),
        ("abstract-after-spans", title[:16] + b"\n7\t0\t5\tAlice\tD\n7|a|x\n"),
        ("bare-bars", b"|t|\n|a|\n"),
        ("many-bars", b"7|t|a|b|c|d\n7|a|||||\n"),
        ("tab-in-pmid", b"7\t|t|Alice\n"),
        ("nul", b"7|t|Al\x00ice\n7|a|x\n7\t0\t5\tAl\x00ic\tD\n"),
        ("cr-only", b"7|t|Alice met Bob.\r7|a|In Paris.\r7\t0\t5\tAlice\tD\r"),
        ("emoji-offsets", "7|t|\U0001f600 Alice\n7|a|x\n7\t2\t7\tAlice\tD\n".encode()),
        ("utf16", PUBTATOR.decode().encode("utf-16")),
        ("latin1", b"7|t|caf\xe9\n"),
        ("long-line", b"7|t|" + b"x" * 20_000_000 + b"\n"),
        ("many-docs", b"".join(b"%d|t|doc %d\n%d|a|x\n\n" % (i, i, i) for i in range(20_000))),
        ("many-spans", title + b"7\t0\t5\tAlice\tD\n" * 50_000),
        ("empty", b""),
        ("blank-only", b"\n\n\r\n"),
        ("binary", bytes(range(256)) * 8),
    ]
    out = [(f"pubtator-{name}.pubtator", data, "spans", {"fmt": "pubtator"}) for name, data in own]
    out.append(
        ("pubtator-classification.pubtator", PUBTATOR, "classification", {"fmt": "pubtator"})
    )
    return out + text_mutants("pubtator", ".pubtator", [(PUBTATOR, "spans")], 40)


BRAT_TXT = b"Alice met Bob in Paris.\n"
BRAT_ANN = b"T1\tD 0 5\tAlice\nT2\tD 10 13\tBob\nR1\tRel Arg1:T1 Arg2:T2\n#1\tNote T1\tok\n"


def _brat(ann: bytes | None, txt: bytes | None = BRAT_TXT, name: str = "doc") -> dict:
    files = {}
    if txt is not None:
        files[f"{name}.txt"] = txt
    if ann is not None:
        files[f"{name}.ann"] = ann
    return files


def brat() -> list[Spec]:
    own: list[tuple[str, dict]] = [
        ("no-id", _brat(b"\tD 0 5\tAlice\n")),
        ("bad-id", _brat(b"Tx y\tD 0 5\tAlice\n")),
        ("t-alone", _brat(b"T\n")),
        ("no-tabs", _brat(b"T1 D 0 5 Alice\n")),
        ("one-offset", _brat(b"T1\tD 0\tAlice\n")),
        ("three-offsets", _brat(b"T1\tD 0 5 7\tAlice\n")),
        ("discontinuous", _brat(b"T1\tD 0 5;10 13\tAlice Bob\n")),
        ("bad-fragments", _brat(b"T1\tD 0 5;;\tAlice\n")),
        ("past-text", _brat(b"T1\tD 20 40\tAlice\n")),
        ("reversed", _brat(b"T1\tD 5 0\tAlice\n")),
        ("negative", _brat(b"T1\tD -1 5\tAlice\n")),
        ("huge", _brat(b"T1\tD 0 " + b"9" * 5000 + b"\tAlice\n")),
        ("float", _brat(b"T1\tD 0.0 5.0\tAlice\n")),
        ("mention-wrong", _brat(b"T1\tD 0 5\tBobby\n")),
        ("unknown-label", _brat(b"T1\tNOPE 0 5\tAlice\n")),
        ("dup-ids", _brat(b"T1\tD 0 5\tAlice\nT1\tD 0 5\tAlice\n")),
        ("missing-txt", _brat(BRAT_ANN, None)),
        ("empty-ann", _brat(b"")),
        ("empty-txt", _brat(b"", b"")),
        ("no-ann", _brat(None)),
        ("ann-binary", _brat(bytes(range(256)) * 4)),
        ("txt-latin1", _brat(b"T1\tD 0 3\tcaf\n", b"caf\xe9\n")),
        ("txt-nul", _brat(b"T1\tD 0 5\tAl\x00ic\n", b"Al\x00ice\n")),
        ("txt-crlf", _brat(b"T1\tD 7 10\tBob\n", b"Alice\r\nBob\r\n")),
        ("txt-cr", _brat(b"T1\tD 6 9\tBob\n", b"Alice\rBob\r")),
        ("txt-emoji", _brat(b"T1\tD 2 7\tAlice\n", "\U0001f600 Alice\n".encode())),
        ("txt-utf16", _brat(BRAT_ANN, BRAT_TXT.decode().encode("utf-16"))),
        ("ann-utf16", _brat(BRAT_ANN.decode().encode("utf-16"))),
        ("ann-cr-only", _brat(b"T1\tD 0 5\tAlice\rT2\tD 10 13\tBob\r")),
        (
            "many-docs",
            {
                f"d{i:04d}.{ext}": data
                for i in range(1500)
                for ext, data in (("txt", BRAT_TXT), ("ann", BRAT_ANN))
            },
        ),
        ("many-spans", _brat(b"T1\tD 0 5\tAlice\n" * 50_000)),
        ("long-text", _brat(b"", b"x" * 20_000_000)),
        ("classification", _brat(BRAT_ANN)),
        ("ann-dir", {"doc.txt": BRAT_TXT, "doc.ann/x": b""}),
        ("empty-folder", {}),
    ]
    out = []
    for name, files in own:
        task = "classification" if name == "classification" else "spans"
        out.append((f"brat-{name}", files, task, {"fmt": "brat"}))
    out.append(("brat-single-ann.ann", BRAT_ANN, "spans", {"fmt": "brat"}))
    for index in range(30):
        make = partial(_brat_mutant, index)
        out.append((f"brat-mut{index:03d}", make, "spans", {"fmt": "brat"}))
    return out


def _brat_mutant(index: int) -> dict:
    import random

    from tests.fuzz.import_cases import mutate

    rng = random.Random(f"brat-mut-{index}")
    which = rng.randrange(3)
    ann = mutate(rng, BRAT_ANN) if which != 1 else BRAT_ANN
    txt = mutate(rng, BRAT_TXT) if which != 0 else BRAT_TXT
    return _brat(ann, txt)


ALL = (conll, pubtator, brat)
