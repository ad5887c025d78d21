"""The `tagloop` command (also `python -m app`): every verb of the app, without a window.

This is the entry point: it parses the command line (app.cli.parser), runs the command's
handler and turns errors into messages and exit codes: 1 for an error, 130 when cancelled
or interrupted. Each command group lives in its own module of app.cli.
"""

from __future__ import annotations

import sys

from app.cli.gui import cmd_gui
from app.cli.parser import build_parser
from app.core.offline import deny_network, skip_ipv6_probe

# Terminal controls a file name (or a value) could carry into a message: ESC sequences clear
# the screen, recolour or retitle the terminal, or hide text (red team, session 6: a file
# named 'ev\x1b[2J\x1b[31mil.csv'). Printed as \xNN; tab, line feed and carriage return (the
# progress bar's) stay.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(9), 11, 12, *range(14, 32), *range(127, 160))}


class Printable:
    """A text stream that writes terminal controls as \\xNN (every other call goes to it)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text.translate(_CONTROLS))

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def main(argv: list[str] | None = None) -> int:
    """Run one command (the app's window without one); returns the process exit code."""
    skip_ipv6_probe()
    deny_network()

    args = build_parser().parse_args(argv)
    func = getattr(args, "func", cmd_gui)
    if func is cmd_gui:
        return func(args)
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Printable(sys.stdout), Printable(sys.stderr)
    try:
        return _run(func, args)
    finally:
        sys.stdout, sys.stderr = streams


def _run(func, args) -> int:
    """Run a command's handler; errors become messages and exit codes."""
    from app.core.errors import Cancelled, TagloopError

    try:
        return func(args)
    except Cancelled as exc:
        print(f"\ntagloop: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ntagloop: interrupted; nothing was changed", file=sys.stderr)
        return 130
    except TagloopError as exc:
        print(f"tagloop: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tagloop: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        problem = storage_problem(exc)
        if problem is None:
            raise
        # The project file the command writes: `path`, or the new one of `bundle open` (red
        # team, session 6: a read-only folder gave a message naming no file).
        where = getattr(args, "path", None) or getattr(args, "dest", None)
        print(f"tagloop: error: {f'{where}: ' if where else ''}{problem}", file=sys.stderr)
        return 1


# What SQLite says, as a user can act on it. A long write that fails midway leaves nothing
# shown: its rows belong to an unpublished run or loading dataset, swept on the next open.
_STORAGE_PROBLEMS = (
    ("disk is full", "the disk is full (or the project reached its size limit)"),
    ("disk i/o error", "the disk could not be read or written (a disk or network drive error)"),
    ("readonly database", "the project file cannot be written (read-only file or folder)"),
    ("database is locked", "another program held the project busy for too long"),
    ("unable to open database", "the project file cannot be opened"),
)


def storage_problem(exc: BaseException) -> str | None:
    """A clear message for an SQLite error that reached the command line (disk full, I/O
    error, read-only or locked project), or None for anything else. Red team (issue 14): a
    full disk during an import ended in a traceback."""
    import sqlite3

    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    if not isinstance(cause, sqlite3.Error):
        return None
    text = str(cause).lower()
    for needle, problem in _STORAGE_PROBLEMS:
        if needle in text:
            return (
                f"{problem}: the command was stopped and nothing it was writing is kept "
                "(an unfinished import or merge is removed when the project next opens). "
                f"SQLite said: {cause}"
            )
    return f"the project database refused the command (SQLite said: {cause})"
