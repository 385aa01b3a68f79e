"""When the client half-closes, the echo of its last bytes is never sent.

Bug: to save system calls the handler coalesces echoes, writing when 16 KiB
have gathered or when the client has been quiet for 50 ms; on EOF it closes
the connection without writing the partial batch it still holds, so the FIN
arrives before the tail of the echo, which is lost.

How a user meets it: interactive sessions work (the 50 ms timer flushes), but
``cat file | nc host port`` loses the end of the file, and the shorter the
file the likelier it is to lose all of it.

Fuzzer operation that reveals it: send, then half-close at once (before the
50 ms timer fires), then expect all remaining echoes and EOF.
"""

from __future__ import annotations

import asyncio
import contextlib

import server_cli

EXPECTED = "caught"
STYLE = "asyncio-streams"

BATCH_BYTES = 16384
QUIET_SECONDS = 0.05


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo in batches until EOF, then FIN; the last batch is forgotten."""
    batch = bytearray()
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(
                    reader.read(server_cli.CHUNK_SIZE),
                    timeout=QUIET_SECONDS if batch else None,
                )
            except asyncio.TimeoutError:
                chunk = None  # Quiet client: flush what we hold.
            if chunk == b"":
                break  # The bug: `batch` still holds bytes we owe.
            if chunk is not None:
                batch += chunk
            if batch and (chunk is None or len(batch) >= BATCH_BYTES):
                writer.write(bytes(batch))
                batch.clear()
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
