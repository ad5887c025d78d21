"""`tagloop report`: the project report as JSON, as a self-contained HTML file, or as a
short plain-text digest for the terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.options import add_json, command


def cmd_report(args: argparse.Namespace) -> int:
    from app.cli.options import open_project
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
    automation = report.get("automation")
    if automation:
        audited = "not audited yet"
        if automation["audited_precision"] is not None:
            low, high = automation["audited_interval"]
            audited = f"{figure(automation['audited_precision'])} ({low:.3f} to {high:.3f})"
        lines.append(
            f"Automation: promised precision {automation['promised_precision']},"
            f" audited {audited}, coverage {figure(automation['coverage'])}"
        )
        if automation["alert"]:
            lines.append(f"  ALERT {automation['alert']}")
    issues = report["open_issues"]
    rejections = issues.get("rejections")
    lines.append(
        f"Open flags: {issues['flags_open']:,}"
        + (f"; open rejections: {rejections['open']:,}" if rejections else "")
    )
    return "\n".join(lines)


def add_report(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop report` and its options."""
    p = command(sub, "report", "progress, throughput, labels, agreement, open issues", cmd_report)
    add_json(p, "print the whole report as JSON")
    p.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML report")
