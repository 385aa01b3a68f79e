"""A correct echo server written with trio.

Bug: none. It is a control: the fuzzer must report it clean, or the fuzzer is
wrong.

How it stays correct: ``send_all`` waits until the kernel takes the bytes,
which is flow control; ``send_eof`` after the client's EOF sends a FIN once
everything is echoed; ``trio.BrokenResourceError`` (a reset) is caught inside
the handler, because an exception escaping a handler would cancel the whole
``serve_listeners`` nursery, i.e. crash the server.

Fuzzer operations it must survive: all of them.
"""

from __future__ import annotations

import server_cli
import trio

EXPECTED = "clean"
STYLE = "trio"


async def echo(stream: trio.SocketStream) -> None:
    """Echo until EOF, then FIN; a broken connection just ends."""
    async with stream:
        try:
            while chunk := await stream.receive_some(server_cli.CHUNK_SIZE):
                await stream.send_all(chunk)
            await stream.send_eof()
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
