"""A correct echo server with a listen backlog of one and a slow accept loop.

Bug: none. It is a control: the fuzzer must report it clean, or the fuzzer is
wrong.

The story: a small daemon written the textbook way, ``listen(1)`` (the value
in many tutorials), and an accept loop that does some work before each
``accept``: it writes an access-log line and re-reads a configuration file,
about 20 ms. A burst of connects (or of connect-then-resets) fills the queue
of one while the loop is busy, the kernel drops the next SYN, and Linux sends
it again only after a second. The connection then completes and is served
correctly: slow, not wrong. A fuzzer whose deadline is one second must call
this a latency, not a divergence.

How it stays correct: each accepted connection gets its own daemon thread with
blocking ``recv``/``sendall`` (flow control for free); after the client's EOF
the thread shuts down its write side (FIN) and closes; ``OSError`` ends only
that thread. The accept loop survives ``ECONNABORTED``.

What it costs: every dropped SYN is a second's wait, so a clean run of this
server takes minutes where the other correct servers take seconds. The
delay is not what costs: with a 2 ms delay a run takes as long, because a
few connect-and-resets in a row overflow the queue before any accept.

Fuzzer operations it must survive: all of them; bursts of connects are slow.
"""

from __future__ import annotations

import socket
import threading
import time

import server_cli

EXPECTED = "clean"
STYLE = "threads"

BACKLOG = 1
"""The listen queue: one connection may wait for ``accept``, the rest are dropped."""
WORK_BEFORE_ACCEPT_S = 0.02
"""What the loop spends (logging, re-reading its configuration) before each accept."""


def echo(conn: socket.socket) -> None:
    """Echo until EOF, then FIN; a broken connection just ends."""
    with conn:
        try:
            while chunk := conn.recv(server_cli.CHUNK_SIZE):
                conn.sendall(chunk)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main() -> None:
    """Accept slowly forever, one thread per connection."""
    with server_cli.listen_and_announce(__doc__) as listener:
        # On Linux, listen() on a listening socket sets its backlog anew.
        listener.listen(BACKLOG)
        while True:
            time.sleep(WORK_BEFORE_ACCEPT_S)
            try:
                conn, _ = listener.accept()
            except ConnectionAbortedError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    server_cli.run(main)
