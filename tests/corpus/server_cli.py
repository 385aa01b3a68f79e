"""The command line and the announcement shared by every corpus server.

Each corpus server is a standalone script, ``python tests/corpus/<name>.py
--port N [--host H]``, and Python puts the script's directory on ``sys.path``,
so ``import server_cli`` finds this module. What lives here is what must be
the same everywhere, so that the fuzzer can drive any of them alike:

* the arguments (``--port`` required, ``0`` picks a free port; ``--host``
  defaults to ``127.0.0.1``);
* one line on stdout, ``listening on HOST:PORT``, flushed as soon as the socket
  listens, and nothing else on stdout ever (a server that prints per message
  blocks once its parent stops draining the pipe, and that is not the bug a
  corpus entry is meant to show);
* a quiet exit on Ctrl-C. SIGTERM keeps its default action, which ends the
  process whatever its threads are doing.

Every corpus module also defines ``EXPECTED`` (``"caught"`` for the broken
servers, ``"clean"`` for the correct ones) and ``STYLE`` (one of
:data:`STYLES`), and does nothing when imported, only when run.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

STYLES = frozenset(
    {
        "threads",
        "selectors",
        "select",
        "asyncio-streams",
        "asyncio-protocol",
        "trio",
        "socketserver",
    }
)
"""The ways of writing a server that the corpus covers, as ``STYLE`` names."""

CHUNK_SIZE = 65536
"""How much a server asks ``recv`` for, unless its bug is about that size."""


@dataclass(frozen=True)
class Options:
    """Where to listen, from the command line."""

    host: str
    port: int

    @property
    def address(self) -> tuple[str, int]:
        """The ``(host, port)`` pair that ``bind`` and friends take."""
        return (self.host, self.port)


def parse_options(description: str | None, argv: Sequence[str] | None = None) -> Options:
    """Parse ``--port`` and ``--host``; the script's docstring is its help."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    arguments = parser.parse_args(argv)
    return Options(host=arguments.host, port=arguments.port)


def open_listener(options: Options) -> socket.socket:
    """A blocking, listening TCP socket, with ``SO_REUSEADDR`` for restarts."""
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(options.address)
        listener.listen(128)
    except BaseException:
        listener.close()
        raise
    return listener


def announce(listener: socket.socket) -> None:
    """Print ``listening on HOST:PORT`` with the real port, and flush it."""
    host, port = listener.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)


def listen_and_announce(description: str | None) -> socket.socket:
    """Parse the command line, listen, announce: the start of most servers."""
    listener = open_listener(parse_options(description))
    announce(listener)
    return listener


def run(main: Callable[[], object]) -> None:
    """Run a server's ``main``, turning Ctrl-C into a quiet exit."""
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
