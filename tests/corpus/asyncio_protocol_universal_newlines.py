"""Carriage returns are translated: b"\\r\\n" and a lone b"\\r" both come back as b"\\n".

Bug: the handler applies universal-newline translation to every chunk, as a
file opened in text mode would, so byte 0x0d never comes back as itself.

How a user meets it: a Windows client's CRLF lines come back with LF only, and
any binary payload containing 0x0d is corrupted (and, where it was CRLF,
shortened). The author only ever tested with a Unix terminal.

Fuzzer operation that reveals it: send a payload containing 0x0d, then wait
for echoes.
"""

from __future__ import annotations

import asyncio

import server_cli

EXPECTED = "caught"
STYLE = "asyncio-protocol"


def translate_newlines(data: bytes) -> bytes:
    """What ``open(..., newline=None)`` does to line endings; the bug."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


class EchoProtocol(asyncio.Protocol):
    """Correct flow control and EOF handling; only the bytes are wrong."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Echo, after "normalising" line endings."""
        assert self.transport is not None
        self.transport.write(translate_newlines(data))

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
