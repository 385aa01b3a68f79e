"""Run client steps against the server under test and the oracle at once; report where they part.

Theory of operation:

1. A step is applied to both servers concurrently, on the fuzzer's trio loop,
   in one hop from the calling thread (see ``portal``).
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
involved; the oracle, running in-process, gets a generous fixed bound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from spec.echo.client import ClientConnection
from spec.echo.model import Ledger, check_prefix, check_settled
from spec.echo.portal import TrioThread
from spec.echo.replay_script import BACK_PRESSURE_QUIET, allowance
from spec.echo.steps import Payload, Step

#: The oracle's wait bound is this many times the target's, and at least ORACLE_FLOOR s.
ORACLE_SLACK = 5.0
ORACLE_FLOOR = 30.0
#: What the end-of-case probe sends on a fresh connection.
PROBE = b"echofuzz probe\n"


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
    """Run the thunks concurrently; their results in order."""
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
        oracle: tuple[str, int],
        deadline: float,
    ) -> None:
        self.portal = portal
        self.target = target
        self.oracle = oracle
        self.deadline = deadline
        self.pairs: dict[str, ConnectionPair] = {}
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
            "finish": self._finish,
        }

    # -- entry points (called from the fuzzer's thread) ---------------------------

    def execute(self, step: Step) -> list[str]:
        """Apply ``step`` to both servers in one hop; the target's problems, if any."""
        return self.portal.call(self._execute, step)

    def discard(self) -> None:
        """Abort every connection left open (after a failure, or an interruption)."""
        self.portal.call(self._discard)

    # -- machinery ---------------------------------------------------------------

    def _limit(self, nbytes: int) -> float:
        return allowance(self.deadline, nbytes)

    def _oracle_limit(self, nbytes: int) -> float:
        return max(ORACLE_FLOOR, ORACLE_SLACK * self._limit(nbytes))

    async def _execute(self, step: Step) -> list[str]:
        problems = await self._dispatch[step.op](step)
        return problems + self._invariants()

    async def _discard(self) -> None:
        for pair in self.pairs.values():
            pair.close(abortive=True)
        self.pairs.clear()

    def _invariants(self) -> list[str]:
        problems = []
        for name, pair in self.pairs.items():
            if check_prefix(name, pair.oracle.ledger) or pair.oracle.ledger.remote != "open":
                raise OracleFailure(f"{name}: the oracle broke the model: {pair.oracle.ledger}")
            problem = check_prefix(name, pair.target.ledger)
            if problem is None and pair.target.ledger.remote != "open":
                how = "reset" if pair.target.ledger.remote == "reset" else "closed"
                problem = f"{name}: the server {how} the connection although the client did not"
            if problem is None and pair.target.write_error is not None:
                problem = f"{name}: sending failed: {pair.target.write_error}"
            if problem is not None:
                problems.append(problem)
        return problems

    async def _open(self, name: str, rcvbuf: int = 0, reading: bool = True) -> list[str]:
        nursery = self.portal.nursery
        target, oracle = await gather(
            lambda: ClientConnection.open(
                name, self.target, nursery, self._limit(0), rcvbuf, reading
            ),
            lambda: ClientConnection.open(
                name, self.oracle, nursery, self._oracle_limit(0), rcvbuf, reading
            ),
        )
        if isinstance(oracle, str):
            if not isinstance(target, str):
                target.close()
            raise OracleFailure(f"{name}: the oracle refused a connection: {oracle}")
        if isinstance(target, str):
            oracle.close()
            return [f"{name}: {target}"]
        self.pairs[name] = ConnectionPair(target, oracle)
        return []

    async def _send_on(self, name: str, payload: Payload) -> list[str]:
        pair = self.pairs[name]
        data = payload.materialize(name)
        on_target, on_oracle = await gather(
            lambda: pair.target.send(data, self._limit(len(data))),
            lambda: pair.oracle.send(data, self._oracle_limit(len(data))),
        )
        if on_oracle is not None:
            raise OracleFailure(f"{name}: the oracle did not take data: {on_oracle}")
        return [f"{name}: {on_target}"] if on_target is not None else []

    async def _settle(self, names: list[str], until_eof: bool) -> list[str]:
        """Wait for the named connections to settle on both sides, then judge them."""
        thunks: list[Callable[[], Awaitable[Any]]] = []
        for name in names:
            pair = self.pairs[name]
            # Waiting for echoes means reading them, even on a slow reader.
            pair.target.resume_reading()
            pair.oracle.resume_reading()
            owed = len(pair.target.ledger.sent)
            thunks.append(partial(pair.target.settle, until_eof, self._limit(owed)))
            thunks.append(partial(pair.oracle.settle, until_eof, self._oracle_limit(owed)))
        await gather(*thunks)
        problems = []
        for name in names:
            pair = self.pairs[name]
            if check_settled(name, pair.oracle.ledger, until_eof):
                raise OracleFailure(check_settled(name, pair.oracle.ledger, until_eof))
            problem = check_settled(name, pair.target.ledger, until_eof) or compare(
                name, pair.target.ledger, pair.oracle.ledger
            )
            if problem is not None:
                problems.append(problem)
        return problems

    # -- the operations, one per step kind ---------------------------------------

    async def _connect(self, step: Step) -> list[str]:
        return await self._open(step.conn)

    async def _send(self, step: Step) -> list[str]:
        assert step.payload is not None
        return await self._send_on(step.conn, step.payload)

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
        problems = await self._settle([step.conn], until_eof=False)
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
        problems = await self._open(step.conn)
        if not problems:
            self.pairs.pop(step.conn).close(abortive=True)
        return problems

    async def _burst(self, step: Step) -> list[str]:
        results = await gather(
            *[partial(self._send_on, name, payload) for name, payload in step.sends]
        )
        problems = [problem for result in results for problem in result]
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
            await pair.target.wait_for_back_pressure(self._limit(len(data)), BACK_PRESSURE_QUIET)
        return problems

    async def _slow_drain(self, step: Step) -> list[str]:
        pair = self.pairs[step.conn]
        pair.target.resume_reading()
        pair.oracle.resume_reading()
        pair.slow = False
        return await self._settle([step.conn], until_eof=False)

    async def _finish(self, step: Step) -> list[str]:
        """End of a test case: every connection half-closes cleanly; a new one still echoes."""
        names = list(self.pairs)
        problems = []
        writes = []
        for name in names:
            pair = self.pairs[name]
            pair.target.resume_reading()
            pair.oracle.resume_reading()
            owed = len(pair.target.ledger.sent)
            writes.append(partial(pair.target.wait_written, self._limit(owed)))
            writes.append(partial(pair.oracle.wait_written, self._oracle_limit(owed)))
        await gather(*writes)
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
        problems = await self._send_on("probe", Payload.literal(PROBE))
        probe = self.pairs["probe"]
        for conn in (probe.target, probe.oracle):
            conn.shutdown_write()
        problems += await self._settle(["probe"], until_eof=True)
        self.pairs.pop("probe").close(abortive=False)
        return problems
