"""The project commands: `init` creates a project file, `stats` counts what is in it, and
`schema` shows or edits its label schema."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli.options import add_json, command
from app.core.fileio import read_small_text


def cmd_init(args: argparse.Namespace) -> int:
    from app.core.annotation.tokens import LANGUAGE_CODES, is_language, language_note
    from app.core.errors import ProjectError
    from app.core.project.label_schema import parse_label_list
    from app.core.project.project import create_project

    if not is_language(args.language):
        codes = ", ".join(sorted(LANGUAGE_CODES))
        raise ProjectError(
            f"unknown language {args.language!r}; use a spaCy language code such as {codes}"
        )
    guidelines = read_small_text(Path(args.guidelines)) if args.guidelines else ""
    project = create_project(
        Path(args.path),
        args.type,
        parse_label_list(args.labels),
        inputs=args.input or None,
        annotated_input=args.annotated,
        guidelines=guidelines,
        name=args.name,
        allow_overlap=args.allow_overlap,
        language=args.language,
    )
    with project:
        labels = ", ".join(f"{x.name} [{x.hotkey}]" for x in project.schema.labels)
        print(f"Created {project.path} ({project.task_type}, {project.language}; labels: {labels})")
    note = language_note(args.language) if args.type == "spans" else None
    if note:
        print(f"Note: {note}", file=sys.stderr)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.annotation.stats import format_stats, project_stats

    with open_project(Path(args.path)) as project:
        stats = project_stats(project)
    print(json.dumps(stats, indent=2, ensure_ascii=False) if args.json else format_stats(stats))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from app.cli.options import open_project
    from app.core.errors import ProjectError
    from app.core.project.label_schema import parse_label_list
    from app.core.project.project import update_schema

    with open_project(Path(args.path)) as project:
        schema = project.schema
        if args.add_label or args.guidelines:
            labels = list(schema.labels)
            for spec in args.add_label or []:
                added = parse_label_list(spec)
                if not added:  # red team: made a new schema version that changed nothing
                    raise ProjectError(f"--add-label {spec!r}: give a label name")
                labels.extend(added)
            guidelines = read_small_text(Path(args.guidelines)) if args.guidelines else None
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


def add_init(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop init` and its options."""
    p = command(
        sub,
        "init",
        "create a project file",
        cmd_init,
        path="the new project file (.tagloop is added if missing)",
    )
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
    p.add_argument(
        "--language",
        default="en",
        metavar="CODE",
        help="the texts' language, for token snapping and the span model's tokenizer: a spaCy"
        " code such as en, de, zh, ja, ar (default: en; xx for several)",
    )


def add_stats(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop stats` and its options."""
    p = command(sub, "stats", "counts per dataset, status, label and annotator", cmd_stats)
    add_json(p, "print JSON")


def add_schema(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop schema` and its options."""
    p = command(sub, "schema", "show or edit the label schema (each edit is a version)", cmd_schema)
    p.add_argument(
        "--add-label", action="append", metavar="NAME[:COLOUR[:HOTKEY]]", help="add a label"
    )
    p.add_argument("--guidelines", help="replace the guidelines with this Markdown file")
    add_json(p, "print JSON")
