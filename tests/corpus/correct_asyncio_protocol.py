"""A correct echo server written as an asyncio Protocol.

Bug: none. It is a control: the fuzzer must report it clean, or the fuzzer is
wrong.

How it stays correct: ``data_received`` hands every chunk to the transport,
which buffers what the socket will not take yet; ``pause_writing`` and
``resume_writing`` pause and resume *reading* so that this buffer stays bounded
when the client reads slowly; ``eof_received`` returns ``False``, which tells
the transport to close once its buffer is flushed, i.e. all bytes then FIN.

Fuzzer operations it must survive: all of them.
"""

from __future__ import annotations

import asyncio

import server_cli

EXPECTED = "clean"
STYLE = "asyncio-protocol"


class EchoProtocol(asyncio.Protocol):
    """Echo every chunk; apply backpressure; close after the client's EOF."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport; every connection has its own protocol."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Echo: the transport writes now or buffers, and never drops bytes."""
        assert self.transport is not None
        self.transport.write(data)

    def pause_writing(self) -> None:
        """The write buffer is over its high-water mark: stop reading."""
        assert self.transport is not None
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        """The write buffer drained below its low-water mark: read again."""
        assert self.transport is not None
        self.transport.resume_reading()

    def eof_received(self) -> bool:
        """Return False: the transport flushes its buffer, then closes (FIN)."""
        return False


async def serve() -> None:
    """Serve on the announced socket until killed."""
    listener = server_cli.open_listener(server_cli.parse_options(__doc__))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(EchoProtocol, sock=listener)
    server_cli.announce(listener)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Run the asyncio event loop."""
    asyncio.run(serve())


if __name__ == "__main__":
    server_cli.run(main)
