"""spaCy's DocBin (.spacy): the training data `spacy train` reads.

Reading: spans from `doc.ents` (or `doc.spans[KEY]` with --spans-key; a DocBin with no entity
annotation but a `doc.spans["sc"]` reads that), classification and multilabel from `doc.cats`
(the labels scored 0.5 or more). A document is answered only where spaCy says it was: tokens
with an entity tag (O counts, a missing tag does not), the span key present, cats present.

Writing, for `spacy train`: each labelled record is a Doc from the project language's blank
tokenizer; spans become `doc.ents` (and `doc.spans["sc"]`, which also holds overlapping spans,
for spancat), placed with `char_span(alignment_mode="strict")`: a span that does not fall on
token boundaries is left out with a warning naming the record. Cats are one-hot (or one per
chosen label). Every annotator's own value travels in `doc.user_data["tagloop"]`, which the
reader turns back into each annotator's annotation.

A DocBin is zlib-compressed msgpack: its decompressed size is capped before spaCy reads it,
and a corrupt one is a DataError naming the file. Its arrays are checked against each other
first (`_check_arrays`): spaCy splits the token rows by `lengths` without checking that they
add up, so forged lengths would silently import a cut or merged document.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io.formats.annotated import annotator_values, final_value, record_text, short
from app.core.io.formats.base import AnnotatorValue, ReadOptions, Record, WriteContext, WriteReport
from app.core.jobs import CancelCheck, Progress, check_cancel

NAME = "spacy"
DESCRIPTION = "spaCy DocBin (.spacy): entities, span groups and cats, ready for spacy train"
SUFFIXES = (".spacy",)
TABULAR = False
MULTI_ANNOTATOR = False  # one value per document: the exporter writes the final value

MAX_DECOMPRESSED = 1 << 30  # 1 GiB of msgpack: far beyond any real DocBin, short of a bomb
# Past BOMB_FLOOR decompressed, more than MAX_RATIO times the file: a bomb (DocBin's token
# arrays of 64-bit hashes compress a few times, never a hundred).
BOMB_FLOOR = 64 << 20
MAX_RATIO = 100
SPANS_KEY = "sc"  # spancat's default key
USER_KEY = "tagloop"
MAX_WARNINGS = 200


def detect(path: Path, head: bytes) -> float:
    zlib_head = len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0
    if Path(path).suffix.lower() in SUFFIXES:
        return 0.95 if zlib_head else 0.6
    return 0.3 if zlib_head else 0.0


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


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
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


def _checked(name: str, number: int, text: str, value: Any, task_type: str) -> Any:
    """An annotator's value from user_data, which anyone could have written: shape-checked."""
    from app.core.io.formats.annotated import checked_span

    if task_type == "spans":
        if not isinstance(value, list | tuple):  # msgpack gives tuples back
            raise DataError(name, number, f"annotator spans are not a list: {value!r:.80}")
        return [
            checked_span(name, number, text, s.get("start"), s.get("end"), s.get("label"))
            for s in value
            if isinstance(s, dict)
        ]
    if task_type == "multilabel" and isinstance(value, list | tuple):
        return [str(x) for x in value]
    if task_type == "classification" and isinstance(value, str):
        return value
    raise DataError(name, number, f"an annotator's value {value!r:.80} is not a {task_type} value")


def _pipeline(language: str) -> tuple[Any, str | None]:
    """The project language's blank pipeline, or the multi-language one with a note."""
    from app.core.annotation.tokens import blank_pipeline

    try:
        return blank_pipeline(language), None
    except ImportError as exc:
        note = f"spaCy cannot tokenize {language!r} here ({exc}); tokens are multi-language (xx)"
        return blank_pipeline("xx"), note


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    from spacy.tokens import DocBin

    report = WriteReport()
    nlp, note = _pipeline(context.language)
    if note:
        report.warnings.append(note)
    docs = DocBin(store_user_data=False)  # user_data packed below, with one packer
    user_data: list[dict[str, Any]] = []
    unlabelled = 0
    for index, record in enumerate(records, 1):
        if index % 1000 == 0:
            check_cancel(cancel)
            progress(index, None, f"Writing {Path(out).name}")
        value = final_value(record)
        if value is None:
            unlabelled += 1
            continue
        doc = nlp.make_doc(record_text(record, context))
        where = f"record {record.get('row')} of {record.get('dataset')}"
        _annotate(doc, value, context, where, report)
        extra = {
            "id": record.get("id"),
            "context": {name: record.get(name) for name in context.context_inputs},
            # each annotator's own value, which the reader gives back as their annotations
            "annotators": {str(w): v for w, v in annotator_values(record, context, every=True)},
        }
        docs.add(doc)
        user_data.append({USER_KEY: extra})
        report.written += 1
    check_cancel(cancel)
    from srsly.msgpack import Packer

    packer = Packer(use_bin_type=True)
    docs.store_user_data = True
    docs.user_data = [packer.pack(item) for item in user_data]
    with atomic_writer(Path(out), "wb") as handle:
        handle.write(docs.to_bytes())
    if unlabelled:
        report.warnings.append(
            f"{unlabelled} record(s) without an agreed or final value were left out (use"
            " --values final to resolve disagreements)"
        )
    if len(report.warnings) > MAX_WARNINGS:
        more = len(report.warnings) - MAX_WARNINGS
        report.warnings[MAX_WARNINGS:] = [f"... and {more} more warnings"]
    return report


def _annotate(doc: Any, value: Any, context: WriteContext, where: str, report: WriteReport) -> None:
    if context.task_type != "spans":
        chosen = {value} if isinstance(value, str) else set(value)
        doc.cats = {label: float(label in chosen) for label in context.labels}
        return
    spans = []
    for span in value:
        placed = doc.char_span(span["start"], span["end"], span["label"], alignment_mode="strict")
        if placed is None:
            mention = doc.text[span["start"] : span["end"]]
            report.warnings.append(
                f"{where}: span {span['start']}-{span['end']} {mention!r} ({span['label']}) does"
                " not fall on token boundaries; left out"
            )
        else:
            spans.append(placed)
    spans.sort(key=lambda s: (s.start, s.end))
    doc.spans[SPANS_KEY] = spans
    overlapping = any(a.end > b.start for a, b in itertools.pairwise(spans))
    if overlapping:  # ents stay missing (not "O"): ner learns nothing false from this doc
        report.warnings.append(f"{where}: overlapping spans are in doc.spans['sc'] only")
    else:
        doc.ents = spans
