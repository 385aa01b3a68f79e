"""Each connection's bytes beyond its first MiB are read and silently discarded.

Bug: a per-connection transfer quota of 1 MiB was meant to close connections
that exceed it, but the over-quota branch only skips the echo, so the bytes
are lost while the connection carries on as if all were well.

How a user meets it: small messages always work; a large upload, or a long
session, comes back short, with no error on either side.

Fuzzer operation that reveals it: send a payload of more than 1 MiB (or several
payloads adding up to more) on one connection, then wait for echoes or
half-close; the slow reader's 256 KiB-4 MiB payload also crosses it.
"""

from __future__ import annotations

import socket
import threading

import server_cli

EXPECTED = "caught"
STYLE = "threads"

QUOTA_BYTES = 1 << 20


def echo(conn: socket.socket) -> None:
    """Echo until EOF, then FIN, but only the first ``QUOTA_BYTES`` bytes."""
    received = 0
    with conn:
        try:
            while chunk := conn.recv(server_cli.CHUNK_SIZE):
                allowed = max(0, QUOTA_BYTES - received)
                received += len(chunk)
                # The bug: this should close the connection, not drop bytes.
                conn.sendall(chunk[:allowed])
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main() -> None:
    """Accept forever, one daemon thread per connection."""
    with server_cli.listen_and_announce(__doc__) as listener:
        while True:
            try:
                conn, _ = listener.accept()
            except ConnectionAbortedError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    server_cli.run(main)
