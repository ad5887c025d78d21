"""Hostile files of the binary peer formats (issue #14): spaCy DocBin, Parquet, Arrow and
xlsx, and BioC XML (whose trouble is XML's own: entities, DTDs, broken trees). Cases as in
tests.fuzz.peer_cases; every file is made when the case is written, by the libraries the
readers use, then broken.
"""

from __future__ import annotations

import io
import json
import random
import zlib
from functools import partial
from typing import Any

from tests.fuzz.import_cases import mutate
from tests.fuzz.peer_cases import TEXT, Spec

# ---- spaCy DocBin --------------------------------------------------------------------------


def _docbin_msg(cats: bool = False) -> dict:
    import spacy
    import srsly
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    doc = nlp(TEXT)
    doc.ents = [doc.char_span(0, 5, "D")]
    if cats:
        doc.cats = {"ham": 1.0, "spam": 0.0}
    docs = DocBin(store_user_data=True)
    docs.add(doc)
    return srsly.msgpack_loads(zlib.decompress(docs.to_bytes()))


def _packed(msg: Any) -> bytes:
    import srsly

    return zlib.compress(srsly.msgpack_dumps(msg))


def _docbin_with(with_cats: bool = False, **changes: Any) -> bytes:
    msg = _docbin_msg(with_cats)
    for key, value in changes.items():
        if value is _DROP:
            msg.pop(key, None)
        else:
            msg[key] = value
    return _packed(msg)


_DROP = object()


def _user_data(value: Any) -> bytes:
    import srsly

    return _docbin_with(user_data=[srsly.msgpack_dumps(value)])


def _docbin_bomb(size: int) -> bytes:
    packer = zlib.compressobj(1)  # still a ratio over 200, in half the time
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(size >> 20)) + packer.flush()


def _msgpack_bomb(header: bytes) -> bytes:
    return zlib.compress(header + b"\x00" * 64)


