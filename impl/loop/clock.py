"""Clocks: where the loop's time comes from, and how idle time passes.

The loop never calls ``time.monotonic`` or blocks in ``select`` itself; it asks
its clock. That single seam is what lets the same loop run on real time in
production and on virtual time in tests, where a thousand-second sleep takes
no wall time and every wake-up happens at exactly its deadline.
"""

from __future__ import annotations

import selectors
import time
from typing import Protocol

Ready = list[tuple[selectors.SelectorKey, int]]


class Clock(Protocol):
    """What the loop needs from time: a reading, and a way to let it pass."""

    def now(self) -> float:
        """The current time, in seconds, from an arbitrary epoch."""
        ...

    def wait(self, selector: selectors.BaseSelector, until: float | None) -> Ready:
        """Wait for I/O readiness, but not past ``until``; ``until <= now()`` only polls.

        ``None`` means there is no deadline: only I/O can make progress.
        """
        ...


class MonotonicClock:
    """Real time: blocks in ``select`` until a socket is ready or the next deadline."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, selector: selectors.BaseSelector, until: float | None) -> Ready:
        timeout = None if until is None else max(0.0, until - self.now())
        return selector.select(timeout)


class VirtualClock:
    """Virtual time, like ``trio.testing.MockClock(autojump_threshold=0)``.

    When nothing is runnable and no socket is ready, time jumps straight to the
    next deadline instead of passing. The jump sets the clock *to* the deadline
    (not ``now + timeout``), so a sleeper wakes at exactly the deadline it asked
    for, with no floating-point drift: tests can compare times with ``==``.

    >>> clock = VirtualClock()
    >>> clock.now()
    0.0
    >>> with selectors.DefaultSelector() as selector:
    ...     _ = clock.wait(selector, 1000.25)
    >>> clock.now()
    1000.25
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def wait(self, selector: selectors.BaseSelector, until: float | None) -> Ready:
        ready = selector.select(0) if selector.get_map() else []
        if ready:
            return ready
        if until is None:
            # Only real I/O can make progress; wait for it, as trio's MockClock does.
            return selector.select(None)
        self._now = max(self._now, until)
        return []
