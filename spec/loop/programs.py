"""Claim: on any program of tasks, our loop orders observable events as trio and asyncio do,
wherever their orders are specified.

Sources. trio's run loop: "we randomize the order of each batch to avoid
assumptions about scheduling order sneaking in" (trio/_core/_run.py), and
its deadline heap breaks ties by ``id()``. PEP 3156: "Callbacks scheduled in
the past or at exactly the same time will be called in an undefined order",
while ``call_soon`` "guarantees that callbacks are called in the order in
which they were scheduled".

The program IR
--------------
A ``Program`` is a few tasks, each a list of ``Step``s, over a few Events
and Futures. Every step sleeps, then performs one operation: a tick, set or
wait for an Event, resolve/fail/cancel/await a Future, cancel or join
another task, or raise. Each operation appends a record ``(time, who,
what)`` to the trace. At a horizon later than any step can reach, ``main``
cancels every task still blocked (waiting for an Event nobody sets, say)
and joins them all, so every program terminates on every runtime.

Why the order is well defined
-----------------------------
Step ``u`` (numbered across the program) sleeps ``whole + 2**-(u+1)``
seconds. A step's virtual time is a sum of sleeps along one causal chain,
and its binary fraction spells out which sleeps, so two steps of different
tasks never happen at the same instant, nor does a cancellation coincide
with its target waking up. (The smallest fraction, 2**-20, is far above
asyncio's 1e-9 clock resolution, and all sums are exact in a float.)
Races that would make the *outcome* depend on scheduling order are thereby
impossible. What remains unordered is the order in which tasks woken by
the *same* action run: an Event's waiters, a Future's awaiters, a task's
joiners, the tasks reaped at the horizon.

How traces are compared
-----------------------
- With asyncio, exactly: like ours, it runs the waiters it wakes in FIFO
  order (its Event resolves waiter futures in list order; ``call_soon`` is
  FIFO). Awaits go through ``asyncio.shield`` (see ``runtimes``).
- With trio, as ``canonical()`` traces: records sorted by (time, task),
  stably. That keeps each task's own order and the time of every event,
  and forgets only the order among tasks at one instant, which trio
  deliberately leaves unspecified.

>>> from spec.loop.subject import reference
>>> program = Program(
...     tasks=(
...         (Step(1, WaitEvent(0)), Step(0, Tick())),
...         (Step(2, SetEvent(0)), Step(0, Raise())),
...         (Step(0, JoinTask(1)),),
...     ),
...     events=1,
...     futures=0,
... )
>>> for record in interpret(SubjectRuntime(reference()), program):
...     print(record)
(2.125, 't1', 'set e0')
(2.125, 't0', 'waited e0')
(2.1875, 't1', 'raise')
(2.1875, 't2', 't1 -> error t1 raised')
(2.1875, 't2', 'return')
(2.375, 't0', 'tick')
(2.375, 't0', 'return')
(5.0, 'main', 'reap')
(5.0, 'main', 't0 ended: value t0')
(5.0, 'main', 't1 ended: error t1 raised')
(5.0, 'main', 't2 ended: value t2')
>>> check_matches_trio(reference(), program)
>>> check_matches_asyncio(reference(), program)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from spec.loop.runtimes import AsyncioRuntime, Runtime, SubjectRuntime, TrioRuntime
from spec.loop.subject import LoopUnderTest

MAX_STEPS = 20  # 2**-(MAX_STEPS) must stay well above asyncio's clock resolution


@dataclass(frozen=True)
class Tick:
    pass


@dataclass(frozen=True)
class SetEvent:
    event: int


@dataclass(frozen=True)
class WaitEvent:
    event: int


@dataclass(frozen=True)
class Resolve:
    future: int
    value: int


@dataclass(frozen=True)
class Fail:
    future: int


@dataclass(frozen=True)
class CancelFuture:
    future: int


@dataclass(frozen=True)
class AwaitFuture:
    future: int


@dataclass(frozen=True)
class CancelTask:
    task: int


@dataclass(frozen=True)
class JoinTask:
    task: int


@dataclass(frozen=True)
class Raise:
    pass


Op = (
    Tick
    | SetEvent
    | WaitEvent
    | Resolve
    | Fail
    | CancelFuture
    | AwaitFuture
    | CancelTask
    | JoinTask
    | Raise
)


@dataclass(frozen=True)
class Step:
    """Sleep ``whole`` seconds plus this step's unique binary fraction, then do ``op``."""

    whole: int
    op: Op


@dataclass(frozen=True)
class Program:
    tasks: tuple[tuple[Step, ...], ...]
    events: int
    futures: int

    def delays(self) -> list[list[float]]:
        """Each step's sleep: its whole seconds plus ``2**-(u+1)`` for its program-wide index u."""
        delays, index = [], 0
        for steps in self.tasks:
            delays.append(
                [step.whole + 2.0 ** -(index + position + 1) for position, step in enumerate(steps)]
            )
            index += len(steps)
        return delays

    def horizon(self) -> float:
        """A whole number of seconds later than any step can happen."""
        return float(sum(step.whole for steps in self.tasks for step in steps) + 2)

    def problems(self) -> list[str]:
        """Why this program is outside the IR's rules, if it is."""
        found = []
        total = sum(len(steps) for steps in self.tasks)
        if total > MAX_STEPS:
            found.append(f"{total} steps; at most {MAX_STEPS} keep the instants distinct")
        for k, steps in enumerate(self.tasks):
            for step in steps:
                op = step.op
                if step.whole < 0:
                    found.append(f"t{k}: negative sleep in {step}")
                if isinstance(op, SetEvent | WaitEvent) and not 0 <= op.event < self.events:
                    found.append(f"t{k}: no event {op.event}")
                if isinstance(op, Resolve | Fail | CancelFuture | AwaitFuture) and not (
                    0 <= op.future < self.futures
                ):
                    found.append(f"t{k}: no future {op.future}")
                if isinstance(op, CancelTask | JoinTask) and not (
                    0 <= op.task < len(self.tasks) and op.task != k
                ):
                    found.append(f"t{k}: cannot target task {op.task}")
        return found