def spacy_cases() -> list[Spec]:
    own: list[tuple[str, Any, str]] = [
        ("random", lambda: random.Random(1).randbytes(4096), "spans"),
        ("zlib-random", lambda: zlib.compress(random.Random(2).randbytes(4096)), "spans"),
        ("zlib-text", zlib.compress(b"hello world"), "spans"),
        ("zlib-truncated", lambda: _docbin_with()[:40], "spans"),
        ("empty", b"", "spans"),
        ("zlib-empty", zlib.compress(b""), "spans"),
        ("msgpack-list", lambda: _packed([1, 2, 3]), "spans"),
        ("msgpack-nil", lambda: _packed(None), "spans"),
        ("msgpack-array-bomb", _msgpack_bomb(b"\xdd\xff\xff\xff\xff"), "spans"),
        ("msgpack-map-bomb", _msgpack_bomb(b"\xdf\xff\xff\xff\xff"), "spans"),
        ("msgpack-bin-bomb", _msgpack_bomb(b"\xc6\xff\xff\xff\xff"), "spans"),
        ("msgpack-str-bomb", _msgpack_bomb(b"\xdb\xff\xff\xff\xff"), "spans"),
        ("msgpack-deep", lambda: zlib.compress(b"\x91" * 100_000 + b"\xc0"), "spans"),
        ("zlib-bomb-300mb", partial(_docbin_bomb, 300 << 20), "spans"),
        ("zlib-bomb-1100mb", partial(_docbin_bomb, 1100 << 20), "spans"),
        ("no-attrs", partial(_docbin_with, attrs=_DROP), "spans"),
        ("attrs-empty", partial(_docbin_with, attrs=[]), "spans"),
        ("attrs-bogus", partial(_docbin_with, attrs=[999999, -1]), "spans"),
        ("attrs-str", partial(_docbin_with, attrs="ORTH"), "spans"),
        ("tokens-short", partial(_docbin_with, tokens=b"\x01\x02\x03"), "spans"),
        (
            "tokens-random",
            lambda: _docbin_with(tokens=random.Random(3).randbytes(13 * 8 * 6)),
            "spans",
        ),
        ("tokens-str", partial(_docbin_with, tokens="abc"), "spans"),
        ("lengths-huge", partial(_docbin_with, lengths=b"\xff\xff\xff\x7f"), "spans"),
        ("lengths-negative", partial(_docbin_with, lengths=b"\xff\xff\xff\xff"), "spans"),
        ("lengths-many", partial(_docbin_with, lengths=b"\x01\x00\x00\x00" * 6), "spans"),
        ("lengths-odd", partial(_docbin_with, lengths=b"\x06\x00\x00"), "spans"),
        ("spaces-short", partial(_docbin_with, spaces=b""), "spans"),
        ("strings-missing", partial(_docbin_with, strings=[]), "spans"),
        ("strings-ints", partial(_docbin_with, strings=[1, 2, None]), "spans"),
        ("cats-str", partial(_docbin_with, True, cats="ham"), "classification"),
        ("cats-missing", partial(_docbin_with, True, cats=_DROP), "classification"),
        ("cats-bad-score", partial(_docbin_with, True, cats=[{"ham": "high"}]), "classification"),
        ("cats-nan", partial(_docbin_with, True, cats=[{"ham": float("nan")}]), "classification"),
        (
            "cats-two",
            partial(_docbin_with, True, cats=[{"ham": 1.0, "spam": 1.0}]),
            "classification",
        ),
        ("cats-unknown", partial(_docbin_with, True, cats=[{"zz": 1.0}]), "classification"),
        ("cats-key-int", partial(_docbin_with, True, cats=[{1: 1.0}]), "multilabel"),
        ("flags-str", partial(_docbin_with, flags="x"), "spans"),
        ("span-groups-junk", partial(_docbin_with, span_groups=[b"\xff\x00junk"]), "spans"),
        ("span-groups-int", partial(_docbin_with, span_groups=[5]), "spans"),
        ("user-data-junk", partial(_docbin_with, user_data=[b"\xc1\xc1"]), "spans"),
        ("user-data-int", partial(_docbin_with, user_data=[7]), "spans"),
        ("user-data-short", partial(_docbin_with, user_data=[]), "spans"),
        ("ud-annotators-list", partial(_user_data, {"tagloop": {"annotators": [1, 2]}}), "spans"),
        (
            "ud-spans-bad",
            partial(_user_data, {"tagloop": {"annotators": {"a": [{"start": "x"}]}}}),
            "spans",
        ),
        (
            "ud-spans-past",
            partial(
                _user_data,
                {"tagloop": {"annotators": {"a": [{"start": 0, "end": 10**6, "label": "D"}]}}},
            ),
            "spans",
        ),
        (
            "ud-spans-huge",
            partial(
                _user_data,
                {"tagloop": {"annotators": {"a": [{"start": 0, "end": 2**64 - 1, "label": "D"}]}}},
            ),
            "spans",
        ),
        (
            "ud-spans-float",
            partial(
                _user_data,
                {"tagloop": {"annotators": {"a": [{"start": 0.5, "end": 5.5, "label": "D"}]}}},
            ),
            "spans",
        ),
        (
            "ud-cls-list",
            partial(_user_data, {"tagloop": {"annotators": {"a": ["ham", "spam"]}}}),
            "classification",
        ),
        (
            "ud-context-deep",
            partial(_user_data, {"tagloop": {"context": {"a": [[[[1]]]]}}}),
            "spans",
        ),
        ("ud-id-bytes", partial(_user_data, {"tagloop": {"id": b"\xff"}}), "spans"),
        ("ud-context-key-int", partial(_user_data, {"tagloop": {"context": {1: "x"}}}), "spans"),
    ]
    out = [(f"spacy-{name}.spacy", data, task, {"fmt": "spacy"}) for name, data, task in own]
    for index in range(15):
        out.append(
            (
                f"spacy-mut{index:03d}.spacy",
                partial(_spacy_mutant, index),
                "spans",
                {"fmt": "spacy"},
            )
        )
    return out


def _spacy_mutant(index: int) -> bytes:
    """Byte mutations of the msgpack inside a valid DocBin, compressed again."""
    import srsly

    rng = random.Random(f"spacy-mut-{index}")
    raw = srsly.msgpack_dumps(_docbin_msg())
    return zlib.compress(mutate(rng, raw))


# ---- Parquet and Arrow ---------------------------------------------------------------------


