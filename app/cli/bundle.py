"""`tagloop bundle ACTION`: export, open, merge, return, hand out (assignments) and inspect
project bundles, with an optional passphrase."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from app.cli.options import add_json, command
from app.cli.progress import TextProgress

T = TypeVar("T")


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


def _export(args: argparse.Namespace, export: Callable[..., T], out: str, **options: Any) -> T:
    """Run one export verb on the project at PATH, writing to `out`, with the passphrase
    (asked twice when '-') and a text progress bar: what the export commands share."""
    from app.cli.options import open_project

    passphrase = _passphrase(args, confirm=True)
    with open_project(Path(args.path)) as project:
        return export(project, Path(out), passphrase=passphrase, progress=TextProgress(), **options)


def cmd_bundle_export(args: argparse.Namespace) -> int:
    from app.core.bundle import export_project_bundle

    print(_export(args, export_project_bundle, args.out, with_model=args.with_model).summary())
    return 0


def cmd_bundle_return(args: argparse.Namespace) -> int:
    from app.core.bundle import export_work_bundle

    print(_export(args, export_work_bundle, args.out).summary())
    return 0


def cmd_bundle_open(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.bundle import open_bundle
    from app.core.storage import fts

    report = open_bundle(
        Path(args.bundle), Path(args.dest), passphrase=_passphrase(args), progress=TextProgress()
    )
    print(report.summary())
    with open_project(report.path) as project:
        fts.index_pending(project, TextProgress())
    return 0


def cmd_bundle_merge(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.bundle import merge_bundle
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
    from app.core.bundle.assignments import export_assignment_bundles

    annotators = args.annotators.split(",") if args.annotators else None
    reports = _export(args, export_assignment_bundles, args.outdir, annotators=annotators)
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
        # What the bundle says is shown with control characters escaped: a terminal escape
        # or a newline in a project name must not forge a line such as "All checksums verified"
        print(
            f"{lock}{manifest['kind']} bundle of {manifest.get('project_name')!r}"
            f" ({manifest['project_uuid']}), format {manifest['format_version']},"
            f" made {printable(manifest.get('created_at'))} by Tagloop"
            f" {printable(manifest.get('app_version'))}"
        )
        for name, count in manifest.get("counts", {}).items():
            if count:
                print(f"  {printable(name):<20} {count:>12,}")
        print(f"All checksums verified. SHA-256 of the file: {manifest['sha256']}")
    return 0


def printable(value: object) -> str:
    """`value` as text with control characters escaped (\\x1b, \\n): safe on a terminal."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: repr(m.group())[1:-1], str(value))


def _add_passphrase(p: argparse.ArgumentParser) -> None:
    """The `--passphrase` option every bundle action takes (an encrypted bundle needs it)."""
    p.add_argument(
        "--passphrase",
        metavar="P",
        help="the passphrase ('-' to be asked; default: $TAGLOOP_PASSPHRASE if set)",
    )


def add_bundle(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop bundle` and its options."""
    p = sub.add_parser("bundle", help="export, open and merge project bundles (.tlbundle)")
    bundle = p.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)

    b = command(bundle, "export", "the whole project as one bundle file", cmd_bundle_export)
    b.add_argument("out", help="the bundle file to write (.tlbundle)")
    b.add_argument("--with-model", action="store_true", help="include the newest model")
    _add_passphrase(b)

    b = command(
        bundle,
        "open",
        "make a project file from a project or assignment bundle",
        cmd_bundle_open,
        path=None,
    )
    b.add_argument("bundle", help="the bundle file")
    b.add_argument("dest", help="the new project file (.tagloop)")
    _add_passphrase(b)

    b = command(bundle, "merge", "merge work or project bundles into the project", cmd_bundle_merge)
    b.add_argument("bundles", nargs="+", metavar="BUNDLE", help="bundle files, merged in turn")
    _add_passphrase(b)
    add_json(b, "print the reports as JSON")

    b = command(
        bundle,
        "return",
        "a work bundle: your work since the assignment",
        cmd_bundle_return,
        path="the project file opened from an assignment bundle",
    )
    b.add_argument("out", help="the work bundle to write (.tlbundle)")
    _add_passphrase(b)

    b = command(
        bundle,
        "assignments",
        "one assignment bundle per annotator with tasks",
        cmd_bundle_assignments,
    )
    b.add_argument("outdir", help="the folder to write them into")
    b.add_argument("--annotators", help="only these (comma-separated names or UUIDs)")
    _add_passphrase(b)

    b = command(
        bundle, "inspect", "verify a bundle and show its manifest", cmd_bundle_inspect, path=None
    )
    b.add_argument("bundle", help="the bundle file")
    _add_passphrase(b)
    add_json(b, "print the manifest as JSON")
