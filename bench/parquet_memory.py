"""Peak memory of importing ONE big Parquet cell, for each way a writer lays it out.

bench/import_memory.py measures the Parquet file Tagloop's exporter writes (a dictionary page,
Snappy). Other writers use other layouts: the text as a PLAIN data page (no dictionary), data
pages v2, and other codecs. Each file here is written by pyarrow directly (columns id, text,
label: a short record, then the field), and measured as import_memory.py measures (a fresh
process, the same warm-up, (peak - RSS before) / the field's UTF-8 size, the search index
included).

    nice -n 10 python bench/parquet_memory.py                    # every layout, 8 and 16 MB
    python bench/parquet_memory.py --layouts plain-none --sizes 4 --variants cjk

Figures of 2026-12-02 (ascii / latin / cjk), before -> after the page reader
(app.core.io.formats.parquet_pages), 16 MB: dict-snappy, dict-zstd, dict-gzip, dict-v2
3.09-3.19 -> 2.16-2.18; dict-none 2.16 -> 2.15-2.16; plain-snappy, plain-zstd, plain-gzip,
plain-none, plain-v2 2.16-2.19 -> 2.15-2.18 (Arrow read a PLAIN page with one copy less). At
8 MB, after: 2.30-2.35 for every layout (a fixed cost of about 1.3 MB: the index's).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.import_memory import MB, VARIANTS, field, run_child  # noqa: E402

LAYOUTS = {  # name: (use_dictionary, compression, data page version)
    "dict-snappy": (True, "snappy", "1.0"),
    "dict-zstd": (True, "zstd", "1.0"),
    "dict-gzip": (True, "gzip", "1.0"),
    "dict-none": (True, "none", "1.0"),
    "plain-snappy": (False, "snappy", "1.0"),
    "plain-zstd": (False, "zstd", "1.0"),
    "plain-gzip": (False, "gzip", "1.0"),
    "plain-none": (False, "none", "1.0"),
    "plain-v2": (False, "snappy", "2.0"),
    "dict-v2": (True, "zstd", "2.0"),
}


def write(path: Path, text: str, layout: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dictionary, codec, version = LAYOUTS[layout]
    table = pa.table({"id": ["1", "2"], "text": ["A short second record.", text], "label": [0, 1]})
    pq.write_table(
        table, path, use_dictionary=dictionary, compression=codec, data_page_version=version
    )


def measure(work: Path, layout: str, variant: str, size_mb: float) -> float:
    text = field(int(size_mb * MB), variant)
    nbytes = len(text.encode("utf-8"))
    path, warm = work / f"{layout}-{variant}.parquet", work / "warm.parquet"
    write(path, text, layout)
    write(warm, "Warm-up record of the same format.", layout)
    del text
    project = work / f"{layout}-{variant}.tagloop"
    run_child(["create", str(project), "classification"], work)
    out = run_child(
        ["import", str(project), str(warm), str(path), "parquet", str(nbytes + MB)], work
    )
    found = json.loads(out.strip().splitlines()[-1])
    assert found["rows"] == 2, found
    for made in work.glob(f"{layout}-{variant}*"):
        made.unlink()
    return (found["peak"] - found["before"]) * 1024 / nbytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS))
    parser.add_argument("--sizes", nargs="+", type=float, default=[8, 16])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    args = parser.parse_args()
    print("peak RSS growth / field bytes (target <= 3.0)")
    print(
        f"{'layout':<14}"
        + "".join(f"{f'{v} {s:g}MB':>12}" for v in args.variants for s in args.sizes)
    )
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="tagloop-parquet-") as tmp:
        for layout in args.layouts:
            cells = []
            for variant in args.variants:
                for size in args.sizes:
                    ratio = measure(Path(tmp), layout, variant, size)
                    worst = max(worst, ratio)
                    cells.append(f"{ratio:>12.2f}")
            print(f"{layout:<14}" + "".join(cells), flush=True)
    print(f"worst: {worst:.2f}x")


if __name__ == "__main__":
    main()
