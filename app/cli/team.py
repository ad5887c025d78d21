"""The team commands of `tagloop`: bundles, annotators and assignments, review, consensus and
adjudication, gold and qualification, and the audit trail. app/cli.py registers them (the
file had grown past 900 lines); the same lazy imports keep start-up fast."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli.main import TextProgress


def _passphrase(args: argparse.Namespace, confirm: bool = False) -> str | None:
    """--passphrase P, or '-' to be asked (no echo), else $TAGLOOP_PASSPHRASE, else none."""
    import os

    from app.core.bundle import PASSPHRASE_ENV

    given = getattr(args, "passphrase", None)
    if given == "-":
        import getpass

        given = getpass.getpass("Bundle passphrase: ")
        if confirm and getpass.getpass("Again: ") != given:
            raise SystemExit("tagloop: error: the passphrases differ")
    if given is None:
        given = os.environ.get(PASSPHRASE_ENV) or None
        if given and confirm:
            print(f"Encrypting with the passphrase in ${PASSPHRASE_ENV}", file=sys.stderr)
    if given is not None and not given:
        raise SystemExit("tagloop: error: the passphrase is empty")
    return given


def cmd_bundle_export(args: argparse.Namespace) -> int:
    from app.core.bundle import export_project_bundle
    from app.core.project.project import open_project

    passphrase = _passphrase(args, confirm=True)
    with open_project(Path(args.path)) as project:
        report = export_project_bundle(
            project,
            Path(args.out),
            with_model=args.with_model,
            passphrase=passphrase,
            progress=TextProgress(),
        )
    print(report.summary())
    return 0


def cmd_bundle_return(args: argparse.Namespace) -> int:
    from app.core.bundle import export_work_bundle
    from app.core.project.project import open_project

    passphrase = _passphrase(args, confirm=True)
    with open_project(Path(args.path)) as project:
        report = export_work_bundle(
            project, Path(args.out), passphrase=passphrase, progress=TextProgress()
        )
    print(report.summary())
    return 0


def cmd_bundle_open(args: argparse.Namespace) -> int:
    from app.core.bundle import open_bundle
    from app.core.project.project import open_project
    from app.core.storage import fts

    report = open_bundle(
        Path(args.bundle), Path(args.dest), passphrase=_passphrase(args), progress=TextProgress()
    )
    print(report.summary())
    with open_project(report.path) as project:
        fts.index_pending(project, TextProgress())
    return 0


def cmd_bundle_merge(args: argparse.Namespace) -> int:
    from app.core.bundle import merge_bundle
    from app.core.project.project import open_project
    from app.core.storage import fts

    passphrase = _passphrase(args)
    reports = []
    with open_project(Path(args.path)) as project:
        for bundle in args.bundles:
            reports.append(
                merge_bundle(project, Path(bundle), passphrase=passphrase, progress=TextProgress())
            )
            if not args.json:
                print(reports[-1].summary())
        fts.index_pending(project, TextProgress())
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], indent=2, ensure_ascii=False))
    return 0


def cmd_bundle_assignments(args: argparse.Namespace) -> int:
    from app.core.project.project import open_project
    from app.core.team.assign import export_assignment_bundles

    passphrase = _passphrase(args, confirm=True)
    with open_project(Path(args.path)) as project:
        reports = export_assignment_bundles(
            project,
            Path(args.outdir),
            annotators=args.annotators.split(",") if args.annotators else None,
            passphrase=passphrase,
            progress=TextProgress(),
        )
    for report in reports:
        print(report.summary())
    return 0


def cmd_bundle_inspect(args: argparse.Namespace) -> int:
    from app.core.bundle import inspect_bundle

    manifest = inspect_bundle(Path(args.bundle), _passphrase(args), progress=TextProgress())
    if args.json:
        print(json.dumps(manifest, indent=2, ensure_ascii=False))
    else:
        lock = "encrypted " if manifest["encrypted"] else ""
        print(
            f"{lock}{manifest['kind']} bundle of {manifest.get('project_name')!r}"
            f" ({manifest['project_uuid']}), format {manifest['format_version']},"
            f" made {manifest.get('created_at')} by Tagloop {manifest.get('app_version')}"
        )
        for name, count in manifest.get("counts", {}).items():
            if count:
                print(f"  {name:<20} {count:>12,}")
        print(f"All checksums verified. SHA-256 of the file: {manifest['sha256']}")
    return 0


def cmd_annotators(args: argparse.Namespace) -> int:
    from app.core.project.project import open_project
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
    from app.core.project.project import open_project
    from app.core.team.assign import generate_tasks, reassign

    with open_project(Path(args.path)) as project:
        if args.reassign:
            if not args.to:
                raise SystemExit("tagloop: error: --reassign FROM needs --to TO")
            print(reassign(project, args.reassign, args.to, progress=TextProgress()).summary())
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


def _names(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def cmd_consensus(args: argparse.Namespace) -> int:
    from app.core.project.project import open_project
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
    from app.core.project.project import open_project
    from app.core.team.review import spot_check, task_status

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


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from app.core.audit.chain import verify_chain
    from app.core.project.project import open_project

    with open_project(Path(args.path)) as project:
        report = verify_chain(project)
    if report.ok:
        print(report.summary())
        if report.head:
            print(f"head: {report.head}")
        return 0
    print(
        f"tagloop: audit chain broken at event {report.first_bad_id}: {report.problem}"
        f" ({report.checked:,} events checked)",
        file=sys.stderr,
    )
    return 1


def cmd_audit_history(args: argparse.Namespace) -> int:
    from app.core.audit.history import format_value, item_history
    from app.core.project.project import open_project
    from app.core.quality.gold import resolve_datapoints

    with open_project(Path(args.path)) as project:
        (dp_id,) = resolve_datapoints(project, [args.datapoint])
        entries = item_history(project, dp_id)
    if args.json:
        print(json.dumps([e.as_dict() for e in entries], indent=2, ensure_ascii=False))
        return 0
    print(f"History of datapoint {dp_id}: {len(entries)} entries")
    for e in entries:
        change = format_value(e.after)
        if e.before is not None:
            change = f"{format_value(e.before)} → {change}"
        version = f"  [schema v{e.schema_version}]" if e.schema_version else ""
        note = f"  ({e.note})" if e.note else ""
        when = e.at[:19].replace("T", " ")
        print(f"{when}  {e.actor or '?':<16} {e.what:<14} {change}{version}{note}")
    return 0


def cmd_gold(args: argparse.Namespace) -> int:
    from app.core.project.project import open_project
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
    from app.core.project.project import open_project
    from app.core.quality.gold import (
        assign_qualification,
        create_qualification,
        qualification_result,
        resolve_datapoints,
    )

    with open_project(Path(args.path)) as project:
        if args.create:
            if not args.items or args.pass_score is None:
                raise SystemExit("tagloop: error: --create NAME needs --items FILE and --pass S")
            keys = [
                line.strip()
                for line in Path(args.items).read_text(encoding="utf-8").splitlines()
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


def add_commands(sub) -> None:
    """Register the team commands on the main parser's subcommands."""
    p = sub.add_parser("bundle", help="export, open and merge project bundles (.tlbundle)")
    bundle = p.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    secret = {
        "metavar": "P",
        "help": "the passphrase ('-' to be asked; default: $TAGLOOP_PASSPHRASE if set)",
    }

    b = bundle.add_parser("export", help="the whole project as one bundle file")
    b.add_argument("path", help="the project file")
    b.add_argument("out", help="the bundle file to write (.tlbundle)")
    b.add_argument("--with-model", action="store_true", help="include the newest model")
    b.add_argument("--passphrase", **secret)
    b.set_defaults(func=cmd_bundle_export)

    b = bundle.add_parser("open", help="make a project file from a project or assignment bundle")
    b.add_argument("bundle", help="the bundle file")
    b.add_argument("dest", help="the new project file (.tagloop)")
    b.add_argument("--passphrase", **secret)
    b.set_defaults(func=cmd_bundle_open)

    b = bundle.add_parser("merge", help="merge work or project bundles into the project")
    b.add_argument("path", help="the project file")
    b.add_argument("bundles", nargs="+", metavar="BUNDLE", help="bundle files, merged in turn")
    b.add_argument("--passphrase", **secret)
    b.add_argument("--json", action="store_true", help="print the reports as JSON")
    b.set_defaults(func=cmd_bundle_merge)

    b = bundle.add_parser("return", help="a work bundle: your work since the assignment")
    b.add_argument("path", help="the project file opened from an assignment bundle")
    b.add_argument("out", help="the work bundle to write (.tlbundle)")
    b.add_argument("--passphrase", **secret)
    b.set_defaults(func=cmd_bundle_return)

    b = bundle.add_parser("assignments", help="one assignment bundle per annotator with tasks")
    b.add_argument("path", help="the project file")
    b.add_argument("outdir", help="the folder to write them into")
    b.add_argument("--annotators", help="only these (comma-separated names or UUIDs)")
    b.add_argument("--passphrase", **secret)
    b.set_defaults(func=cmd_bundle_assignments)

    b = bundle.add_parser("inspect", help="verify a bundle and show its manifest")
    b.add_argument("bundle", help="the bundle file")
    b.add_argument("--passphrase", **secret)
    b.add_argument("--json", action="store_true", help="print the manifest as JSON")
    b.set_defaults(func=cmd_bundle_inspect)

    p = sub.add_parser("annotators", help="list the annotators, or register one")
    p.add_argument("path", help="the project file")
    p.add_argument("--add", metavar="NAME", help="register an annotator")
    p.add_argument(
        "--role", default="annotator", choices=("owner", "manager", "annotator", "reviewer")
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_annotators)

    p = sub.add_parser("assign", help="generate tasks for annotators, or move open tasks")
    p.add_argument("path", help="the project file")
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
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--kind", default="label", help="task kind (label)")
    p.add_argument("--force", action="store_true", help="assign even if not qualified")
    p.add_argument("--reassign", metavar="FROM", help="move FROM's open tasks ...")
    p.add_argument("--to", metavar="TO", help="... to TO")
    p.set_defaults(func=cmd_assign)

    p = sub.add_parser("consensus", help="consensus counts; queue disagreements to adjudicate")
    p.add_argument("path", help="the project file")
    p.add_argument("--match", choices=("exact", "overlap"), default="exact", help="span matching")
    p.add_argument("--adjudicator", metavar="NAME", help="create adjudication tasks for NAME")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_consensus)

    p = sub.add_parser("review", help="derived task status, or spot-check review tasks")
    p.add_argument("path", help="the project file")
    p.add_argument("--spot-check", type=float, metavar="FRACTION", help="e.g. 0.05")
    p.add_argument("--reviewer", metavar="NAME", help="who reviews the spot check")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument(
        "--stratify", default="annotator,label", help="annotator,label (default), or none"
    )
    p.add_argument("--annotator", metavar="NAME", help="status of one annotator's tasks")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("gold", help="gold items: mark, mix into queues, accuracy and drift")
    p.add_argument("path", help="the project file")
    p.add_argument("--mark", metavar="FILE.csv", help="answers: columns id and label")
    p.add_argument("--rate", type=float, help="share of gold in each queue, e.g. 0.1")
    p.add_argument("--annotators", metavar="A,B", help="whose queues get gold")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--accuracy", action="store_true", help="accuracy on gold over time")
    p.add_argument("--window", type=int, default=7, help="days per accuracy bucket (7)")
    p.add_argument("--threshold", type=float, default=0.8, help="drift alert below this (0.8)")
    p.add_argument("--min-items", type=int, default=5, help="answers a bucket needs (5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_gold)

    p = sub.add_parser("qualify", help="qualification sets: create, assign, score")
    p.add_argument("path", help="the project file")
    p.add_argument("--create", metavar="NAME", help="a new qualification set of gold items")
    p.add_argument("--items", metavar="FILE", help="datapoint ids or UUIDs, one a line")
    p.add_argument("--pass", dest="pass_score", type=float, help="the score to pass, e.g. 0.8")
    p.add_argument("--name", metavar="NAME", help="the set (if there are several)")
    p.add_argument("--assign", metavar="A,B", help="give these annotators its items")
    p.add_argument("--result", metavar="ANNOTATOR", help="score and record an annotator")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_qualify)

    p = sub.add_parser("audit", help="verify the hash-chained audit trail; an item's history")
    audit = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    a = audit.add_parser("verify", help="check the audit chain: exit 1 names the first bad event")
    a.add_argument("path", help="the project file")
    a.set_defaults(func=cmd_audit_verify)
    a = audit.add_parser("history", help="one item's lineage: labels, changes, reviews")
    a.add_argument("path", help="the project file")
    a.add_argument("datapoint", metavar="DATAPOINT_ID_OR_UUID", help="the item")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_audit_history)
