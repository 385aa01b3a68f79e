"""A correct ``socketserver.ThreadingTCPServer`` with the default backlog of five.

Bug: none. It is a control: the fuzzer must report it clean, or the fuzzer is
wrong.

The story: the standard library's own recipe, unchanged: ``request_queue_size``
keeps its default of 5, and ``verify_request`` checks each client against an
allow-list (a file read, some 10 ms) before the thread is started. A burst of
connect-and-resets fills the queue of five while the serving thread is busy,
the kernel drops the next SYN, and Linux retransmits it a second later. The
connection is then served correctly: a latency, not a divergence. Python's
``socketserver``, socat and busybox's ``nc`` all listen with a backlog of 5 or
less, and a fuzzer that calls them broken for it is wrong.

How it stays correct: one daemon thread per connection with blocking
``recv``/``sendall``; ``handle`` returns on EOF and
``TCPServer.shutdown_request`` then shuts down the write side (FIN) and
closes; ``OSError`` is caught in ``handle`` so a reset touches no other
connection.

What it costs: every dropped SYN is a second's wait, so a clean run of this
server takes minutes where the other correct servers take seconds. The
delay is not what costs: with a 2 ms delay a run takes as long, because a
few connect-and-resets in a row overflow the queue before any accept.

Fuzzer operations it must survive: all of them; bursts of connects are slow.
"""

from __future__ import annotations

import socket
import socketserver
import time

import server_cli

EXPECTED = "clean"
STYLE = "socketserver"

VERIFY_S = 0.01
"""What checking a client against the allow-list costs, in the serving thread."""


class EchoHandler(socketserver.BaseRequestHandler):
    """Echo until EOF; the server closes the connection with a FIN after."""

    def handle(self) -> None:
        """Copy every chunk back; return on EOF or on a broken connection."""
        conn = self.request
        assert isinstance(conn, socket.socket)
        try:
            while chunk := conn.recv(server_cli.CHUNK_SIZE):
                conn.sendall(chunk)
        except OSError:
            pass


class EchoServer(socketserver.ThreadingTCPServer):
    """Daemon threads and quick port reuse; ``request_queue_size`` stays 5."""

    daemon_threads = True
    allow_reuse_address = True

    def verify_request(self, request: object, client_address: object) -> bool:
        """Every client is allowed, after the time the check takes."""
        time.sleep(VERIFY_S)
        return True


def main() -> None:
    """Serve until killed."""
    options = server_cli.parse_options(__doc__)
    with EchoServer(options.address, EchoHandler) as server:
        server_cli.announce(server.socket)
        server.serve_forever()


if __name__ == "__main__":
    server_cli.run(main)
