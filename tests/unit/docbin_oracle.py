"""The DocBin reader Tagloop had before spacy_stream (spaCy's own DocBin.from_bytes, then a
Doc per document): kept here only as the oracle the streaming reader must agree with."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.io.formats.annotated import short
from app.core.io.formats.base import AnnotatorValue, ReadOptions, Record
from app.core.io.formats.spacy import (
    BOMB_FLOOR,
    MAX_DECOMPRESSED,
    MAX_RATIO,
    SPANS_KEY,
    USER_KEY,
    _checked,
)


def _load(path: Path) -> Any:
    """The DocBin of `path`, after checking it decompresses to a sane size."""
    from spacy.tokens import DocBin

    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(name, None, f"cannot be read: {exc.strerror or exc}") from None
    _check_size(name, data)
    _check_arrays(name, data)
    try:
        return DocBin(store_user_data=True).from_bytes(data)
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
        problem = problem if len(problem) <= 200 else problem[:197] + "..."
        raise DataError(name, None, f"not a spaCy DocBin ({problem})") from None


def _check_size(name: str, data: bytes) -> None:
    inflater = zlib.decompressobj()
    total, chunk = 0, data
    try:
        while chunk:
            total += len(inflater.decompress(chunk, 1 << 20))
            if total > MAX_DECOMPRESSED:
                raise DataError(name, None, "decompresses to over 1 GiB: refused as a zip bomb")
            if total > BOMB_FLOOR and total > MAX_RATIO * len(data):
                raise DataError(
                    name,
                    None,
                    f"decompresses to over {MAX_RATIO} times its {len(data):,} bytes: refused "
                    "as a zip bomb",
                )
            chunk = inflater.unconsumed_tail
    except zlib.error as exc:
        raise DataError(name, None, f"not a spaCy DocBin (not zlib data: {exc})") from None


def _check_arrays(name: str, data: bytes) -> None:
    """Refuse a DocBin whose arrays disagree (see the module docstring): one document per
    length, no negative length, the token rows (one column per attribute, ORTH among them)
    and the spaces exactly as many as the lengths add up to, and one cats, flags, span group
    and user data entry per document. Read from the msgpack, which is let go of before spaCy
    reads the file again."""
    import srsly

    try:
        msg = srsly.msgpack_loads(zlib.decompress(data))
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
        problem = problem if len(problem) <= 200 else problem[:197] + "..."
        raise DataError(name, None, f"not a spaCy DocBin ({problem})") from None
    problem = _arrays_problem(msg)
    if problem is not None:
        raise DataError(name, None, f"not a spaCy DocBin ({problem})")


def _arrays_problem(msg: Any) -> str | None:
    """What is inconsistent in a DocBin's msgpack, or None."""
    import numpy
    from spacy.attrs import ORTH

    if not isinstance(msg, dict):
        return "its content is not a map"
    attrs, lengths = msg.get("attrs"), msg.get("lengths")
    tokens, spaces = msg.get("tokens"), msg.get("spaces")
    if not isinstance(attrs, list | tuple) or ORTH not in attrs:
        return "its attributes do not include the token text (ORTH)"
    for key, value in (("lengths", lengths), ("tokens", tokens), ("spaces", spaces)):
        if not isinstance(value, bytes):
            return f"its {key} array is missing or not binary"
    if len(lengths) % 4 or len(tokens) % (8 * len(attrs)):
        return "its lengths or token array has a partial element"
    counts = numpy.frombuffer(lengths, dtype="<i4")
    if (counts < 0).any():
        return "a document length is negative"
    total = int(counts.sum(dtype="int64"))
    rows = len(tokens) // (8 * len(attrs))
    if total != rows or len(spaces) != rows:
        return (
            f"its document lengths add up to {total:,} tokens, but it holds {rows:,} token"
            f" rows and {len(spaces):,} spaces"
        )
    for key in ("cats", "flags", "span_groups", "user_data"):
        value = msg.get(key)
        if (value is not None or key == "cats") and (
            not isinstance(value, list | tuple) or len(value) != len(counts)
        ):
            return f"its {key} do not match its {len(counts):,} documents"
    return None


def read_with_spacy(path: Path, options: ReadOptions) -> Iterator[Record]:
    import spacy

    bin_ = _load(path)
    vocab = spacy.blank("xx").vocab
    name = str(path)
    # spaCy unpacks each doc's user_data with a new msgpack unpacker, which looks up every
    # registered function first (about 1 ms a doc): one unpacker for all of them instead.
    packed, bin_.user_data = bin_.user_data, []
    unpack = _unpacker()
    number = 0
    try:
        for number, doc in enumerate(bin_.get_docs(vocab), 1):
            raw = packed[number - 1] if number <= len(packed) else None
            extra = unpack(raw) if raw else {}
            if doc.text.strip():  # `spacy convert` adds an empty doc for a trailing newline
                yield _record(name, number, doc, extra, options)
    except DataError:
        raise
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
        problem = problem if len(problem) <= 200 else problem[:197] + "..."
        raise DataError(name, number + 1, f"a corrupt document ({problem})") from None


def _unpacker() -> Any:
    from srsly.msgpack import Unpacker

    unpacker = Unpacker(raw=False, use_list=False, strict_map_key=False)

    def unpack(raw: bytes) -> Any:
        unpacker.feed(raw)
        return next(unpacker)

    return unpack


def _record(name: str, number: int, doc: Any, user_data: Any, options: ReadOptions) -> Record:
    extra = user_data.get(USER_KEY) if isinstance(user_data, dict) else None
    extra = extra if isinstance(extra, dict) else {}
    context = extra.get("context") if isinstance(extra.get("context"), dict) else {}
    annotators = extra.get("annotators")
    if isinstance(annotators, dict) and annotators:
        values = tuple(
            AnnotatorValue(_checked(name, number, doc.text, value, options.task_type), str(who))
            for who, value in annotators.items()
        )
    else:
        value = _doc_value(name, number, doc, options)
        values = () if value is None else (AnnotatorValue(value),)
    source = extra.get("id")
    return Record(number, doc.text, dict(context), values, str(source) if source else None)


def _doc_value(name: str, number: int, doc: Any, options: ReadOptions) -> Any:
    if options.task_type == "spans":
        key = options.spans_key
        if key is None and not doc.has_annotation("ENT_IOB") and SPANS_KEY in doc.spans:
            key = SPANS_KEY
        if key is not None:
            if key not in doc.spans:
                return None
            group = doc.spans[key]
        else:
            if not doc.has_annotation("ENT_IOB"):
                return None
            group = doc.ents
        return [{"start": s.start_char, "end": s.end_char, "label": s.label_} for s in group]
    if not doc.cats:
        return None
    chosen = [label for label, score in doc.cats.items() if float(score) >= 0.5]
    if options.task_type == "multilabel":
        return chosen
    if len(chosen) != 1:
        raise DataError(
            name, number, f"classification needs one cat scored 0.5 or more, not {short(chosen)}"
        )
    return chosen[0]
