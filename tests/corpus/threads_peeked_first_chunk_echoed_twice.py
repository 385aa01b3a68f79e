"""The first chunk of every connection is echoed twice.

Bug: to sniff the protocol, the handler reads the first bytes with
``MSG_PEEK`` and echoes them, forgetting that peeking does not consume: the
next ``recv`` returns the same bytes again, and they are echoed a second time.

How a user meets it: the first line of every session comes back doubled, the
rest is fine; a client that counts bytes hangs or fails on a length check.

Fuzzer operation that reveals it: the first send on any connection, then wait
for echoes.
"""

from __future__ import annotations

import socket
import threading

import server_cli

EXPECTED = "caught"
STYLE = "threads"


def echo(conn: socket.socket) -> None:
    """Echo until EOF, then FIN; the first chunk goes out twice."""
    with conn:
        try:
            first = conn.recv(server_cli.CHUNK_SIZE, socket.MSG_PEEK)
            # (The sniffing itself, e.g. for b"GET ", would go here.)
            conn.sendall(first)  # The bug: these bytes are still unread.
            while chunk := conn.recv(server_cli.CHUNK_SIZE):
                conn.sendall(chunk)
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
