"""A correct echo server built on ``socketserver.ThreadingTCPServer``.

Bug: none. It is a control: the fuzzer must report it clean, or the fuzzer is
wrong.

How it stays correct: one daemon thread per connection with blocking
``recv``/``sendall`` (flow control for free); ``handle`` returns on EOF and
``TCPServer.shutdown_request`` then shuts down the write side (FIN) and
closes; ``OSError`` is caught in ``handle`` so a reset neither prints a
traceback nor touches other connections.

Fuzzer operations it must survive: all of them.
"""

from __future__ import annotations

import socket
import socketserver

import server_cli

EXPECTED = "clean"
STYLE = "socketserver"


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
    """Daemon threads, so that the process can exit; quick port reuse."""

    daemon_threads = True
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
