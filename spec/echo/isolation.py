"""Claim 4: connections are isolated: no bytes cross, and no client's trouble reaches another.

Source, RFC 862, "TCP Based Echo Service":

    "A server listens for TCP connections on TCP port 7. Once a connection is
    established any data received is sent back."

The RFC speaks of *a* connection and of data *sent back*: back over that
connection, to whoever sent it. It says nothing of several clients at once,
and nothing of clients that misbehave. This claim goes beyond it, because a
server that listens on a port serves whoever connects, and each client can
only judge the server by its own connection -- it cannot see, let alone wait
for, the others:

4. Isolation.

   a. No crosstalk: the bytes that come back on a connection are the bytes
      sent on it; none of another connection's. (Claim 1 already fails when
      they do; this claim says whose they were.)
   b. One client's stall never holds up another: a client that connects and
      says nothing, or sends without reading its echoes, delays only itself.
   c. One client's reset or death never affects another: its connection
      ends, and every other connection goes on as before.
   d. The server keeps accepting: whatever earlier clients did, and however
      many came before, a new connection is served like the first.

Real clients rely on all four without thinking of it: two terminals on one
machine, a health check that connects and resets, a client on a slow link
that reads late, a browser tab that is killed -- none of them may change what
any other client gets.

The I/O-free judgments are ``echofuzz.model``'s. A connection's bytes that
stop being a prefix of what it sent are looked for in what the others sent:

>>> from echofuzz.model import Ledger, crosstalk_problem, unasked_end_problem
>>> older = Ledger(sent=bytearray(b"from the older connection"))
>>> newer = Ledger(received=bytearray(b"from the older connection"))
>>> crosstalk_problem("newer", newer, {"older": older, "newer": newer})
'newer: bytes 0-24 that came back are what older sent: the server crossed connections'

and a connection its client keeps open must stay open, whatever happened to
the others:

>>> steady = Ledger(bytearray(b"ping"), bytearray(b"ping"), remote="reset")
>>> unasked_end_problem("steady", steady)
'steady: the server reset the connection although the client did not'

The checks end their connections with a plain close, never with the
half-close of claim 3, so that a server is judged here on isolation alone.

Checks, from small to large; ``check_isolation`` runs them all:

* ``check_no_crosstalk`` (a): several connections from one host, each
  speaking in turn and all at once; each gets its own bytes back.
* ``check_idle_clients_hold_up_no_one`` (b): clients that connect and stay
  silent do not keep a later client from being served.
* ``check_a_client_that_does_not_read_holds_up_only_itself`` (b): a client
  that sends megabytes without reading does not delay another, and in the end
  gets all of its own echo back.
* ``check_a_reset_or_vanished_client_affects_no_other`` (c): resets with and
  without echoes owed, a connect-then-reset, a close with echoes unread; an
  open connection is unaffected, and new ones are served.
* ``check_the_server_keeps_accepting`` (d): fifty connections in turn, each
  served like the first.
"""

from __future__ import annotations

import trio

from spec.echo.session import DEADLINE, Session, payload_for

#: How long a server gets to react to what a client did -- or to die of it -- before we look.
GRACE = 0.2
#: Idle clients opened before the one that must be served: more than a small worker pool.
IDLE_CLIENTS = 4
#: What a client that does not read sends at most, and the receive buffer it shrinks to.
HOG_LIMIT = 16 << 20
HOG_RCVBUF = 4096
#: A send that waits this long means the server has stopped taking the hog's bytes.
HOG_QUIET = 0.2
#: Connections in turn: enough to reach bugs that count the connections before.
IN_TURN = 50


async def check_no_crosstalk(address: tuple[str, int], *, deadline: float = DEADLINE) -> None:
    """Each connection gets back its own bytes, never another's, from one host and at once.

    Every connection comes from 127.0.0.1, so a server that tells its clients
    apart by host alone cannot tell these apart. They speak in turn, newest
    first: by the time an older one speaks, the newer ones have been served,
    so the server has surely accepted them, and a server that keeps one
    session per host, the latest, sends the older one's echo to the newest.
    Payloads differ from connection to connection, so crossed bytes say whose
    they are.
    """
    async with Session(address, deadline) as session:
        names = ["c1", "c2", "c3"]
        for name in names:
            await session.connect(name)
        for name in reversed(names):  # in turn, newest first
            await session.exchange({name: payload_for(name, 1000, seed=1)})
        for seed in range(2, 5):  # all at once, large enough to interleave on the server
            await session.exchange({name: payload_for(name, 100_000, seed) for name in names})
        await session.connect("c4")  # a newcomer does not take over the others' echoes
        await session.exchange({"c1": payload_for("c1", 1000, seed=5)})


