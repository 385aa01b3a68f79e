"""The server dies when a client connects and resets before sending anything.

Bug: as in the article, each connection's generator task begins with
``conn.getpeername()``, but a generator's body does not run until it is first
resumed, which happens when the socket is first readable; if that readiness
is a reset, ``getpeername`` raises ``OSError`` (``ENOTCONN``), and the loop,
which only expects ``StopIteration``, lets it end the process. Everything
else (flow control, half-close, resets after data) is handled correctly.

How a user meets it: a port scanner, a load balancer's TCP health check that
resets, or a client that gives up right after connecting takes the server
down, with "Transport endpoint is not connected" as the last words.

Fuzzer operation that reveals it: connect-then-RST at once, or an abortive
close of a connection that never sent anything; every later step is refused.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Generator
from typing import Literal

import server_cli

EXPECTED = "caught"
STYLE = "select"

Wait = Literal["readable", "writable"]
Task = Generator[Wait, None, None]


def echo_connection(conn: socket.socket) -> Task:
    """Echo everything, then FIN after the client's FIN; resets end the task."""
    peer = conn.getpeername()  # The bug: runs at the first resume, not now.
    owed = bytearray()
    client_has_finished = False
    with conn:
        try:
            while True:
                if owed:
                    yield "writable"
                    del owed[: conn.send(owed)]
                elif not client_has_finished:
                    yield "readable"
                    chunk = conn.recv(server_cli.CHUNK_SIZE)
                    owed += chunk
                    client_has_finished = not chunk
                else:
                    conn.shutdown(socket.SHUT_WR)
                    return
        except BlockingIOError:
            raise AssertionError(f"{peer}: select said ready") from None
        except OSError:
            return  # A reset or a broken pipe ends this connection only.


def main() -> None:
    """The article's loop: a dict of tasks resumed when ``select`` says so."""
    tasks: dict[socket.socket, Task] = {}
    waits: dict[socket.socket, Wait] = {}
    with server_cli.listen_and_announce(__doc__) as listener:
        listener.setblocking(False)
        while True:
            readers = [sock for sock, wait in waits.items() if wait == "readable"]
            writers = [sock for sock, wait in waits.items() if wait == "writable"]
            readable, writable, _ = select.select([listener, *readers], writers, [])
            for sock in [*readable, *writable]:
                if sock is listener:
                    try:
                        conn, _ = listener.accept()
                    except (BlockingIOError, ConnectionAbortedError):
                        continue
                    conn.setblocking(False)
                    tasks[conn] = echo_connection(conn)  # Not started yet.
                    waits[conn] = "readable"
                    continue
                try:
                    waits[sock] = tasks[sock].send(None)
                except StopIteration:
                    del tasks[sock], waits[sock]


if __name__ == "__main__":
    server_cli.run(main)
