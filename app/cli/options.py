"""The option shapes the command groups share: a command on a project file, `--json`, `--seed`,
and opening that project file.

Why a module of its own: nearly every command takes the project file first and many print
JSON on request; declaring those once keeps their wording the same in every `--help`, and the
groups cannot import app.cli.parser (it imports them).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.project.project import Project

PROJECT_FILE = "the project file"
MACHINE_READABLE = "machine-readable output"

Handler = Callable[[argparse.Namespace], int]


def command(
    sub: argparse._SubParsersAction,
    name: str,
    help: str,
    func: Handler,
    *,
    path: str | None = PROJECT_FILE,
) -> argparse.ArgumentParser:
    """Register `tagloop NAME`, run by func; its first argument is the project file (`path`
    is that argument's help; None: the command has no such argument)."""
    p = sub.add_parser(name, help=help)
    if path is not None:
        p.add_argument("path", help=path)
    p.set_defaults(func=func)
    return p


def add_json(p: argparse.ArgumentParser, help: str = MACHINE_READABLE) -> None:
    """The `--json` switch: print JSON instead of text."""
    p.add_argument("--json", action="store_true", help=help)


def add_seed(p: argparse.ArgumentParser, help: str = "random seed (0)") -> None:
    """The `--seed` option of the commands that draw at random (default 0: reproducible)."""
    p.add_argument("--seed", type=int, default=0, help=help)


def open_project(path: Path) -> Project:
    """Open a project file as the core verb does, and say on stderr (stdout may be --json)
    when that upgraded an older file, and where the copy of it as it was is kept: the command
    line's counterpart of the window's status-bar message."""
    from app.core.project.project import open_project as open_file

    project = open_file(Path(path))
    if project.schema_upgrade is not None:
        print(f"tagloop: {project.path.name}: {project.schema_upgrade.summary()}", file=sys.stderr)
    for swept in project.swept:  # an import killed before it published its rows
        print(f"tagloop: {project.path.name}: {swept.summary()}", file=sys.stderr)
    return project


def row_id(value: str) -> int:
    """An argparse type for a database id (a dataset, a datapoint): a whole number SQLite can
    hold. Red team: `--remove 99999999999999999999` ended in an OverflowError traceback."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 0 < number < 2**63:
        raise argparse.ArgumentTypeError(f"no such id: {value}")
    return number


def share(value: str) -> float:
    """An argparse type for a share or a score from 0 to 1 (a threshold, a pass mark, a spot
    check). Red team, session 6: `gold --threshold nan` was taken and no alert could ever fire."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= number <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"give a number from 0 to 1, not {value}")
    return number
