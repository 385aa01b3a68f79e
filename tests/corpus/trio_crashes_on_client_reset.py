"""The whole server crashes the first time a client resets its connection.

Bug: the handler does not catch ``trio.BrokenResourceError``; an exception
escaping a ``serve_listeners`` handler cancels the nursery that runs every
connection, so one client's reset ends the process and every other client's
connection with it.

How a user meets it: the server runs for days, until a client on a flaky
network (or a killed browser tab) drops its connection abruptly; then
everyone is disconnected and nothing listens on the port any more.

Fuzzer operation that reveals it: abortive close (SO_LINGER 0, RST) of an
open connection, or connect-then-RST at once; every later step fails.
"""

from __future__ import annotations

import server_cli
import trio

EXPECTED = "caught"
STYLE = "trio"


async def echo(stream: trio.SocketStream) -> None:
    """Echo until EOF, then FIN. The bug: nothing here expects a reset."""
    async with stream:
        while chunk := await stream.receive_some(server_cli.CHUNK_SIZE):
            await stream.send_all(chunk)
        await stream.send_eof()


async def serve() -> None:
    """Serve on the announced socket until killed, or until the first reset."""
    listener = server_cli.open_listener(server_cli.parse_options(__doc__))
    trio_listener = trio.SocketListener(trio.socket.from_stdlib_socket(listener))
    server_cli.announce(listener)
    await trio.serve_listeners(echo, [trio_listener])


def main() -> None:
    """Run trio."""
    trio.run(serve)


if __name__ == "__main__":
    server_cli.run(main)
