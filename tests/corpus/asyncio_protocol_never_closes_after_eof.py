"""After the client half-closes, the server echoes everything but never sends its FIN.

Bug: ``eof_received`` returns ``True``, which tells asyncio "keep the
connection open, I will close it myself", and nothing ever does: the echo is
complete but EOF never comes, and the connection lingers half-open.

How a user meets it: ``printf data | nc host port`` prints the echo and then
hangs instead of exiting; clients that read "until EOF" wait forever, and the
server slowly accumulates half-open connections.

Fuzzer operation that reveals it: half-close, then expect EOF (the deadline
passes); also the end-of-test-case check that every connection reaches EOF.
"""

from __future__ import annotations

import asyncio

import server_cli

EXPECTED = "caught"
STYLE = "asyncio-protocol"


class EchoProtocol(asyncio.Protocol):
    """Correct echo and flow control; the bug is in ``eof_received``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Echo: the transport writes now or buffers."""
        assert self.transport is not None
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
        """The bug: True means "I will close", and nobody ever does."""
        return True


async def serve() -> None:
    """Serve on the announced socket until killed."""
    listener = server_cli.open_listener(server_cli.parse_options(__doc__))
    server = await asyncio.get_running_loop().create_server(EchoProtocol, sock=listener)
    server_cli.announce(listener)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Run the asyncio event loop."""
    asyncio.run(serve())


if __name__ == "__main__":
    server_cli.run(main)
