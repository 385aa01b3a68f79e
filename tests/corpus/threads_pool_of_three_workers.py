"""Only three clients are served at once; a fourth waits until one leaves.

Bug: connections are handed to a fixed pool of three worker threads, each of
which serves one connection to its end, so the fourth concurrent client is
accepted by the kernel but not echoed until one of the first three closes.

How a user meets it: in testing, with one or two clients, it is perfect; in
production the fourth user to connect sees a connection that "hangs", and it
comes back to life the moment someone else disconnects.

Fuzzer operation that reveals it: connect four or more clients, send on the
fourth while the first three stay open, and wait for echoes (the deadline
passes).
"""

from __future__ import annotations

import queue
import socket
import threading

import server_cli

EXPECTED = "caught"
STYLE = "threads"

WORKER_COUNT = 3


def echo(conn: socket.socket) -> None:
    """Echo until EOF, then FIN; a broken connection just ends."""
    with conn:
        try:
            while chunk := conn.recv(server_cli.CHUNK_SIZE):
                conn.sendall(chunk)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def work(accepted: queue.Queue[socket.socket]) -> None:
    """One worker: serve queued connections one after another, forever."""
    while True:
        echo(accepted.get())


def main() -> None:
    """Accept forever and queue each connection for the pool."""
    accepted: queue.Queue[socket.socket] = queue.Queue()
    for _ in range(WORKER_COUNT):
        threading.Thread(target=work, args=(accepted,), daemon=True).start()
    with server_cli.listen_and_announce(__doc__) as listener:
        while True:
            try:
                conn, _ = listener.accept()
            except ConnectionAbortedError:
                continue
            accepted.put(conn)


if __name__ == "__main__":
    server_cli.run(main)
