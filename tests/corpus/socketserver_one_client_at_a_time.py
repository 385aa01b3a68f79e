"""Clients are served one at a time: a second client waits for the first to leave.

Bug: the server is a plain ``socketserver.TCPServer``; the author forgot the
``ThreadingMixIn`` (``ThreadingTCPServer``), so ``handle`` runs in the serving
thread and the next connection is accepted only when it returns.

How a user meets it: alone, everything works; the second user's session
hangs until the first one disconnects.

Fuzzer operation that reveals it: connect two clients and send on the second
while the first stays open, then wait for echoes (the deadline passes).
"""

from __future__ import annotations

import socket
import socketserver

import server_cli

EXPECTED = "caught"
STYLE = "socketserver"


class EchoHandler(socketserver.BaseRequestHandler):
    """Echo until EOF; ``shutdown_request`` then sends the FIN."""

    def handle(self) -> None:
        """Copy every chunk back; return on EOF or on a broken connection."""
        conn = self.request
        assert isinstance(conn, socket.socket)
        try:
            while chunk := conn.recv(server_cli.CHUNK_SIZE):
                conn.sendall(chunk)
        except OSError:
            pass


class EchoServer(socketserver.TCPServer):  # The bug: no ThreadingMixIn.
    """Quick port reuse, so that restarts do not fail."""

    allow_reuse_address = True
    # socketserver's default backlog is 5: a burst of connects (or of
    # connect-then-resets) overflows it and the kernel drops SYNs, which
    # the client retries only after a second. That is not this server's bug.
    request_queue_size = 128


def main() -> None:
    """Serve until killed."""
    options = server_cli.parse_options(__doc__)
    with EchoServer(options.address, EchoHandler) as server:
        server_cli.announce(server.socket)
        server.serve_forever()


if __name__ == "__main__":
    server_cli.run(main)
