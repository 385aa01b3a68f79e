"""Three independent bugs: byte 0xFF dropped, RST instead of FIN, and a limit of 64 clients.

Bug: three of them. 1: a filter meant for a telnet-ish protocol drops every ``0xFF`` byte.
Bug 2: after the client's half-close the server closes with ``SO_LINGER 0``,
so the client sees a reset instead of a clean end. Bug 3: a fixed table of 64
connection slots; the 65th client makes the server exit with "out of slots".

How a user meets it (them): binary uploads come back short; ``nc -N`` reports
"connection reset by peer" every time; and on a busy day the server vanishes.

Fuzzer operations that reveal them: a send of every byte value (bug 1); any
half-close (bug 2, also at the end of every test case); a crowd of more than
64 connections (bug 3). A run must report all three, each shrunk on its own.
"""

from __future__ import annotations

import selectors
import socket
import struct
import sys

import server_cli

EXPECTED = "caught"
STYLE = "selectors"
#: The claim each planted bug breaks (``tests/test_multiple_bugs.py`` looks for every one).
PLANTED = ("intact", "half_close", "accepting")
SLOTS = 64


def main() -> None:
    selector = selectors.DefaultSelector()
    listener = server_cli.listen_and_announce(__doc__)
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    outbox: dict[socket.socket, bytearray] = {}
    while True:
        for key, events in selector.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is listener:
                try:
                    conn, _ = listener.accept()
                except (BlockingIOError, ConnectionAbortedError):
                    continue
                if len(outbox) >= SLOTS:
                    sys.exit("out of slots")
                conn.setblocking(False)
                outbox[conn] = bytearray()
                selector.register(conn, selectors.EVENT_READ)
                continue
            try:
                if events & selectors.EVENT_READ:
                    data = sock.recv(server_cli.CHUNK_SIZE)
                    if not data:
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        raise ConnectionResetError  # the planted close: RST, not FIN
                    outbox[sock] += data.replace(b"\xff", b"")
                if outbox[sock]:
                    sent = sock.send(outbox[sock])
                    del outbox[sock][:sent]
                wanted = selectors.EVENT_WRITE if outbox[sock] else selectors.EVENT_READ
                selector.modify(sock, wanted)
            except OSError:
                selector.unregister(sock)
                del outbox[sock]
                sock.close()


if __name__ == "__main__":
    server_cli.run(main)
