"""Bytes are lost whenever the client reads more slowly than it writes.

Bug: the server writes each chunk with one ``send`` on a non-blocking socket
and ignores the count it returns (and swallows ``BlockingIOError``), so when
the kernel's send buffer is full the part that did not fit is silently
dropped: there is no flow control, only loss.

How a user meets it: on a fast local network everything works; over a slow
link, or with a client that sends a large file before reading the echo, the
echo has holes. The server pins a 16 KiB send buffer to bound memory per
client, so a few hundred KiB of unread echo are enough.

Fuzzer operation that reveals it: the slow reader (small SO_RCVBUF, sends
256 KiB-4 MiB without reading, then reads everything); also large payloads.
"""

from __future__ import annotations

import contextlib
import selectors
import socket

import server_cli

EXPECTED = "caught"
STYLE = "selectors"

SEND_BUFFER_BYTES = 16384
"""Small send buffers bound memory per client, and bring the bug within reach:
with the kernel's auto-tuned buffers (megabytes on loopback) it takes
megabytes of unread echo before the send buffer fills."""


def echo_once(conn: socket.socket) -> bool:
    """Echo one chunk; False once the connection is over."""
    chunk = conn.recv(server_cli.CHUNK_SIZE)
    if not chunk:
        conn.shutdown(socket.SHUT_WR)
        return False
    with contextlib.suppress(BlockingIOError):
        conn.send(chunk)  # The bug: a partial send loses the rest.
    return True


def main() -> None:
    """One thread, one selector, non-blocking sockets, read interest only."""
    selector = selectors.DefaultSelector()
    with server_cli.listen_and_announce(__doc__) as listener:
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is listener:
                    try:
                        conn, _ = listener.accept()
                    except (BlockingIOError, ConnectionAbortedError):
                        continue
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
                    conn.setblocking(False)
                    selector.register(conn, selectors.EVENT_READ)
                    continue
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    keep = echo_once(sock)
                except BlockingIOError:
                    keep = True
                except OSError:
                    keep = False
                if not keep:
                    selector.unregister(sock)
                    sock.close()


if __name__ == "__main__":
    server_cli.run(main)
