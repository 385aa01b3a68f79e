"""How the checks talk to a server: named client connections, each observed into a ``Ledger``.

Not a claim of its own but the instrument every claim's checks share, so that
each check reads as what it does to the server and what it expects back.

Observation is waiting, as in the fuzzer's executor: nothing reads a socket
between waits, and each wait (``exchange``, ``settle``) reads *every*
connection of the session, not only the ones it waits for. A byte that the
server sends to the wrong connection therefore lands in that connection's
ledger during the next wait, where ``crosstalk_problem`` can say whose it was.

Judging is the model's: after each wait, every live connection is judged with
``echofuzz.model`` -- crosstalk or a broken prefix first, then an ending the
client did not ask for, then, for the connections waited for, whether
everything came back -- and the problems, one line each, become the
``AssertionError``. Nothing is raised inside a nursery, so a failed check
raises a plain ``AssertionError``, not an exception group.

Bounds: every connect, send and wait has a deadline (``echofuzz.wire``'s
``allowance``: a base in seconds plus transfer time for the bytes owed), and a
reader stops at the first wrong byte, so it reads at most one chunk more than
was sent.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import trio

from echofuzz.model import (
    Ledger,
    crosstalk_problem,
    is_settled,
    prefix_problem,
    settled_problem,
    unasked_end_problem,
)
from echofuzz.wire import allowance, generated_bytes

#: The base deadline of every wait, in seconds; large payloads get transfer time on top.
DEADLINE = 5.0
#: Bytes per ``recv``.
READ_SIZE = 65536
#: Bytes per ``send``, so a large payload goes out in many segments.
WRITE_SIZE = 65536
#: ``SO_LINGER`` on, with a zero timeout: ``close`` sends RST instead of FIN.
LINGER_ZERO = struct.pack("ii", 1, 0)


@dataclass(eq=False)
class Connection:
    """One client connection: its socket, its ledger, and what its client has done to it."""

    name: str
    sock: trio.socket.SocketType
    ledger: Ledger = field(default_factory=Ledger)
    #: Paused for a slow reader: waits leave its echoes in the kernel's buffers.
    reading: bool = True
    half_closed: bool = False
    #: A send of this exchange is under way: what was sent so far may all be back already.
    sending: bool = False
    write_error: str | None = None

    def settled(self) -> bool:
        """Nothing more to wait for: everything back (and EOF after a half-close), or ended."""
        if prefix_problem(self.name, self.ledger) is not None:
            return True  # the first wrong byte is the verdict; what follows cannot undo it
        if self.ledger.remote != "open":
            return True
        return not self.sending and is_settled(self.ledger, until_eof=self.half_closed)


class Session:
    """The connections one check makes to the server at ``address``.

    ``async with Session(address) as session:``. At the end, connections still
    open are closed: plainly if the check passed (everything was read, so the
    server sees FIN), abortively if it failed, so that a failed check leaves
    nothing for the server to go on serving. A passing check thus never resets
    a connection it did not mean to, and one check's end is not another
    claim's test.
    """

    def __init__(self, address: tuple[str, int], deadline: float = DEADLINE) -> None:
        self.address = address
        self.deadline = deadline
        self.live: dict[str, Connection] = {}
        #: Every connection's ledger, closed ones too: their bytes may turn up elsewhere.
        self.ledgers: dict[str, Ledger] = {}
        self._changed = trio.Event()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for name in list(self.live):
            if exc is None:
                self.close(name)
            else:
                self.reset(name)

    # -- opening and ending connections ---------------------------------------------

    async def connect(self, name: str, *, rcvbuf: int = 0, reading: bool = True) -> Connection:
        """Open a connection; ``rcvbuf`` shrinks its receive buffer (set before the handshake)."""
        if name in self.ledgers:
            raise ValueError(f"connection name {name!r} is taken")
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        host, port = self.address
        failure = f"no connection within {self.deadline:.1f} s"
        with trio.move_on_after(self.deadline):
            try:
                await sock.connect(self.address)
            except OSError as exc:
                failure = f"connect failed: {exc.strerror or exc}"
            else:
                failure = ""
        if failure:
            sock.close()
            raise AssertionError(f"{name}: {failure} ({host}:{port})")
        conn = Connection(name, sock, reading=reading)
        self.live[name] = conn
        self.ledgers[name] = conn.ledger
        return conn

    def half_close(self, name: str) -> None:
        """``shutdown(SHUT_WR)``: the client sends no more; the server owes the rest, then EOF."""
        conn = self.live[name]
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            conn.write_error = f"half-close failed: {exc.strerror or exc}"
        conn.half_closed = True

    def reset(self, name: str) -> None:
        """Abortive close: RST, whatever the server still owes or has not yet read."""
        conn = self.live.pop(name)
        with contextlib.suppress(OSError):  # the server may have ended it already
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
        conn.sock.close()

    def close(self, name: str) -> None:
        """Plain close, as a client process that exits does it, echoes unread or not."""
        self.live.pop(name).sock.close()

    def resume_reading(self, name: str) -> None:
        """A slow reader starts reading again: the next wait drains its echoes."""
        self.live[name].reading = True

    # -- sending and waiting --------------------------------------------------------

    async def exchange(
        self, sends: Mapping[str, bytes | Sequence[bytes]], *, half_close: bool = False
    ) -> None:
        """Send on each named connection, all at once, while reading every connection.

        A value is the payload, or the pieces it is written in (each in full
        before the next, without waiting for echoes between them). With ``half_close`` each of these
        connections half-closes after its last byte. Returns when each has
        everything back (and EOF, with ``half_close``), or when its deadline
        passes; raises ``AssertionError`` with every problem of the session.
        """
        pieces = {
            name: [data] if isinstance(data, bytes) else list(data) for name, data in sends.items()
        }
        owed = sum(len(piece) for parts in pieces.values() for piece in parts)
        unsent: dict[str, int] = {}
        with trio.move_on_after(allowance(self.deadline, owed)) as waiting:
            async with trio.open_nursery() as nursery:
                for name, parts in pieces.items():
                    self.live[name].sending = True
                    nursery.start_soon(self._send, self.live[name], parts, half_close, unsent)
                await self._observe(list(pieces), nursery)
        # Sends stop early when a wrong byte has settled the exchange; only a
        # deadline that passed makes bytes left unsent a problem of their own.
        problems = [
            f"{name}: the server took only {len(self.live[name].ledger.sent)} bytes, "
            f"{left} more would not go out in time"
            for name, left in unsent.items()
            if left and waiting.cancelled_caught
        ]
        self.verify(list(pieces), problems)

    async def send(self, name: str, data: bytes) -> None:
        """Send without reading anything: the echoes stay unread in the kernel's buffers.

        For a client that is about to leave with echoes owed; ``data`` must fit
        in the buffers between the two ends (a few hundred KiB on loopback), or
        the server's flow control rightly stops taking it and the send fails.
        """
        unsent: dict[str, int] = {}
        conn = self.live[name]
        conn.sending = True
        with trio.move_on_after(allowance(self.deadline, len(data))):
            await self._send(conn, [data], False, unsent)
        problems = []
        if unsent[name]:
            problems.append(
                f"{name}: the server took only {len(conn.ledger.sent)} bytes, "
                f"{unsent[name]} more would not go out in time"
            )
        self.verify([], problems)

    async def settle(self, names: Sequence[str]) -> None:
        """Wait, reading every connection, until the named ones are settled; judge everything."""
        owed = sum(len(self.live[name].ledger.sent) for name in names)
        with trio.move_on_after(allowance(self.deadline, owed)):
            async with trio.open_nursery() as nursery:
                await self._observe(list(names), nursery)
        self.verify(names)

    async def push_until_back_pressure(self, name: str, limit: int, quiet: float) -> bool:
        """Send up to ``limit`` bytes without reading, until one send waits ``quiet`` seconds.

        True if it did: the server stopped taking bytes, as flow control
        should make it do once its echoes to a client that does not read have
        nowhere to go. What went out is in the ledger.
        """
        conn = self.live[name]
        payload = memoryview(payload_for(name, limit))
        with trio.move_on_after(allowance(self.deadline, limit)):
            while payload:
                with trio.move_on_after(quiet) as waited:
                    count = await _send_some(conn, payload[:WRITE_SIZE])
                if waited.cancelled_caught:
                    return True
                payload = payload[count:]
        return False

    def verify(self, waited_for: Sequence[str], problems: Sequence[str] = ()) -> None:
        """Judge every live connection by the model; raise with all the problems found."""
        found = list(problems)
        for name, conn in self.live.items():
            ledger = conn.ledger
            problem = crosstalk_problem(name, ledger, self.ledgers) or prefix_problem(name, ledger)
            if problem is None and not conn.half_closed:
                problem = unasked_end_problem(name, ledger)
            if problem is None and name in waited_for:
                problem = settled_problem(name, ledger, until_eof=conn.half_closed)
            if problem is None and conn.write_error is not None:
                problem = f"{name}: {conn.write_error}"
            if problem is not None:
                found.append(problem)
        if found:
            raise AssertionError("\n".join(found))

    # -- machinery ------------------------------------------------------------------

    def _fire(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _observe(self, names: list[str], nursery: trio.Nursery) -> None:
        """Read every reading connection until the named ones are settled; then stop reading."""
        for conn in self.live.values():
            if conn.reading and conn.ledger.remote == "open":
                nursery.start_soon(self._read, conn)
        waited = [self.live[name] for name in names]
        while not all(conn.settled() for conn in waited):
            await self._changed.wait()  # bounded by the caller's deadline
        nursery.cancel_scope.cancel()

    async def _read(self, conn: Connection) -> None:
        ledger = conn.ledger
        while ledger.remote == "open" and prefix_problem(conn.name, ledger) is None:
            try:
                chunk = await conn.sock.recv(READ_SIZE)
            except OSError:
                ledger.remote = "reset"
            else:
                if chunk:
                    ledger.received += chunk
                else:
                    ledger.remote = "eof"
            self._fire()

    async def _send(
        self, conn: Connection, parts: list[bytes], half_close: bool, unsent: dict[str, int]
    ) -> None:
        unsent[conn.name] = sum(map(len, parts))
        try:
            for part in parts:
                view = memoryview(part)
                while view:
                    count = await _send_some(conn, view[:WRITE_SIZE])
                    unsent[conn.name] -= count
                    view = view[count:]
            if half_close:
                self.half_close(conn.name)
        except OSError as exc:
            conn.write_error = f"sending failed: {exc.strerror or exc}"
        finally:
            conn.sending = False
            self._fire()


async def _send_some(conn: Connection, chunk: memoryview) -> int:
    """One ``send``, in the ledger before the call returns: how many bytes went out.

    trio's ``send`` passes through the scheduler after the system call, and a
    reader may run there and see the echo of bytes the ledger does not yet
    count as sent. So the chunk is counted first and trimmed to what went out
    after; a cancelled send went out not at all (trio's socket calls are
    cancel-safe) and is trimmed away entirely.
    """
    sent = conn.ledger.sent
    before = len(sent)
    sent += chunk
    count = 0
    try:
        count = await conn.sock.send(chunk)
    finally:
        del sent[before + count :]
    return count


def payload_for(name: str, size: int, seed: int = 0) -> bytes:
    """Bytes that differ from connection to connection, so crossed echoes show whose they are.

    ``echofuzz.wire``'s generator, salted with the connection's name, as the
    fuzzer salts its payloads: random bytes, every value occurring, no period
    that would let a dropped or repeated block compare equal.
    """
    return generated_bytes(size, seed, name)
