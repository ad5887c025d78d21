"""Offline, proven: Tagloop never opens a socket, and with TAGLOOP_DENY_NETWORK=1 any attempt
ends the process loudly. Here, below every layer, so the command line, the frozen entry point
and the worker process (app.workers.process) all install the same guard."""

from __future__ import annotations

import os
import sys

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
