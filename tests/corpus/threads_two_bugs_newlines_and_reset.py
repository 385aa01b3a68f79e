"""Two independent bugs: line endings rewritten, and the process dies of any client's reset.

Bug: two of them. 1: each chunk goes through a text-mode idea of lines, so ``\r\n`` comes
back as ``\n`` (a translation layer meant for a line protocol, wrongly applied
to an echo). 2: a connection thread that meets ``ConnectionResetError``
"gives up" with ``os._exit(3)``, taking every other client with it.

How a user meets it (them): Windows clients see their line endings change; and once
a day, when someone's laptop drops off the network, everyone is disconnected.

Fuzzer operations that reveal them: any send of ``\r\n`` (bug 1); a reset of a
connection with echo owed, or at once after connecting (bug 2). A run must
report both, each with its own short reproduction.
"""

from __future__ import annotations

import os
import socket
import threading

import server_cli

EXPECTED = "caught"
STYLE = "threads"
#: The claim each planted bug breaks (``tests/test_multiple_bugs.py`` looks for every one).
PLANTED = ("intact", "accepting")


def echo(conn: socket.socket) -> None:
    with conn:
        try:
            while chunk := conn.recv(server_cli.CHUNK_SIZE):
                conn.sendall(chunk.replace(b"\r\n", b"\n"))
            conn.shutdown(socket.SHUT_WR)
        except ConnectionResetError:
            os._exit(3)
        except OSError:
            pass


def main() -> None:
    with server_cli.listen_and_announce(__doc__) as listener:
        while True:
            try:
                conn, _ = listener.accept()
            except ConnectionAbortedError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    server_cli.run(main)
