"""The files of the import fuzz corpus: hand-made hostile ones, valid bases, and mutations.

Each case is (file name, bytes, task type of the project, import_dataset keyword arguments).
Sizes stay small (a long line is tested against a small max_field) except where a case is
about size itself, so the whole corpus runs in a few minutes.
"""

from __future__ import annotations

import codecs
import json
import random
from functools import partial
from typing import Any

from tests.fuzz import import_red, import_red6

SMALL_FIELD = 64 << 10  # max_field for the long-line cases: the behaviour, not the megabytes
LABELLED = {"label_column": "label"}
ADD = {"label_column": "label", "add_labels": True}


def wrap(fmt: str, text: str, label: str = "ham", extra: str = "") -> bytes:
    """A one-record file of the format holding `text` (raw in CSV/TSV/TXT, escaped in JSON)."""
    if fmt == "csv":
        quoted = '"' + text.replace('"', '""') + '"'
        return f"text,label\n{quoted},{label}\nsecond,ham\n".encode(errors="surrogatepass")
    if fmt == "tsv":
        return f"text\tlabel\n{text}\t{label}\nsecond\tham\n".encode(errors="surrogatepass")
    if fmt == "txt":
        return f"{text}\nsecond\n".encode(errors="surrogatepass")
    record = json.dumps({"text": text, "label": label})[:-1] + extra + "}"
    if fmt == "json":
        return f"[{record},\n{json.dumps({'text': 'second', 'label': 'ham'})}]".encode()
    return f"{record}\n{json.dumps({'text': 'second', 'label': 'ham'})}\n".encode()


def raw_json(fmt: str, value: Any) -> bytes:
    """A one-record JSON or JSON Lines file whose record is the raw JSON text `value`."""
    if callable(value):
        value = value()
    if fmt == "json":
        return f'[{value},\n{{"text": "second"}}]'.encode(errors="surrogatepass")
    return f'{value}\n{{"text": "second"}}\n'.encode(errors="surrogatepass")


