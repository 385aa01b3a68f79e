"""Claim: ``sendall`` delivers every byte in order, parking until writable, never blocking the loop.

Source: Python's ``socket.sendall``, "Unlike send(), this method continues to
send data from bytes until either all data has been sent or an error
occurs", and PEP 3156's "Wrapped socket methods: ``sock_recv()``,
``sock_sendall()``", which carry that promise onto the loop. On a
non-blocking socket ``send`` accepts only what fits in the kernel buffer
and raises ``BlockingIOError`` when nothing does, so a correct async
``sendall`` keeps the unsent tail and parks until the socket is writable.
Parking, not spinning and not blocking: while it waits, other tasks run.

The check shrinks both socket buffers, sends a payload much larger than
them to a reader that takes small bites with pauses, and counts how often a
third task got to run meanwhile.

>>> from spec.loop.subject import reference
>>> check_sendall_delivers_every_byte(reference(), size=64 * 1024)
"""

from __future__ import annotations

import socket

from spec.loop.subject import LoopUnderTest, require


def _payload(size: int) -> bytes:
    # Not a repeating pattern of a power-of-two period: a dropped or repeated
    # chunk shows up as a mismatch, not as the same bytes shifted.
    return bytes((index * 7 + index // 251) % 256 for index in range(size))


def check_sendall_delivers_every_byte(loop: LoopUnderTest, size: int = 1 << 20) -> None:
    """A payload many times the socket buffers arrives whole, in order, and the loop stays live."""
    payload = _payload(size)
    writer, reader = socket.socketpair()
    with writer, reader:
        for sock, option in ((writer, socket.SO_SNDBUF), (reader, socket.SO_RCVBUF)):
            sock.setsockopt(socket.SOL_SOCKET, option, 4096)
            sock.setblocking(False)

        async def scenario() -> tuple[bytes, int]:
            finished = False
            ticks = 0

            async def send() -> None:
                nonlocal finished
                try:
                    await loop.sendall(writer, payload)
                    writer.shutdown(socket.SHUT_WR)
                finally:
                    finished = True

            async def ticker() -> None:
                nonlocal ticks
                while not finished and ticks < 1_000_000:
                    await loop.sleep(0.001)
                    ticks += 1

            sender, counter = loop.Task(send()), loop.Task(ticker())
            received = bytearray()
            for _ in range(size + 1):  # every recv returns at least one byte, or EOF
                chunk = await loop.recv(reader, 1024)
                if not chunk:
                    break
                received += chunk
                await loop.sleep(0.0001)  # a slow reader, so that the writer must wait
            await sender
            await counter
            return bytes(received), ticks

        received, ticks = loop.run(scenario())
    if received != payload:
        first = next(
            (i for i, (a, b) in enumerate(zip(received, payload, strict=False)) if a != b),
            min(len(received), len(payload)),
        )
        raise AssertionError(
            f"sendall of {size} bytes: the reader got {len(received)} bytes, "
            f"differing from the payload from byte {first} on"
        )
    require(ticks > 0, "no other task ran while sendall waited for the slow reader")
