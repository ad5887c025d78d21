"""The `tagloop` command (also `python -m app`): every verb of the app, without a window."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from app import __version__

EPILOG = "Run 'tagloop COMMAND --help' for a command's options. Without a command, opens the app."


class TextProgress:
    """A one-line progress bar on stderr, shown only on a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int | None, message: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and (total is None or done < total):
            return
        self.last = now
        if total:
            filled = int(30 * min(done / total, 1.0))
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {100 * done / total:5.1f}%"
        else:
            bar = f"{done:,}"
        sys.stderr.write(f"\r{bar} {message[:60]:<60}")
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _parse_map(items: list[str]) -> dict[str, str] | None:
    if not items:
        return None
    mapping = {}
    for item in items:
        column, sep, target = item.partition("=")
        if not sep or not column or not target:
            raise SystemExit(f"tagloop: error: --map takes COLUMN=INPUT, not {item!r}")
        mapping[column] = target
    return mapping


def cmd_init(args: argparse.Namespace) -> int:
    from app.core.project.label_schema import parse_label_list
    from app.core.project.project import create_project

    guidelines = Path(args.guidelines).read_text(encoding="utf-8") if args.guidelines else ""
    project = create_project(
        Path(args.path),
        args.type,
        parse_label_list(args.labels),
        inputs=args.input or None,
        annotated_input=args.annotated,
        guidelines=guidelines,
        name=args.name,
        allow_overlap=args.allow_overlap,
    )
    with project:
        labels = ", ".join(f"{x.name} [{x.hotkey}]" for x in project.schema.labels)
        print(f"Created {project.path} ({project.task_type}; labels: {labels})")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from app.core.io.importer import import_dataset
    from app.core.project.project import open_project

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
        )
    print(report.summary())
    for line, first in report.duplicate_examples:
        print(f"  duplicate: line {line} repeats line {first}" if first else f"  line {line}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from app.core.io.export import export_datapoints
    from app.core.project.project import open_project

    with open_project(Path(args.path)) as project:
        started = time.perf_counter()
        count = export_datapoints(
            project,
            Path(args.out),
            args.format,
            only_completed=args.only_completed,
            progress=TextProgress(),
            value_source=args.values,
        )
    print(f"Exported {count:,} datapoints to {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from app.core.annotation.stats import format_stats, project_stats
    from app.core.project.project import open_project

    with open_project(Path(args.path)) as project:
        stats = project_stats(project)
    print(json.dumps(stats, indent=2, ensure_ascii=False) if args.json else format_stats(stats))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from app.core.project.project import open_project
    from app.core.report.figures import project_report, report_json
    from app.core.report.html import write_html

    with open_project(Path(args.path)) as project:
        report = project_report(project)
    if args.html:
        print(f"Wrote {write_html(report, Path(args.html))}", file=sys.stderr)
    if args.json:
        print(report_json(report))
    elif not args.html:
        print(_report_text(report.as_dict()))
    return 0


def _report_text(report: dict) -> str:
    """A short plain-text digest of the report for the terminal."""

    def figure(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [f"{report['project']['name']} ({report['project']['task_type']})", "", "Progress:"]
    for name, counts in report["progress"]["by_annotator"].items():
        shown = ", ".join(f"{status} {n:,}" for status, n in counts.items() if n)
        lines.append(f"  {name:<24} {shown or 'nothing yet'}")
    lines.append("Throughput:")
    for name, row in report["throughput"].items():
        rate, median = row.get("items_per_hour"), row.get("median_seconds_per_item")
        lines.append(
            f"  {name:<24} {row['items']:,} items"
            + (f", {rate:,.0f} items/hour" if rate else "")
            + (f", median {median:.1f} s/item" if median else "")
        )
    overall = report["agreement"]["overall"]
    lines.append(
        f"Agreement over {overall.get('items', 0):,} items: Krippendorff's alpha "
        f"{figure(overall.get('krippendorff_alpha'))}, Fleiss' kappa "
        f"{figure(overall.get('fleiss_kappa'))}"
    )
    for pair in overall.get("pairwise_cohen_kappa", []):
        lines.append(
            f"  {pair['a']} / {pair['b']}: Cohen's kappa {figure(pair['kappa'])}"
            f" on {pair['items']:,} items"
        )
    consensus = report.get("consensus")
    if consensus and consensus["items"]:
        lines.append(
            f"Consensus: {consensus['reached']:,} of {consensus['items']:,} multi-annotator items;"
            f" {consensus['disagreements']:,} disagreements ({consensus['adjudicated']:,}"
            f" adjudicated, {consensus['open']:,} open)"
        )
    gold = report.get("gold")
    if gold:
        lines.append("Gold accuracy:")
        for name, row in gold["per_annotator"].items():
            lines.append(f"  {name:<24} {figure(row.get('accuracy'))} on {row['items']:,} items")
        lines.extend(f"  ALERT {alert['message']}" for alert in gold["alerts"])
    issues = report["open_issues"]
    rejections = issues.get("rejections")
    lines.append(
        f"Open flags: {issues['flags_open']:,}"
        + (f"; open rejections: {rejections['open']:,}" if rejections else "")
    )
    return "\n".join(lines)


def cmd_datasets(args: argparse.Namespace) -> int:
    from app.core.io.datasets import list_datasets, remove_dataset
    from app.core.project.project import open_project

    with open_project(Path(args.path)) as project:
        if args.remove is not None:
            removed = remove_dataset(project, args.remove, progress=TextProgress())
            print(f"Removed dataset {args.remove} and its {removed:,} datapoints")
            return 0
        for info in list_datasets(project):
            mapping = ", ".join(f"{k}->{v}" for k, v in info.mapping.items())
            print(
                f"{info.id:>3}  {info.source_name:<30} {info.row_count:>10,} rows  "
                f"{info.imported_at}  sha256 {info.sha256[:12]}…  ({info.format}; {mapping})"
            )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from app.core.project.label_schema import parse_label_list
    from app.core.project.project import open_project, update_schema

    with open_project(Path(args.path)) as project:
        schema = project.schema
        if args.add_label or args.guidelines:
            labels = list(schema.labels)
            for spec in args.add_label or []:
                labels.extend(parse_label_list(spec))
            guidelines = (
                Path(args.guidelines).read_text(encoding="utf-8") if args.guidelines else None
            )
            schema = update_schema(project, labels=labels, guidelines=guidelines)
        if args.json:
            print(json.dumps({**asdict(schema), "labels": [asdict(x) for x in schema.labels]}))
        else:
            print(f"Schema version {schema.version} ({project.task_type})")
            for label in schema.labels:
                key = label.hotkey or " "
                print(f"  [{key}] {label.name:<24} {label.colour}  {label.description}")
            if schema.guidelines:
                print("\nGuidelines:\n" + schema.guidelines)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.core.io.demo import build_demo

    paths = build_demo(
        Path(args.dir) if args.dir else None, force=args.force, progress=TextProgress()
    )
    for path in paths:
        print(path)
    if args.open:
        return _gui(paths[0])
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    return _gui(Path(args.path) if getattr(args, "path", None) else None)


def cmd_train(args: argparse.Namespace) -> int:
    from app.core.project.project import open_project
    from app.ml.loop import score_pool, train_project

    with open_project(Path(args.path)) as project:
        started = time.perf_counter()
        version = train_project(project, progress=TextProgress())
        metrics = version.metrics
        print(
            f"Model version {version.id}: {version.label_count:,} labels, cross-validated"
            f" macro-F1 {metrics.get('macro_f1', 0):.3f}"
            + (
                f", accuracy {metrics['accuracy']:.3f}"
                if metrics.get("accuracy") is not None
                else ""
            )
            + (f", ECE {metrics['ece']:.3f}" if metrics.get("ece") is not None else "")
            + f" ({time.perf_counter() - started:.1f} s)"
        )
        for label, figures in metrics.get("per_label", {}).items():
            print(
                f"  {label:<24} P {figures['precision']:.3f}  R {figures['recall']:.3f}"
                f"  F1 {figures['f1']:.3f}  n {figures['support']}"
            )
        if not args.no_score:
            started = time.perf_counter()
            scored = score_pool(project, version, progress=TextProgress())
            print(f"Scored {scored:,} unlabeled items in {time.perf_counter() - started:.1f} s")
        if args.json:
            print(json.dumps({"version": version.id, "metrics": metrics}, ensure_ascii=False))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from app.core.project.project import open_project
    from app.ml.loop import predict_file

    with open_project(Path(args.path)) as project:
        count = predict_file(
            project, Path(args.input), Path(args.output), args.column, progress=TextProgress()
        )
    print(f"Wrote {count:,} predictions to {args.output}", file=sys.stderr)
    return 0


def cmd_al_bench(args: argparse.Namespace) -> int:
    from app.ml.bench import albench

    return albench.main(args)


def _gui(path: Path | None) -> int:
    from app.views.app import main_gui

    return main_gui(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagloop",
        description="Offline text annotation with a model in the loop.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"tagloop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("init", help="create a project file")
    p.add_argument("path", help="the new project file (.tagloop is added if missing)")
    p.add_argument("--type", required=True, choices=("classification", "multilabel", "spans"))
    p.add_argument(
        "--labels", required=True, help="comma-separated labels, each NAME[:COLOUR[:HOTKEY]]"
    )
    p.add_argument(
        "--input", action="append", help="an input name (repeat for context inputs; default: text)"
    )
    p.add_argument("--annotated", help="which input is annotated (default: the first)")
    p.add_argument("--guidelines", help="a Markdown file with the annotation guidelines")
    p.add_argument("--name", help="the project's display name (default: the file name)")
    p.add_argument("--allow-overlap", action="store_true", help="spans may overlap")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("import", help="import a dataset file (csv, tsv, json, jsonl, txt)")
    p.add_argument("path", help="the project file")
    p.add_argument("file", help="the file to import")
    p.add_argument(
        "--map", action="append", metavar="COLUMN=INPUT", help="map a file column to an input"
    )
    p.add_argument("--label-column", help="a column of existing labels, imported as annotations")
    p.add_argument("--annotator", help="whose labels the label column holds (default: imported)")
    p.add_argument("--format", choices=("csv", "tsv", "json", "jsonl", "txt"))
    p.add_argument(
        "--skip-duplicates", action="store_true", help="skip texts already seen (default: keep)"
    )
    p.add_argument("--add-labels", action="store_true", help="add labels missing from the schema")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="export datapoints with their annotations")
    p.add_argument("path", help="the project file")
    p.add_argument("out", help="the output file")
    p.add_argument("--format", choices=("jsonl", "csv"), help="default: from the file suffix")
    p.add_argument("--only-completed", action="store_true", help="only labeled datapoints")
    p.add_argument(
        "--values",
        metavar="SOURCE",
        help="the label column: 'final' (adjudicated, gold, consensus) or 'annotator:NAME'",
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("stats", help="counts per dataset, status, label and annotator")
    p.add_argument("path", help="the project file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("report", help="progress, throughput, labels, agreement, open issues")
    p.add_argument("path", help="the project file")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML report")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("datasets", help="list the datasets, or remove one")
    p.add_argument("path", help="the project file")
    p.add_argument("--remove", type=int, metavar="ID", help="remove a dataset and its datapoints")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("schema", help="show or edit the label schema (each edit is a version)")
    p.add_argument("path", help="the project file")
    p.add_argument(
        "--add-label", action="append", metavar="NAME[:COLOUR[:HOTKEY]]", help="add a label"
    )
    p.add_argument("--guidelines", help="replace the guidelines with this Markdown file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("demo", help="build demo projects from the bundled public data")
    p.add_argument("dir", nargs="?", help="where to put them (default: the user data folder)")
    p.add_argument("--open", action="store_true", help="open the spam demo in the app")
    p.add_argument("--force", action="store_true", help="rebuild them even if they exist")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train a model on the labels, then score unlabeled items")
    p.add_argument("path", help="the project file")
    p.add_argument("--no-score", action="store_true", help="do not score the unlabeled items")
    p.add_argument("--json", action="store_true", help="also print the metrics as JSON")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="label a new file with the project's current model")
    p.add_argument("path", help="the project file")
    p.add_argument("input", help="a csv, tsv, json, jsonl or txt file of texts")
    p.add_argument("--output", required=True, help="where to write the JSON Lines predictions")
    p.add_argument("--column", help="the text column (default: the annotated input, or text)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "al-bench", help="simulate active learning on a labeled file; prints learning curves"
    )
    # Declared here, not in app.ml.bench.albench: building the parser must not import scikit-learn.
    p.add_argument("data", help="a labeled file: csv/tsv/jsonl with a label column, or .pubtator")
    p.add_argument("--task", required=True, choices=("classification", "multilabel", "spans"))
    p.add_argument(
        "--strategy",
        action="append",
        help="a strategy to compare with random (repeatable; 'default' is the app's default)",
    )
    p.add_argument("--seed-size", type=int, default=20, help="labels before the first model")
    p.add_argument("--batch", type=int, default=10, help="labels asked per round")
    p.add_argument("--budget", type=int, default=500, help="labels in all")
    p.add_argument("--repeats", type=int, default=3, help="runs averaged per strategy")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(func=cmd_al_bench)

    from app.cli import team as cli_team

    cli_team.add_commands(sub)

    p = sub.add_parser("gui", help="open the app")
    p.add_argument("path", nargs="?", help="a project file to open")
    p.set_defaults(func=cmd_gui)
    return parser


def main(argv: list[str] | None = None) -> int:
    from app.core.errors import Cancelled, TagloopError

    args = build_parser().parse_args(argv)
    func = getattr(args, "func", cmd_gui)
    try:
        return func(args)
    except Cancelled as exc:
        print(f"\ntagloop: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ntagloop: interrupted; nothing was changed", file=sys.stderr)
        return 130
    except TagloopError as exc:
        print(f"tagloop: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tagloop: error: {exc}", file=sys.stderr)
        return 1
