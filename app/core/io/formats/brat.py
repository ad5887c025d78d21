"""BRAT standoff: a folder of NAME.txt texts, each with a NAME.ann of annotations.

    T1<TAB>Label START END<TAB>mention            a span (offsets in characters of NAME.txt)
    T2<TAB>Label 0 5;10 15<TAB>mention mention    a discontinuous span: refused, never dropped

Relations, events, attributes, normalisations and notes (R, E, A, N, #, *) have no place in a
Tagloop annotation and are left out. The .txt is read byte-exact (a CRLF counts two characters,
as in BRAT), and each span's mention is checked against its slice. A text without a .ann, or
with an empty one, stays unlabelled; a .txt or .ann that is a symbolic link leading out of the
folder is refused (it would import a file the user never chose). The writer writes the pairs
and an annotation.conf that declares the labels (any whitespace in a label as '_'), so BRAT
opens the folder as it is.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from app.core.errors import DataError
from app.core.fileio import open_regular
from app.core.io import longtext
from app.core.io.decoding import nul_error
from app.core.io.formats.annotated import (
    atomic_folder,
    checked_span,
    document_name,
    final_value,
    record_text,
    short,
    spans_for_task,
)
from app.core.io.formats.base import AnnotatorValue, ReadOptions, Record, WriteContext, WriteReport
from app.core.io.longslice import Slices
from app.core.io.longtext import LongText
from app.core.jobs import CancelCheck, Progress, check_cancel

NAME = "brat"
DESCRIPTION = "BRAT standoff: a folder of .txt texts with .ann span annotations"
SUFFIXES = (".ann",)
TABULAR = False
MULTI_ANNOTATOR = False  # one value per document: the exporter writes the final value

_SPAN = re.compile(r"^T\S*\t(\S+) (\d+ \d+(?:;\d+ \d+)*)(?:\t(.*))?$")
_KINDS = "TRENAM#*"  # the first letter of every BRAT annotation id
_ANN_HEAD = re.compile(rb"^(?:[TRNAME#*]\w*\t)", re.MULTILINE)
_ONE_LINE = re.compile(r"[\r\n\t\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SPACE = re.compile(r"\s")  # every Unicode whitespace: each would break a .ann line's fields
READ = 1 << 20  # bytes of a text read at a time


def detect(path: Path, head: bytes) -> float:
    path = Path(path)
    if path.is_dir():
        return 0.9 if any(path.glob("*.ann")) else 0.0
    if path.suffix.lower() == ".ann":
        return 0.9 if not head.strip() or _ANN_HEAD.match(head) else 0.4
    return 0.0


def _texts(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        texts = sorted(path.glob("*.txt"))
    elif path.suffix.lower() in (".ann", ".txt"):
        text = path.with_suffix(".txt")
        if not text.is_file():
            raise DataError(str(path), None, f"its text {text.name} is not beside it")
        texts = [text]
    else:
        raise DataError(str(path), None, "a BRAT import is a folder of .txt and .ann files")
    folder = _real(path if path.is_dir() else path.parent)
    for text in texts:
        _check_inside(text, folder)
        _check_inside(text.with_suffix(".ann"), folder)
    return texts


def _real(path: Path) -> Path:
    """The path with every symbolic link followed; a DataError for a link loop."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # a loop: RuntimeError up to Python 3.12
        raise DataError(str(path), None, f"cannot be read: {exc}") from None


def _check_inside(path: Path, folder: Path) -> None:
    """A text or .ann that is a symbolic link leading out of the folder is refused: it would
    import a file the user never chose (/etc/passwd, a key) into the project and its
    exports. A link to another file of the folder is allowed."""
    if not path.is_symlink():
        return
    if not _real(path).is_relative_to(folder):
        raise DataError(
            str(path), None, "a link to a file outside the folder: refused (copy the file in)"
        )


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    texts = _texts(path)
    if not texts:
        raise DataError(str(path), None, "no .txt files in this folder")
    encoding = options.encoding or "utf-8-sig"
    for number, txt in enumerate(texts, 1):
        _check_size(txt, options.max_field)
        text = _read_text(txt, encoding, options.long_bytes)
        ann = txt.with_suffix(".ann")
        if ann.exists():
            _check_size(ann, options.max_field)
        spans = list(_spans(ann, text, encoding)) if ann.exists() else []
        values: tuple[AnnotatorValue, ...] = ()
        if spans:
            value = spans_for_task(str(ann), 1, options.task_type, spans, NAME)
            values = (AnnotatorValue(value),)
        box = [Record(number, text, {"document": txt.stem}, values, txt.stem)]  # type: ignore[arg-type]
        del text, spans, values  # the text is the record's alone while it is imported
        yield box.pop()


