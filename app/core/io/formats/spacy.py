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

A DocBin is read by spacy_stream, one document at a time (spaCy's own DocBin.from_bytes held
about 61 times the largest text; the import now holds about 2.2 times at 16 MB, 2.7 at 4
MB), with the same Records as spaCy's reader (tests/unit/docbin_oracle.py keeps that one as
the oracle of the tests). A DocBin is zlib-compressed msgpack: its decompressed size is
capped as it inflates, and a corrupt one is a DataError naming the file, and the document
when one is at fault. Its arrays are checked against each other first: spaCy splits the
token rows by `lengths` without checking that they add up, so forged lengths would silently
import a cut or merged document. A document's text over the field limit is refused.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io import longtext
from app.core.io.formats.annotated import annotator_values, final_value, record_text, short
from app.core.io.formats.base import AnnotatorValue, ReadOptions, Record, WriteContext, WriteReport
from app.core.io.longtext import LongText
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


def _bomb_check(name: str, size: int) -> Any:
    """The check of the decompressed size so far: DataError past the cap or the ratio."""

    def check(total: int) -> None:
        if total > MAX_DECOMPRESSED:
            raise DataError(name, None, "decompresses to over 1 GiB: refused as a zip bomb")
        if total > BOMB_FLOOR and total > MAX_RATIO * size:
            raise DataError(
                name,
                None,
                f"decompresses to over {MAX_RATIO} times its {size:,} bytes: refused as a zip bomb",
            )

    return check


def _open(path: Path) -> Any:
    """The layout of the DocBin at `path` (spacy_stream.Layout), checked."""
    from app.core.io.formats import spacy_stream

    name = str(path)
    try:
        size = Path(path).stat().st_size
        return spacy_stream.open_docbin(name, _bomb_check(name, size))
    except OSError as exc:
        raise DataError(name, None, f"cannot be read: {exc.strerror or exc}") from None
    except zlib.error as exc:
        raise DataError(name, None, f"not a spaCy DocBin (not zlib data: {exc})") from None
    except spacy_stream.Corrupt as exc:
        raise DataError(name, None, f"not a spaCy DocBin ({exc})") from None


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    from app.core.io.formats import spacy_stream

    name = str(path)
    layout = _open(path)
    unpack = _unpacker()
    want_ents = options.task_type == "spans" and options.spans_key is None
    number = 0
    try:
        for doc in spacy_stream.documents(layout, want_ents, options.max_field):
            number = doc.number
            extra = unpack(doc.user_data) if doc.user_data else {}
            text = _text(doc.data)
            doc.data = bytearray()
            if text is not None:  # `spacy convert` adds an empty doc for a trailing newline
                yield _record(name, number, doc, text, extra, layout.strings, options)
    except DataError:
        raise
    except spacy_stream.TooLong as exc:
        raise DataError(
            name,
            exc.number,
            f"a document of over {exc.limit:,} bytes of text, the field limit (raise it with"
            " --max-field-mb)",
        ) from None
    except spacy_stream.Corrupt as exc:
        raise DataError(name, exc.number or number, f"a corrupt document ({exc})") from None
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
        problem = problem if len(problem) <= 200 else problem[:197] + "..."
        raise DataError(name, number, f"a corrupt document ({problem})") from None
    finally:
        layout.close()


def _text(data: bytearray) -> str | LongText | None:
    """A document's text: None if blank, a LongText (its UTF-8) if long, else a str."""
    text = longtext.text_of(data) if len(data) > longtext.LONG_TEXT else str(data, "utf-8")
    if text.__class__ is str and not text.strip():  # type: ignore[union-attr]
        return None
    return text


def _unpacker() -> Any:
    from srsly.msgpack import Unpacker

    unpacker = Unpacker(raw=False, use_list=False, strict_map_key=False)

    def unpack(raw: bytes) -> Any:
        unpacker.feed(raw)
        return next(unpacker)

    return unpack


def _record(
    name: str,
    number: int,
    doc: Any,
    text: str | LongText,
    user_data: Any,
    strings: Any,
    options: ReadOptions,
) -> Record:
    extra = user_data.get(USER_KEY) if isinstance(user_data, dict) else None
    extra = extra if isinstance(extra, dict) else {}
    context = extra.get("context") if isinstance(extra.get("context"), dict) else {}
    annotators = extra.get("annotators")
    if isinstance(annotators, dict) and annotators:
        text = longtext.plain(text)  # spans are checked on the str
        values = tuple(
            AnnotatorValue(_checked(name, number, text, value, options.task_type), str(who))
            for who, value in annotators.items()
        )
    else:
        value = _doc_value(name, number, doc, strings, options)
        values = () if value is None else (AnnotatorValue(value),)
    source = extra.get("id")
    return Record(number, text, dict(context), values, str(source) if source else None)  # type: ignore[arg-type]


def _doc_value(name: str, number: int, doc: Any, strings: Any, options: ReadOptions) -> Any:
    """The document's own answer, as spaCy's Doc gives it: doc.ents only where a token has
    an entity tag (spaCy's has_annotation("ENT_IOB")), else the span group asked for (or
    "sc"), doc.cats for classification and multilabel."""
    from app.core.io.formats.spacy_stream import Corrupt

    if options.task_type == "spans":
        key = options.spans_key
        if key is None and not doc.tagged and SPANS_KEY in doc.spans:
            key = SPANS_KEY
        if key is not None:
            if key not in doc.spans:
                return None
            return [
                {"start": start, "end": end, "label": strings.text(label)}
                for label, start, end in doc.spans[key]
            ]
        if not doc.tagged:
            return None
        if doc.ents_problem is not None:
            raise Corrupt(doc.ents_problem)
        ents = doc.ents
        spans = []
        for i in range(0, len(ents), 3):
            label = strings.text(ents[i + 2])
            if label:  # spaCy drops an entity whose label is ""
                spans.append({"start": ents[i], "end": ents[i + 1], "label": label})
        return spans
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
