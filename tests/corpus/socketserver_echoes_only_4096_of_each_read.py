"""Of each read of up to 64 KiB, only the first 4 KiB are echoed.

Bug: the receive size was raised from 4096 to 65536 for throughput, but the
line that echoes still slices the data to the old 4096-byte buffer size, so
whatever a single ``recv`` returned beyond 4 KiB is lost.

How a user meets it: interactive use and small messages are perfect; a pasted
block of text or a file upload comes back with holes, more of them the faster
the network.

Fuzzer operation that reveals it: send a payload of more than 4 KiB (it is
read in one go on loopback), then wait for echoes.
"""

from __future__ import annotations

import socket
import socketserver

import server_cli

EXPECTED = "caught"
STYLE = "socketserver"

RECEIVE_SIZE = 65536
OLD_BUFFER_SIZE = 4096


class EchoHandler(socketserver.BaseRequestHandler):
    """Echo until EOF; ``shutdown_request`` then sends the FIN."""

    def handle(self) -> None:
        """Copy every chunk back, truncated; return on EOF or on a reset."""
        conn = self.request
        assert isinstance(conn, socket.socket)
        try:
            while chunk := conn.recv(RECEIVE_SIZE):
                conn.sendall(chunk[:OLD_BUFFER_SIZE])  # The bug.
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
