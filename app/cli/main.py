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


def main(argv: list[str] | None = None) -> int:
    """Run one command (the app's window without one); returns the process exit code."""
    from app.core.errors import Cancelled, TagloopError

    skip_ipv6_probe()
    deny_network()

    args = build_parser().parse_args(argv)
    func = getattr(args, "func", cmd_gui)
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
