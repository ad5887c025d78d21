"""Reading a spaCy DocBin: the streaming reader (formats/spacy_stream.py) against the reader
built on spaCy's own DocBin (tests/unit/docbin_oracle.py), in CPU seconds.

The DocBin: `--docs` documents, the NCBI Disease abstracts (train) over and over, tokenised
by a blank English pipeline, their mentions as doc.ents and as doc.spans["sc"]. Each reader
reads it `--repeat` times, in turns; the least CPU time of each is printed, with records/s.

    nice -n 10 python bench/docbin_speed.py [--docs 20000] [--repeat 3]

Figures of 2026-12-02 (--repeat 2, under load from other jobs), 20,000 documents, the file
32.2 MB: doc.ents, spaCy's DocBin 17.15 s CPU -> streaming 3.18 s (1,166 -> 6,282 docs/s);
doc.spans["sc"] (--spans-key sc), 17.93 -> 2.67 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.io.formats import spacy as spacy_format  # noqa: E402
from app.core.io.formats.base import ReadOptions  # noqa: E402
from bench._data import data_file  # noqa: E402
from tests.unit.docbin_oracle import read_with_spacy  # noqa: E402


def abstracts() -> list[tuple[str, list[tuple[int, int, str]]]]:
    """(title + " " + abstract, its mentions) of each NCBI Disease training document."""
    docs: list[tuple[str, list[tuple[int, int, str]]]] = []
    title = ""
    for line in data_file("ncbi_disease_train.pubtator").open(encoding="utf-8"):
        parts = line.rstrip("\n").split("|", 2)
        if len(parts) == 3 and parts[1] == "t":
            title = parts[2]
        elif len(parts) == 3 and parts[1] == "a":
            docs.append((title + " " + parts[2], []))
        elif "\t" in line:
            fields = line.split("\t")
            docs[-1][1].append((int(fields[1]), int(fields[2]), fields[4]))
    return docs


def write(path: Path, count: int) -> None:
    import spacy
    from spacy.tokens import DocBin
    from spacy.util import filter_spans

    nlp = spacy.blank("en")
    source = abstracts()
    made = []
    for text, mentions in source:
        doc = nlp.make_doc(text)
        spans = [doc.char_span(s, e, label, alignment_mode="expand") for s, e, label in mentions]
        spans = [s for s in spans if s is not None]
        doc.spans["sc"] = spans
        doc.ents = filter_spans(spans)
        made.append(doc)
    bin_ = DocBin(store_user_data=True)
    for i in range(count):
        bin_.add(made[i % len(made)])
    bin_.to_disk(path)


def cpu(read, path: Path, options: ReadOptions) -> tuple[float, int]:
    started = time.process_time()
    count = sum(1 for _ in read(path, options))
    return time.process_time() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ncbi.spacy"
        write(path, args.docs)
        print(f"{args.docs:,} documents, {path.stat().st_size / 1e6:.1f} MB")
        for options in (ReadOptions("spans"), ReadOptions("spans", spans_key="sc")):
            best = {"spaCy DocBin": float("inf"), "streaming": float("inf")}
            for _ in range(args.repeat):
                for name, read in (("spaCy DocBin", read_with_spacy), ("streaming", None)):
                    seconds, count = cpu(read or spacy_format.read, path, options)
                    best[name] = min(best[name], seconds)
            shown = ", ".join(f"{k} {v:.2f} s ({count / v:,.0f} docs/s)" for k, v in best.items())
            print(f"spans_key={options.spans_key}: {shown}")


if __name__ == "__main__":
    main()
