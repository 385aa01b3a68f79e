"""Run client steps against the server under test and the oracle at once; report where they part.

Theory of operation:

1. A step is applied to both servers concurrently, on the fuzzer's trio loop.
   ``execute`` makes one hop from the calling thread per step (see ``portal``);
   ``execute_all`` makes one hop for a whole test case. Steps never depend on
   the outcome of earlier ones (the machine draws them from its own
   bookkeeping), so a case can be generated first and executed afterwards, and
   is then executed exactly as a replay executes it: back to back.
2. Waiting is observation: a step that expects echoes waits until the target's
   connection is settled -- everything echoed (and EOF after a half-close), or
   the server ended it -- or until its deadline. A stall is a finding.
3. After waiting, each side's ledger is checked against the echo model, and the
   target's observation is compared with the oracle's. The oracle failing the
   model is a bug in echofuzz and raises ``OracleFailure``; the target failing
   it is a *problem*, returned as one readable line.
4. The model's invariants (prefix; no connection ended by the server unasked;
   no background write failed) are checked on both sides after every step.
5. Nothing raises for the target's behaviour: problems are returned, and the
   caller raises from one place, so that Hypothesis sees one bug, not many.

Deadlines: the target gets ``deadline`` seconds plus transfer time for the bytes
involved; the oracle, running in-process, gets a generous fixed bound. Timing
must not fake a bug, so a target that misses its deadline is given ``patience``
more seconds in place (by default ``stall_patience(deadline)``: ten times the
deadline, and at least ten seconds, which also spans TCP's first SYN
retransmissions at 1, 3 and 7 s when a small listen backlog drops a connect).
A stall that resolves within it is a latency, recorded in ``latencies``, not a
problem; only one that persists is. Shrinking replays with ``patience=0``, so
that candidates that stall cost little, and the result is confirmed with it.

The oracle is reached through socketpairs (``oracle.paired_connection``) unless
an address is given: then through TCP, like the target.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from echofuzz.engine.client import ClientConnection, Pulse, describe_os_error
from echofuzz.engine.oracle import paired_connection
from echofuzz.engine.portal import TrioThread
from echofuzz.model import (
    HalfClose,
    Ledger,
    crosstalk_problem,
    order_problem,
    prefix_problem,
    settled_problem,
    unasked_end_problem,
)
from echofuzz.vocabulary import Payload, Step
from echofuzz.wire import PROBE, allowance

#: The oracle's wait bound is this many times the target's, and at least ORACLE_FLOOR s.
ORACLE_SLACK = 5.0
ORACLE_FLOOR = 30.0
#: A connect may always take this long: a listen backlog that is full drops the SYN, and
#: TCP sends it again after 1 s and after 3 s; the deadline is not a connect's measure.
SYN_RETRIES_WITHIN = 3.5
#: A crowd's connections are opened this many at a time, each batch echoing before the next:
#: Linux queues backlog + 1 connections, so even a backlog of 1 never drops one of them.
CROWD_BATCH = 2
#: A stall is confirmed for this many deadlines, and at least PATIENCE_FLOOR s.
PATIENCE_FACTOR = 10.0
PATIENCE_FLOOR = 10.0


def stall_patience(deadline: float) -> float:
    """How much longer than its deadline a wait may take before it counts as a stall."""
    return max(PATIENCE_FACTOR * deadline, PATIENCE_FLOOR)


class OracleFailure(Exception):
    """The oracle broke the echo model: a bug in echofuzz, not in the server under test."""


@dataclass
class ConnectionPair:
    """The same client connection, once to the target and once to the oracle."""

    target: ClientConnection
    oracle: ClientConnection
    slow: bool = False

    def close(self, abortive: bool) -> None:
        self.target.close(abortive)
        self.oracle.close(abortive)


async def gather(*thunks: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run the thunks concurrently; their results in order. One runs without a task."""
    if len(thunks) <= 1:
        return [await thunk() for thunk in thunks]
    results: list[Any] = [None] * len(thunks)

    async def run(index: int, thunk: Callable[[], Awaitable[Any]]) -> None:
        results[index] = await thunk()

    async with trio.open_nursery() as nursery:
        for index, thunk in enumerate(thunks):
            nursery.start_soon(run, index, thunk)
    return results


def compare(name: str, target: Ledger, oracle: Ledger) -> str | None:
    """The differential check proper: the same bytes back and the same ending."""
    if target.received == oracle.received and target.remote == oracle.remote:
        return None
    return (
        f"{name}: the server's echo ({len(target.received)} bytes, {target.remote}) differs "
        f"from the oracle's ({len(oracle.received)} bytes, {oracle.remote})"
    )


