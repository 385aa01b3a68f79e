r"""Claims 1 and 2: what comes back is at every moment a prefix of what was sent, then all of it.

Source, RFC 862, "TCP Based Echo Service":

    "Once a connection is established any data received is sent back."

*Any* data: the RFC puts no condition on the bytes, so every byte value comes
back as itself -- 0xff is not telnet's IAC here, and 0x0d is not the start of
a line ending to be tidied. *Sent back*: the same bytes, in the same order,
on the same connection. TCP is a byte stream and may split or merge what
either side writes however it likes, so the claim is about the streams, not
about the reads and writes:

1. Prefix: per connection, the bytes received are at every moment a prefix of
   the bytes sent. A client may check each chunk as it arrives, which is what
   lets it act on an echo before the exchange is over.
2. Completeness: eventually all of them. The RFC's "is sent back" has no
   deadline; a check needs one, so "eventually" means within a deadline with
   transfer time added for the bytes owed, and a stall is a finding.

The judgments are ``echofuzz.model``'s, made on a ``Ledger`` (what a client
sent, what came back) without any I/O. A server that rewrites line endings
breaks the prefix at the first 0x0d, however far into the stream it is:

>>> from echofuzz.model import Ledger, prefix_problem, settled_problem
>>> crlf = Ledger(bytearray(b"GET / HTTP/1.0\r\n"), bytearray(b"GET / HTTP/1.0\n"))
>>> prefix_problem("c1", crlf)
"c1: byte 14 came back as b'\\n' but was sent as b'\\r'"

A server that drops bytes is caught the same way, as soon as a later byte
arrives in the dropped one's place; if nothing arrives after it, the echo is
a true prefix, and only completeness catches it:

>>> iac = Ledger(bytearray(b"\x01\xff"), bytearray(b"\x01"))
>>> prefix_problem("c1", iac) is None
True
>>> settled_problem("c1", iac, until_eof=False)
'c1: got 1 of 2 bytes back; the connection is still open'

Checks, from small to large; ``check_echo`` runs them all:

* ``check_every_byte_value_comes_back``: each of the 256 byte values, alone
  and together, and the sequences that text-minded servers rewrite.
* ``check_small_writes_come_back_in_order``: many small writes, merged by TCP
  however it likes, come back as one stream in order.
* ``check_a_large_echo_comes_back_complete``: megabytes sent while reading,
  checked chunk by chunk as they come back, and all of them within the deadline.
"""

from __future__ import annotations

from spec.echo.session import DEADLINE, Session, payload_for

EVERY_BYTE_VALUE = bytes(range(256))
#: Byte sequences that servers written for text mistake for something else.
TRICKY = (
    b"\r\n",  # CRLF, which universal newlines turn into LF
    b"\r",  # a lone CR, likewise
    b"\n\r",
    b"\x00",  # C strings end here
    b"\xff\xff",  # telnet's escaped IAC
    b"\xff\xfb\x01",  # telnet's IAC WILL ECHO
    b"\x80\xff\xc3\x28",  # not UTF-8
    b"\x1b[2J",  # a terminal escape
)
#: The large echo: beyond the kernel's buffers' first fill, and beyond 1 MiB.
LARGE = (2 << 20) + 12345


async def check_every_byte_value_comes_back(
    address: tuple[str, int], *, deadline: float = DEADLINE
) -> None:
    """Every byte value comes back as itself: "any data received is sent back"."""
    async with Session(address, deadline) as session:
        await session.connect("c1")
        # All 256 values in one write, then in reverse: values next to each other
        # in both orders, so that a byte rewritten by what follows it shows up.
        await session.exchange({"c1": EVERY_BYTE_VALUE})
        await session.exchange({"c1": EVERY_BYTE_VALUE[::-1]})
        # Each value on its own: a server that looks at a write's first or last
        # byte sees every value there once.
        for value in range(256):
            await session.exchange({"c1": bytes([value])})
        for sequence in TRICKY:
            await session.exchange({"c1": sequence})


async def check_small_writes_come_back_in_order(
    address: tuple[str, int], *, deadline: float = DEADLINE
) -> None:
    """A thousand small writes come back as the same stream, whatever TCP merged."""
    async with Session(address, deadline) as session:
        await session.connect("c1")
        payload = payload_for("c1", 60_000)
        # Pieces of 1 to 119 bytes, written back to back without waiting for
        # echoes: TCP may coalesce them, the server may read several at once,
        # and what comes back must still be the one stream in order.
        pieces, at = [], 0
        for number in range(len(payload)):
            if at >= len(payload):
                break
            size = 1 + (number * 37) % 119
            pieces.append(payload[at : at + size])
            at += size
        await session.exchange({"c1": pieces})


async def check_a_large_echo_comes_back_complete(
    address: tuple[str, int], *, size: int = LARGE, deadline: float = DEADLINE
) -> None:
    """Megabytes sent while reading come back whole: a prefix at every chunk, then all of it.

    The client reads while it writes, as a real client must: a server with
    flow control stops reading from a client that does not read its echoes,
    and a client that only writes would then wait forever on a correct server.
    Every chunk is checked against what was sent as it arrives (claim 1 at
    every moment); the wait ends when everything is back or the deadline passes
    (claim 2). The size goes past 1 MiB, and past what loopback's buffers hold
    at first, so that a server that loses what does not fit, or stops after a
    quota, has to show it.
    """
    async with Session(address, deadline) as session:
        await session.connect("c1")
        await session.exchange({"c1": payload_for("c1", size)})
        # The same connection goes on echoing after a large exchange.
        await session.exchange({"c1": b"and after that"})


async def check_echo(address: tuple[str, int], *, deadline: float = DEADLINE) -> None:
    """Claims 1 and 2, every check of this module, from the smallest to the largest."""
    await check_every_byte_value_comes_back(address, deadline=deadline)
    await check_small_writes_come_back_in_order(address, deadline=deadline)
    await check_a_large_echo_comes_back_complete(address, deadline=deadline)
