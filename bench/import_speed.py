"""Import speed: N rows (default 1,000,000) of real text into a new project, against raw sqlite3.

Prints rows/s for Tagloop's import (parse, validate, dedupe, insert, commit) and the time raw
sqlite3 takes to insert the same rows, already in memory, into a bare table. Targets (issue 2):
>= 250,000 rows/s and <= 3x the raw insert. The search index is built after the import commits
(app.core.storage.fts.index_pending; search is correct meanwhile): its time is printed
separately, and so is the total until the search index is ready.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TAGLOOP_CONFIG_DIR", tempfile.mkdtemp(prefix="tagloop-bench-"))

from bench._data import big_csv


def raw_insert_seconds(source: Path, directory: Path) -> float:
    with source.open(encoding="utf-8", newline="") as handle:
        rows = [(row[0],) for row in csv.reader(handle)][1:]
    db = directory / "raw.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (text TEXT)")
    started = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO t VALUES (?)", rows)
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def raw_file_import_seconds(source: Path, directory: Path) -> float:
    """The hand-written import a developer would start from: csv.reader streaming the same
    file straight into a bare table. Unlike raw_insert_seconds it also reads the file, which
    any import must do."""
    db = directory / "raw_file.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (text TEXT)")
    started = time.perf_counter()
    with source.open(encoding="utf-8", newline="") as handle, conn:
        reader = csv.reader(handle)
        next(reader)
        conn.executemany("INSERT INTO t VALUES (?)", ((row[0],) for row in reader))
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    from app.core.io.importer import import_dataset
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project
    from app.core.storage.fts import index_pending

    source = big_csv(args.rows)
    print(f"source: {source.name}, {source.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        raw = raw_insert_seconds(source, directory)
        raw_file = raw_file_import_seconds(source, directory)
        project = create_project(
            directory / "bench.tagloop", "classification", [LabelSpec("a"), LabelSpec("b")]
        )
        phases: dict[str, float] = {}
        last = [time.perf_counter(), "Reading"]

        def progress(done: int, total: int | None, message: str) -> None:
            now = time.perf_counter()
            phase = message.split(" ")[0]
            if phase != last[1]:
                phases[last[1]] = phases.get(last[1], 0) + now - last[0]
                last[0], last[1] = now, phase

        with project:
            started = time.perf_counter()
            report = import_dataset(project, source, progress=progress, index=False)
            seconds = time.perf_counter() - started
            indexed = index_pending(project, progress)
            index_seconds = time.perf_counter() - started - seconds
        phases[last[1]] = phases.get(last[1], 0) + time.perf_counter() - last[0]
    rate = report.rows / seconds
    print(f"tagloop import: {seconds:6.2f} s  {rate:>10,.0f} rows/s  (target >= 250,000)")
    print(f"raw sqlite3:    {raw:6.2f} s  {report.rows / raw:>10,.0f} rows/s")
    print(f"ratio:          {seconds / raw:6.2f} x raw insert  (target <= 3.0)")
    print(f"raw file import:{raw_file:6.2f} s  (csv.reader from the file into a bare table)")
    print(f"ratio:          {seconds / raw_file:6.2f} x raw file import")
    print(f"search index:   {index_seconds:6.2f} s  for {indexed:,} rows, after the commit")
    print(f"index ready:    {seconds + index_seconds:6.2f} s  from the start of the import")
    print("phases: " + ", ".join(f"{name} {t:.2f} s" for name, t in phases.items()))
    print(f"duplicates found: {report.duplicates:,} (kept)")


if __name__ == "__main__":
    main()
