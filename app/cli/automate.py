"""`tagloop automate`: the model labels what it is sure of, the rest goes to people.

Exit status: 0 when the run was written, 2 when no threshold reaches the target (nothing
written), 3 when the drift guard has stopped automation for the project (nothing written;
`--resume` lifts it), 1 for any other error. The ML libraries load only when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli.options import add_json, add_seed, command

NOTHING_QUALIFIED = 2
STOPPED = 3


def _names(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


def cmd_automate(args: argparse.Namespace) -> int:
    from app.cli.interrupt import interrupt_cancels
    from app.cli.options import open_project
    from app.cli.progress import TextProgress
    from app.core.errors import ProjectError
    from app.core.quality import automation
    from app.core.quality.automation_status import AutomationStopped, automation_status

    with open_project(Path(args.path)) as project:
        actor = project.local_annotator_id
        if args.resume:
            automation.resume(project, actor, args.note or "")
            print("Automation resumed: the audit starts afresh with the next run.")
            return 0
        if args.status:
            return _print_status(automation_status(project), args.json)
        if args.target_precision is None or (args.dataset is None) == (args.input is None):
            raise ProjectError(
                "give --target-precision, and either --dataset NAME_OR_ID or --input FILE"
            )
        try:  # Ctrl-C once the run is saved stops its status settle only: it stands
            with interrupt_cancels() as cancel:
                outcome = _run(project, args, actor, TextProgress(), cancel)
        except AutomationStopped as exc:
            print(f"tagloop: automation is stopped: {exc}", file=sys.stderr)
            if args.json:
                print(json.dumps({"stopped": str(exc)}, ensure_ascii=False))
            return STOPPED
        return _print_outcome(outcome, args.json)


def _run(
    project: Any, args: argparse.Namespace, actor: int, progress: Any, cancel: Any = None
) -> Any:
    """--dataset and --input alike: warn of a stale model (or retrain it with --retrain), then
    plan; --input imports its file only once the request has passed every check."""
    from app.core.errors import ProjectError
    from app.core.project import modelstore
    from app.ml.automate import run

    options = {
        "annotators": _names(args.annotators),
        "reviewers": _names(args.reviewers),
        "overlap_fraction": args.overlap,
        "per_item": args.per_item,
        "seed": args.seed,
    }
    common = {"actor_id": actor, "options": options, "progress": progress}
    if cancel is not None:
        common["cancel"] = cancel
    if args.input is not None:
        if args.dry_run:
            raise ProjectError(
                "--dry-run with --input would import the file: import it first"
                " (tagloop import), then use --dataset"
            )
        version = modelstore.latest_version(project)
        if version is not None:  # none: import_and_automate refuses it, nothing written
            _stale(project, run.staleness(project, version), args.retrain, progress)
        return run.import_and_automate(
            project,
            Path(args.input),
            args.target_precision,
            args.confidence,
            args.audit_rate,
            **common,
        )
    plan = run.prepare(project, args.dataset, args.target_precision, args.confidence)
    _stale(project, plan.stale, args.retrain, progress)
    if args.dry_run:
        return run.Outcome(plan, None)
    return run.automate(
        project, args.dataset, args.target_precision, args.confidence, args.audit_rate, **common
    )


def _stale(project: Any, stale: str | None, retrain: bool, progress: Any) -> None:
    """A model older than the newest labels: retrain it (--retrain) or warn."""
    if not stale:
        return
    if retrain:
        from app.ml.loop import train_and_score

        print(f"tagloop: {stale}; retraining first (--retrain)", file=sys.stderr)
        train_and_score(project, progress=progress)
    else:
        print(f"tagloop: warning: {stale} (or pass --retrain)", file=sys.stderr)


def _print_outcome(outcome: Any, as_json: bool) -> int:
    plan, report = outcome.plan, outcome.report
    choice = plan.choice
    if as_json:
        print(
            json.dumps(
                {
                    "model_version": plan.version.uuid,
                    "dataset": plan.dataset.source_name,
                    "target_precision": choice.target,
                    "confidence": choice.confidence,
                    "threshold": choice.threshold,
                    "expected_coverage": round(choice.coverage, 4),
                    "expected_precision": choice.precision,
                    "lower_bound": choice.lower,
                    "wrong_per_1000": round(choice.wrong_per_1000, 2),
                    "reason": choice.reason or None,
                    "more_labels": choice.more_labels,
                    "run": None if report is None else report.run_uuid,
                    "auto_labelled": 0 if report is None else report.auto_labelled,
                    "routed": 0 if report is None else report.routed,
                    "label_tasks": 0 if report is None else report.label_tasks,
                    "audit_tasks": 0 if report is None else report.audit_tasks,
                },
                ensure_ascii=False,
            )
        )
    else:
        print(plan.describe())
        if report is not None:
            print(report.summary())
    return NOTHING_QUALIFIED if choice.threshold is None else 0


def _print_status(status: Any, as_json: bool) -> int:
    if as_json:
        print(json.dumps(status.as_dict(), ensure_ascii=False))
    else:
        print(f"Runs since last resumed: {status.runs}")
        if status.promised_precision is not None:
            print(f"Promised precision: {status.promised_precision:g}")
            print(f"Coverage: {status.coverage:.1%}" if status.coverage is not None else "")
        if status.audited:
            low, high = status.audited_interval
            print(
                f"Audited precision: {status.audited_precision:.1%} "
                f"({status.audited_right} of {status.audited} right; {low:.1%} to {high:.1%})"
            )
        if status.alert:
            print(f"ALERT: {status.alert}")
    return STOPPED if status.alert else 0


def add_automate(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop automate` and its options."""
    p = command(
        sub,
        "automate",
        "let the model label what it is sure of, and route the rest to people",
        cmd_automate,
    )
    p.add_argument("--dataset", help="the dataset to automate, by name or id")
    p.add_argument("--input", help="import this file as a new dataset first, then automate it")
    p.add_argument("--target-precision", type=float, help="the precision promised, 0.80 to 0.999")
    p.add_argument(
        "--confidence", type=float, default=0.95, help="confidence of the promise (0.95)"
    )
    p.add_argument(
        "--audit-rate",
        type=float,
        default=0.02,
        help="share of auto-labels sampled for review (0.02, at least 50)",
    )
    p.add_argument("--annotators", help="comma-separated: who gets the uncertain items")
    p.add_argument("--reviewers", help="comma-separated: who reviews the audit sample")
    p.add_argument("--overlap", type=float, default=0.0, help="share of routed items for several")
    p.add_argument("--per-item", type=int, default=2, help="annotators per overlapping item (2)")
    p.add_argument("--retrain", action="store_true", help="retrain first if the model is stale")
    p.add_argument("--dry-run", action="store_true", help="show the threshold; write nothing")
    p.add_argument("--status", action="store_true", help="promised vs audited, and any alert")
    p.add_argument("--resume", action="store_true", help="resume after a drift alert")
    p.add_argument("--note", help="with --resume: why it is safe to resume")
    add_seed(p, "seed of the audit sample (0)")
    add_json(p)
