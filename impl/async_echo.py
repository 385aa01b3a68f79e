"""An RFC 862 echo server written with async/await on impl.loop.

    python -m impl.async_echo --port 7007      # --host defaults to 127.0.0.1; port 0 picks one

It prints ``listening on HOST:PORT`` once, flushed, and nothing after that: a
server that printed per message could block on its own full stdout pipe.

What makes it a correct echo server rather than the article's sketch:

- Every byte is echoed in order: each chunk is ``sendall``-ed in full before
  the next ``recv``.
- Flow control: ``sendall`` parks the connection's task until its socket is
  writable, so a client that does not read holds up only itself, and, since
  its task stops reading too, TCP pushes back on that client alone.
- Half-close: when a client shuts down its sending side, ``recv`` returns
  ``b""`` after everything it sent; by then all of it has been echoed, so the
  server shuts down its own side (FIN) and closes. The receive buffer is empty
  at that point, which is what makes the close a FIN and not a RST.
- A reset, a broken pipe or any other socket error ends that connection only:
  the OSError ends the connection's task (``with conn`` closes the socket on
  the way out), and nothing awaits that task, so nothing else hears of it.
- The accept loop survives errors such as running out of file descriptors.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import sys

from impl.loop import Task, accept, recv, run, sendall, sleep
from impl.serving import announce, open_listener, parse_arguments

CHUNK = 65536


async def echo(conn: socket.socket) -> None:
    """Echo one connection until the client half-closes; a failed connection raises OSError."""
    with conn:
        while True:
            data = await recv(conn, CHUNK)
            if not data:
                break
            await sendall(conn, data)
        conn.shutdown(socket.SHUT_WR)


async def serve(listener: socket.socket) -> None:
    """Accept forever, one Task per connection."""
    while True:
        try:
            conn, _ = await accept(listener)
        except OSError as error:
            if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                await sleep(0.1)  # out of resources: let connections finish, then retry
            continue  # ECONNABORTED and friends concern one would-be client only
        Task(echo(conn))


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments("python -m impl.async_echo", __doc__.splitlines()[0], argv)
    with open_listener(args.host, args.port, blocking=False) as listener:
        announce(listener)
        with contextlib.suppress(KeyboardInterrupt):
            run(serve(listener))
    return 0


if __name__ == "__main__":
    sys.exit(main())
