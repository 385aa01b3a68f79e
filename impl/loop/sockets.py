"""Socket awaitables: accept, recv and sendall on non-blocking sockets.

Each is the article's pattern, "wait until the socket is ready, then make the
call", with the waiting done by yielding a ``WaitIO`` to the loop instead of
by a bare ``yield`` to a hand-written ``select`` loop.

Reads wait *before* they read, always. That costs one trip through the loop
per read, and buys fairness: a peer that always has data ready cannot keep
its task running forever while the others starve (design principle 8).
Writes try first and wait only when the kernel's buffer is full, because a
partial ``send`` is the normal case for large payloads, not an error:
``sendall`` keeps the unsent tail and waits for writability until it is gone.

Only ``BlockingIOError`` means "not now". ``InterruptedError`` never gets
here: since PEP 475 (Python 3.5) the socket methods retry a call that a signal
interrupted, unless the signal handler raised, and then it is that exception.
"""

from __future__ import annotations

import selectors
import socket
from typing import Any

from impl.loop.core import WaitIO, trap

Buffer = bytes | bytearray | memoryview


async def wait_readable(sock: socket.socket) -> None:
    await trap(WaitIO(sock.fileno(), selectors.EVENT_READ, sock))


async def wait_writable(sock: socket.socket) -> None:
    await trap(WaitIO(sock.fileno(), selectors.EVENT_WRITE, sock))


async def accept(listener: socket.socket) -> tuple[socket.socket, Any]:
    """Accept one connection; the new socket is non-blocking like the listener must be."""
    while True:  # each turn waits for readiness; a wake-up can be spurious (another process won)
        await wait_readable(listener)
        try:
            conn, address = listener.accept()
        except BlockingIOError:
            continue
        conn.setblocking(False)
        return conn, address


async def recv(sock: socket.socket, max_bytes: int) -> bytes:
    """Receive up to ``max_bytes``; ``b""`` means the peer will send no more (EOF)."""
    while True:
        await wait_readable(sock)
        try:
            return sock.recv(max_bytes)
        except BlockingIOError:
            continue


async def sendall(sock: socket.socket, data: Buffer) -> None:
    """Send every byte of ``data``, in order, waiting for writability when the buffer is full.

    Returns once the kernel has accepted the last byte; the peer may not have
    read it yet. Connection errors (reset, broken pipe) propagate.
    """
    view = memoryview(data).cast("B")
    while view:
        try:
            sent = sock.send(view)
        except BlockingIOError:
            await wait_writable(sock)
            continue
        view = view[sent:]
