"""The data commands: `import` and `export` datasets, list or remove them (`datasets`), and
build the demo projects (`demo`)."""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from app.cli.gui import open_gui
from app.cli.options import command, row_id
from app.cli.progress import TextProgress
from app.core.io.formats.registry import NAMES, WRITABLE

MAX_WARNINGS = 20


def _parse_map(items: list[str]) -> dict[str, str] | None:
    """The --map COLUMN=INPUT options as a mapping, or None to let the importer guess."""
    if not items:
        return None
    mapping = {}
    for item in items:
        column, sep, target = item.partition("=")
        if not sep or not column or not target:
            raise SystemExit(f"tagloop: error: --map takes COLUMN=INPUT, not {item!r}")
        mapping[column] = target
    return mapping


def _positive_mb(value: str) -> float:
    try:
        size = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of megabytes: {value!r}") from None
    if not 0 < size <= 1024:
        raise argparse.ArgumentTypeError(f"give a size over 0 and up to 1024 MB, not {value}")
    return size


def cmd_import(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.io.importer import import_dataset

    with open_project(Path(args.path)) as project:
        report = import_dataset(
            project,
            Path(args.file),
            mapping=_parse_map(args.map),
            label_column=args.label_column,
            annotator=args.annotator,
            duplicates="skip" if args.skip_duplicates else "keep",
            add_labels=args.add_labels,
            fmt=args.format,
            progress=TextProgress(),
            max_field=int(args.max_field_mb * (1 << 20)),
            encoding=args.encoding,
            sheet=args.sheet,
            spans_key=args.spans_key,
        )
    print(report.summary())  # it names the first duplicates, each with the line it repeats
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.io.export import export_file

    with open_project(Path(args.path)) as project:
        started = time.perf_counter()
        report = export_file(
            project,
            Path(args.out),
            args.format,
            only_completed=args.only_completed,
            progress=TextProgress(),
            value_source=args.values,
            raw=args.raw,
        )
    for note in report.notes:
        print(note)
    for warning in report.warnings[:MAX_WARNINGS]:
        print(f"  warning: {warning}")
    if len(report.warnings) > MAX_WARNINGS:
        print(f"  ... and {len(report.warnings) - MAX_WARNINGS:,} more warnings")
    seconds = time.perf_counter() - started
    print(f"Exported {report.written:,} datapoints to {args.out} in {seconds:.1f} s")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.errors import Cancelled
    from app.core.io.datasets import RESUMES, list_datasets, remove_dataset

    with open_project(Path(args.path)) as project:
        if args.remove is not None:
            try:
                removed = remove_dataset(project, args.remove, progress=TextProgress())
            except (Cancelled, KeyboardInterrupt):
                if any(info.id == args.remove for info in list_datasets(project)):
                    print(f"Removal of dataset {args.remove} interrupted: nothing was changed")
                else:  # hidden by the first step: the next open finishes it
                    print(
                        f"Removal of dataset {args.remove} interrupted: it is hidden already,"
                        f" and its removal will finish {RESUMES}"
                    )
                return 130
            print(f"Removed dataset {args.remove} and its {removed:,} datapoints")
            return 0
        for info in list_datasets(project):
            mapping = ", ".join(f"{k}->{v}" for k, v in info.mapping.items())
            print(
                f"{info.id:>3}  {info.source_name:<30} {info.row_count:>10,} rows  "
                f"{info.imported_at}  sha256 {info.sha256[:12]}…  ({info.format}; {mapping})"
            )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.core.io.demo import build_demo

    paths = build_demo(
        Path(args.dir) if args.dir else None, force=args.force, progress=TextProgress()
    )
    for path in paths:
        print(path)
    if args.open:
        return open_gui(paths[0])
    print(demo_next_steps(paths))
    return 0


def demo_next_steps(paths: list[Path]) -> str:
    """What to do with the demo projects just built: open one, or look at it from here."""
    first = shlex.quote(str(paths[0]))
    return (
        f"\n{len(paths)} demo project{'s are' if len(paths) != 1 else ' is'} ready. Next:\n"
        f"  open one in the app:    tagloop gui {first}\n"
        f"  or from a checkout:     make run\n"
        f"  see its figures here:   tagloop stats {first}"
    )


def add_import(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop import` and its options."""
    p = command(sub, "import", f"import a dataset file ({', '.join(NAMES)})", cmd_import)
    p.add_argument("file", help="the file to import")
    p.add_argument(
        "--map", action="append", metavar="COLUMN=INPUT", help="map a file column to an input"
    )
    p.add_argument("--label-column", help="a column of existing labels, imported as annotations")
    p.add_argument("--annotator", help="whose labels the label column holds (default: imported)")
    p.add_argument(
        "--format",
        choices=NAMES,
        metavar="NAME",
        help="the file's format (default: from its name and content; a file that looks like "
        "another format than the one given is refused). Tabular, with --map and "
        "--label-column: csv, tsv, json, jsonl, txt, parquet, arrow, xlsx. Peer formats, "
        "which say where the text and each annotator's labels are: labelstudio, prodigy, "
        "doccano, conll, spacy, brat, bioc, pubtator",
    )
    p.add_argument(
        "--encoding",
        metavar="NAME",
        help="the text encoding, e.g. cp1252 for a CSV saved by Excel (default: UTF-8, or "
        "UTF-16 with a byte-order mark)",
    )
    p.add_argument("--sheet", help="xlsx: the sheet to read (default: the first)")
    p.add_argument("--spans-key", help="spacy: read doc.spans[KEY] instead of doc.ents")
    p.add_argument(
        "--skip-duplicates", action="store_true", help="skip texts already seen (default: keep)"
    )
    p.add_argument("--add-labels", action="store_true", help="add labels missing from the schema")
    p.add_argument(
        "--max-field-mb",
        type=_positive_mb,
        default=16,
        metavar="MB",
        help="refuse a line, row or JSON element longer than this (default: 16)",
    )


def add_export(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop export` and its options."""
    p = command(sub, "export", "export datapoints with their annotations", cmd_export)
    p.add_argument("out", help="the output file")
    p.add_argument(
        "--format",
        choices=WRITABLE,
        metavar="NAME",
        help=f"one of {', '.join(WRITABLE)} (default: from the file suffix; .json is "
        "labelstudio). jsonl, csv, labelstudio and prodigy keep every annotator's "
        "annotations; doccano and conll write the final value",
    )
    p.add_argument("--only-completed", action="store_true", help="only labeled datapoints")
    p.add_argument(
        "--values",
        metavar="SOURCE",
        help="the value written: 'final' (adjudicated, else gold, else consensus) or "
        "'annotator:NAME'; default: every annotator's, where the format holds them",
    )
    p.add_argument(
        "--raw",
        action="store_true",
        help="CSV: write every cell verbatim; by default a cell a spreadsheet would run as a "
        "formula (starting with = + - @, tab...) gets a leading ' and the file a "
        "'tagloop:neutralised' column, so that a re-import undoes it",
    )


def add_datasets(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop datasets` and its options."""
    p = command(sub, "datasets", "list the datasets, or remove one", cmd_datasets)
    p.add_argument(
        "--remove", type=row_id, metavar="ID", help="remove a dataset and its datapoints"
    )


def add_demo(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop demo` and its options."""
    p = command(
        sub, "demo", "build demo projects from the bundled public data", cmd_demo, path=None
    )
    p.add_argument("dir", nargs="?", help="where to put them (default: the user data folder)")
    p.add_argument("--open", action="store_true", help="open the spam demo in the app")
    p.add_argument("--force", action="store_true", help="rebuild them even if they exist")
