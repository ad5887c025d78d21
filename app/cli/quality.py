"""The quality commands: `consensus` and adjudication, `review` (task status, spot checks),
`gold` items and drift, `qualify` (qualification sets), and `suspicious` labels."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.cli.options import add_json, add_seed, command, row_id, share
from app.core.fileio import read_small_text


def _names(value: str | None) -> list[str]:
    """A comma-separated option value as a list of names, without blanks."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def cmd_consensus(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.quality.consensus import consensus_counts, create_adjudication_tasks

    with open_project(Path(args.path)) as project:
        counts = consensus_counts(project, match=args.match)
        created = None
        if args.adjudicator:
            created = create_adjudication_tasks(project, args.adjudicator, match=args.match)
    if args.json:
        print(json.dumps({**counts, "adjudication_tasks_created": created}, indent=2))
        return 0
    print(
        f"{counts['items']:,} items with two or more votes: {counts['unanimous']:,} unanimous, "
        f"{counts['majority']:,} by majority, {counts['disagreements']:,} disagreements "
        f"({counts['adjudicated']:,} adjudicated, {counts['open']:,} open)"
    )
    if created is not None:
        print(f"Created {created:,} adjudication tasks for {args.adjudicator}")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.quality.review import spot_check, task_status

    with open_project(Path(args.path)) as project:
        if args.spot_check is not None:
            if not args.reviewer:
                raise SystemExit("tagloop: error: --spot-check needs --reviewer NAME")
            stratify = tuple(_names(args.stratify)) if args.stratify != "none" else ()
            report = spot_check(
                project, args.reviewer, args.spot_check, seed=args.seed, stratify_by=stratify
            )
            if args.json:
                print(json.dumps(vars(report), indent=2))
            else:
                print(report.summary())
            return 0
        status = task_status(project, args.annotator)
    if args.json:
        print(json.dumps(status.as_dict(), indent=2))
        return 0
    for name, state in status.assignments.items():
        counts = ", ".join(f"{k} {n:,}" for k, n in status.counts[name].items() if n)
        print(f"{name:<20} {state:<22} {counts}")
    return 0


