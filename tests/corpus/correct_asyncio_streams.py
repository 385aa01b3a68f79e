"""A correct echo server written with asyncio streams.

Bug: none. It is a control: the fuzzer must report it clean, or the fuzzer is
wrong.

How it stays correct: ``await writer.drain()`` after every write gives flow
control (a slow reader suspends its own handler only); ``write_eof`` after the
client's EOF sends a FIN once everything is echoed; ``ConnectionError`` ends
only the handler of the connection that broke.

Fuzzer operations it must survive: all of them.
"""

from __future__ import annotations

import asyncio
import contextlib

import server_cli

EXPECTED = "clean"
STYLE = "asyncio-streams"


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo until EOF, then FIN; a broken connection just ends."""
    try:
        while chunk := await reader.read(server_cli.CHUNK_SIZE):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except ConnectionError:
        pass
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
