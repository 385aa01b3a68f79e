"""Every 40th connection since the server started gets bytes 0x80-0xff mangled.

Bug: one connection in forty is sampled for a debug trace, and the sampling
path decodes each chunk as Latin-1 to log it, then echoes the re-encoded text
as UTF-8, so each byte from 0x80 to 0xff comes back as two bytes.

How a user meets it: rarely and irreproducibly: one session in forty garbles
non-ASCII data, and which one depends on how many connections came before,
so restarting the server or rerunning the failing test "fixes" it.

Fuzzer operation that reveals it: any send of a payload with a byte of 0x80
or more on the 40th, 80th, ... connection the process has accepted (counting
every connection of every earlier test case), then wait for echoes. It
depends on history: a replay must start a fresh server or reproduce the count.
"""

from __future__ import annotations

import asyncio
import itertools
import sys

import server_cli

EXPECTED = "caught"
STYLE = "asyncio-protocol"

SAMPLE_EVERY = 40


class EchoProtocol(asyncio.Protocol):
    """Correct flow control and EOF; the sampled path mangles bytes."""

    def __init__(self, connection_number: int) -> None:
        self.sampled = connection_number % SAMPLE_EVERY == 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Echo; on a sampled connection, through the tracing path."""
        assert self.transport is not None
        if self.sampled:
            text = data.decode("latin-1")
            if sys.flags.dev_mode:
                print(f"trace: {text!r}", file=sys.stderr)
            data = text.encode("utf-8")  # The bug: not the codec it came in.
        self.transport.write(data)

    def pause_writing(self) -> None:
        """Backpressure: stop reading while the write buffer is full."""
        assert self.transport is not None
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        """Backpressure released: read again."""
        assert self.transport is not None
        self.transport.resume_reading()

    def eof_received(self) -> bool:
        """Let the transport flush, then close with a FIN."""
        return False


async def serve() -> None:
    """Serve on the announced socket until killed, numbering connections."""
    listener = server_cli.open_listener(server_cli.parse_options(__doc__))
    connection_numbers = itertools.count(1)
    server = await asyncio.get_running_loop().create_server(
        lambda: EchoProtocol(next(connection_numbers)), sock=listener
    )
    server_cli.announce(listener)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Run the asyncio event loop."""
    asyncio.run(serve())


if __name__ == "__main__":
    server_cli.run(main)
