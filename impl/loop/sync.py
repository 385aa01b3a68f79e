"""Event: a flag that tasks can wait for; setting it wakes every waiter.

asyncio: "Set the internal flag to true. All coroutines waiting for it to
become true are awakened. Coroutine that call wait() once the flag is true
will not block at all." We keep both promises and add one: waiters wake in
the order they started waiting. (asyncio happens to do the same; trio's
``Event`` wakes them in one batch whose order it deliberately randomizes.)

The implementation is a list of Futures, one per waiter: an Event is only a
way to resolve many Futures at once.
"""

from __future__ import annotations

from impl.loop.futures import Future


class Event:
    """A level-triggered flag: once set, ``wait()`` returns at once until ``clear()``.

    >>> from impl.loop import Task, run, sleep, now
    >>> from impl.loop.clock import VirtualClock
    >>> async def main() -> list[str]:
    ...     event, woken = Event(), []
    ...     async def waiter(name: str) -> None:
    ...         await event.wait()
    ...         woken.append(f"{name}@{now()}")
    ...     tasks = [Task(waiter(name)) for name in "abc"]
    ...     await sleep(5)
    ...     event.set()
    ...     for task in tasks:
    ...         await task
    ...     return woken
    >>> run(main(), clock=VirtualClock())
    ['a@5.0', 'b@5.0', 'c@5.0']
    """

    def __init__(self) -> None:
        self._flag = False
        self._waiters: list[Future[None]] = []

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every waiter, first come first woken."""
        if self._flag:
            return
        self._flag = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.set_result(None)

    def clear(self) -> None:
        self._flag = False

    async def wait(self) -> None:
        """Return once the flag is set; without suspending if it already is."""
        if self._flag:
            return
        waiter: Future[None] = Future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            # Cancelled while waiting: don't leave a Future behind for set() to resolve.
            if waiter in self._waiters:
                self._waiters.remove(waiter)