class DifferentialExecutor:
    """One test case's connections; ``execute(step)`` returns the target's problems."""

    def __init__(
        self,
        portal: TrioThread,
        target: tuple[str, int],
        oracle: tuple[str, int] | None,
        deadline: float,
        patience: float | None = None,
        half_close: HalfClose = "echo",
    ) -> None:
        self.portal = portal
        #: What the server is declared to do on a client's half-close (``model.HalfClose``).
        self.half_close = half_close
        self.target = target
        self.oracle = oracle
        self.deadline = deadline
        self.patience = stall_patience(deadline) if patience is None else patience
        #: Waits that took longer than their deadline but ended within the patience.
        self.latencies: list[str] = []
        self.pairs: dict[str, ConnectionPair] = {}
        #: Every target connection's ledger, closed ones too: where crossed bytes came from.
        self.ledgers: dict[str, Ledger] = {}
        #: Fired by every connection of this executor when its ledger changes.
        self.changes = Pulse()
        self._dispatch: dict[str, Callable[[Step], Awaitable[list[str]]]] = {
            "connect": self._connect,
            "send": self._send,
            "expect": self._expect,
            "half_close": self._half_close,
            "close": self._close,
            "reset": self._reset,
            "connect_reset": self._connect_reset,
            "burst": self._burst,
            "slow_start": self._slow_start,
            "slow_drain": self._slow_drain,
            "crowd": self._crowd,
            "finish": self._finish,
        }

    # -- entry points (called from the fuzzer's thread) ---------------------------

    def execute(self, step: Step) -> list[str]:
        """Apply ``step`` to both servers in one hop; the target's problems, if any."""
        return self.portal.call(self._execute, step)

    def execute_all(
        self, steps: Sequence[Step], stop: Callable[[list[str]], bool] = bool
    ) -> tuple[int, list[str]]:
        """Apply ``steps`` in order in one hop, until ``stop(problems)`` is true after one.

        ``stop`` runs on the trio thread after every step, with that step's
        problems; the default stops at the first problem. Returns how many steps
        ran and the problems of the last one (empty if none stopped the run).
        """
        return self.portal.call(self._execute_all, tuple(steps), stop)

    def discard(self) -> None:
        """Abort every connection left open (after a failure, or an interruption)."""
        if self.pairs:
            self.portal.call(self._discard)

    # -- machinery ---------------------------------------------------------------

    def _limit(self, nbytes: int) -> float:
        return allowance(self.deadline, nbytes)

    def _oracle_limit(self, nbytes: int) -> float:
        return max(ORACLE_FLOOR, ORACLE_SLACK * self._limit(nbytes) + self.patience)

    def _late(self, name: str, what: str, took: float, limit: float) -> None:
        """Note a wait that outlasted its deadline and then ended: slow, not wrong."""
        if took > limit:
            self.latencies.append(f"{name}: {what} took {took:.2f} s (deadline {limit:.2f} s)")

    async def _connected(
        self, name: str, sock: socket.socket, reading: bool = True
    ) -> ClientConnection | str:
        """The target's half of a connect, with patience: a dropped SYN is retried by TCP."""
        started = trio.current_time()
        limit = self._limit(0)
        waits = max(limit, SYN_RETRIES_WITHIN) + self.patience
        conn = await ClientConnection.finish_connect(
            name, sock, self.portal.nursery, waits, reading, self.changes
        )
        if not isinstance(conn, str):
            self._late(name, "the connect", trio.current_time() - started, limit)
        return conn

    async def _execute(self, step: Step) -> list[str]:
        problems = await self._dispatch[step.op](step)
        return problems + self._invariants()

    async def _execute_all(
        self, steps: tuple[Step, ...], stop: Callable[[list[str]], bool]
    ) -> tuple[int, list[str]]:
        for index, step in enumerate(steps):
            problems = await self._execute(step)
            if stop(problems):
                return index + 1, problems
        return len(steps), []

    async def _discard(self) -> None:
        for pair in self.pairs.values():
            pair.close(abortive=True)
        self.pairs.clear()

    def _invariants(self) -> list[str]:
        problems = []
        for name, pair in self.pairs.items():
            pair.target.poll()  # connections without a reader task yet: what has arrived?
            pair.oracle.poll()
            if prefix_problem(name, pair.oracle.ledger) or pair.oracle.ledger.remote != "open":
                raise OracleFailure(f"{name}: the oracle broke the model: {pair.oracle.ledger}")
            problem = self._wrong_bytes(name, pair.target.ledger)
            if problem is None:
                problem = unasked_end_problem(name, pair.target.ledger)
            if problem is None and pair.target.write_error is not None:
                problem = f"{name}: sending failed: {pair.target.write_error}"
            if problem is not None:
                problems.append(problem)
        return problems

    def _wrong_bytes(self, name: str, ledger: Ledger) -> str | None:
        """Claim 1's verdict, and claim 4's when the wrong bytes are another connection's."""
        problem = prefix_problem(name, ledger)
        if problem is None:
            return None
        return (
            crosstalk_problem(name, ledger, self.ledgers) or order_problem(name, ledger) or problem
        )

    async def _open(self, name: str, rcvbuf: int = 0, reading: bool = True) -> list[str]:
        # Both handshakes start before either is waited for; waiting for them one
        # after the other then costs no more than waiting for the slower.
        nursery = self.portal.nursery
        started_target = ClientConnection.start_connect(self.target, rcvbuf)
        started_oracle = self._start_oracle(rcvbuf)
        target = (
            started_target
            if isinstance(started_target, str)
            else await self._connected(name, started_target, reading)
        )
        oracle = (
            started_oracle
            if isinstance(started_oracle, str)
            else await ClientConnection.finish_connect(
                name, started_oracle, nursery, self._oracle_limit(0), reading, self.changes
            )
        )
        if isinstance(oracle, str):
            if not isinstance(target, str):
                target.close()
            raise OracleFailure(f"{name}: the oracle refused a connection: {oracle}")
        if isinstance(target, str):
            oracle.close()
            return [f"{name}: {target}"]
        self.pairs[name] = ConnectionPair(target, oracle)
        self.ledgers[name] = target.ledger
        return []

    def _start_oracle(self, rcvbuf: int) -> socket.socket | str:
        if self.oracle is not None:
            return ClientConnection.start_connect(self.oracle, rcvbuf)
        try:
            return paired_connection(self.portal.nursery)
        except OSError as exc:
            return f"connect failed: {describe_os_error(exc)}"

    async def _send_on(self, sends: list[tuple[str, Payload]]) -> list[str]:
        """Send on each named connection, both sides; what fits is written before any waiting."""
        pending: list[Callable[[], Awaitable[str | None]]] = []
        owners: list[tuple[str, bool]] = []
        for name, payload in sends:
            pair = self.pairs[name]
            data = payload.materialize(name)
            for conn, limit, is_oracle in (
                (pair.target, self._limit(len(data)) + self.patience, False),
                (pair.oracle, self._oracle_limit(len(data)), True),
            ):
                rest = conn.start_send(data)
                if rest or conn.write_error is not None:
                    pending.append(partial(conn.finish_send, rest, limit))
                    owners.append((name, is_oracle))
        problems = []
        for (name, is_oracle), outcome in zip(owners, await gather(*pending), strict=True):
            if outcome is None:
                continue
            if is_oracle:
                raise OracleFailure(f"{name}: the oracle did not take data: {outcome}")
            problems.append(f"{name}: {outcome}")
        return problems

    async def _settle(self, names: list[str], until_eof: bool) -> list[str]:
        """Wait for the named connections to settle on both sides, then judge them."""
        started = trio.current_time()
        # (connection, its name, its deadline, when it stops being waited for)
        waits: list[tuple[ClientConnection, str, float, float]] = []
        for name in names:
            pair = self.pairs[name]
            owed = len(pair.target.ledger.sent)
            limit = self._limit(owed)
            for conn, deadline, give_up in (
                (pair.target, limit, limit + self.patience),
                (pair.oracle, math.inf, self._oracle_limit(owed)),
            ):
                conn.resume_reading()  # waiting for echoes means reading them, even slowly
                conn.poll()
                if not conn.settled(until_eof):
                    conn.ensure_reader()  # something is still to come: wait for it
                    waits.append((conn, name, deadline, started + give_up))
        # One task waits for all of them: each connection counts until it settles
        # or its own time runs out, whichever comes first. One cancel scope serves
        # every wake-up until the earliest of those times.
        while waits:
            with trio.CancelScope() as scope:
                while True:
                    now = trio.current_time()
                    still = []
                    for wait in waits:
                        conn, name, deadline, give_up = wait
                        if conn.settled(until_eof):
                            self._late(name, "the echo", now - started, deadline)
                        elif prefix_problem(name, conn.ledger) is None and give_up > now:
                            still.append(wait)  # (wrong bytes already: waiting is over)
                    waits = still
                    if not waits:
                        break
                    scope.deadline = min(give_up for *_, give_up in waits)
                    await self.changes.wait()
        problems = []
        for name in names:
            pair = self.pairs[name]
            if settled_problem(name, pair.oracle.ledger, until_eof):
                raise OracleFailure(settled_problem(name, pair.oracle.ledger, until_eof))
            declared_close = until_eof and self.half_close == "close"
            problem = (
                self._wrong_bytes(name, pair.target.ledger)
                or settled_problem(name, pair.target.ledger, until_eof, self.half_close)
                or (
                    None
                    if declared_close
                    else compare(name, pair.target.ledger, pair.oracle.ledger)
                )
            )
            if problem is not None:
                problems.append(problem)
        return problems

    # -- the operations, one per step kind ---------------------------------------

    async def _connect(self, step: Step) -> list[str]:
        return await self._open(step.conn)

    async def _send(self, step: Step) -> list[str]:
        assert step.payload is not None
        return await self._send_on([(step.conn, step.payload)])

    async def _expect(self, step: Step) -> list[str]:
        return await self._settle([step.conn], until_eof=False)

    async def _half_close(self, step: Step) -> list[str]:
        pair = self.pairs[step.conn]
        if pair.oracle.shutdown_write() is not None:
            raise OracleFailure(f"{step.conn}: the oracle's connection could not half-close")
        failed = pair.target.shutdown_write()
        problems = [f"{step.conn}: {failed}"] if failed else []
        problems += await self._settle([step.conn], until_eof=True)
        self.pairs.pop(step.conn).close(abortive=False)
        return problems

    async def _close(self, step: Step) -> list[str]:
        """FIN once the echoes are back; a slow reader closes with its echo unread.

        Closing with unread data makes the client's kernel answer the server's
        next segment with RST: a client that gave up reading, as real ones do.
        """
        slow = self.pairs[step.conn].slow
        problems = [] if slow else await self._settle([step.conn], until_eof=False)
        self.pairs.pop(step.conn).close(abortive=False)
        return problems

    async def _reset(self, step: Step) -> list[str]:
        """RST once the echoes are back; a slow reader is reset with data in flight.

        Resetting a connection whose data the server may not have read yet races
        the server's first look at it; waiting for the echoes first makes the
        step mean the same thing on every replay. Resets with data in flight stay
        reachable through slow readers.
        """
        problems = [] if self.pairs[step.conn].slow else await self._settle([step.conn], False)
        self.pairs.pop(step.conn).close(abortive=True)
        return problems

    async def _connect_reset(self, step: Step) -> list[str]:
        """Open to the target alone and reset at once.

        Nothing is observed on such a connection, so the oracle would have
        nothing to compare; the step is there for what the reset does to the
        server, which later steps observe.
        """
        started = ClientConnection.start_connect(self.target)
        conn = started if isinstance(started, str) else await self._connected(step.conn, started)
        if isinstance(conn, str):
            return [f"{step.conn}: {conn}"]
        conn.close(abortive=True)
        return []

    async def _burst(self, step: Step) -> list[str]:
        problems = await self._send_on(list(step.sends))
        return problems + await self._settle([name for name, _ in step.sends], until_eof=False)

    async def _slow_start(self, step: Step) -> list[str]:
        assert step.payload is not None
        problems = await self._open(step.conn, rcvbuf=step.rcvbuf, reading=False)
        if not problems:
            pair = self.pairs[step.conn]
            pair.slow = True
            data = step.payload.materialize(step.conn)
            pair.target.send_in_background(data, self.portal.nursery)
            pair.oracle.send_in_background(data, self.portal.nursery)
            await pair.target.wait_for_back_pressure(self._limit(len(data)))
        return problems

    async def _slow_drain(self, step: Step) -> list[str]:
        pair = self.pairs[step.conn]
        pair.target.resume_reading()
        pair.oracle.resume_reading()
        pair.slow = False
        return await self._settle([step.conn], until_eof=False)

    async def _crowd(self, step: Step) -> list[str]:
        """Many idle connections at once; each must still echo; then all close.

        Descriptor limits (``select``'s 1,024, ``ulimit -n``, a thread per
        connection) are reached only by many connections, never by a handful.
        The connections are opened two at a time, each echoing a first line
        before the next two (so even a listen backlog of 1 never overflows and
        drops a SYN, which TCP would retry only seconds later); once all are
        open, each must echo a second line, and only then does any close.
        Target only: a count of connections needs no oracle to judge,
        and the model judges each one's echo.
        """
        crowd: list[ClientConnection] = []
        try:
            for start in range(0, step.count, CROWD_BATCH):
                socks: list[socket.socket] = []
                for number in range(start, min(step.count, start + CROWD_BATCH)):
                    opening = ClientConnection.start_connect(self.target)
                    if isinstance(opening, str):
                        return [self._crowd_problem(step, number, opening)]
                    socks.append(opening)
                batch: list[ClientConnection] = []
                for offset, sock in enumerate(socks):
                    conn = await self._connected(f"{step.conn}.{start + offset + 1}", sock)
                    if isinstance(conn, str):
                        for unused in socks[offset + 1 :]:
                            unused.close()
                        return [self._crowd_problem(step, start + offset, conn)]
                    crowd.append(conn)
                    batch.append(conn)
                # Each member's first echo shows the server took it: the next batch
                # then finds the listen backlog empty, not overflowing.
                problem = await self._crowd_echoes(step, batch, start, "hello")
                if problem is not None:
                    return [problem]
            problem = await self._crowd_echoes(step, crowd, 0, "still here")
            return [] if problem is None else [problem]
        finally:
            for conn in crowd:
                conn.close()

    async def _crowd_echoes(
        self, step: Step, members: list[ClientConnection], first: int, word: str
    ) -> str | None:
        """Each member sends a line and must get it back; the first problem, or None."""
        for number, conn in enumerate(members, first + 1):
            line = f"crowd {step.conn} member {number}: {word}\n".encode()
            unsent = conn.start_send(line, reader=False)
            if unsent or conn.write_error is not None:
                problem = conn.write_error or "the line did not fit the socket buffer"
                return self._crowd_problem(step, number - 1, problem)
        began = trio.current_time()
        limit = self._limit(0)
        pending = members
        # A server may serve a crowd one member at a time, as a slow accept loop does:
        # what must not happen is no progress at all, so each echo that comes back
        # gives the rest the whole wait again.
        with trio.CancelScope(deadline=began + limit + self.patience) as scope:
            while pending:
                for conn in pending:
                    conn.poll()
                still = [conn for conn in pending if not conn.settled(until_eof=False)]
                if len(still) < len(pending):
                    scope.deadline = trio.current_time() + limit + self.patience
                pending = still
                if pending:  # readers only for the few whose echo is not back yet
                    for conn in pending:
                        conn.ensure_reader()
                    await self.changes.wait()
        self._late(step.conn, "the crowd's echoes", trio.current_time() - began, limit)
        for number, conn in enumerate(members, first):
            verdict = prefix_problem(conn.name, conn.ledger) or settled_problem(
                conn.name, conn.ledger, until_eof=False
            )
            if verdict is not None:
                return self._crowd_problem(step, number, verdict.split(": ", 1)[-1])
        return None

    @staticmethod
    def _crowd_problem(step: Step, number: int, problem: str) -> str:
        return (
            f"{step.conn}: in a crowd of {step.count} connections, connection {number + 1}: "
            f"{problem}"
        )

    async def _finish(self, step: Step) -> list[str]:
        """End of a test case: every connection half-closes cleanly; a new one still echoes."""
        names = list(self.pairs)
        problems = []
        for name in names:
            pair = self.pairs[name]
            pair.target.resume_reading()
            pair.oracle.resume_reading()
        for name in names:  # background writes run by themselves: waiting in turn is enough
            pair = self.pairs[name]
            owed = len(pair.target.ledger.sent)
            await pair.target.wait_written(self._limit(owed) + self.patience)
            await pair.oracle.wait_written(self._oracle_limit(owed))
        for name in names:
            pair = self.pairs[name]
            if pair.oracle.shutdown_write() is not None:
                raise OracleFailure(f"{name}: the oracle's connection could not half-close")
            failed = pair.target.shutdown_write()
            if failed:
                problems.append(f"{name}: {failed}")
        problems += await self._settle(names, until_eof=True)
        for name in names:
            self.pairs.pop(name).close(abortive=False)
        if problems:
            return problems
        problems = await self._open("probe")
        if problems:
            return [f"after the test case, a new connection failed: {problems[0]}"]
        problems = await self._send_on([("probe", Payload.literal(PROBE))])
        probe = self.pairs["probe"]
        if self.half_close == "close":  # declared to close at once: ask for the echo first
            problems += await self._settle(["probe"], until_eof=False)
        else:
            for conn in (probe.target, probe.oracle):
                conn.shutdown_write()
            problems += await self._settle(["probe"], until_eof=True)
        self.pairs.pop("probe").close(abortive=False)
        return problems
