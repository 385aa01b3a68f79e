"""Claim: setting an Event wakes every waiter, first come first woken; a set Event does not block.

Sources. asyncio's ``Event.set``: "Set the internal flag to true. All
coroutines waiting for it to become true are awakened. Coroutine that call
wait() once the flag is true will not block at all." trio's ``Event``: "The
:meth:`set` method sets the flag to True, and wakes up any waiters."

The order of wake-ups is our addition. asyncio resolves its waiters' futures
in list order, so it agrees; trio does not: its waiters become runnable in
one batch, and trio's run loop randomizes every batch on purpose ("we
randomize the order of each batch to avoid assumptions about scheduling order
sneaking in", trio/_core/_run.py). Likewise trio's ``wait()`` on a set Event
is still a checkpoint (it yields, and can be cancelled there), where asyncio's
and ours return without suspending.

>>> from spec.loop.subject import reference
>>> check_event_wakes_every_waiter(reference())
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from spec.loop.subject import EventLike, LoopUnderTest, require


def _waiters(
    loop: LoopUnderTest, event: EventLike, count: int, woken: list[tuple[int, float]]
) -> list[Coroutine[Any, Any, None]]:
    async def waiter(index: int) -> None:
        await event.wait()
        woken.append((index, loop.now()))

    return [waiter(index) for index in range(count)]


def check_event_wakes_every_waiter(loop: LoopUnderTest, waiters: int = 4) -> None:
    """Every task waiting when set() is called wakes, at the time of the set()."""

    async def scenario() -> None:
        event = loop.Event()
        woken: list[tuple[int, float]] = []
        for waiter in _waiters(loop, event, waiters, woken):
            loop.Task(waiter)
        await loop.sleep(1)
        require(woken == [], f"waiters woke before set(): {woken}")
        event.set()
        await loop.sleep(1)
        require(
            sorted(woken) == [(index, 1.0) for index in range(waiters)],
            f"set() at t=1 woke (waiter, time) {sorted(woken)} of {waiters} waiters",
        )

    loop.run(scenario())


def check_event_wakes_waiters_in_fifo_order(loop: LoopUnderTest, waiters: int = 6) -> None:
    """Waiters wake in the order they began to wait (ours and asyncio's; not trio's)."""

    async def scenario() -> None:
        event = loop.Event()
        woken: list[tuple[int, float]] = []
        for waiter in _waiters(loop, event, waiters, woken):
            loop.Task(waiter)
        await loop.sleep(1)
        event.set()
        await loop.sleep(1)
        order = [index for index, _ in woken]
        require(
            order == list(range(waiters)),
            f"waiters woke in order {order}, not in the order they waited",
        )

    loop.run(scenario())


def check_a_set_event_does_not_block(loop: LoopUnderTest) -> None:
    """wait() on a set Event finishes in its first step; after clear() it blocks again.

    ``is_set()`` says which, as a bool (asyncio: "Return ``True`` if the event is set").
    """

    async def scenario() -> None:
        event = loop.Event()
        require(event.is_set() is False, f"a new Event's is_set() is {event.is_set()!r}")
        event.set()
        require(event.is_set() is True, f"after set(), is_set() is {event.is_set()!r}")
        step = event.wait().__await__()
        try:
            yielded = next(step)
        except StopIteration:
            pass
        else:
            step.close()
            raise AssertionError(f"wait() on a set Event suspended: it yielded {yielded!r}")

        event.clear()
        require(event.is_set() is False, f"after clear(), is_set() is {event.is_set()!r}")
        woken: list[tuple[int, float]] = []
        for waiter in _waiters(loop, event, 1, woken):
            loop.Task(waiter)
        await loop.sleep(1)
        require(woken == [], "wait() after clear() did not block")
        event.set()
        await loop.sleep(1)
        require(woken == [(0, 1.0)], f"set() after clear() woke {woken}, expected [(0, 1.0)]")

    loop.run(scenario())
