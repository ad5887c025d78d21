"""Large benchmark inputs made of real text, resampled from ../shared/data (or resources/demo).

The 1M-row set is sampled with replacement (seeded) from the 5,574 SMS messages and the
sentences of the 693 NCBI Disease abstracts, so every row is a real sentence; many repeat.
"""

from __future__ import annotations

import csv
import os
import random
import re
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SHARED = ROOT.parent / "shared" / "data"


def data_file(name: str) -> Path:
    shared = SHARED / name
    return shared if shared.exists() else ROOT / "resources" / "demo" / name


def real_texts() -> list[str]:
    with data_file("sms_spam.tsv").open(encoding="utf-8") as handle:
        sms = [line.rstrip("\n").split("\t", 1)[1] for line in handle][1:]
    sentences: list[str] = []
    for name in ("ncbi_disease_train.pubtator", "ncbi_disease_test.pubtator"):
        for line in data_file(name).open(encoding="utf-8"):
            if "|t|" in line[:20] or "|a|" in line[:20]:
                body = line.split("|", 2)[2].strip()
                sentences.extend(s for s in re.split(r"(?<=[.!?])\s+", body) if len(s) > 20)
    return sms + sentences


def _csv_once(path: Path, header: list[str], rows: int, row: Callable[[], list[str]]) -> Path:
    """Write `rows` rows of `row()` under `header` to `path` once (atomically), then reuse it."""
    OUT.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for _ in range(rows):
            writer.writerow(row())
    os.replace(tmp, path)
    return path


def big_csv(rows: int, seed: int = 7) -> Path:
    """A CSV with a header `text`, made once per size and reused."""
    path = OUT / f"real_{rows}.csv"
    if path.exists():
        return path
    texts = real_texts()
    rng = random.Random(seed)
    return _csv_once(path, ["text"], rows, lambda: [rng.choice(texts)])


def labelled_csv(rows: int, seed: int = 11) -> Path:
    """A CSV (text, label) of real texts with a label each, made once per size."""
    path = OUT / f"labelled_{rows}.csv"
    if path.exists():
        return path
    texts = real_texts()
    rng = random.Random(seed)
    return _csv_once(
        path, ["text", "label"], rows, lambda: [rng.choice(texts), rng.choice(("ham", "spam"))]
    )


def big_project(rows: int) -> Path:
    """A project holding `rows` datapoints (built once, then reused by other benchmarks)."""
    from app.core.io.importer import import_dataset
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project

    path = OUT / f"project_{rows}.tagloop"
    if path.exists():
        return path
    source = big_csv(rows)
    tmp = OUT / f"building_{rows}.tagloop"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    project = create_project(tmp, "classification", [LabelSpec("ham"), LabelSpec("spam")])
    with project:
        import_dataset(project, source)
        with project.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    os.replace(tmp, path)
    return path
