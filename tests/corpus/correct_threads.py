"""A correct echo server with one thread per connection.

Bug: none. It is a control: the fuzzer must report it clean, or the fuzzer is
wrong.

How it stays correct: each connection has its own daemon thread with blocking
``recv``/``sendall``, so a slow reader blocks only its own thread (and TCP
slows its sender down); after the client's EOF the thread shuts down its write
side (FIN) and closes; ``OSError`` ends only that thread. The accept loop
survives ``ECONNABORTED`` and never calls ``getpeername``.

Fuzzer operations it must survive: all of them.
"""

from __future__ import annotations

import socket
import threading

import server_cli

EXPECTED = "clean"
STYLE = "threads"


def echo(conn: socket.socket) -> None:
    """Echo until EOF, then FIN; a broken connection just ends."""
    with conn:
        try:
            while chunk := conn.recv(server_cli.CHUNK_SIZE):
                conn.sendall(chunk)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main() -> None:
    """Accept forever; daemon threads do not keep a dying process alive."""
    with server_cli.listen_and_announce(__doc__) as listener:
        while True:
            try:
                conn, _ = listener.accept()
            except ConnectionAbortedError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    server_cli.run(main)