def _check_size(path: Path, limit: int) -> None:
    """A text over the field cap (--max-field-mb) is refused before it is read."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(str(path), None, f"cannot be read: {exc.strerror or exc}") from None
    if size > limit:
        raise DataError(str(path), None, f"{size:,} bytes: over the {limit:,}-byte field limit")


def _read_text(path: Path, encoding: str, long_bytes: bool = False) -> str | LongText:
    """The text of `path`; with `long_bytes`, a UTF-8 text of more than longtext.LONG_TEXT
    characters as a LongText: its bytes, never one str (which held up to twice their size,
    beside them)."""
    try:
        with open_regular(path) as handle:  # a FIFO or /dev/zero named NAME.txt: refused
            data = _read_all(handle)
    except OSError as exc:
        raise DataError(str(path), None, f"cannot be read: {exc.strerror or exc}") from None
    if encoding.lower().replace("_", "-").startswith("utf-8") and b"\x00" in data:
        raise nul_error(str(path), data.count(b"\n", 0, data.index(b"\x00")) + 1)
    codec = _utf8(encoding) if long_bytes and len(data) > longtext.LONG_TEXT else None
    if codec is not None:
        if codec == "utf-8-sig" and data.startswith(codecs.BOM_UTF8):
            del data[:3]
        try:
            return longtext.text_of(data)
        except longtext.BadUtf8 as bad:
            line = data.count(b"\n", 0, bad.offset) + 1
            raise DataError(
                str(path), line, f"not {encoding} text (byte {bad.offset:,}: {bad.error.reason})"
            ) from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(
            str(path), line, f"not {encoding} text (byte {exc.start:,}: {exc.reason})"
        ) from None
    except UnicodeError as exc:  # a decoder that gives no position (punycode)
        raise DataError(str(path), None, f"not {encoding} text ({exc})") from None
    except LookupError:
        raise DataError(str(path), None, f"unknown encoding {encoding!r}") from None


def _read_all(handle: BinaryIO) -> bytearray:
    """The file's bytes, read into one buffer of its size (bytes joined, or a buffer grown as
    it is read, held the text twice, or a share more, for a moment)."""
    data = bytearray(os.fstat(handle.fileno()).st_size)
    with memoryview(data) as view:
        filled = 0
        while filled < len(view) and (count := handle.readinto(view[filled:])):
            filled += count
    del data[filled:]  # the file was cut short meanwhile
    while piece := handle.read(READ):  # or it grew
        data += piece
    return data


def _utf8(encoding: str) -> str | None:
    """ "utf-8" or "utf-8-sig" if `encoding` is one of them, else None."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    return name if name in ("utf-8", "utf-8-sig") else None


def _spans(ann: Path, text: str | LongText, encoding: str) -> Iterator[dict[str, Any]]:
    """The spans of a .ann, each checked against the text (a LongText on slices of its
    UTF-8: app.core.io.longslice)."""
    name = str(ann)
    if text.__class__ is LongText:
        text = Slices(text)  # type: ignore[arg-type,assignment]
    for number, line in enumerate(_read_text(ann, encoding).splitlines(), 1):  # type: ignore[union-attr]
        if not line.strip():
            continue
        if line[0] not in _KINDS:
            raise DataError(name, number, f"not a BRAT annotation line: {line[:80]!r}")
        if not line.startswith("T"):
            continue  # relations, events, attributes, notes: nothing a span can hold
        match = _SPAN.match(line)
        if match is None:
            raise DataError(name, number, f"not a BRAT text-bound annotation: {line[:80]!r}")
        label, where, mention = match.groups()
        if ";" in where:
            raise DataError(
                name,
                number,
                f"discontinuous span {short(where)} ({short(label)}): Tagloop spans are "
                "continuous; split it into one T line per fragment, or join the fragments, and "
                "import again",
            )
        start, end = where.split()
        yield checked_span(name, number, text, start, end, label, mention, True)


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    """NAME.txt (the text, byte-exact) and NAME.ann (its spans) per record, and the labels in
    annotation.conf. BRAT has one annotation set per text: the record's agreed or final value."""
    report = WriteReport()
    unagreed = 0
    with atomic_folder(Path(out)) as folder:
        for index, record in enumerate(records, 1):
            if index % 500 == 0:
                check_cancel(cancel)
                progress(index, None, f"Writing {Path(out).name}")
            stem = document_name(record, index)
            text = record_text(record, context)
            (folder / f"{stem}.txt").write_text(text, encoding="utf-8", newline="")
            value = final_value(record)
            if value is None and any(a.get("value") for a in record.get("annotations") or ()):
                unagreed += 1
            lines = []
            if context.task_type == "spans" and isinstance(value, list):
                ordered = sorted(value, key=lambda s: (s["start"], s["end"], s["label"]))
                for number, span in enumerate(ordered, 1):
                    start, end = span["start"], span["end"]
                    mention = _ONE_LINE.sub(" ", text[start:end])
                    label = _label(span["label"])
                    lines.append(f"T{number}\t{label} {start} {end}\t{mention}\n")
            (folder / f"{stem}.ann").write_text("".join(lines), encoding="utf-8", newline="")
            report.written = index
        entities = "\n".join(_label(label) for label in context.labels)
        conf = f"[entities]\n{entities}\n[relations]\n[events]\n[attributes]\n"
        (folder / "annotation.conf").write_text(conf, encoding="utf-8")
    if unagreed:
        report.warnings.append(
            f"{unagreed} text(s) whose annotators disagree were written without spans (BRAT"
            " holds one annotation set per text; export with --values final to resolve them)"
        )
    if any(_SPACE.search(str(label)) for label in context.labels):
        report.warnings.append("BRAT labels cannot hold spaces: they were written with '_'")
    return report


def _label(label: object) -> str:
    """The label as BRAT can hold it: every whitespace character (a no-break space too) as
    '_', since the .ann line splits its fields on whitespace."""
    return _SPACE.sub("_", str(label))