async def check_idle_clients_hold_up_no_one(
    address: tuple[str, int], *, idle: int = IDLE_CLIENTS, deadline: float = DEADLINE
) -> None:
    """Clients that connect and say nothing do not keep a later one from being served."""
    async with Session(address, deadline) as session:
        silent = [f"idle{number}" for number in range(1, idle + 1)]
        for name in silent:
            await session.connect(name)
        await session.connect("c1")
        await session.exchange({"c1": b"served while others stay silent"})
        session.close("c1")
        # The idle ones were only waiting: each is served too, newest first.
        for name in reversed(silent):
            await session.exchange({name: f"{name} speaks at last".encode()})


async def check_a_client_that_does_not_read_holds_up_only_itself(
    address: tuple[str, int], *, deadline: float = DEADLINE
) -> None:
    """A client that sends without reading delays only itself, and loses nothing.

    The hog shrinks its receive buffer and sends until the server stops taking
    its bytes, which is what flow control makes a correct server do once the
    echoes have nowhere to go (or until ``HOG_LIMIT``, for a server that
    buffers more than that; the claim is checked all the same, with less
    pressure). While the hog neither reads nor stops, another client must be
    served, and a new one accepted; then the hog reads, and must get back
    every byte it sent.
    """
    async with Session(address, deadline) as session:
        await session.connect("hog", rcvbuf=HOG_RCVBUF, reading=False)
        await session.push_until_back_pressure("hog", HOG_LIMIT, HOG_QUIET)
        await session.connect("c1")
        await session.exchange({"c1": payload_for("c1", 100_000)})
        await session.connect("c2")
        await session.exchange({"c2": b"a newcomer, while the hog still does not read"})
        session.resume_reading("hog")
        await session.settle(["hog"])
        await session.exchange({"hog": b"and the hog is served as before"})


async def check_a_reset_or_vanished_client_affects_no_other(
    address: tuple[str, int], *, deadline: float = DEADLINE
) -> None:
    """Resets and vanishings end their own connection only; an open one goes on, new ones come.

    Four ways a client leaves without a word: a reset after a clean exchange,
    a reset with echoes still owed, a connect-then-reset before sending
    anything (a port scanner, a health check), and a plain close with echoes
    unread (a client process that exits; its kernel answers the echoes with
    a reset). After each, the server gets ``GRACE`` to react -- or to die --
    and then the steady connection must still be open and echo, and a new
    connection must be served.
    """
    async with Session(address, deadline) as session:
        await session.connect("steady")
        await session.exchange({"steady": b"before anyone leaves"})
        leaving = ["reset after an exchange", "reset owing", "connect then reset", "vanish"]
        for number, how in enumerate(leaving, 1):
            name = f"c{number}"
            await session.connect(name)
            if how != "connect then reset":
                await session.exchange({name: payload_for(name, 50_000)})
            if how in ("reset owing", "vanish"):
                # Echoes the client will never read: they are in flight as it leaves.
                await session.send(name, payload_for(name, 65536, seed=1))
            if how == "vanish":
                session.close(name)
            else:
                session.reset(name)
            await trio.sleep(GRACE)
            await session.exchange({"steady": f"still here after {how}".encode()})
            newcomer = f"new{number}"
            await session.connect(newcomer)
            await session.exchange({newcomer: f"served after {how}".encode()})
            session.close(newcomer)


async def check_the_server_keeps_accepting(
    address: tuple[str, int], *, connections: int = IN_TURN, deadline: float = DEADLINE
) -> None:
    """Connection after connection, each served like the first, and closed by its client.

    Every connection carries every byte value, so that a server which treats
    some connections differently (every n-th, after the n-th) has to show it.
    """
    async with Session(address, deadline) as session:
        for number in range(1, connections + 1):
            name = f"c{number}"
            await session.connect(name)
            payload = bytes(range(256)) + payload_for(name, 1000)
            await session.exchange({name: payload})
            session.close(name)


async def check_isolation(address: tuple[str, int], *, deadline: float = DEADLINE) -> None:
    """Claim 4, every check of this module, from the smallest to the largest."""
    await check_no_crosstalk(address, deadline=deadline)
    await check_idle_clients_hold_up_no_one(address, deadline=deadline)
    await check_a_reset_or_vanished_client_affects_no_other(address, deadline=deadline)
    await check_the_server_keeps_accepting(address, deadline=deadline)
    await check_a_client_that_does_not_read_holds_up_only_itself(address, deadline=deadline)