def _table(kind: str = "valid") -> Any:
    import pyarrow as pa

    texts = [TEXT, "second", "third"]
    hf = {"info": {"features": {"label": {"_type": "ClassLabel", "names": ["ham", "spam"]}}}}
    meta = {b"huggingface": json.dumps(hf).encode()}
    label = pa.array([0, 1, -1], pa.int64())
    columns: dict[str, Any] = {"text": pa.array(texts), "label": label}
    if kind == "text-int":
        columns["text"] = pa.array([1, 2, 3])
    elif kind == "text-list":
        columns["text"] = pa.array([["a"], ["b"], None])
    elif kind == "text-struct":
        columns["text"] = pa.array([{"a": 1}, {"a": 2}, None])
    elif kind == "text-binary":
        columns["text"] = pa.array([b"\xff\xfe", b"\x00", b""], pa.binary())
    elif kind == "text-null":
        columns["text"] = pa.array([None, None, None], pa.string())
    elif kind == "nested":
        columns["text"] = pa.array([[[{"a": [1]}]], [], None])
    elif kind == "label-out-of-range":
        columns["label"] = pa.array([0, 7, -5], pa.int64())
    elif kind == "label-float":
        columns["label"] = pa.array([0.5, float("nan"), float("inf")])
    elif kind == "label-huge":
        columns["label"] = pa.array([2**63 - 1, -(2**63), 0], pa.int64())
    elif kind == "label-list":
        columns["label"] = pa.array([[0, 9], [None], [-1]])
    elif kind == "label-dict":
        columns["label"] = pa.DictionaryArray.from_arrays(
            pa.array([0, 1, 0]), pa.array(["ham", "zz"])
        )
    elif kind == "label-dict-bad":
        columns["label"] = pa.DictionaryArray.from_arrays(
            pa.array([0, 5, 9], pa.int32()), pa.array(["ham"]), safe=False
        )
    elif kind == "date-column":
        columns["when"] = pa.array([0, 1, 2], pa.timestamp("s"))
    elif kind == "decimal":
        import decimal

        columns["text"] = pa.array([decimal.Decimal("1.5")] * 3)
    table = pa.table(columns)
    if kind == "meta-junk":
        meta = {b"huggingface": b"{not json"}
    elif kind == "meta-names-ints":
        meta = {
            b"huggingface": json.dumps(
                {"info": {"features": {"label": {"_type": "ClassLabel", "names": [1, 2]}}}}
            ).encode()
        }
    elif kind == "meta-features-list":
        meta = {b"huggingface": json.dumps({"info": {"features": [1]}}).encode()}
    elif kind == "meta-deep":
        meta = {b"huggingface": b"[" * 100_000 + b"]" * 100_000}
    return table.replace_schema_metadata(meta)


TABLE_KINDS = [
    "valid",
    "text-int",
    "text-list",
    "text-struct",
    "text-binary",
    "text-null",
    "nested",
    "label-out-of-range",
    "label-float",
    "label-huge",
    "label-list",
    "label-dict",
    "label-dict-bad",
    "date-column",
    "decimal",
    "meta-junk",
    "meta-names-ints",
    "meta-features-list",
    "meta-deep",
]


def _parquet_bytes(kind: str = "valid", **write: Any) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(_table(kind), sink, **write)
    return sink.getvalue()


def _arrow_bytes(kind: str = "valid", stream: bool = False) -> bytes:
    import pyarrow.ipc as ipc

    table = _table(kind)
    sink = io.BytesIO()
    opener = ipc.new_stream if stream else ipc.new_file
    with opener(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _long_text_parquet() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({"text": ["x" * (20 << 20)]}), sink, compression="zstd")
    return sink.getvalue()


def _mutant(make: Any, seed: str) -> bytes:
    rng = random.Random(seed)
    data = bytearray(make())
    for _ in range(rng.randint(1, 4)):  # flips near the footer, where the metadata lives
        at = len(data) - 1 - min(len(data) - 1, int(rng.expovariate(1 / 200)))
        data[at] = rng.randrange(256)
    return bytes(data)


