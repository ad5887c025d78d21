"""Import cases of session 5's red team: what import_cases did not make (named encodings,
byte-order marks, line ends, JSON texts). Each case here once ended in a traceback, or is of
a kind no generator made; import_cases.hostile() includes them all, and
tests/fuzz/test_import_red.py runs every one of them on each `make test`.

(name, bytes, task type, import_dataset options), as import_cases.hostile() gives them.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

BODY = "text,label\nhello there,ham\nwin cash,spam\n"
RECORDS = [{"text": "hello there", "label": "ham"}, {"text": "win cash", "label": "spam"}]
JSONL = "".join(json.dumps(r) + "\n" for r in RECORDS)
LABELLED = {"label_column": "label"}
# Named encodings that ended in a traceback: codecs that are not text encodings (LookupError
# from bytes.decode), ones that always fail, and decoders that raise a bare UnicodeError.
ENCODINGS = (
    "rot13",
    "base64",
    "zlib_codec",
    "bz2_codec",
    "hex",
    "uu",
    "quopri",
    "undefined",
    "punycode",
    "utf-16",
    "idna",
)
FILES = {
    "csv": BODY,
    "tsv": BODY.replace(",", "\t"),
    "jsonl": JSONL,
    "json": json.dumps(RECORDS),
    "txt": "hello\nworld\n",
}


def _options(fmt: str, **more: Any) -> dict:
    return {**({} if fmt == "txt" else LABELLED), **more}


def cases() -> list[tuple[str, bytes, str, dict]]:
    out: list[tuple[str, bytes, str, dict]] = []
    for encoding in ENCODINGS:
        for fmt in ("csv", "jsonl", "json", "txt"):
            data = FILES[fmt].encode("utf-8")
            out.append(
                (
                    f"red-enc-{encoding}.{fmt}",
                    data,
                    "classification",
                    _options(fmt, encoding=encoding),
                )
            )
    boms = {
        "utf7": b"+/v8",
        "gb18030": b"\x84\x31\x95\x33",
        "utf-ebcdic": b"\xdd\x73\x66\x73",
        "double-utf8": codecs.BOM_UTF8 * 2,
        "utf8-utf16": codecs.BOM_UTF8 + codecs.BOM_UTF16_LE,
    }
    for name, bom in boms.items():
        for fmt in ("csv", "jsonl", "json"):
            out.append(
                (
                    f"red-bom-{name}.{fmt}",
                    bom + FILES[fmt].encode(),
                    "classification",
                    _options(fmt),
                )
            )
    for fmt in ("csv", "jsonl", "json", "tsv"):  # a UTF-16 file and the encoding named wrongly
        utf16 = codecs.BOM_UTF16_LE + FILES[fmt].encode("utf-16-le")
        out.append(
            (f"red-utf16-as-utf8.{fmt}", utf16, "classification", _options(fmt, encoding="utf-8"))
        )
        out.append(
            (
                f"red-utf16-as-latin1.{fmt}",
                utf16,
                "classification",
                _options(fmt, encoding="latin-1"),
            )
        )
        out.append(
            (
                f"red-utf16-as-utf16be.{fmt}",
                utf16,
                "classification",
                _options(fmt, encoding="utf-16-be"),
            )
        )
    for name, eol in (
        ("vt", "\x0b"),
        ("ff", "\x0c"),
        ("fs", "\x1c"),
        ("nel", "\x85"),
        ("ls", "\u2028"),
        ("crcrlf", "\r\r\n"),
        ("lfcr", "\n\r"),
    ):
        for fmt in ("csv", "jsonl", "tsv", "txt"):
            data = FILES[fmt].replace("\n", eol).encode("utf-8")
            out.append((f"red-eol-{name}.{fmt}", data, "classification", _options(fmt)))
    raw = {"text": "a\u2028b\x85c\x0bd\x0ce", "label": "ham"}
    odd = json.dumps(raw, ensure_ascii=False)
    out.append(
        (
            "red-raw-separators.jsonl",
            (odd + "\n" + json.dumps(RECORDS[1]) + "\n").encode(),
            "classification",
            LABELLED,
        )
    )
    out.append(
        (
            "red-raw-separators.json",
            f"[{odd}, {json.dumps(RECORDS[1])}]".encode(),
            "classification",
            LABELLED,
        )
    )
    out.append(
        (
            "red-ws-lines.jsonl",
            ("\n   \n\t\n" + JSONL + " \n\r\n\x0c\n").encode(),
            "classification",
            LABELLED,
        )
    )
    out.append(("red-nbsp-line.jsonl", (JSONL + "\u00a0\n").encode(), "classification", LABELLED))
    small = {"max_field": 64 << 10}
    out.append(
        (
            "red-long-no-eol.jsonl",
            b'{"text": "' + b"x" * (200 << 10) + b'"',
            "classification",
            small,
        )
    )
    out.append(("red-long-no-eol.csv", b"text\n" + b"x" * (200 << 10), "classification", small))
    out.append(
        (
            "red-long-no-eol.json",
            b'[{"text": "' + b"x" * (200 << 10) + b'"}]',
            "classification",
            small,
        )
    )
    for name, text in (
        ("bom-array", "\ufeff" + json.dumps(RECORDS)),
        ("two-arrays", json.dumps(RECORDS) * 2),
        ("jsonp", f"cb({json.dumps(RECORDS)})"),
        ("comment", "// hi\n" + json.dumps(RECORDS)),
        ("empty-key", '[{"": "a", "text": "b", "label": "ham"}]'),
        ("case-keys", '[{"text": "a", "TEXT": "b", "Text": "c", "label": "ham"}]'),
        ("big-key", '[{"' + "k" * 200_000 + '": 1, "text": "a", "label": "ham"}]'),
    ):
        out.append((f"red-json-{name}.json", text.encode("utf-8"), "classification", LABELLED))
    out.extend(duplicate_keys())
    return out


def duplicate_keys() -> list[tuple[str, bytes, str, dict]]:
    """JSON objects that name a key twice (RFC 8259 leaves them undefined): refused, in every
    JSON-based format, at the top, nested, in a long line, and in a label cell."""
    long = "x" * (200 << 10)
    dup = '{"text": "a", "label": "ham", "text": "b"}'
    nested = '{"text": "a", "label": "ham", "meta": {"k": 1, "k": 2}}'
    out = [
        ("red-dup-key.jsonl", f"{json.dumps(RECORDS[0])}\n{dup}\n", "classification", LABELLED),
        ("red-dup-nested.jsonl", f"{nested}\n", "classification", LABELLED),
        ("red-dup-key.json", f"[{json.dumps(RECORDS[0])}, {dup}]", "classification", LABELLED),
        ("red-dup-nested.json", f"[\n{nested}\n]", "classification", LABELLED),
        ("red-dup-long.jsonl", f'{{"text": "{long}", "text": "{long}"}}\n', "classification", {}),
        ("red-dup-long.json", f'[{{"text": "{long}", "text": "b"}}]', "classification", {}),
        ("red-dup-nomap.jsonl", '{"text": "a", "text": "b"}\n', "classification", {}),
        (
            "red-dup-label-cell.csv",
            'text,label\nhello,"[{""start"": 0, ""end"": 1, ""label"": ""a"", ""end"": 2}]"\n',
            "spans",
            LABELLED,
        ),
        (
            "red-dup-labelstudio.json",
            '[{"data": {"text": "hi", "text": "ho"}}]',
            "classification",
            {"fmt": "labelstudio"},
        ),
        (
            "red-dup-prodigy.jsonl",
            '{"text": "hi", "answer": "accept", "answer": "reject"}\n',
            "classification",
            {"fmt": "prodigy"},
        ),
        (
            "red-dup-doccano.jsonl",
            '{"text": "hi", "label": [[0, 1, "a", 5]], "label": []}\n',
            "spans",
            {"fmt": "doccano"},
        ),
    ]
    return [(name, body.encode("utf-8"), task, options) for name, body, task, options in out]
