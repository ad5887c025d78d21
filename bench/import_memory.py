"""Peak memory of importing ONE big field, per import format, relative to the field's size.

Issue 14's target: peak memory <= 3x the largest accepted field. For each format, a file holds
a short record, then one whose text is `--sizes` MB of real text (NCBI Disease abstracts from
../shared/data, repeated); the import includes building the search index. Three variants,
because the width of a Python str changes with its widest character: `ascii`; `latin` (every
abstract starts with "Étude:", so the str is still one byte a character, the UTF-8 a little
longer); `cjk` (every abstract ends with a CJK word: the str is two bytes a character, about
twice the UTF-8 of mostly ASCII text).

Each import runs in a fresh subprocess on a project made beforehand by another process. The
child imports the modules and imports a one-line file of the same format (warm-up), then reads
its RSS, resets the peak (`echo 5 > /proc/self/clear_refs`), imports the big file and reads
its peak RSS (VmHWM). Printed: (peak - RSS before) / the field's UTF-8 size. With --phases,
each cell is "rows / total": the peak while the rows go in (the import with index=False), then
the peak of the whole import once the search index is built too (app.core.storage.fts).

    nice -n 10 python bench/import_memory.py                 # every format, 8 and 16 MB
    python bench/import_memory.py --formats csv txt --sizes 4 --variants ascii
    python bench/import_memory.py --label-column --formats csv json parquet --sizes 16
    python bench/import_memory.py --context --formats csv jsonl arrow --sizes 16

Formats beyond the default ones: pubtator, brat, bioc (its text node is capped at 10 MB by
libxml2 when written: use --sizes 8), parquet, arrow, spacy (a DocBin; writing it takes
spaCy's tokenizer a while: --sizes 4 is quicker), conll (one sentence of 99,000 tokens of the
field's size: long tokens, since a sentence holds under 100,000) and conll-words (real words:
at most about 0.65 MB).

Figures of 2026-12-02 (`--phases --sizes 16`, bioc 8, spacy 4; whole import, ascii / latin /
cjk): csv, tsv, jsonl, txt 2.08-2.11; json and labelstudio 2.17-2.30; prodigy and doccano
2.09-2.19; pubtator and brat 2.14-2.16 / 2.97-2.98 cjk -> 2.07-2.08 (a long text is its
UTF-8, never a str of up to twice its size); conll 2.22-2.23; bioc 2.28-2.30; arrow 2.15-2.16;
parquet 3.09-3.19 -> 2.17 (Arrow's reader held about 2.9x: the dictionary page unpacked, the
dictionary, the dense array; a column of long texts is now read page by page, each text a view
of its page: app.core.io.formats.parquet_pages; bench/parquet_memory.py measures other writers'
layouts); spacy 60.9-61.3 -> 2.66-2.72 at 4 MB (spaCy read a DocBin whole; now it is read as a
stream, a document at a time: app.core.io.formats.spacy_stream), 2.17-2.18 at 16 MB (txt
2.14-2.15 in the same run). At 8 MB: pubtator and brat 2.12-2.16, parquet 2.32-2.33.
With a label column (`--label-column --sizes 16 --phases`, whole import, ascii / cjk): csv,
tsv 2.09 / 3.03; json 2.17 / 4.06; jsonl 2.07 / 3.09; parquet 2.17 / 3.02; arrow 2.14 / 3.00 ->
2.13-2.20 / 2.13-2.32 (session 7: a label column no longer made the long text a str).
With the big field in a context input (`--context`, same formats): 4.06-4.18 / 7.06-7.25 ->
2.07-2.25 / 2.11-2.40 (its JSON is written from the field's UTF-8 a chunk at a time:
app.core.io.longcontext; before, the cell's str, the context's JSON str and SQLite's copy).
conll-words, a 0.65 MB field, is 6.9: about 4 MB of fixed cost (the import's page cache and
buffers, then the index's), the same as txt's at that size.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._data import data_file  # noqa: E402

MB = 1 << 20
FAST = ("csv", "tsv", "json", "jsonl", "txt")
PEER = ("labelstudio", "prodigy", "doccano")
VARIANTS = ("ascii", "latin", "cjk")  # and `words`, on request


def abstracts(variant: str) -> list[str]:
    """The NCBI Disease titles + abstracts, as one line each (with the variant's marks)."""
    texts: list[str] = []
    for line in data_file("ncbi_disease_train.pubtator").open(encoding="utf-8"):
        if "|a|" in line[:20]:
            body = line.split("|", 2)[2].strip()
            if variant == "latin":
                body = "Étude: " + body
            elif variant == "cjk":
                body = body + " 疾病研究。"
            texts.append(body)
    return texts


def field(size: int, variant: str) -> str:
    """Real text of exactly `size` UTF-8 bytes (give or take a character at the end); the
    `words` variant is "word word ..." (no quote to escape: the fuzz corpus's measure)."""
    texts = ["word"] if variant == "words" else abstracts(variant)
    parts: list[str] = []
    total = 0
    i = 0
    while total < size:
        piece = texts[i % len(texts)] + " "
        parts.append(piece)
        total += len(piece.encode("utf-8"))
        i += 1
    text = "".join(parts)
    data = text.encode("utf-8")[:size]
    return data.decode("utf-8", errors="ignore").rstrip()


def conll_text(text: str, count: int) -> str:
    """`text` as `count` tokens joined by single spaces, each of its words joined by "_" (a
    CoNLL sentence holds under 100,000 tokens, so its largest text has long tokens: biomedical
    sequences, URLs, or text tokenised badly)."""
    words = text.split()
    per = -(-len(words) // count)
    return " ".join("_".join(words[i : i + per]) for i in range(0, len(words), per))


def file_bytes(fmt: str, text: str, layout: str = "text") -> bytes:
    """A file of `fmt` holding a short record, then `text` as the last record's text (the last
    row's values stay bound in the INSERT statement's cache: the harder case). Layout "label":
    a label column too (every row labelled "a"); "context": `text` is the last record's
    `note` (a context input), its text a short one."""
    small = "A short second record."
    rows = table(text, layout)
    lines = [list(rows), *zip(*rows.values(), strict=True)]
    records = [dict(zip(rows, values, strict=True)) for values in lines[1:]]
    if fmt == "txt":
        body = f"{small}\n{text}\n"
    elif fmt == "tsv":  # TSV has no quoting: a cell is written as it is
        body = "".join("\t".join(line) + "\n" for line in lines)
    elif fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(lines)
        body = out.getvalue()
    elif fmt in ("jsonl", "prodigy", "doccano"):
        extra: dict = {"answer": "accept"} if fmt == "prodigy" else {}
        if fmt == "doccano":
            extra = {"label": []}
        body = "".join(json.dumps({**r, **extra}, ensure_ascii=False) + "\n" for r in records)
    elif fmt == "labelstudio":
        body = json.dumps([{"data": {"text": small}}, {"data": {"text": text}}], ensure_ascii=False)
    else:  # json
        body = json.dumps(records, ensure_ascii=False)
    return body.encode("utf-8")


def table(text: str, layout: str) -> dict[str, list[str]]:
    """The columns of the two records: the short one, then the one holding `text`."""
    small = "A short second record."
    if layout == "context":
        return {"text": [small, "A short text."], "note": ["a note", text]}
    if layout == "label":
        return {"text": [small, text], "label": ["a", "a"]}
    return {"text": [small, text]}


SUFFIX = {
    "conll-words": "conll",
    "labelstudio": "json",
    "prodigy": "jsonl",
    "doccano": "jsonl",
    "bioc": "bioc.xml",
    "brat": "ann",
}
# the formats --label-column and --context write
LABELLED = ("csv", "tsv", "json", "jsonl", "parquet", "arrow")
# imported into a spans project
SPANS = ("conll", "conll-words", "bioc", "pubtator", "brat", "spacy")
# Written by Tagloop's own exporter from a scratch project holding the two records.
EXPORTED = ("bioc", "pubtator", "brat", "parquet", "arrow")


def write_file(directory: Path, fmt: str, text: str, stem: str, layout: str = "text") -> Path:
    path = directory / f"{stem}-{fmt}.{SUFFIX.get(fmt, fmt)}"
    if layout != "text" and fmt in ("parquet", "arrow"):  # the columns, as pyarrow writes them
        import pyarrow as pa
        import pyarrow.feather as feather
        import pyarrow.parquet as pq

        columns = pa.table(table(text, layout))
        if fmt == "parquet":
            pq.write_table(columns, path)
        else:
            feather.write_feather(columns, path, compression="uncompressed")
    elif fmt in EXPORTED:
        export_records(directory, fmt, text, path)
    elif fmt == "spacy":
        write_docbin(path, text)
    elif fmt in ("conll", "conll-words"):  # one token a line; the text: the tokens, spaced
        tokens = ["A", "short", "second", "record."], text.split()
        body = "\n\n".join("".join(f"{token}\tO\n" for token in doc) for doc in tokens)
        path.write_bytes(body.encode("utf-8"))
    else:
        path.write_bytes(file_bytes(fmt, text, layout))
    return path


def write_docbin(path: Path, text: str) -> None:
    """A spaCy DocBin of a short doc and `text`, tokenised by a blank English pipeline (no
    entities: the import reads them as unanswered)."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    nlp.max_length = len(text) + 1
    docs = [nlp.make_doc("A short second record."), nlp.make_doc(text)]
    DocBin(docs=docs, store_user_data=True).to_disk(path)


def export_records(directory: Path, fmt: str, text: str, path: Path) -> None:
    """`path` in `fmt`, made by the exporter from a scratch project (in this process: the
    measured import runs in another)."""
    from app.core.io.export import export_file
    from app.core.io.importer import import_dataset
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project

    scratch = directory / f"scratch-{path.stem}.tagloop"
    source = directory / f"scratch-{path.stem}.jsonl"
    rows = [{"text": "A short second record."}, {"text": text}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    with create_project(scratch, "spans", [LabelSpec("a")]) as project:
        import_dataset(project, source, max_field=len(text.encode("utf-8")) + MB, index=False)
        export_file(project, path, fmt)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    source.unlink()


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/self/status")


def child(
    project_path: Path, warm: Path, path: Path, fmt: str, max_field: int, layout: str = "text"
) -> None:
    """Runs in the subprocess: warm up, then import `path`; prints baseline and peak KB."""
    from app.core.io import importer
    from app.core.io.importer import import_dataset
    from app.core.project.project import open_project
    from app.core.storage import fts

    if os.environ.get("TAGLOOP_INSERT_CACHE_KB"):  # what the importer's page cache costs
        importer.INSERT_CACHE_KB = int(os.environ["TAGLOOP_INSERT_CACHE_KB"])

    fmt = fmt.removesuffix("-words")  # conll-words: CoNLL with real words
    options: dict = {}
    if layout == "label":
        options["label_column"] = "label"
    elif layout == "context":
        options["mapping"] = {"text": "text", "note": "note"}
    with open_project(project_path) as project:
        import_dataset(project, warm, fmt=fmt, **options)
        import gc

        gc.collect()
        before = _status_kb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
        report = import_dataset(project, path, fmt=fmt, max_field=max_field, index=False, **options)
        rows_peak = _status_kb("VmHWM")
        fts.index_pending(project)
        peak = _status_kb("VmHWM")
    print(json.dumps({"before": before, "peak": peak, "rows_peak": rows_peak, "rows": report.rows}))


def create(project_path: Path, task: str, layout: str = "text") -> None:
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project

    inputs = ["text", "note"] if layout == "context" else None
    create_project(project_path, task, [LabelSpec("a")], inputs=inputs).close()


def run_child(args: list[str], work: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TAGLOOP_CONFIG_DIR": str(work / "config")}
    done = subprocess.run(
        [sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout


def measure(
    work: Path, fmt: str, variant: str, size_mb: float, layout: str = "text"
) -> tuple[float, float]:
    """(peak - before) / field bytes of one import, in a fresh process: while the rows go in,
    and in all (the search index built too)."""
    size = int(size_mb * MB)
    text = field(size, variant)
    if fmt == "conll":  # one sentence of the field's size: 99,000 long tokens
        text = conll_text(text, 99_000)
    elif fmt == "conll-words":  # real words: a sentence holds < 100,000 (about 0.65 MB)
        text = " ".join(text.split()[:99_000])
    nbytes = len(text.encode("utf-8"))
    path = write_file(work, fmt, text, f"{variant}{size_mb:g}", layout)
    warm = write_file(work, fmt, "Warm-up record of the same format.", "warm", layout)
    del text
    project = work / f"{fmt}-{variant}-{size_mb:g}.tagloop"
    task = "spans" if fmt in SPANS else "classification"
    run_child(["create", str(project), task, layout], work)
    args = ["import", str(project), str(warm), str(path), fmt, str(nbytes + MB)]
    out = run_child([*args, layout], work)
    found = json.loads(out.strip().splitlines()[-1])
    assert found["rows"] == 2, found
    for suffix in ("", "-wal", "-shm"):
        Path(f"{project}{suffix}").unlink(missing_ok=True)
    for made in work.glob(f"*-{fmt}*"):
        shutil.rmtree(made) if made.is_dir() else made.unlink()
    growth = [(found[key] - found["before"]) * 1024 / nbytes for key in ("rows_peak", "peak")]
    return growth[0], growth[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--formats", nargs="+", default=[*FAST, *PEER])
    parser.add_argument("--sizes", nargs="+", type=float, default=[8, 16])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--phases", action="store_true", help="print rows / total per cell")
    parser.add_argument(
        "--label-column",
        action="store_true",
        help=f"import with a label column (formats {', '.join(LABELLED)})",
    )
    parser.add_argument(
        "--context",
        action="store_true",
        help=f"the big field is a context input's, not the text (formats {', '.join(LABELLED)})",
    )
    args = parser.parse_args()
    layout = "label" if args.label_column else "context" if args.context else "text"
    if args.label_column and args.context:
        parser.error("--label-column or --context, not both")
    if layout != "text" and not set(args.formats) <= set(LABELLED):
        parser.error(
            f"--{layout.replace('label', 'label-column')} takes the formats {', '.join(LABELLED)}"
        )
    width = 13 if not args.phases else 15
    header = f"{'format':<12}" + "".join(
        f"{f'{v} {s:g}MB':>{width}}" for v in args.variants for s in args.sizes
    )
    print("peak RSS growth / field bytes (target <= 3.0)")
    print(header)
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="tagloop-memory-") as tmp:
        work = Path(tmp)
        for fmt in args.formats:
            cells = []
            for variant in args.variants:
                for size in args.sizes:
                    rows, ratio = measure(work, fmt, variant, size, layout)
                    worst = max(worst, ratio)
                    cell = f"{rows:.2f} / {ratio:.2f}" if args.phases else f"{ratio:.2f}"
                    cells.append(f"{cell:>{width}}")
            print(f"{fmt:<12}" + "".join(cells), flush=True)
    print(f"worst: {worst:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "create":
        create(Path(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "import":
        project, warm, path = (Path(arg) for arg in sys.argv[2:5])
        child(project, warm, path, sys.argv[5], int(sys.argv[6]), sys.argv[7])
    else:
        main()
