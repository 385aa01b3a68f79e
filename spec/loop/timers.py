"""Claim: sleepers wake at their deadline, in deadline order, and equal deadlines in FIFO order.

Source, PEP 3156 ("Basic Callbacks"):

    ``call_later(delay, callback, *args)``.  Arrange for ``callback(*args)``
    to be called approximately ``delay`` seconds in the future, once, unless
    cancelled. [...] Callbacks scheduled in the past or at exactly the same
    time will be called in an undefined order.

We specify what the PEP leaves undefined: equal deadlines fire in the order
the sleeps began. Neither reference loop promises it. asyncio's ``TimerHandle``
compares deadlines only, so ``heapq`` reorders ties (twelve ``call_at`` at one
instant fire as 0, 2, 6, 5, 11, ... on CPython 3.11); trio breaks deadline
ties by ``id()`` of a cancel scope and then randomizes each batch of runnable
tasks. So ``check_sleepers_wake_in_deadline_order`` is a check of *our* loop;
the differential tests compare with trio and asyncio only on distinct
deadlines.

"At its deadline" is exact under a virtual clock: a sleeper asked to wake at
``t`` wakes when the loop's clock reads exactly ``t``.

>>> from spec.loop.subject import reference
>>> check_sleepers_wake_in_deadline_order(reference(), [3.0, 1.0, 2.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Sequence

from spec.loop.subject import LoopUnderTest, require


def check_sleepers_wake_in_deadline_order(loop: LoopUnderTest, delays: Sequence[float]) -> None:
    """Task ``i`` sleeps ``delays[i]`` from t=0; wake-ups come sorted by (deadline, i), on time."""

    async def scenario() -> None:
        woken: list[tuple[int, float]] = []

        async def sleeper(index: int, delay: float) -> None:
            await loop.sleep(delay)
            woken.append((index, loop.now()))

        tasks = [loop.Task(sleeper(index, delay)) for index, delay in enumerate(delays)]
        for task in tasks:
            await task
        expected = sorted(
            ((index, float(delay)) for index, delay in enumerate(delays)),
            key=lambda entry: (entry[1], entry[0]),
        )
        require(
            woken == expected,
            f"with delays {list(delays)} the sleepers woke as (task, time) {woken}; "
            f"expected {expected}",
        )

    loop.run(scenario())


def check_a_long_sleep_takes_no_real_time(loop: LoopUnderTest, seconds: float = 86_400.0) -> None:
    """Under the virtual clock, a day's sleep ends at exactly t = one day."""

    async def scenario() -> float:
        await loop.sleep(seconds)
        return loop.now()

    woke_at = loop.run(scenario())
    require(woke_at == seconds, f"sleep({seconds}) from t=0 woke at t={woke_at}")
