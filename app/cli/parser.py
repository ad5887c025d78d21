"""The `tagloop` argument parser, built from the command groups (one module each).

The commands are registered in the order `tagloop --help` has always listed them.
"""

from __future__ import annotations

import argparse

from app import __version__
from app.cli import assign, audit, automate, bundle, data, gui, model, project, quality, report

EPILOG = "Run 'tagloop COMMAND --help' for a command's options. Without a command, opens the app."


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; building it imports no ML library and no Qt."""
    parser = argparse.ArgumentParser(
        prog="tagloop",
        description="Offline text annotation with a model in the loop.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"tagloop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    project.add_init(sub)
    data.add_import(sub)
    data.add_export(sub)
    project.add_stats(sub)
    report.add_report(sub)
    data.add_datasets(sub)
    project.add_schema(sub)
    data.add_demo(sub)
    model.add_train(sub)
    model.add_predict(sub)
    model.add_al_bench(sub)
    automate.add_automate(sub)
    bundle.add_bundle(sub)
    assign.add_annotators(sub)
    assign.add_assign(sub)
    quality.add_consensus(sub)
    quality.add_review(sub)
    quality.add_gold(sub)
    quality.add_qualify(sub)
    quality.add_suspicious(sub)
    audit.add_audit(sub)
    gui.add_gui(sub)
    return parser
