"""Claim 3: after the client's half-close the server echoes what it owes, then FIN, never RST.

Source, RFC 862, "TCP Based Echo Service":

    "This continues until the calling user terminates the connection."

The RFC says who ends the connection -- the calling user -- and no more. This
claim goes beyond it, because the RFC's sentence leaves open what a client
that is done *sending* may expect, and the commonest echo client there is
depends on the answer: ``printf data | nc host 7`` sends its input, shuts
down its sending side (``shutdown(SHUT_WR)``, a FIN) when the input ends, and
then reads until EOF. TCP's half-close (RFC 9293, section 3.6: a side that
has closed may still receive) makes that well defined, and an echo server
that keeps echoing "until the calling user terminates the connection" has to
honour it:

3. Half-close: after the client's FIN, the server sends every byte it still
   owes, then closes its side cleanly: the client reads all of them and then
   EOF (``recv`` returns ``b""``), never a reset, and not nothing at all.

Why each part matters to a real client: bytes lost after the FIN are the end
of the file ``cat file | nc`` sent; an RST instead of a FIN turns a finished
session into "connection reset by peer" (and on most systems discards echoes
the client has not read yet); a server that never sends its FIN leaves
``nc`` hanging after the echo, and every client that reads "until EOF" with it.

The judgment is ``echofuzz.model.settled_problem`` with ``until_eof=True``:

>>> from echofuzz.model import Ledger, settled_problem
>>> def after_half_close(sent, received, remote):
...     return settled_problem("c1", Ledger(bytearray(sent), bytearray(received), remote), True)
>>> after_half_close(b"last words", b"last words", "eof") is None
True
>>> after_half_close(b"last words", b"last words", "reset")
"c1: after the client's half-close the server reset the connection"
>>> after_half_close(b"last words", b"last words", "open")
"c1: after the client's half-close the server did not close the connection"
>>> print(after_half_close(b"last words", b"last", "eof"))  # doctest: +NORMALIZE_WHITESPACE
c1: the server closed the connection right after the client's half-close, dropping 6 bytes
it owed; if that is by design, rerun with --half-close close

Checks, from small to large; ``check_half_close`` runs them all:

* ``check_half_close_of_a_silent_connection``: nothing sent, nothing owed: EOF.
* ``check_half_close_right_after_a_send``: the FIN follows the bytes at once,
  before the server has had a chance to echo them: all of them, then EOF.
* ``check_half_close_with_a_large_echo_owed``: the FIN follows a megabyte
  that is still coming back: all of it, then EOF.
* ``check_half_close_after_an_exchange``: a session that has gone back and
  forth, then half-closes with nothing owed: EOF.
"""

from __future__ import annotations

from spec.echo.session import DEADLINE, Session, payload_for

#: Large enough that most of it is still in flight when the FIN goes out.
OWED = 1 << 20


async def check_half_close_of_a_silent_connection(
    address: tuple[str, int], *, deadline: float = DEADLINE
) -> None:
    """A client that half-closes before sending anything gets EOF, and nothing else."""
    async with Session(address, deadline) as session:
        await session.connect("c1")
        session.half_close("c1")
        await session.settle(["c1"])


async def check_half_close_right_after_a_send(
    address: tuple[str, int], *, deadline: float = DEADLINE
) -> None:
    """``printf 'last words' | nc``: the FIN right behind the bytes; the echo, then EOF."""
    async with Session(address, deadline) as session:
        for number, words in enumerate((b"last words", b"x", b"\r\n", payload_for("c", 20_000))):
            name = f"c{number + 1}"
            await session.connect(name)
            await session.exchange({name: words}, half_close=True)


async def check_half_close_with_a_large_echo_owed(
    address: tuple[str, int], *, size: int = OWED, deadline: float = DEADLINE
) -> None:
    """``cat file | nc``: a megabyte, then FIN, while the echo is still coming; all, then EOF."""
    async with Session(address, deadline) as session:
        await session.connect("c1")
        await session.exchange({"c1": payload_for("c1", size)}, half_close=True)


async def check_half_close_after_an_exchange(
    address: tuple[str, int], *, deadline: float = DEADLINE
) -> None:
    """An interactive session, then the client's FIN with nothing owed: EOF."""
    async with Session(address, deadline) as session:
        await session.connect("c1")
        for line in (b"hello\n", b"how are you?\n", b"bye\n"):
            await session.exchange({"c1": line})
        session.half_close("c1")
        await session.settle(["c1"])


async def check_half_close(address: tuple[str, int], *, deadline: float = DEADLINE) -> None:
    """Claim 3, every check of this module, from the smallest to the largest."""
    await check_half_close_of_a_silent_connection(address, deadline=deadline)
    await check_half_close_after_an_exchange(address, deadline=deadline)
    await check_half_close_right_after_a_send(address, deadline=deadline)
    await check_half_close_with_a_large_echo_owed(address, deadline=deadline)