Record = tuple[float, str, str]


class Boom(Exception):
    """What Raise and Fail raise; its text says who raised it."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "Boom"


def interpret(runtime: Runtime, program: Program) -> list[Record]:
    """Run ``program`` on ``runtime`` and return its trace."""
    problems = program.problems()
    if problems:
        raise ValueError(f"not a well-formed program: {problems}")
    return list(runtime.run(partial(_main, runtime, program)))


async def _main(rt: Runtime, program: Program) -> list[Record]:
    trace: list[Record] = []
    events = [rt.event() for _ in range(program.events)]
    futures = [rt.future() for _ in range(program.futures)]
    handles: list[Any] = []
    requested: set[int] = set()  # tasks whose cancellation has been asked for
    delays = program.delays()

    def log(who: str, what: str) -> None:
        trace.append((rt.now(), who, what))

    async def outcome(k: int, wait: Callable[[], Awaitable[Any]]) -> str:
        """What awaiting a Future or a task gave: a value, an error, or its cancellation."""
        try:
            value = await wait()
        except Boom as error:
            return f"error {error}"
        except rt.awaited_cancelled:
            if k in requested:  # not the awaited thing's cancellation: our own
                raise
            return "cancelled"
        return f"value {value}"

    async def perform(k: int, op: Op) -> None:
        me = f"t{k}"
        if isinstance(op, Tick):
            log(me, "tick")
        elif isinstance(op, SetEvent):
            events[op.event].set()
            log(me, f"set e{op.event}")
        elif isinstance(op, WaitEvent):
            await events[op.event].wait()
            log(me, f"waited e{op.event}")
        elif isinstance(op, Resolve | Fail | CancelFuture):
            future = futures[op.future]
            try:
                if isinstance(op, Resolve):
                    future.set_result(op.value)
                    log(me, f"resolved f{op.future}={op.value}")
                elif isinstance(op, Fail):
                    future.set_exception(Boom(f"f{op.future} failed by {me}"))
                    log(me, f"failed f{op.future}")
                else:
                    log(me, f"cancel f{op.future} -> {future.cancel()}")
            except rt.invalid_state:
                log(me, f"f{op.future} already done")
        elif isinstance(op, AwaitFuture):
            got = await outcome(k, partial(rt.await_future, futures[op.future]))
            log(me, f"f{op.future} -> {got}")
        elif isinstance(op, CancelTask):
            requested.add(op.task)
            rt.cancel(handles[op.task])
            log(me, f"cancel t{op.task}")
        elif isinstance(op, JoinTask):
            got = await outcome(k, partial(rt.join, handles[op.task]))
            log(me, f"t{op.task} -> {got}")
        else:
            log(me, "raise")
            raise Boom(f"{me} raised")

    async def body(k: int) -> str:
        try:
            for step, delay in zip(program.tasks[k], delays[k], strict=True):
                await rt.sleep(delay)
                await perform(k, step.op)
        except rt.cancelled:
            log(f"t{k}", "cancelled")
            raise
        log(f"t{k}", "return")
        return f"t{k}"

    for k in range(len(program.tasks)):
        handles.append(rt.spawn(partial(body, k)))
    await rt.sleep(program.horizon())
    log("main", "reap")
    for k, handle in enumerate(handles):
        if not rt.done(handle):
            requested.add(k)
            rt.cancel(handle)
            log("main", f"cancel t{k}")
    for k, handle in enumerate(handles):
        log("main", f"t{k} ended: {await outcome(-1, partial(rt.join, handle))}")
    for future in futures:
        if future.done() and not future.cancelled():
            future.exception()  # retrieved, so asyncio does not log it as lost
    return trace


def canonical(trace: list[Record]) -> list[Record]:
    """The trace up to reordering of different tasks at one instant (sorted by time, then task)."""
    return sorted(trace, key=lambda record: (record[0], record[1]))


def _require_same(ours: list[Record], theirs: list[Record], names: tuple[str, str]) -> None:
    if ours == theirs:
        return
    at = next(
        (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
        min(len(ours), len(theirs)),
    )
    lines = [f"traces differ at record {at} ({names[0]} | {names[1]}):"]
    for i in range(max(len(ours), len(theirs))):
        left = str(ours[i]) if i < len(ours) else "-"
        right = str(theirs[i]) if i < len(theirs) else "-"
        lines.append(f"{'>' if i == at else ' '} {left:<48} | {right}")
    raise AssertionError("\n".join(lines))


def check_matches_asyncio(loop: LoopUnderTest, program: Program) -> None:
    """The trace on ``loop`` equals asyncio's (shielded awaits), record for record."""
    ours = interpret(SubjectRuntime(loop), program)
    theirs = interpret(AsyncioRuntime(), program)
    _require_same(ours, theirs, (loop.name, "asyncio"))


def check_matches_trio(loop: LoopUnderTest, program: Program) -> None:
    """The trace on ``loop`` equals trio's, up to the order of tasks at one instant."""
    ours = canonical(interpret(SubjectRuntime(loop), program))
    theirs = canonical(interpret(TrioRuntime(), program))
    _require_same(ours, theirs, (loop.name, "trio"))
