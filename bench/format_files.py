"""File formats of issue #13 (parquet, arrow, xlsx, spacy): write and read N records of real
SMS texts, straight through each format module (no project), and print records/s each way.

    python bench/format_files.py [--rows 100000] [--formats parquet arrow xlsx spacy]

No target was set; the figures say what an import or export of that size costs. xlsx goes
through openpyxl's streaming modes and is the slow one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.io.formats import arrow, parquet, spacy, xlsx
from app.core.io.formats.base import ReadOptions, WriteContext
from bench._data import data_file

MODULES = {"parquet": parquet, "arrow": arrow, "xlsx": xlsx, "spacy": spacy}
OUTPUTS = {"parquet": "b.parquet", "arrow": "b_arrow", "xlsx": "b.xlsx", "spacy": "b.spacy"}


def records(rows: int) -> Iterator[dict]:
    lines = data_file("sms_spam.tsv").read_text(encoding="utf-8").splitlines()[1:]
    for i in range(rows):
        label, text = lines[i % len(lines)].split("\t", 1)
        yield {
            "id": str(i),
            "dataset": "sms",
            "row": i,
            "text": text,
            "status": "labeled",
            "flagged": False,
            "label": label,
            "annotations": [{"annotator": "uci", "value": label, "status": "complete"}],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--formats", nargs="+", default=list(MODULES), choices=list(MODULES))
    args = parser.parse_args()
    context = WriteContext("classification", ("ham", "spam"), "text")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.formats:
            module, out = MODULES[name], Path(tmp) / OUTPUTS[name]
            started = time.perf_counter()
            module.write(records(args.rows), out, context, lambda *a: None, lambda: False)
            wrote = time.perf_counter() - started
            started = time.perf_counter()
            count = sum(1 for _ in module.read(out, ReadOptions("classification")))
            read = time.perf_counter() - started
            print(
                f"{name:8} {args.rows:,} records: write {wrote:.2f} s ({args.rows / wrote:,.0f}/s),"
                f" read {read:.2f} s ({count / read:,.0f}/s)"
            )


if __name__ == "__main__":
    main()
