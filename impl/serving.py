"""What every reference server does around its echo loop: listen, announce, read its options.

Kept in one place so that the servers differ only where their designs do. The
contract with whoever starts them (the tests, ``echofuzz --spawn``): ``--port N``
(0 picks a free port), ``--host H``, and one line ``listening on HOST:PORT``
on stdout, flushed, once the socket listens; nothing else on stdout, ever, so a
parent that stops reading can never block the server.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Sequence


def open_listener(host: str, port: int, blocking: bool = True) -> socket.socket:
    """Bind and listen; ``SO_REUSEADDR`` lets a restarted server reuse its port.

    Without it, ``bind`` fails with ``EADDRINUSE`` for as long as connections
    from the previous process sit in ``TIME_WAIT``.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
        listener.setblocking(blocking)
    except BaseException:
        listener.close()
        raise
    return listener


def announce(listener: socket.socket) -> None:
    """Print the one line a parent process waits for, with the real port."""
    host, port = listener.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)


def parse_arguments(
    prog: str, description: str, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """Read ``--port``, ``--host`` and ``--verbose`` from the command line."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log connections to stderr")
    return parser.parse_args(argv)


def configure_logging(logger: logging.Logger, verbose: bool) -> None:
    """Log to stderr when asked; otherwise not at all (never to stdout)."""
    if verbose:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    else:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
