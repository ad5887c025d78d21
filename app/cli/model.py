"""The model commands: `train` a model and score the pool, `predict` a new file, and
`al-bench`, which simulates active learning on a labeled file.

Their options are declared here and the ML libraries are imported only when a command runs,
so that building the parser stays fast and light.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from app.cli.options import add_json, command
from app.cli.progress import TextProgress


def cmd_train(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
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
    from app.cli.options import open_project
    from app.ml.loop import predict_file

    with open_project(Path(args.path)) as project:
        count = predict_file(
            project,
            Path(args.input),
            Path(args.output),
            args.column,
            progress=TextProgress(),
            fmt=args.format,
        )
    print(f"Wrote {count:,} predictions to {args.output}", file=sys.stderr)
    return 0


def cmd_al_bench(args: argparse.Namespace) -> int:
    from app.ml.bench import albench

    return albench.main(args)


def add_train(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop train` and its options."""
    p = command(sub, "train", "train a model on the labels, then score unlabeled items", cmd_train)
    p.add_argument("--no-score", action="store_true", help="do not score the unlabeled items")
    add_json(p, "also print the metrics as JSON")


def add_predict(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop predict` and its options."""
    p = command(sub, "predict", "label a new file with the project's current model", cmd_predict)
    p.add_argument("input", help="a csv, tsv, json, jsonl or txt file of texts")
    p.add_argument("--output", required=True, help="where to write the JSON Lines predictions")
    p.add_argument("--column", help="the text column (default: the annotated input, or text)")
    p.add_argument(
        "--format",
        choices=("csv", "tsv", "json", "jsonl", "txt"),
        help="the input's format (default: from its suffix)",
    )


def add_al_bench(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop al-bench` and its options."""
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
    p.add_argument(
        "--format",
        choices=("csv", "tsv", "json", "jsonl", "txt"),
        help="the file's format, if its suffix does not say (a .pubtator file is PubTator)",
    )
    p.set_defaults(func=cmd_al_bench)