def _json_values() -> list[tuple[str, Any]]:
    """(name, raw JSON record, or a function making it) pairs: every hostile JSON value."""
    out = []
    for depth in (50, 99, 101, 1000, 20_000):
        out.append((f"deep{depth}-text", '{"text": ' + "[" * depth + "]" * depth + "}"))
        out.append(
            (
                f"deep{depth}-title",
                '{"text": "a", "title": ' + '{"a":' * depth + "1" + "}" * depth + "}",
            )
        )
        out.append((f"deep{depth}-record", "[" * depth + "]" * depth))
    out.append(("deep-unclosed", '{"text": ' + "[" * 5000))
    for digits in (4300, 4301, 5000, 100_000):
        out.append((f"int{digits}", '{"text": ' + "7" * digits + "}"))
        out.append((f"int{digits}-title", '{"text": "a", "title": -' + "9" * digits + "}"))
    for word in ("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "0.0e0"):
        out.append((f"num-{word}", '{"text": "a", "title": ' + word + "}"))
        out.append((f"text-{word}", '{"text": ' + word + "}"))
    for escape in (
        "\\ud800",
        "\\udfff",
        "\\udc00\\ud800",
        "\\ud83d\\ude00",
        "\\\\ud800",
        "\\u0000",
    ):
        out.append((f"esc{escape}", '{"text": "bad ' + escape + ' x"}'))
        out.append((f"esc-key{escape}", '{"text": "a", "' + escape + '": 1}'))
        out.append((f"esc-label{escape}", '{"text": "a", "label": "' + escape + '"}'))
    for value in (
        "null",
        "true",
        "1",
        '"just a string"',
        "[]",
        "{}",
        '[{"text": "a"}]',
        '{"text": {}}',
    ):
        out.append((f"value-{value[:6]}", value))
    out.append(("dupkeys", '{"text": "a", "text": "b"}'))
    out.append(
        ("keys-100k", lambda: json.dumps({f"k{i}": i for i in range(100_000)} | {"text": "a"}))
    )
    out.append(("keys-100k-notext", lambda: json.dumps({f"k{i}": "v" for i in range(100_000)})))
    out.append(("label-dict", '{"text": "a", "label": {"x": 1}}'))
    out.append(("label-list", '{"text": "a", "label": ["ham", ["spam"]]}'))
    out.append(("label-bool", '{"text": "a", "label": true}'))
    out.append(("label-long", '{"text": "a", "label": "' + "L" * 100_000 + '"}'))
    return out


def _byte_files() -> list[tuple[str, bytes]]:
    """(name, bytes) of damaged encodings and control characters, as `text` files."""
    body = "text\nhello\nworld\n"
    out = [
        ("empty", b""),
        ("bom-only", codecs.BOM_UTF8),
        ("spaces", b"   \n\t\n\r\n"),
        ("utf16le", codecs.BOM_UTF16_LE + body.encode("utf-16-le")),
        ("utf16be", codecs.BOM_UTF16_BE + body.encode("utf-16-be")),
        ("utf16-nobom", body.encode("utf-16-le")),
        ("utf16-odd", codecs.BOM_UTF16_LE + body.encode("utf-16-le") + b"x"),
        ("utf16-lone", codecs.BOM_UTF16_LE + "text\nab".encode("utf-16-le") + b"\x00\xd8a\x00"),
        ("utf16-bom-nul", codecs.BOM_UTF16_LE + b"\x00\x00" * 10),
        ("utf32le", codecs.BOM_UTF32_LE + body.encode("utf-32-le")),
        ("utf32be", codecs.BOM_UTF32_BE + body.encode("utf-32-be")),
        ("latin1", "text\ncaf\u00e9\n".encode("latin-1")),
        ("overlong", b"text\nx\xc0\x80y\n"),
        ("surrogate-bytes", b"text\nx\xed\xa0\x80y\n"),
        ("ff", b"text\n\xff\xfe\xfd\n"),
        ("cut-utf8", b"text\nab\xe2\x82"),
        ("nul-first", b"\x00text\nhello\n"),
        ("nul-head", b"text\nhel\x00lo\n"),
        ("nul-late", b"text\n" + b"hello world\n" * 1000 + b"bad \x00 nul\n"),
        ("nul-end", b"text\nhello\n\x00"),
        ("cr-only", b"text\rhello\rworld\r"),
        ("crlf", b"text\r\nhello\r\nworld\r\n"),
        ("mixed-eol", b"text\r\nhello\rworld\n\n\r\n"),
        ("controls", b"text\nbell\x07 esc\x1b eof\x1a ff\x0c\n"),
        ("u2028", "text\nline\u2028sep\u2029para\x85nel\n".encode()),
        ("bom-mid", b"text\nhello\xef\xbb\xbfworld\n"),
        ("blank-many", b"text\n" + b"\n" * 50_000 + b"last\n"),
        ("header-only", b"text\n"),
        ("long-line", b"text\n" + b"x" * (SMALL_FIELD + 10) + b"\n"),
        ("long-line-just-fits", b"text\n" + b"x" * (SMALL_FIELD - 100) + b"\n"),
        ("long-last", b"text\nok\n" + b"y" * (SMALL_FIELD * 3)),
        ("long-blank", b" " * (SMALL_FIELD * 2)),
    ]
    return out


def _csv_files() -> list[tuple[str, str]]:
    many = ",".join(f"c{i}" for i in range(50_000))
    return [
        ("unclosed", 'text,label\nok,ham\n"never closed,ham\nmore,spam\n'),
        ("stray-quote", 'text,label\na"b,ham\n'),
        ("after-quote", 'text,label\n"a"b,ham\n'),
        ("too-many", "text,label\na,ham,extra\n"),
        ("too-few", "text,label,title\na,ham\n"),
        ("dup-header", "text,text\na,b\n"),
        ("empty-header", ",,\na,b,c\n"),
        ("blank-header", "\n\ntext\na\n"),
        ("wide-header", f"text,{many}\n" + "a" + "," * 50_000 + "\n"),
        ("wide-row", "text,label\n" + "a," * 50_000 + "\n"),
        ("quoted-newlines", 'text,label\n"a\nb\r\nc",ham\n'),
        ("long-quoted", 'text,label\n"' + ("z\n" * (SMALL_FIELD // 2 + 10)) + '",ham\n'),
        ("many-labels", "text,label\n" + "".join(f"t{i},L{i}\n" for i in range(3000))),
        ("label-long", "text,label\na," + "L" * 5000 + "\n"),
        ("labels-json", 'text,label\na,"[""ham"", {""x"": 1}]"\nb,"[[[["\n'),
        ("cr-in-field", "text,label\na\rb,ham\n"),
        ("bom-header", "\ufefftext,label\na,ham\n"),
        ("no-text-column", "body2,label2\na,ham\n"),
    ]


BIG_RECORD = (1 << 20) + 4096  # past app.core.io.csvrecord.BIG: csvrecord reads the record


def _big_record(kind: str, sep: str) -> bytes:
    """A CSV/TSV file with one record over BIG bytes, broken (or not) in the way `kind` says."""
    body = "Familial adenomatous polyposis, été 疾病. " * (BIG_RECORD // 40)
    cell = body.replace(",", " ").replace("\t", " ")
    head = f"text{sep}label\nok{sep}ham\n".encode()
    records = {
        "quoted": f'"{body}\r\nnext line ""q"""{sep}ham\nlast{sep}spam\n',
        "plain": f"{cell}{sep}ham\nlast{sep}spam\n",
        "unclosed": f'"{body}{sep}ham\nmore{sep}ham\n',
        "after-quote": f'"{cell}"x{sep}ham\n',
        "lone-cr": f"{cell}\rrest{sep}ham\n",
        "too-many": f"{cell}{sep}ham{sep}extra\n",
        "too-few": f"{cell}\n",
        "lines-then-big": '"' + "short\n" * 50 + body + f'"{sep}ham\n',
        "many-lines": '"' + "x\n" * (BIG_RECORD // 2) + f'"{sep}ham\n',
        "last-no-eol": f'"{body}"{sep}ham',
    }
    if kind == "header":
        return f'text{sep}"{cell}"\na{sep}b\n'.encode()
    if kind == "latin":
        return head + b'"' + b"x" * BIG_RECORD + b"caf\xe9" + f'"{sep}ham\n'.encode()
    if kind == "nul":
        return head + b'"' + b"x\n" * (BIG_RECORD // 2) + f'\x00"{sep}ham\n'.encode()
    return head + records[kind].encode()


BIG_KINDS = (
    "quoted",
    "plain",
    "unclosed",
    "after-quote",
    "lone-cr",
    "too-many",
    "too-few",
    "lines-then-big",
    "many-lines",
    "last-no-eol",
    "header",
    "latin",
    "nul",
)


def _long_jsonl(kind: str) -> bytes:
    """A JSON Lines file with one line over 1 MB (app.core.io.jsonlong reads its long strings),
    valid or broken in the way `kind` says."""
    body = 'Étude "quoted" \\ back, 疾病 😀 ' * (BIG_RECORD // 40)
    text = json.dumps(body, ensure_ascii=kind == "ascii")[1:-1].encode()
    lines = {
        "valid": b'{"text": "' + text + b'", "n": [1, {"k": "v"}]}',
        "ascii": b'{"text": "' + text + b'"}',
        "lone": b'{"text": "' + text + b'\\udc00 x"}',
        "escape": b'{"text": "' + text + b'\\q"}',
        "control": b'{"text": "' + text + b'\x01"}',
        "latin": b'{"text": "' + text + b'caf\xe9"}',
        "key": b'{"' + text + b'": "text"}',
        "unclosed": b'{"text": "' + text,
        "trailing": b'{"text": "' + text + b'"} x',
        "deep": b'{"text": "' + text + b'", "d": ' + b"[" * 500 + b"]" * 500 + b"}",
        "big-int": b'{"text": "' + text + b'", "n": ' + b"9" * 5000 + b"}",
        "top-string": b'"' + text + b'"',
        "many-quotes": b'{"text": "' + text + b'", "l": [' + b'"a",' * 20_000 + b'"z"]}',
    }
    return b'{"text": "first"}\n' + lines[kind] + b'\n{"text": "last"}\n'


LONG_JSONL_KINDS = (
    "valid",
    "ascii",
    "lone",
    "escape",
    "control",
    "latin",
    "key",
    "unclosed",
    "trailing",
    "deep",
    "big-int",
    "top-string",
    "many-quotes",
)


def hostile() -> list[tuple[str, Any, str, dict]]:
    """Hand-made hostile files of every format: (name, bytes or a function making them, task
    type, import options); the large ones are made only when written."""
    cases: list[tuple[str, Any, str, dict]] = []
    for name, value in _json_values():
        for fmt in ("json", "jsonl"):
            options = ADD if name.startswith("label-") else LABELLED
            data = partial(raw_json, fmt, value)
            cases.append((f"h-{name}.{fmt}", data, "classification", options))
    for name, data in _byte_files():
        for fmt in ("csv", "tsv", "txt", "jsonl", "json"):
            options = {"max_field": SMALL_FIELD}
            cases.append((f"b-{name}.{fmt}", data, "classification", options))
    for name, text in _csv_files():
        for fmt, sep in (("csv", ","), ("tsv", "\t")):
            data = text.replace(",", sep).encode("utf-8")
            options = {**ADD, "max_field": SMALL_FIELD} if "label" in text[:20] else {}
            cases.append((f"c-{name}.{fmt}", data, "classification", options))
    for fmt in ("csv", "tsv", "txt", "json", "jsonl"):
        for name, text in (
            ("surrogate", "bad \ud800 x"),
            ("emoji", "smile \U0001f600 ok"),
            ("rtl", "\u202eevil\u202c text"),
            ("zero-width", "\u200b\u200b\ufeff"),
            ("combining", "e" + "\u0301" * 5000),
            ("formula", "=cmd|' /C calc'!A0"),
        ):
            cases.append((f"t-{name}.{fmt}", wrap(fmt, text), "classification", LABELLED))
        big = "word " * (SMALL_FIELD // 5 + 10)
        cases.append(
            (f"t-over.{fmt}", wrap(fmt, big), "classification", {"max_field": SMALL_FIELD})
        )
        cases.append(
            (f"t-mapping.{fmt}", wrap(fmt, "a"), "classification", {"mapping": {"nope": "text"}})
        )
        cases.append(
            (f"t-badinput.{fmt}", wrap(fmt, "a"), "classification", {"mapping": {"text": "nope"}})
        )
    for kind in BIG_KINDS:  # the byte-level parser of long CSV/TSV records
        for fmt, sep in (("csv", ","), ("tsv", "\t")):
            data = partial(_big_record, kind, sep)
            cases.append((f"big-{kind}.{fmt}", data, "classification", LABELLED))
    for kind in LONG_JSONL_KINDS:
        data = partial(_long_jsonl, kind)
        cases.append((f"long-{kind}.jsonl", data, "classification", {}))
    cases.extend(_label_cases())
    cases.extend(import_red.cases())  # session 5's red team
    cases.extend(import_red6.cases())  # session 6's
    return cases


def _label_cases() -> list[tuple[str, bytes, str, dict]]:
    spans = [
        [[0, 99, "D"]],
        [[-1, 2, "D"]],
        [[2, 1, "D"]],
        [[0, 10**30, "D"]],
        [[True, 2, "D"]],
        [[0, 2, "D"], [1, 3, "D"]],
        [[0, 2]],
        [{"start": 0, "end": 1}],
        [[0, 1, ""]],
        [[0, 1, None]],
        "not json [",
        {"start": 0},
        [[0.5, 1, "D"]],
    ]
    out = []
    for number, value in enumerate(spans):
        line = json.dumps({"text": "heart attack", "label": value}) + "\n"
        out.append((f"s-span{number}.jsonl", line.encode(), "spans", ADD))
    multi = [["a", "b"], "a|b", "a;b", [], [[]], [None], "|||", [1, 2], {"a": 1}, "[1,"]
    for number, value in enumerate(multi):
        line = json.dumps({"text": "some text", "label": value}) + "\n"
        out.append((f"s-multi{number}.jsonl", line.encode(), "multilabel", ADD))
    many = "".join(
        json.dumps({"text": f"t{i}", "label": [f"L{i}", f"M{i}"]}) + "\n" for i in range(800)
    )
    out.append(("s-multi-many.jsonl", many.encode(), "multilabel", ADD))
    return out


def valid_bases() -> list[tuple[str, bytes, str, dict]]:
    """Small valid files of each format, with labels and a context input, to mutate."""
    records = [
        {"text": "Free entry in a weekly competition", "label": "spam", "title": "t1"},
        {"text": "Are we still on for lunch?", "label": "ham", "title": {"nested": [1, 2]}},
        {"text": 'She said "hi", then left', "label": "ham", "title": "t3"},
        {"text": "caf\u00e9 \u00fcber \u65e5\u672c \U0001f600", "label": "spam", "title": None},
        {"text": "multi\nline\ttext", "label": "", "title": "t5"},
    ]
    jsonl = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    array = json.dumps(records, ensure_ascii=False, indent=1)
    rows = [(r["text"], r["label"], json.dumps(r["title"])) for r in records]
    csv_text = "text,label,title\n" + "".join(
        ",".join('"' + c.replace('"', '""') + '"' for c in row) + "\n" for row in rows
    )
    tsv_text = "text\tlabel\ttitle\n" + "".join(
        "\t".join(c.replace("\n", " ").replace("\t", " ") for c in row) + "\n" for row in rows
    )
    txt = "".join(r["text"].replace("\n", " ") + "\n" for r in records)
    spans = "".join(
        json.dumps({"text": "heart attack risk", "label": [[0, 5, "D"], [6, 12, "D"]]}) + "\n"
        for _ in range(3)
    )
    multi = "".join(
        json.dumps({"text": f"text {i}", "label": ["a", "b"][: i % 3]}) + "\n" for i in range(5)
    )
    return [
        ("v.jsonl", jsonl.encode(), "classification", ADD),
        ("v.json", array.encode(), "classification", ADD),
        ("v.csv", csv_text.encode(), "classification", ADD),
        ("v.tsv", tsv_text.encode(), "classification", ADD),
        ("v.txt", txt.encode(), "classification", {}),
        ("v16.csv", codecs.BOM_UTF16_LE + csv_text.encode("utf-16-le"), "classification", ADD),
        ("vspans.jsonl", spans.encode(), "spans", ADD),
        ("vmulti.jsonl", multi.encode(), "multilabel", ADD),
    ]


TOKENS = [
    b'"',
    b",",
    b"\t",
    b"\n",
    b"\r",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xef\xbb\xbf",
    b"NaN",
    b"-Infinity",
    b"9" * 5000,
    b"[" * 2000,
    b'{"a":' * 300,
    b"null",
    b'"label": {}',
    b'""',
    b"\xed\xa0\x80",
    b"\x1a",
    b" " * 100,
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to three random edits: flip, insert a token, delete, duplicate, truncate, swap."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(7)
        at = rng.randrange(len(buffer) + 1)
        if op == 0 and buffer:
            buffer[min(at, len(buffer) - 1)] = rng.randrange(256)
        elif op == 1:
            buffer[at:at] = rng.choice(TOKENS)
        elif op == 2:
            del buffer[at : at + rng.randint(1, 40)]
        elif op == 3:
            chunk = buffer[at : at + rng.randint(1, 200)]
            buffer[at:at] = chunk * rng.randint(1, 50)
        elif op == 4:
            del buffer[at:]
        elif op == 5 and len(buffer) > 2:
            other = rng.randrange(len(buffer))
            first, second = sorted((at, other))
            buffer[first:second] = buffer[first:second][::-1]
        else:
            buffer[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(buffer)
