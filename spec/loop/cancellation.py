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

Three consequences, each with its check. A cancellation overtakes a wake-up:
once ``cancel()`` has returned True, the task resumes with CancelledError,
even if what it awaited finished just before and its wake-up is already on
the way; that old wake-up must not resume it later, when it awaits something
else. One ``cancel()`` is one CancelledError: a task that catches it and
awaits again is not cancelled again. And a task that ignores its
cancellation cannot keep ``run()`` from returning: when ``main`` is done,
``run`` cancels what is left and, for a task that then waits for something
that can never come, closes its coroutine, so that its ``finally`` runs
(trio's ``run`` does not return while a task is alive; asyncio's ``run``
leaves such a coroutine to the garbage collector).

>>> from spec.loop.subject import reference
>>> check_cancel_raises_at_the_await_point(reference())
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from spec.loop.subject import FutureLike, LoopUnderTest, require


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


def check_cancel_overtakes_a_wake_up_already_on_its_way(loop: LoopUnderTest) -> None:
    """Cancelled right after its Future finished, a task sees CancelledError, then awaits on."""

    async def scenario() -> None:
        first, second = loop.Future(), loop.Future()
        seen: list[tuple[str, object]] = []

        async def victim() -> None:
            try:
                seen.append(("first", await first))
            except loop.CancelledError:
                seen.append(("cancelled at", loop.now()))
            seen.append(("second", await second))

        task = loop.Task(victim())
        await loop.sleep(1)
        first.set_result("stale")  # the victim's wake-up is queued now...
        require(task.cancel() is True, "cancel() of a task woken but not yet run returned False")
        await loop.sleep(1)  # ... and must not resume it while it awaits the second
        require(
            seen == [("cancelled at", 1.0)],
            f"cancelled as its Future finished, the task saw {seen}, not only CancelledError",
        )
        second.set_result("fresh")
        await task
        require(
            seen == [("cancelled at", 1.0), ("second", "fresh")],
            f"after the cancellation the task saw {seen}",
        )

    loop.run(scenario())


def check_one_cancel_is_one_cancelled_error(loop: LoopUnderTest) -> None:
    """A task that catches its CancelledError and awaits again is not cancelled a second time.

    Both ways a cancellation arrives: parked (cancelled by another task) and
    running (cancelling itself, delivered at its next await).
    """

    async def scenario() -> None:
        def stubborn(log: list[str], cancel_self: bool = False) -> Any:
            async def body() -> str:
                if cancel_self:
                    me.cancel()
                try:
                    await loop.sleep(5)
                except loop.CancelledError:
                    log.append(f"CancelledError at {loop.now()}")
                await loop.sleep(1)
                await loop.sleep(1)
                log.append(f"slept twice more, until {loop.now()}")
                return "carried on"

            return body()

        cancelled_by_another: list[str] = []
        task = loop.Task(stubborn(cancelled_by_another))
        await loop.sleep(1)
        task.cancel()
        result = await _outcome(loop, task)
        require(
            (result, cancelled_by_another)
            == ("carried on", ["CancelledError at 1.0", "slept twice more, until 3.0"]),
            f"one cancel() while parked gave {cancelled_by_another} and {result!r}",
        )

        cancelled_by_itself: list[str] = []
        start = loop.now()
        me = loop.Task(stubborn(cancelled_by_itself, cancel_self=True))
        result = await _outcome(loop, me)
        expected = [f"CancelledError at {start}", f"slept twice more, until {start + 2}"]
        require(
            (result, cancelled_by_itself) == ("carried on", expected),
            f"one cancel() of itself gave {cancelled_by_itself} and {result!r}",
        )

    loop.run(scenario())


async def _outcome(loop: LoopUnderTest, task: FutureLike) -> object:
    try:
        return await task
    except loop.CancelledError:
        return "cancelled"


def check_run_closes_a_task_that_ignores_its_cancellation(loop: LoopUnderTest) -> None:
    """When main returns, a task that catches every CancelledError is closed: its finally runs."""
    log: list[str] = []

    async def scenario() -> str:
        never = loop.Future()

        async def ignorant() -> None:
            try:
                for _ in range(3):
                    try:
                        await never
                    except loop.CancelledError:
                        log.append("ignored CancelledError")
            finally:
                log.append("finally")

        loop.Task(ignorant())
        await loop.sleep(1)
        return "main done"

    result = loop.run(scenario())
    require(result == "main done", f"run() returned {result!r}, not main's result")
    require(
        log == ["ignored CancelledError", "finally"],
        f"a task ignoring its cancellation went {log}; run() should cancel it once, then close it",
    )
