"""An echo server on uvloop, written as an asyncio Protocol: the fast end of the comparison.

    python -m benchmarks.uvloop_echo --port 0      # prints "listening on HOST:PORT"

The protocol is ``tests/corpus/correct_asyncio_protocol.py``'s: every chunk goes
to the transport, reading pauses while the transport's buffer is over its
high-water mark, and ``eof_received`` returning False closes after the buffer
is flushed (all bytes, then FIN). Only the loop differs. It needs uvloop (the
``bench`` extra), so it is a benchmark, not a corpus server.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from typing import cast


class EchoProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def pause_writing(self) -> None:
        assert self.transport is not None
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        assert self.transport is not None
        self.transport.resume_reading()

    def eof_received(self) -> bool:
        return False


async def serve(host: str, port: int) -> None:
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
    server = await asyncio.get_running_loop().create_server(EchoProtocol, sock=listener)
    bound_host, bound_port = listener.getsockname()[:2]
    print(f"listening on {bound_host}:{bound_port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    import uvloop  # the bench extra; imported here so that --help works without it

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    args = parser.parse_args(argv)
    try:
        uvloop.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
