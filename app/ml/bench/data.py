"""Labeled examples from a file, for al-bench and benchmarks: CSV/TSV/JSONL with a text and a
label column (names guessed), or NCBI PubTator (spans, or multilabel mention types)."""

from __future__ import annotations

from pathlib import Path

from app.core.fileio import open_regular
from app.ml.types import Example

TEXT_NAMES = ("text", "sms", "message", "sentence", "content", "body", "document", "review")
LABEL_NAMES = ("label", "labels", "class", "category", "target", "y", "tag", "tags")


def _pick(columns: list[str], names: tuple[str, ...], what: str, path: Path) -> str:
    lowered = {column.lower().strip(): column for column in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    raise ValueError(f"{path}: no {what} column (looked for {', '.join(names)}); has {columns}")


def _multi(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part.strip() for part in str(value).replace(";", "|").split("|") if part.strip()]


def read_examples(
    path: Path | str, task: str, fmt: str | None = None
) -> tuple[list[Example], list[str]]:
    """Examples and the sorted label set. PubTator for multilabel gives each document's set of
    mention types ([] when it has none); for spans, its mentions. `fmt` (csv, tsv, json, jsonl,
    txt) is the file's format; None: from its suffix."""
    from app.core.io.readers import detect_format, open_source

    path = Path(path)
    _check_regular(path)
    if path.suffix.lower() in (".pubtator", ".pubtator3") or path.name.endswith(".pubtator.txt"):
        return _pubtator(path, task)
    fmt = detect_format(path, fmt)
    examples: list[Example] = []
    with open_regular(path) as raw:
        import io

        source = open_source(path, io.BufferedReader(raw), fmt)
        records = source.records
        if fmt in ("csv", "tsv"):
            columns = source.columns
        else:
            first = next(records, None)
            if first is None:
                return [], []
            columns = list(first[1]) if isinstance(first[1], dict) else []
            records = _chain(first, records)
        text_col = _pick(columns, TEXT_NAMES, "text", path)
        label_col = _pick(columns, LABEL_NAMES, "label", path)
        get_text = source.getter(text_col)
        get_label = source.getter(label_col, True)
        for line, record in records:
            text = str(get_text(record, line))
            value = get_label(record, line)
            if task == "classification":
                if value is None or value == "":
                    continue
                examples.append(Example(text, str(value)))
            elif task == "multilabel":
                examples.append(Example(text, _multi(value)))
            else:
                raise ValueError(f"{path}: task {task!r} needs a PubTator file")
    return examples, _labels(examples, task)


def _check_regular(path: Path) -> None:
    """A FIFO (or a device, or a folder) is refused before a reader blocks on it: al-bench on
    a FIFO waited forever (red team, session 6)."""
    from app.core.io.preview import open_file  # the DataError naming the file

    open_file(path).close()


def _chain(first, rest):
    yield first
    yield from rest


def _labels(examples: list[Example], task: str) -> list[str]:
    found: set[str] = set()
    for example in examples:
        if task == "classification":
            found.add(example.value)
        elif task == "multilabel":
            found.update(example.value)
        else:
            found.update(span["label"] for span in example.value)
    return sorted(found)


def _pubtator(path: Path, task: str) -> tuple[list[Example], list[str]]:
    from app.core.io.demo import read_pubtator

    examples: list[Example] = []
    for document in read_pubtator(path):
        if task == "multilabel":
            examples.append(Example(document.text, sorted({s["label"] for s in document.spans})))
        elif task == "spans":
            spans = [
                {"start": s["start"], "end": s["end"], "label": s["label"]} for s in document.spans
            ]
            examples.append(Example(document.text, spans))
        else:
            raise ValueError(f"{path}: a PubTator file gives multilabel or spans, not {task!r}")
    return examples, _labels(examples, task)


def pubtator_sentences(paths: list[Path], question: str) -> tuple[list[Example], list[str]]:
    """Text unlike SMS for the al-bench: the sentences of PubTator abstracts, classified by
    `question`: "mention" (does it hold a disease mention: yes/no) or "type" (its dominant
    mention type, or "none"). Sentences split at . ! ? followed by a space."""
    import re
    from collections import Counter

    from app.core.io.demo import read_pubtator

    if question not in ("mention", "type"):
        raise ValueError(f"unknown sentence question {question!r}; use mention or type")
    examples: list[Example] = []
    for path in paths:
        for document in read_pubtator(Path(path)):
            start = 0
            for piece in re.split(r"(?<=[.!?])\s+", document.text):
                begin = document.text.index(piece, start)
                end = begin + len(piece)
                start = end
                if len(piece) < 20:
                    continue
                inside = [s["label"] for s in document.spans if begin <= s["start"] < end]
                if question == "mention":
                    examples.append(Example(piece, "yes" if inside else "no"))
                else:
                    top = Counter(inside).most_common(1)
                    examples.append(Example(piece, top[0][0] if top else "none"))
    return examples, _labels(examples, "classification")


def short_texts(examples: list[Example], words: int = 12) -> list[Example]:
    """Proxy for short-text sets (questions, one-line reviews): each text cut to its first
    sentence, and to at most `words` words."""
    import re

    cut = []
    for example in examples:
        first = re.split(r"(?<=[.!?])\s+", example.text.strip(), maxsplit=1)[0]
        cut.append(Example(" ".join(first.split()[:words]), example.value))
    return cut


def pubtator_titles(paths: list[Path]) -> tuple[list[Example], list[str]]:
    """Proxy for short multi-class sets: PubMed titles only, classified by their dominant
    mention type ("none" when the title holds no mention)."""
    from collections import Counter

    examples: list[Example] = []
    for path in paths:
        title, types = "", []
        for line in [*Path(path).read_text(encoding="utf-8").splitlines(), ""]:
            if "|t|" in line[:20]:
                title, types = line.split("|t|", 1)[1], []
            elif "\t" in line:
                parts = line.split("\t")
                if len(parts) >= 5 and int(parts[1]) < len(title):
                    types.append(parts[4])
            elif not line.strip() and title:
                top = Counter(types).most_common(1)
                examples.append(Example(title, top[0][0] if top else "none"))
                title, types = "", []
    return examples, _labels(examples, "classification")
