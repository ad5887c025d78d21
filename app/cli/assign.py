"""The team commands: `annotators` lists or registers annotators, and `assign` generates
their tasks or moves open tasks from one to another."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.cli.options import add_json, add_seed, command
from app.cli.progress import TextProgress


def cmd_annotators(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.team.assign import add_annotator, list_annotators

    with open_project(Path(args.path)) as project:
        if args.add:
            info = add_annotator(project, args.add, args.role)
            print(f"Added {info.role} {info.name} ({info.uuid})")
            return 0
        team = list_annotators(project)
    if args.json:
        print(json.dumps([vars(a) for a in team], indent=2, ensure_ascii=False))
        return 0
    for a in team:
        print(
            f"{a.name:<24} {a.role:<10} {a.open_tasks:>8,} open {a.done_tasks:>8,} done  {a.uuid}"
        )
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    from app.cli.interrupt import interrupt_cancels
    from app.cli.options import open_project
    from app.core.team.assign import generate_tasks, reassign

    with open_project(Path(args.path)) as project:
        if args.reassign:
            if not args.to:
                raise SystemExit("tagloop: error: --reassign FROM needs --to TO")
            with interrupt_cancels() as cancel:  # Ctrl-C after the move is saved: it stands
                moved = reassign(
                    project, args.reassign, args.to, progress=TextProgress(), cancel=cancel
                )
            print(moved.summary())
            return 0
        if not args.annotators:
            raise SystemExit("tagloop: error: --annotators a,b,c is required")
        report = generate_tasks(
            project,
            [name.strip() for name in args.annotators.split(",") if name.strip()],
            fraction=args.fraction,
            overlap_fraction=args.overlap_fraction,
            per_item=args.per_item,
            stratify=args.stratified,
            seed=args.seed,
            kind=args.kind,
            force=args.force,
            progress=TextProgress(),
        )
    print(report.summary())
    if report.strata:
        for name, n in report.strata.items():
            print(f"  {name or '(no label)':<30} {n:>10,}")
    return 0


def add_annotators(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop annotators` and its options."""
    p = command(sub, "annotators", "list the annotators, or register one", cmd_annotators)
    p.add_argument("--add", metavar="NAME", help="register an annotator")
    p.add_argument(
        "--role", default="annotator", choices=("owner", "manager", "annotator", "reviewer")
    )
    add_json(p, "print JSON")


def add_assign(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop assign` and its options."""
    p = command(sub, "assign", "generate tasks for annotators, or move open tasks", cmd_assign)
    p.add_argument("--annotators", metavar="A,B,C", help="names (or UUIDs) to share the items")
    p.add_argument("--fraction", type=float, default=1.0, help="of the unassigned items (1.0)")
    p.add_argument(
        "--overlap-fraction", type=float, default=0.0, help="of those, labeled by several (0)"
    )
    p.add_argument("--per-item", type=int, default=2, help="annotators per overlap item (2)")
    p.add_argument(
        "--stratified",
        nargs="?",
        const="label",
        choices=("label", "dataset"),
        help="stratify by existing label (default) or dataset; else a random sample",
    )
    add_seed(p)
    p.add_argument("--kind", default="label", help="task kind (label)")
    p.add_argument("--force", action="store_true", help="assign even if not qualified")
    p.add_argument("--reassign", metavar="FROM", help="move FROM's open tasks ...")
    p.add_argument("--to", metavar="TO", help="... to TO")
