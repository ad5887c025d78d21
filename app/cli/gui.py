"""`tagloop gui`, also what `tagloop` does without a command: open the app's window.

The one command that reaches the views; it imports them only when run, so that no other
command loads Qt.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.options import command


def open_gui(path: Path | None, screenshot: Path | None = None) -> int:
    """Open the app, on a project file if one is given; returns the exit code."""
    from app.views.app import main_gui

    return main_gui(path, screenshot)


def cmd_gui(args: argparse.Namespace) -> int:
    shot = getattr(args, "screenshot", None)
    return open_gui(
        Path(args.path) if getattr(args, "path", None) else None, Path(shot) if shot else None
    )


def add_gui(sub: argparse._SubParsersAction) -> None:
    """Register `tagloop gui` and its options."""
    p = command(sub, "gui", "open the app", cmd_gui, path=None)
    p.add_argument("path", nargs="?", help="a project file to open")
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        help="save the window to PNG once the project shows, then quit (checks an install)",
    )
