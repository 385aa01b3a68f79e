"""A correct single-threaded ``selectors`` echo server with a listen backlog of two.

Bug: none. It is a control: the fuzzer must report it clean, or the fuzzer is
wrong.

The story: an event-loop server whose author copied ``listen(2)`` from an old
example and accepts one connection per wake-up, after a blocking bit of
bookkeeping (an access-log line written synchronously, about 5 ms). A burst
of connects fills the queue of two, the kernel drops the next SYN, and Linux
sends it again only after a second; meanwhile the loop keeps echoing for the
connections it has. Slow to let a crowd in, correct for everyone let in: a
latency, not a divergence.

How it stays correct: non-blocking sockets, one outbox per connection, write
interest only while the outbox holds bytes, ``send``'s count honoured; it
stops reading from a connection whose outbox exceeds 1 MiB until the client
reads (flow control, so a slow reader costs only its own connection); after
the client's EOF it flushes the outbox, shuts down its write side (FIN) and
closes; ``OSError`` closes only that connection. Accept survives
``ECONNABORTED``.

What it costs: every dropped SYN is a second's wait, so a clean run of this
server takes minutes where the other correct servers take seconds. The
delay is not what costs: with a 2 ms delay a run takes as long, because a
few connect-and-resets in a row overflow the queue before any accept.

Fuzzer operations it must survive: all of them; bursts of connects are slow.
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass, field

import server_cli

EXPECTED = "clean"
STYLE = "selectors"

BACKLOG = 2
"""The listen queue: two connections may wait for ``accept``, the rest are dropped."""
BOOKKEEPING_S = 0.005
"""The blocking work done for each accepted connection, in the loop's thread."""
OUTBOX_LIMIT = 1 << 20
"""Unsent echo above which the server stops reading from that client."""


@dataclass
class Connection:
    """One client: its socket, the echo it is owed, and whether it sent EOF."""

    sock: socket.socket
    outbox: bytearray = field(default_factory=bytearray)
    eof: bool = False


def interest(conn: Connection) -> int:
    """Read while the outbox is small and no EOF came; write while it holds bytes."""
    events = 0
    if not conn.eof and len(conn.outbox) < OUTBOX_LIMIT:
        events |= selectors.EVENT_READ
    if conn.outbox:
        events |= selectors.EVENT_WRITE
    return events


def step(conn: Connection, ready: int) -> bool:
    """Read and write what is ready; False once the connection is over."""
    if ready & selectors.EVENT_READ:
        chunk = conn.sock.recv(server_cli.CHUNK_SIZE)
        if chunk:
            conn.outbox += chunk
        else:
            conn.eof = True
    if ready & selectors.EVENT_WRITE and conn.outbox:
        sent = conn.sock.send(conn.outbox)
        del conn.outbox[:sent]
    if conn.eof and not conn.outbox:
        conn.sock.shutdown(socket.SHUT_WR)
        return False
    return True


def main() -> None:
    """One thread, one selector; one accept per wake-up of the listener."""
    selector = selectors.DefaultSelector()
    with server_cli.listen_and_announce(__doc__) as listener:
        # On Linux, listen() on a listening socket sets its backlog anew.
        listener.listen(BACKLOG)
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ)
        while True:
            for key, ready in selector.select():
                if key.fileobj is listener:
                    try:
                        sock, _ = listener.accept()
                    except (BlockingIOError, ConnectionAbortedError):
                        continue
                    time.sleep(BOOKKEEPING_S)
                    sock.setblocking(False)
                    selector.register(sock, selectors.EVENT_READ, Connection(sock))
                    continue
                conn = key.data
                assert isinstance(conn, Connection)
                try:
                    keep = step(conn, ready)
                except BlockingIOError:
                    keep = True
                except OSError:
                    keep = False
                if keep:
                    selector.modify(conn.sock, interest(conn), conn)
                else:
                    selector.unregister(conn.sock)
                    conn.sock.close()


if __name__ == "__main__":
    server_cli.run(main)
