"""One client that reads slowly freezes the server for every other client.

Bug: a single-threaded ``select`` loop keeps its sockets blocking and echoes
with ``sendall``, which blocks until the client has read enough; while it
blocks, no other connection is read, written or accepted (head-of-line
blocking). ``select`` only tells us a socket is readable, not that the peer
will take what we send back.

How a user meets it: one user on a slow mobile link (or a client that pipes a
big file in before reading) stalls everyone, and the server "recovers" by
itself when that user finally reads. The server pins a 16 KiB send buffer to
bound memory per client, so a few hundred KiB of unread echo are enough.

Fuzzer operation that reveals it: the slow reader (small SO_RCVBUF, sends
256 KiB-4 MiB without reading) while other connections keep working; their
echoes miss the deadline.
"""

from __future__ import annotations

import select
import socket

import server_cli

EXPECTED = "caught"
STYLE = "select"

SEND_BUFFER_BYTES = 16384
"""Small send buffers bound memory per client, and bring the bug within reach:
with the kernel's auto-tuned buffers (megabytes on loopback) it takes
megabytes of unread echo before the send buffer fills."""


def echo_once(conn: socket.socket) -> bool:
    """Echo one chunk (blocking until sent); False once the connection is over."""
    chunk = conn.recv(server_cli.CHUNK_SIZE)
    if not chunk:
        conn.shutdown(socket.SHUT_WR)
        return False
    conn.sendall(chunk)  # The bug: blocks the whole loop on a slow reader.
    return True


def main() -> None:
    """One thread, one ``select`` loop over blocking sockets."""
    connections: list[socket.socket] = []
    with server_cli.listen_and_announce(__doc__) as listener:
        while True:
            readable, _, _ = select.select([listener, *connections], [], [])
            for sock in readable:
                if sock is listener:
                    try:
                        conn, _ = listener.accept()
                    except ConnectionAbortedError:
                        continue
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
                    connections.append(conn)
                    continue
                try:
                    keep = echo_once(sock)
                except OSError:
                    keep = False
                if not keep:
                    connections.remove(sock)
                    sock.close()


if __name__ == "__main__":
    server_cli.run(main)
