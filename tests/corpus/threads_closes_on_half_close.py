"""Closes the connection as soon as the client half-closes, dropping the echo it still owes.

Bug: or documented behaviour, depending on whom you ask. RFC 862 only says
data is echoed "until the calling user terminates the connection"; Twisted's
``wire.Echo`` and many line-oriented servers treat the client's FIN as the end
of the conversation and close at once. Echofuzz's model says the rest of the
echo is owed (claim 3), so without a declaration this server is caught, and the
reason names ``--half-close close``; with it declared, it must pass.

How it does it: each connection's thread gathers what has arrived, waits a few
milliseconds as a busy server would, and then echoes it; if the client's EOF
came in the meantime, it closes instead, with the gathered bytes unsent.

How a user meets it: ``printf 'hello' | nc -N host 7`` prints nothing, or half
of it, depending on timing; interactive clients that never half-close never
notice.

Fuzzer operation that reveals it: ``half_close`` right after a ``send``, and the
end of every test case (which half-closes every connection).
"""

from __future__ import annotations

import socket
import threading
import time

import server_cli

EXPECTED = "caught"
STYLE = "threads"
#: How long a gathered chunk waits before it is echoed.
DELAY = 0.005


def echo(conn: socket.socket) -> None:
    """Gather, wait, echo; at EOF, close with whatever is gathered unsent."""
    with conn:
        try:
            while chunk := conn.recv(server_cli.CHUNK_SIZE):
                time.sleep(DELAY)
                conn.setblocking(False)
                try:
                    while more := conn.recv(server_cli.CHUNK_SIZE):
                        chunk += more
                    return  # EOF while gathering: the client is done, so are we
                except BlockingIOError:
                    pass
                finally:
                    conn.setblocking(True)
                conn.sendall(chunk)
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
