"""Echoes go to the most recent connection from the same host, not to the sender.

Bug: sessions are kept in a dict keyed by the client's host instead of its
(host, port) address, so each new connection from a machine replaces the
previous one's entry, and whatever any connection from that host sends is
echoed to the newest one.

How a user meets it: with one client at a time everything works; as soon as
a second session from the same machine (or from behind the same NAT) opens,
the first session's replies start arriving in the second.

Fuzzer operation that reveals it: connect twice, then send on the older
connection and wait for echoes (every fuzzer connection comes from
127.0.0.1); also concurrent bursts on several connections.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
from dataclasses import dataclass, field

import server_cli

EXPECTED = "caught"
STYLE = "selectors"

OUTBOX_LIMIT = 1 << 18
"""Stop reading for a connection whose outbox is this full: flow control."""


@dataclass(eq=False)
class Connection:
    """One client: its socket, the bytes owed to it, whether it sent EOF."""

    sock: socket.socket
    host: str
    outbox: bytearray = field(default_factory=bytearray)
    client_has_finished: bool = False
    watched: int = selectors.EVENT_READ


class Server:
    """The selector, and the session of each host (one, which is the bug)."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.connections: list[Connection] = []
        # The bug: keyed by host, so the newest connection wins.
        self.session_by_host: dict[str, Connection] = {}

    def add(self, sock: socket.socket, address: tuple[str, int]) -> None:
        """Start watching a new connection; it becomes its host's session."""
        sock.setblocking(False)
        connection = Connection(sock, address[0])
        self.connections.append(connection)
        self.session_by_host[connection.host] = connection
        self.selector.register(sock, selectors.EVENT_READ, connection)

    def drop(self, connection: Connection) -> None:
        """Stop watching a connection and close it."""
        self.connections.remove(connection)
        if self.session_by_host.get(connection.host) is connection:
            del self.session_by_host[connection.host]
        self.watch(connection, 0)
        connection.sock.close()

    def serve_ready(self, connection: Connection, events: int) -> bool:
        """Do what the socket is ready for; False once the connection is over."""
        if events & selectors.EVENT_READ:
            chunk = connection.sock.recv(server_cli.CHUNK_SIZE)
            connection.client_has_finished = not chunk
            # The bug: the echo goes to the host's session, not to the sender.
            self.session_by_host.get(connection.host, connection).outbox += chunk
        if events & selectors.EVENT_WRITE and connection.outbox:
            sent = connection.sock.send(connection.outbox)
            del connection.outbox[:sent]
        if connection.client_has_finished and not connection.outbox:
            connection.sock.shutdown(socket.SHUT_WR)
            return False
        return True

    def update_interest(self) -> None:
        """Read while there is room and input, write while there is output."""
        for connection in self.connections:
            events = 0
            if not connection.client_has_finished:
                target = self.session_by_host.get(connection.host, connection)
                if len(target.outbox) < OUTBOX_LIMIT:
                    events |= selectors.EVENT_READ
            if connection.outbox:
                events |= selectors.EVENT_WRITE
            self.watch(connection, events)

    def watch(self, connection: Connection, events: int) -> None:
        """Watch for ``events``; a selector cannot watch for none, so unregister."""
        if events == connection.watched:
            return
        if not events:
            self.selector.unregister(connection.sock)
        elif not connection.watched:
            self.selector.register(connection.sock, events, connection)
        else:
            self.selector.modify(connection.sock, events, connection)
        connection.watched = events

    def run(self, listener: socket.socket) -> None:
        """One thread, one selector, non-blocking sockets."""
        listener.setblocking(False)
        self.selector.register(listener, selectors.EVENT_READ)
        while True:
            for key, events in self.selector.select():
                if key.fileobj is listener:
                    with contextlib.suppress(BlockingIOError, ConnectionAbortedError):
                        self.add(*listener.accept())
                    continue
                connection: Connection = key.data
                if connection not in self.connections:
                    continue  # Dropped earlier in this same batch.
                try:
                    keep = self.serve_ready(connection, events)
                except BlockingIOError:
                    keep = True
                except OSError:
                    keep = False
                if not keep:
                    self.drop(connection)
            self.update_interest()


def main() -> None:
    """Serve until killed."""
    with server_cli.listen_and_announce(__doc__) as listener:
        Server().run(listener)


if __name__ == "__main__":
    server_cli.run(main)
