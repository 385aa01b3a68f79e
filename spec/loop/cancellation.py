"""Claim: cancelling a task raises CancelledError at its await point, at once, and only there.

Source, PEP 3156 ("Tasks"):

    Cancelling a task that's not done yet throws an
    ``asyncio.CancelledError`` exception into the coroutine.  If the
    coroutine doesn't catch this (or if it re-raises it) the task will be
    marked as cancelled (i.e., ``cancelled()`` will return ``True``); but
    if the coroutine somehow catches and ignores the exception it may
    continue to execute (and ``cancelled()`` will return ``False``).

"Throws into the coroutine" means at the ``await`` where it is suspended,
now, not when the thing it awaits would have finished: a task asleep for
ten seconds and cancelled after one sees CancelledError at t=1, inside its
``await sleep(10)``.

Where we part from asyncio: cancelling a task does *not* cancel the Future
it awaits. asyncio's ``Task.cancel()`` cancels its ``_fut_waiter``, so a
Future shared by several tasks is cancelled for all of them when one
waiter is (``asyncio.shield`` exists to prevent exactly that). We unpark
the cancelled task and leave the Future alone, which is also what trio's
level-triggered cancellation amounts to: cancel scopes cancel tasks, never
the things they wait for. ``check_cancel_leaves_the_awaited_future_alone``
states it; asyncio fails it.

>>> from spec.loop.subject import reference
>>> check_cancel_raises_at_the_await_point(reference())
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from spec.loop.subject import LoopUnderTest, require


def check_cancel_raises_at_the_await_point(loop: LoopUnderTest) -> None:
    """A task suspended in a sleep, a Future or an Event sees CancelledError there, at once."""

    async def scenario() -> None:
        event = loop.Event()
        pending = loop.Future()
        suspensions: dict[str, Callable[[], Awaitable[Any]]] = {
            "sleep(10)": lambda: loop.sleep(10),
            "await future": lambda: pending,
            "event.wait()": event.wait,
        }
        for where, suspend in suspensions.items():
            log: list[tuple[str, float]] = []

            async def victim(
                where: str = where,
                suspend: Callable[[], Awaitable[Any]] = suspend,
                log: list[tuple[str, float]] = log,
            ) -> None:
                try:
                    await suspend()
                except loop.CancelledError:
                    log.append((f"CancelledError at {where}", loop.now()))
                    raise
                log.append((f"{where} returned", loop.now()))

            start = loop.now()
            task = loop.Task(victim())
            await loop.sleep(1)
            require(task.cancel() is True, f"cancel() of a task in {where} returned False")
            await loop.sleep(20)
            expected = [(f"CancelledError at {where}", start + 1)]
            require(
                log == expected, f"cancelling a task in {where}: got {log}, expected {expected}"
            )
            require(
                task.cancelled(), f"a task that let CancelledError out of {where} is not cancelled"
            )

    loop.run(scenario())


def check_cancel_leaves_the_awaited_future_alone(loop: LoopUnderTest) -> None:
    """Cancelling one waiter of a shared Future neither cancels it nor disturbs other waiters."""

    async def scenario() -> None:
        shared = loop.Future()
        results: list[object] = []

        async def waiter() -> None:
            results.append(await shared)

        first, second = loop.Task(waiter()), loop.Task(waiter())
        await loop.sleep(1)
        first.cancel()
        await loop.sleep(1)
        require(
            not shared.cancelled(),
            "cancelling a task cancelled the Future it was awaiting (asyncio does; we don't)",
        )
        shared.set_result("value")
        await loop.sleep(1)
        require(first.cancelled(), "the cancelled waiter was not cancelled")
        require(
            second.done() and results == ["value"],
            f"the other waiter got {results}, expected ['value']",
        )

    loop.run(scenario())


def check_a_caught_cancellation_lets_the_task_continue(loop: LoopUnderTest) -> None:
    """PEP 3156: a coroutine that catches CancelledError continues; the task is not cancelled."""

    async def scenario() -> None:
        async def stubborn() -> str:
            try:
                await loop.sleep(10)
            except loop.CancelledError:
                carried.append("caught CancelledError")
            await loop.sleep(1)
            return "carried on"

        carried: list[str] = []
        task = loop.Task(stubborn())
        await loop.sleep(1)
        task.cancel()
        result = await task
        require(
            result == "carried on" and carried == ["caught CancelledError"],
            f"the task returned {result!r} after {carried}",
        )
        require(not task.cancelled(), "a task that swallowed CancelledError is marked cancelled")
        require(loop.now() == 2.0, f"it finished at t={loop.now()}, expected t=2 (1 + 1)")

    loop.run(scenario())


def check_awaiting_a_cancelled_task_raises_cancelled_error(loop: LoopUnderTest) -> None:
    """Whoever awaits a cancelled task gets CancelledError; cancel() of a done task says False."""

    async def scenario() -> None:
        async def napper() -> None:
            await loop.sleep(10)

        task = loop.Task(napper())
        await loop.sleep(1)
        task.cancel()
        try:
            await task
        except loop.CancelledError:
            pass
        else:
            raise AssertionError("awaiting a cancelled task did not raise CancelledError")
        require(task.cancel() is False, "cancel() of a finished task returned True")

    loop.run(scenario())
