"""The reference blocking echo server: one connection at a time, in order.

This is the article's first server with its bugs taken out, kept just as plain:
blocking calls, no threads, no event loop. It is the baseline that the other
servers are compared against, so every choice below favours "obviously right"
over "fast".

Design principles, and why:

* **Serve connections one after another, forever.** The article's server serves
  one connection and exits; a fuzzer runs many test cases against one process,
  so this one goes back to ``accept`` when a connection ends. While it serves a
  connection, later clients wait in the listen backlog: their handshakes
  complete, their bytes are buffered by the kernel, but nothing is echoed until
  the current client has finished. That is the one-client limit, and the fuzzer
  states it as a precondition rather than reporting it as a bug.
* **Echo exactly, then FIN.** Every byte read is written back with ``sendall``.
  When the client half-closes (``recv`` returns ``b""``), everything it sent has
  already been echoed, so the server shuts down its write side (a FIN, not a
  reset) and closes.
* **A connection's failure ends that connection only.** A reset, a broken pipe
  or a client that connects and resets at once raises ``OSError`` inside the
  per-connection code; it is caught there and the server accepts the next
  client. The peer address comes from ``accept``, never from ``getpeername``,
  which fails with ``ENOTCONN`` once the peer has reset.
* **Never block on our own output.** Nothing is printed per message. The one
  line ``listening on HOST:PORT`` is flushed once the socket is listening, so a
  parent process can read the port; everything else goes to stderr, and only
  with ``--verbose``.
* **Flow control comes for free.** ``sendall`` on a blocking socket waits until
  the client reads; while it waits the server does not read either, so a client
  that stops reading is held back by TCP rather than by unbounded buffering.

Run it as ``python -m impl.blocking_echo --port N [--host H] [--verbose]``;
``--port 0`` lets the kernel pick a free port.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Sequence

from impl.serving import announce, configure_logging, open_listener, parse_arguments

CHUNK_SIZE = 65536
"""How much to ask ``recv`` for at once: any size is correct, bigger is faster."""

logger = logging.getLogger("impl.blocking_echo")


def echo_until_eof(conn: socket.socket) -> int:
    """Echo everything the client sends, then send FIN; return the byte count.

    Raises ``OSError`` if the connection breaks (reset, broken pipe).
    """
    echoed = 0
    while chunk := conn.recv(CHUNK_SIZE):
        conn.sendall(chunk)
        echoed += len(chunk)
    # The client has half-closed and every byte it sent has been written
    # back: tell it we are done too, with a FIN.
    conn.shutdown(socket.SHUT_WR)
    return echoed


def serve_one(conn: socket.socket, peer: object) -> None:
    """Serve one accepted connection; its failures stay inside this function."""
    with conn:
        try:
            echoed = echo_until_eof(conn)
        except OSError as error:
            logger.info("%s: connection ended by %r", peer, error)
        else:
            logger.info("%s: echoed %d bytes, then FIN", peer, echoed)


def serve_forever(listener: socket.socket) -> None:
    """Accept connections one after another and serve each to the end."""
    while True:
        try:
            conn, peer = listener.accept()
        except ConnectionAbortedError:
            # The client reset before we accepted it: nothing to serve.
            continue
        logger.info("%s: connected", peer)
        serve_one(conn, peer)


def main(argv: Sequence[str] | None = None) -> None:
    """Listen, announce the port, and serve until killed."""
    arguments = parse_arguments(
        "python -m impl.blocking_echo",
        "Blocking echo server, serving one connection at a time.",
        argv,
    )
    configure_logging(logger, arguments.verbose)
    with open_listener(arguments.host, arguments.port) as listener:
        announce(listener)
        with contextlib.suppress(KeyboardInterrupt):
            serve_forever(listener)


if __name__ == "__main__":
    main()
