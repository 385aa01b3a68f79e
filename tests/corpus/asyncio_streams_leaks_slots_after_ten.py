"""After ten connections have ended cleanly, every new client is turned away.

Bug: a connection limit of ten counts connections in use, but the slot is
given back only in the ``except`` branch (it belonged in ``finally``), so each
cleanly closed connection leaks one; from the eleventh connection on, the
server closes each new connection at once without echoing anything.

How a user meets it: after a restart everything works, then after a while
(ten sessions, on a quiet test server) every new client is disconnected
immediately, until the next restart, which "fixes" it.

Fuzzer operation that reveals it: the end-of-test-case fresh connection must
still echo; within one test case, any connect after ten clean closes or
half-closes (connections ended by a reset give their slot back).
"""

from __future__ import annotations

import asyncio
import contextlib

import server_cli

EXPECTED = "caught"
STYLE = "asyncio-streams"

MAX_CONNECTIONS = 10
connections_in_use = 0


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo until EOF, then FIN, if a slot is free; else hang up."""
    global connections_in_use
    try:
        if connections_in_use >= MAX_CONNECTIONS:
            return  # "Server busy": close without a word.
        connections_in_use += 1
        try:
            while chunk := await reader.read(server_cli.CHUNK_SIZE):
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except ConnectionError:
            connections_in_use -= 1  # The bug: only on this path.
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def serve() -> None:
    """Serve on the announced socket until killed."""
    listener = server_cli.open_listener(server_cli.parse_options(__doc__))
    server = await asyncio.start_server(echo, sock=listener)
    server_cli.announce(listener)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Run the asyncio event loop."""
    asyncio.run(serve())


if __name__ == "__main__":
    server_cli.run(main)
