"""After the client half-closes, the server ends the connection with a reset, not a FIN.

Bug: to avoid piling up ``TIME_WAIT`` sockets, the handler sets ``SO_LINGER``
to zero before closing, which makes ``close`` send RST and throw away
whatever the kernel has not yet delivered; the client sees "connection reset
by peer" instead of EOF, often after losing the tail of the echo.

How a user meets it: under load, clients intermittently report ECONNRESET at
the very end of otherwise successful sessions, and the last bytes are
sometimes missing.

Fuzzer operation that reveals it: half-close, then expect all remaining echoes
and EOF (the client gets a reset instead); also the end-of-test-case check.
"""

from __future__ import annotations

import socket
import struct

import server_cli
import trio

EXPECTED = "caught"
STYLE = "trio"

LINGER_ZERO = struct.pack("ii", 1, 0)


async def echo(stream: trio.SocketStream) -> None:
    """Echo until EOF, then reset the connection."""
    async with stream:
        try:
            while chunk := await stream.receive_some(server_cli.CHUNK_SIZE):
                await stream.send_all(chunk)
            # The bug: closing with a zero linger time sends RST, not FIN.
            stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
        except trio.BrokenResourceError:
            pass


async def serve() -> None:
    """Serve on the announced socket until killed."""
    listener = server_cli.open_listener(server_cli.parse_options(__doc__))
    trio_listener = trio.SocketListener(trio.socket.from_stdlib_socket(listener))
    server_cli.announce(listener)
    await trio.serve_listeners(echo, [trio_listener])


def main() -> None:
    """Run trio."""
    trio.run(serve)


if __name__ == "__main__":
    server_cli.run(main)
