"""A seeded corpus of hostile files in every peer format (issue #14), run like the import fuzz
corpus (tests.fuzz.import_corpus): each file is imported, or refused with a TagloopError
naming it, and nothing is half-written. Tracebacks, hangs (over 10 s), crashes and a case
peaking over 500 MB above its start (tests.fuzz.peer_runner) are failures.

    python -m tests.fuzz.peer_corpus --all            # the whole corpus (>= 600 files)
    python -m tests.fuzz.peer_corpus --all --memory   # and the peak memory of a long record
    python -m tests.fuzz.peer_corpus --format bioc    # one format's cases
    python -m tests.fuzz.peer_corpus --count 100      # a seeded random slice

`make test` runs a fast seeded slice (tests/fuzz/test_peer_fuzz.py).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.fuzz import import_runner, peer_binary, peer_cases, peer_docs, peer_runner, peer_xml
from tests.fuzz.import_corpus import Case

RUNNER = "tests.fuzz.peer_runner"
GENERATORS = (
    *peer_cases.ALL,
    *peer_docs.ALL,
    peer_binary.spacy_cases,
    *peer_binary.ALL_TABLES,
    *peer_xml.ALL,
)
# Cases too slow (or too big) for the `make test` slice: bombs and million-line files.
HEAVY = ("bomb", "million", "long-", "many-", "manykeys", "deep-array")


def specs() -> list[peer_cases.Spec]:
    """Every case of every peer format, unwritten, in a fixed order."""
    return [spec for generator in GENERATORS for spec in generator()]


def fmt_of(spec: peer_cases.Spec) -> str:
    return spec[3]["fmt"]


def write_corpus(
    directory: Path,
    count: int | None = None,
    slice_seed: int = 1,
    fmt: str | None = None,
    light: bool = False,
    names: set[str] | None = None,
) -> list[Case]:
    """Write the corpus (or a seeded sample of `count` cases, of one format, or without the
    heavy ones, or the cases called `names`) as cases to run."""
    directory.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in specs() if fmt is None or fmt_of(s) == fmt]
    if names is not None:
        chosen = [s for s in chosen if s[0] in names]
    if light:
        chosen = [s for s in chosen if not any(word in s[0] for word in HEAVY)]
    if count is not None:
        chosen = random.Random(slice_seed).sample(chosen, min(count, len(chosen)))
    return [_case(directory, name, make, task, options) for name, make, task, options in chosen]


def _case(directory: Path, name: str, make: Any, task: str, options: dict) -> Case:
    data = make() if callable(make) else make
    path = directory / name
    if isinstance(data, dict):  # a folder (BRAT): {relative name: bytes}
        path.mkdir(parents=True, exist_ok=True)
        for member, content in data.items():
            target = path / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    else:
        path.write_bytes(data)
    return Case(name, path, task, dict(options))


def summarise(results: list[dict], cases: list[Case]) -> dict:
    """import_runner's summary, with the counts of each format and the largest peak."""
    summary = import_runner.summarise(results)
    formats = {case.name: case.options["fmt"] for case in cases}
    per_format: dict[str, dict[str, int]] = {}
    for result in results:
        counts = per_format.setdefault(formats.get(result["name"], "?"), {})
        counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
    biggest = max(results, key=lambda r: r.get("peak_mb", 0), default={})
    summary["per_format"] = per_format
    summary["largest_peak"] = {"name": biggest.get("name"), "mb": biggest.get("peak_mb")}
    summary["results"] = results
    return summary


def run(directory: Path, cases: list[Case]) -> dict:
    results = import_runner.run_cases(cases, directory / "work", RUNNER)
    return summarise(results, cases)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="the whole corpus")
    parser.add_argument("--count", type=int, default=60, help="how many cases otherwise")
    parser.add_argument("--format", help="only this format's cases")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="where to write the corpus (default: a temporary folder)")
    parser.add_argument("--results", help="write every case's result to this JSON Lines file")
    parser.add_argument(
        "--memory", action="store_true", help="with --all: peak memory of one long record"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tagloop-peer-fuzz-") as tmp:
        root = Path(args.dir or tmp)
        count = None if args.all or args.format else args.count
        cases = write_corpus(root / "corpus", count, args.seed, args.format)
        summary = run(root, cases)
        if args.all and args.memory:
            summary["memory"] = peer_runner.measure_memory(root / "memory")
    results = summary.pop("results")
    if args.results:
        Path(args.results).write_text("".join(json.dumps(r) + "\n" for r in results))
    print(json.dumps(summary, indent=2))
    return 0 if not summary["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
