"""Chunks read in one go are echoed in reverse order.

Bug: each connection queues the chunks it reads in a list and the writer takes
them with ``list.pop()``, which takes the newest; it should be ``pop(0)`` (or
a ``deque``'s ``popleft``). When a burst is read as several chunks before the
socket is writable again, the echo comes back chunk-reversed.

How a user meets it: short messages are fine; anything longer than one 4 KiB
read comes back with its 4 KiB blocks shuffled, which looks like corruption
of large transfers only.

Fuzzer operation that reveals it: send a payload of more than 4 KiB, then wait
for echoes (the whole payload lands in the receive buffer at once on
loopback, so it is read as several chunks before the first write).
"""

from __future__ import annotations

import selectors
import socket
from dataclasses import dataclass, field

import server_cli

EXPECTED = "caught"
STYLE = "selectors"

READ_SIZE = 4096
MAX_QUEUED_CHUNKS = 64
"""Stop reading while this many chunks wait: flow control is not the bug here."""


@dataclass
class Connection:
    """One client: its socket, its queue of chunks to echo, whether it sent EOF."""

    sock: socket.socket
    outbox: list[bytes] = field(default_factory=list)
    client_has_finished: bool = False


def wanted_events(connection: Connection) -> int:
    """Read while there is room and input, write while there is output."""
    events = 0
    if not connection.client_has_finished and len(connection.outbox) < MAX_QUEUED_CHUNKS:
        events |= selectors.EVENT_READ
    if connection.outbox:
        events |= selectors.EVENT_WRITE
    return events


def read_available(connection: Connection) -> None:
    """Read every chunk that is there now, up to the queue limit."""
    while len(connection.outbox) < MAX_QUEUED_CHUNKS:
        try:
            chunk = connection.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        if not chunk:
            connection.client_has_finished = True
            return
        connection.outbox.append(chunk)


def write_some(connection: Connection) -> None:
    """Write queued chunks until the socket is full or the queue empty."""
    while connection.outbox:
        chunk = connection.outbox.pop()  # The bug: newest first.
        try:
            sent = connection.sock.send(chunk)
        except BlockingIOError:
            sent = 0
        if sent < len(chunk):
            connection.outbox.append(chunk[sent:])  # Back on top: next out.
            return


def serve_ready(connection: Connection, events: int) -> bool:
    """Do what the socket is ready for; False once the connection is over."""
    if events & selectors.EVENT_READ:
        read_available(connection)
    if connection.outbox:
        write_some(connection)
    if connection.client_has_finished and not connection.outbox:
        connection.sock.shutdown(socket.SHUT_WR)
        return False
    return True


def main() -> None:
    """One thread, one selector, non-blocking sockets."""
    selector = selectors.DefaultSelector()
    with server_cli.listen_and_announce(__doc__) as listener:
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ)
        while True:
            for key, events in selector.select():
                if key.fileobj is listener:
                    try:
                        sock, _ = listener.accept()
                    except (BlockingIOError, ConnectionAbortedError):
                        continue
                    sock.setblocking(False)
                    selector.register(sock, selectors.EVENT_READ, Connection(sock))
                    continue
                connection: Connection = key.data
                try:
                    keep = serve_ready(connection, events)
                except OSError:
                    keep = False
                if keep:
                    selector.modify(connection.sock, wanted_events(connection), connection)
                else:
                    selector.unregister(connection.sock)
                    connection.sock.close()


if __name__ == "__main__":
    server_cli.run(main)
