"""The `tagloop` command (also `python -m app`): every verb of the app, without a window.

This is the entry point: it parses the command line (app.cli.parser), runs the command's
handler and turns errors into messages and exit codes: 1 for an error, 130 when cancelled
or interrupted. Each command group lives in its own module of app.cli.
"""

from __future__ import annotations

import os
import sys

from app.cli.gui import cmd_gui
from app.cli.parser import build_parser

NETWORK_EVENTS = frozenset(
    {"socket.__new__", "socket.bind", "socket.connect", "socket.sendto", "socket.getaddrinfo"}
    | {"socket.gethostbyname", "socket.gethostbyaddr", "urllib.Request"}
)


def skip_ipv6_probe() -> None:
    """Tagloop never uses the network, yet importing spaCy imports requests, whose urllib3
    opens an IPv6 socket bound to ::1 just to see whether IPv6 works. Saying there is no IPv6
    skips that probe, so that no socket is ever opened (TAGLOOP_DENY_NETWORK proves it)."""
    import socket

    socket.has_ipv6 = False


def deny_network() -> None:
    """With TAGLOOP_DENY_NETWORK=1, any socket use ends the process loudly (exit 97): how the
    frozen build's smoke test proves that Tagloop opens none. Children inherit the variable."""
    if os.environ.get("TAGLOOP_DENY_NETWORK") != "1" or getattr(deny_network, "done", False):
        return

    def hook(event: str, args: tuple) -> None:
        if event in NETWORK_EVENTS:
            print(f"tagloop: network use refused: {event} {args!r}", file=sys.stderr, flush=True)
            os._exit(97)  # not an exception some library could swallow

    sys.addaudithook(hook)
    deny_network.done = True  # type: ignore[attr-defined]


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