def table_cases(fmt: str) -> list[Spec]:
    make = _parquet_bytes if fmt == "parquet" else _arrow_bytes
    ext = ".parquet" if fmt == "parquet" else ".arrow"
    options = {"fmt": fmt, "label_column": "label"}
    out: list[Spec] = []
    for kind in TABLE_KINDS:
        out.append((f"{fmt}-{kind}{ext}", partial(make, kind), "classification", options))
    out.append(
        (f"{fmt}-random{ext}", lambda: random.Random(5).randbytes(2000), "classification", options)
    )
    magic = b"PAR1" if fmt == "parquet" else b"ARROW1\x00\x00"
    out.append((f"{fmt}-magic-only{ext}", magic, "classification", options))
    out.append(
        (
            f"{fmt}-magic-random{ext}",
            magic + random.Random(6).randbytes(500) + magic,
            "classification",
            options,
        )
    )
    out.append((f"{fmt}-empty{ext}", b"", "classification", options))
    for cut in (8, 50, 200, 400, -60, -12, -8, -4, -1):
        out.append((f"{fmt}-cut{cut}{ext}", partial(_cut, make, cut), "classification", options))
    for index in range(28):
        seed = f"{fmt}-mut-{index}"
        out.append(
            (f"{fmt}-mut{index:03d}{ext}", partial(_mutant, make, seed), "classification", options)
        )
    if fmt == "parquet":
        out.append(
            ("parquet-long-text.parquet", _long_text_parquet, "classification", {"fmt": fmt})
        )
        out.append(("parquet-no-mapping.parquet", _parquet_bytes, "classification", {"fmt": fmt}))
        for rows in (4, 10**6, 2**40):
            make_rows = partial(_declaring_rows, rows)
            out.append(
                (f"parquet-declares-{rows}-rows.parquet", make_rows, "classification", options)
            )
        out.append(
            (
                "parquet-dict.parquet",
                partial(_parquet_bytes, "valid", use_dictionary=True),
                "classification",
                options,
            )
        )
    else:
        out.append(
            ("arrow-stream.arrow", partial(_arrow_bytes, "valid", True), "classification", options)
        )
        for size in (2 << 30, 1 << 40):
            make_size = partial(_arrow_declaring, size)
            out.append((f"arrow-zstd-declares-{size}.arrow", make_size, "classification", options))
        out.append(
            (
                "arrow-stream-cut.arrow",
                lambda: _arrow_bytes("valid", True)[:-30],
                "classification",
                options,
            )
        )
        out.append(
            (
                "arrow-stream-bad-dict.arrow",
                partial(_arrow_bytes, "label-dict-bad", True),
                "classification",
                options,
            )
        )
    return out


def _declaring_rows(rows: int) -> bytes:
    """A valid 3-row Parquet file whose footer says `rows` rows (the file's and each row
    group's num_rows, thrift compact i64 fields 0x16), its length fixed."""
    import struct

    data = _parquet_bytes()
    size = struct.unpack("<i", data[-8:-4])[0]
    footer = data[-8 - size : -8]
    number, varint = rows << 1, bytearray()
    while number > 0x7F:
        varint.append(number & 0x7F | 0x80)
        number >>= 7
    varint.append(number)
    forged = footer.replace(b"\x16\x06", b"\x16" + bytes(varint))
    return data[: -8 - size] + forged + struct.pack("<i", len(forged)) + b"PAR1"


def _arrow_declaring(size: int) -> bytes:
    """A zstd-compressed Arrow file whose first offsets buffer says it inflates to `size`
    bytes (each compressed IPC buffer starts with its length, int64)."""
    import struct

    import pyarrow as pa
    import pyarrow.ipc as ipc

    table = pa.table({"text": [TEXT, "second", "third"] * 1000, "label": [0, 1, 0] * 1000})
    sink = io.BytesIO()
    options = ipc.IpcWriteOptions(compression="zstd")
    with ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    data = sink.getvalue()
    at = data.find(struct.pack("<q", 4 * 3001))
    return data[:at] + struct.pack("<q", size) + data[at + 8 :]


def _cut(make: Any, cut: int) -> bytes:
    return make()[:cut]


ALL_TABLES = (partial(table_cases, "parquet"), partial(table_cases, "arrow"))
