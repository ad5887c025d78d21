"""A seeded corpus of hostile and mutated import files (CSV, TSV, JSON, JSON Lines, text), and a
runner that imports each one and checks the only outcomes allowed: the file is imported, or the
import ends in a TagloopError whose message names the file, and nothing is half-written.
Tracebacks, hangs (over HANG_SECONDS) and changed projects after a refusal are failures.

    python -m tests.fuzz.import_corpus --all          # the full corpus (>= 1,000 files)
    python -m tests.fuzz.import_corpus --count 200    # a larger random slice

`make test` runs a fast seeded slice (tests/fuzz/test_import_fuzz.py). The full run also
measures peak memory (resource.getrusage in a subprocess) of imports of long records against
the same import of a one-line file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from tests.fuzz import import_cases, import_runner

FORMATS = ("csv", "tsv", "json", "jsonl", "txt")


@dataclass
class Case:
    """One file to import, with the options of the import."""

    name: str
    path: Path
    task: str = "classification"  # which template project: classification, multilabel, spans
    options: dict = field(default_factory=dict)  # keyword arguments of import_dataset

    def to_json(self) -> dict:
        return {"name": self.name, "path": str(self.path), "task": self.task, **self.options}


def specs(seed: int = 14, mutants: int = 800) -> list[tuple[str, Any, str, dict]]:
    """The whole corpus, unwritten: every hand-made hostile file, then `mutants` seeded
    mutations of valid files; (name, bytes or a function making them, task, options)."""
    out = list(import_cases.hostile())
    bases = import_cases.valid_bases()
    for number in range(mutants):
        base_name, data, task, options = bases[number % len(bases)]
        rng = random.Random(f"{seed}-{number}")  # each mutant alone: a slice makes the same
        stem, suffix = base_name.rsplit(".", 1)
        name = f"m{number:04d}-{stem}.{suffix}"
        out.append((name, partial(import_cases.mutate, rng, data), task, options))
    return out


def write_corpus(
    directory: Path, seed: int = 14, count: int | None = None, slice_seed: int = 1
) -> list[Case]:
    """Write the corpus, or a seeded sample of `count` of its files, as cases to run."""
    directory.mkdir(parents=True, exist_ok=True)
    chosen = specs(seed)
    if count is not None:
        chosen = random.Random(slice_seed).sample(chosen, min(count, len(chosen)))
    return [make_case(directory, name, make, task, options) for name, make, task, options in chosen]


def make_case(directory: Path, name: str, data: Any, task: str, options: dict) -> Case:
    path = directory / name
    path.write_bytes(data() if callable(data) else data)
    return Case(name, path, task, dict(options))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="the whole corpus")
    parser.add_argument("--count", type=int, default=100, help="how many cases otherwise")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--dir", help="where to write the corpus (default: a temporary folder)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tagloop-import-fuzz-") as tmp:
        root = Path(args.dir or tmp)
        count = None if args.all else args.count
        chosen = write_corpus(root / "corpus", args.seed, count, args.seed)
        results = import_runner.run_cases(chosen, root / "work")
        summary = import_runner.summarise(results)
        if args.all and not args.no_memory:
            summary["memory"] = import_runner.measure_memory(root / "memory")
    print(json.dumps(summary, indent=2))
    return 0 if not summary["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