def cmd_gold(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.quality.gold import (
        drift_alerts,
        gold_accuracy,
        mark_gold,
        mix_gold_into_tasks,
        read_answers_csv,
    )

    with open_project(Path(args.path)) as project:
        if args.mark:
            ids, answers = read_answers_csv(project, Path(args.mark))
            print(f"Marked {mark_gold(project, ids, answers):,} gold items")
        if args.rate is not None:
            if not args.annotators:
                raise SystemExit("tagloop: error: --rate needs --annotators a,b")
            made = mix_gold_into_tasks(project, _names(args.annotators), args.rate, seed=args.seed)
            for name, n in made.items():
                print(f"{name}: {n:,} gold tasks")
        if args.accuracy:
            found = gold_accuracy(project, window_days=args.window)
            alerts = drift_alerts(project, args.threshold, args.min_items, window_days=args.window)
            if args.json:
                payload = {
                    "accuracy": [a.as_dict() for a in found],
                    "alerts": [vars(a) for a in alerts],
                }
                print(json.dumps(payload, indent=2))
                return 0
            for acc in found:
                shown = "-" if acc.accuracy is None else f"{acc.accuracy:.1%}"
                print(f"{acc.annotator:<20} {shown:>7} ({acc.correct}/{acc.total})")
                for b in acc.buckets:
                    print(f"  {b.start}..{b.end} {b.accuracy:7.1%} ({b.correct}/{b.total})")
            for alert in alerts:
                print(f"ALERT {alert.message()}")
        elif not args.mark and args.rate is None:
            raise SystemExit("tagloop: error: give --mark FILE, --rate R or --accuracy")
    return 0


def cmd_qualify(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.quality.gold import resolve_datapoints
    from app.core.quality.qualification import (
        assign_qualification,
        create_qualification,
        qualification_result,
    )

    with open_project(Path(args.path)) as project:
        if args.create:
            if not args.items or args.pass_score is None:
                raise SystemExit("tagloop: error: --create NAME needs --items FILE and --pass S")
            keys = [
                line.strip()
                for line in read_small_text(Path(args.items)).splitlines()
                if line.strip() and line.strip() != "id"
            ]
            ids = resolve_datapoints(project, [k.split(",")[0] for k in keys])
            create_qualification(project, args.create, ids, args.pass_score)
            print(f"Created qualification set {args.create!r}: {len(ids):,} items")
        if args.assign:
            made = assign_qualification(project, args.name or args.create, _names(args.assign))
            print(f"Created {made:,} qualification tasks")
        if args.result:
            res = qualification_result(project, args.result, args.name or args.create)
            if args.json:
                print(json.dumps({**vars(res), "passed": res.passed}, indent=2))
            else:
                verdict = "passed" if res.passed else "not passed"
                print(
                    f"{res.annotator} on {res.name!r}: {res.score:.1%} ({res.correct}/"
                    f"{res.total}, {res.answered} answered), {verdict} (pass {res.pass_score:.0%})"
                )
    return 0


def cmd_suspicious(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.project.annotators import find_annotator
    from app.core.quality.suspicious import keep_label, suspicious_labels

    with open_project(Path(args.path)) as project:
        who = project.local_annotator_id
        if args.annotator:
            with project.engine.connect() as conn:
                who = find_annotator(conn, args.annotator)[0]
        kept = [keep_label(project, dp, who) for dp in args.keep]
        listed = suspicious_labels(project)
    shown = listed.labels[: args.limit] if args.limit else listed.labels
    if args.json:
        rows = [
            {
                "datapoint": s.datapoint_id,
                "doubt": round(s.doubt, 4),
                "model": s.model_value,
                "given": s.given,
                "text": s.text,
            }
            | (
                {"differences": _span_differences_json(s)}
                if _span_values(s.given, s.model_value)
                else {}
            )
            for s in shown
        ]
        kept_ids = [k.datapoint_id for k in kept]
        print(
            json.dumps(
                {"model_version": listed.version_id, "kept": kept_ids, "suspicious": rows},
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    for k in kept:
        print(k.summary())
    if listed.version_id is None:
        print("No model yet: train one first (tagloop train PATH).")
        return 0
    print(f"{len(listed.labels):,} suspicious labels (model version {listed.version_id})")
    for s in shown:
        if _span_values(s.given, s.model_value):
            _print_span_doubt(s)
            continue
        snippet = " ".join(s.text.split())[:60]
        print(
            f"{s.datapoint_id:>8}  doubt {s.doubt:.2f}  given {s.given!r}  model {s.model_value!r}"
            f"  {snippet}"
        )
    return 0


def _span_values(given, model_value) -> bool:
    """Whether a suspicious label is a list of spans (either side may be empty)."""
    values = [v for v in (given, model_value) if isinstance(v, list)]
    return len(values) == 2 and any(v and isinstance(v[0], dict) for v in values)


def _span_differences_json(s) -> list[dict]:
    from app.ml import suspicious

    return [
        {
            "kind": d.kind,
            "given": d.given,
            "model": d.model,
            "sentence": suspicious.marked_sentence(s.text, d, "[", "]"),
            "says": suspicious.describe_difference(s.text, d),
        }
        for d in suspicious.span_differences(s.text, s.given or [], s.model_value or [])
    ]


def _print_span_doubt(s) -> None:
    """A suspicious span item in words: each difference, its sentence with the span in [ ]."""
    print(f"{s.datapoint_id:>8}  doubt {s.doubt:.2f}")
    for d in _span_differences_json(s):
        print(f"          {d['kind']}: {d['says']}")
        print(f"            {d['sentence']}")


def add_consensus(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop consensus` and its options."""
    p = command(
        sub, "consensus", "consensus counts; queue disagreements to adjudicate", cmd_consensus
    )
    p.add_argument("--match", choices=("exact", "overlap"), default="exact", help="span matching")
    p.add_argument("--adjudicator", metavar="NAME", help="create adjudication tasks for NAME")
    add_json(p)


def add_review(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop review` and its options."""
    p = command(sub, "review", "derived task status, or spot-check review tasks", cmd_review)
    p.add_argument("--spot-check", type=share, metavar="FRACTION", help="e.g. 0.05")
    p.add_argument("--reviewer", metavar="NAME", help="who reviews the spot check")
    add_seed(p)
    p.add_argument(
        "--stratify", default="annotator,label", help="annotator,label (default), or none"
    )
    p.add_argument("--annotator", metavar="NAME", help="status of one annotator's tasks")
    add_json(p)


def add_gold(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop gold` and its options."""
    p = command(sub, "gold", "gold items: mark, mix into queues, accuracy and drift", cmd_gold)
    p.add_argument("--mark", metavar="FILE.csv", help="answers: columns id and label")
    p.add_argument("--rate", type=float, help="share of gold in each queue, e.g. 0.1")
    p.add_argument("--annotators", metavar="A,B", help="whose queues get gold")
    add_seed(p)
    p.add_argument("--accuracy", action="store_true", help="accuracy on gold over time")
    p.add_argument("--window", type=int, default=7, help="days per accuracy bucket (7)")
    p.add_argument("--threshold", type=share, default=0.8, help="drift alert below this (0.8)")
    p.add_argument("--min-items", type=int, default=5, help="answers a bucket needs (5)")
    add_json(p)


def add_qualify(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop qualify` and its options."""
    p = command(sub, "qualify", "qualification sets: create, assign, score", cmd_qualify)
    p.add_argument("--create", metavar="NAME", help="a new qualification set of gold items")
    p.add_argument("--items", metavar="FILE", help="datapoint ids or UUIDs, one a line")
    p.add_argument("--pass", dest="pass_score", type=share, help="the score to pass, e.g. 0.8")
    p.add_argument("--name", metavar="NAME", help="the set (if there are several)")
    p.add_argument("--assign", metavar="A,B", help="give these annotators its items")
    p.add_argument("--result", metavar="ANNOTATOR", help="score and record an annotator")
    add_json(p)


def add_suspicious(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop suspicious` and its options."""
    p = command(
        sub, "suspicious", "labels the model doubts; keep the ones that are right", cmd_suspicious
    )
    p.add_argument(
        "--keep",
        type=row_id,
        nargs="+",
        default=[],
        metavar="ID",
        help="keep these datapoints' labels (they leave the list, recorded in the audit trail)",
    )
    p.add_argument("--annotator", metavar="NAME", help="who keeps them (default: you)")
    p.add_argument("--limit", type=int, default=20, help="how many to list (20; 0: all)")
    add_json(p)
