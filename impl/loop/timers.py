"""The timer heap: callbacks due at a deadline, earliest first, ties first-come first-served.

PEP 3156 leaves ties undefined ("Callbacks scheduled in the past or at exactly
the same time will be called in an undefined order") and asyncio's heap, which
compares deadlines only, does reorder them. We promise more, because a test
suite that sleeps two tasks for the same time should not depend on the whims
of ``heapq``: every entry carries a sequence number that breaks ties in
insertion order.

>>> heap = TimerHeap()
>>> for name in "abc":
...     _ = heap.push(1.0, lambda name=name: print(name))
>>> _ = heap.push(0.5, lambda: print("early"))
>>> for callback in heap.pop_due(1.0):
...     callback()
early
a
b
c
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Protocol


class Timer:
    """A handle on one scheduled callback; ``cancel()`` makes it never run.

    The deadline is not kept here: the heap entry holds it, and nothing else asks.
    """

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        # Lazy deletion: the entry stays in the heap until its deadline and is
        # skipped then, which keeps cancel O(1). (asyncio also compacts the heap
        # when cancelled entries pile up; a reference loop can afford not to.)
        self.cancelled = True


class TimerQueue(Protocol):
    """What the loop needs from a timer structure (so tests can swap in a broken one)."""

    def push(self, deadline: float, callback: Callable[[], object]) -> Timer: ...

    def next_deadline(self) -> float | None: ...

    def pop_due(self, now: float) -> list[Callable[[], object]]: ...


class TimerHeap:
    """A binary heap keyed by ``(deadline, sequence)``."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()

    def push(self, deadline: float, callback: Callable[[], object]) -> Timer:
        timer = Timer(callback)
        heapq.heappush(self._heap, (deadline, next(self._sequence), timer))
        return timer

    def next_deadline(self) -> float | None:
        """The earliest live deadline, or None; drops cancelled entries on the way."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[Callable[[], object]]:
        """Remove and return, in firing order, the callbacks of live timers due by ``now``."""
        due: list[Callable[[], object]] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                due.append(timer.callback)
        return due

    def __len__(self) -> int:
        return sum(1 for entry in self._heap if not entry[2].cancelled)
