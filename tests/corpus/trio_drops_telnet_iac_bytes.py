"""Every 0xff byte is silently dropped from the echo, as if it were telnet's IAC.

Bug: the handler strips byte 0xff (telnet's "Interpret As Command" escape)
from every chunk before echoing it, so the echo is shorter than what was sent.

How a user meets it: someone made the server "telnet-friendly". Typed text
comes back fine, but binary data (an image, a compressed file, UTF-16 text
with a "ÿ") comes back shorter, and the server never says why.

Fuzzer operation that reveals it: send a payload containing 0xff, then wait
for echoes (every byte value 0..255 occurs in the payloads).
"""

from __future__ import annotations

import server_cli
import trio

EXPECTED = "caught"
STYLE = "trio"

TELNET_IAC = b"\xff"


async def echo(stream: trio.SocketStream) -> None:
    """Echo until EOF, then FIN, minus every IAC byte."""
    async with stream:
        try:
            while chunk := await stream.receive_some(server_cli.CHUNK_SIZE):
                # The bug: IAC is a telnet escape, but this is not telnet.
                await stream.send_all(chunk.replace(TELNET_IAC, b""))
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
