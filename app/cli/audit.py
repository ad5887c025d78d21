"""`tagloop audit ACTION`: verify the hash-chained audit trail, or show one item's history."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli.options import add_json, command


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
    from app.core.audit.chain import verify_chain

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
    from app.cli.options import open_project
    from app.core.audit.history import format_value, item_history
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


def add_audit(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop audit` and its options."""
    p = sub.add_parser("audit", help="verify the hash-chained audit trail; an item's history")
    audit = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    a = command(
        audit, "verify", "check the audit chain: exit 1 names the first bad event", cmd_audit_verify
    )
    a = command(audit, "history", "one item's lineage: labels, changes, reviews", cmd_audit_history)
    a.add_argument("datapoint", metavar="DATAPOINT_ID_OR_UUID", help="the item")
    add_json(a)
